// The event trace of a run: one readable line per thing that happened, stamped with virtual time
// ("t=1234ms n2 crash", "t=1300ms c3 put k7 -> ok v=..."). It holds no wall-clock figure, so the same
// seed gives the same bytes on every machine and every run; its sha256 is how tests check that.

import { createHash } from 'node:crypto';

export class Trace {
  private readonly lines: string[] = [];

  /**
   * @param nowMs virtual time since the run began
   * @param verbose also record every message delivered (large; for debugging one seed)
   */
  constructor(
    private readonly nowMs: () => number,
    readonly verbose = false,
  ) {}

  /** A line stamped with the current virtual time. */
  event(text: string): void {
    this.lines.push(`t=${this.nowMs()}ms ${text}`);
  }

  /** A line without a time stamp (headers and summaries). */
  note(text: string): void {
    this.lines.push(text);
  }

  get lineCount(): number {
    return this.lines.length;
  }

  text(): string {
    return this.lines.length === 0 ? '' : this.lines.join('\n') + '\n';
  }

  /** Lines from `first` on (the tail of a long trace). */
  tail(count: number): string[] {
    return this.lines.slice(Math.max(0, this.lines.length - count));
  }

  hash(): string {
    return traceHash(this.text());
  }
}

export function traceHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
