// The client history of a run: every request's invocation and completion, with values and virtual
// times, in the order they happened. The checkers read it; `toJepsen` exports it for Jepsen's tools.
//
// Export format (a JSON array; one object per event, in the order events happened):
//   {"index": 7, "type": "invoke"|"ok"|"fail"|"info", "f": "read"|"write", "key": "k3", "value": 17,
//    "process": 2, "time": 1234000000, ...extras}
// - `time` is virtual nanoseconds since the run began (Jepsen's unit); `index` counts events from 0.
// - Every write stores a unique value "v<id>" and is exported as the integer id, so a read names the
//   exact write it saw. A read's invoke has value null; its ok has the id, or null for absent.
// - A delete is a write of null with "delete": true (Jepsen registers read nil as "absent").
// - `fail` means the request certainly failed to be acknowledged, though under a quorum store a failed
//   write may still take effect on some replicas (checkers treat it as never completing, like `info`).
//   `info` means the outcome is unknown (its coordinator crashed or paused, or it never answered).
//   After an `info` the client continues under a new process number (Jepsen's convention).
// - Extras: "level" (one|quorum|all), "node" (the coordinator), "version" (acknowledged or read
//   version), "error" (an error code), "purpose" (workload, create-read, create-put, sweep, final).
// Style "elle" writes the same events as single-key transactions for elle-cli's rw-register model:
//   {"f": "txn", "value": [["w", "k3", 17]]} or [["r", "k3", 17]]
// (elle has no delete: histories with deletes are best checked with knossos-style tools or our own).

import type { ConsistencyLevel } from '../core/quorum.js';

export type RequestKind = 'put' | 'get' | 'delete';
export type Outcome = 'ok' | 'fail' | 'info';
export type Purpose = 'workload' | 'create-read' | 'create-put' | 'sweep' | 'final' | 'scenario';

export interface Invocation {
  readonly process: number;
  /** The client's name, e.g. "c3" (stable across its process numbers). */
  readonly client: string;
  readonly kind: RequestKind;
  readonly key: string;
  /** The value a put writes ("v<id>"). */
  readonly written?: string;
  readonly level: ConsistencyLevel;
  readonly sloppy: boolean;
  readonly waitForAll: boolean;
  /** The coordinator. */
  readonly node: string;
  readonly purpose: Purpose;
  readonly timeoutMs: number;
}

export interface Completion {
  readonly outcome: Outcome;
  /** What a read returned: a value, or null when absent or a tombstone. */
  readonly read?: string | null;
  /** The version acknowledged (writes) or read (reads; undefined when no entry at all). */
  readonly version?: string;
  /** Whether the read found a tombstone (as opposed to no entry at all). */
  readonly tombstone?: boolean;
  /** Replicas (owners, not hint holders) that held the write when it was acknowledged. */
  readonly replicasAcked?: number;
  readonly error?: string;
  readonly errorMessage?: string;
}

export interface Operation extends Invocation, Partial<Completion> {
  /** Invocation order, from 0. */
  readonly index: number;
  readonly invokeMs: number;
  completeMs?: number;
}

export function isWrite(op: Operation): boolean {
  return op.kind !== 'get';
}

/** The value a write leaves: its value, or null for a delete. */
export function writtenValue(op: Operation): string | null {
  return op.kind === 'put' ? (op.written as string) : null;
}

export class History {
  readonly operations: Operation[] = [];
  /** Invocations and completions in the order they happened. */
  private readonly events: { readonly op: Operation; readonly completion: boolean }[] = [];

  invoke(invocation: Invocation, nowMs: number): Operation {
    const op: Operation = { ...invocation, index: this.operations.length, invokeMs: nowMs };
    this.operations.push(op);
    this.events.push({ op, completion: false });
    return op;
  }

  complete(op: Operation, completion: Completion, nowMs: number): void {
    if (op.outcome !== undefined) throw new Error(`operation ${op.index} completed twice`);
    Object.assign(op, completion);
    op.completeMs = nowMs;
    this.events.push({ op, completion: true });
  }

  pending(): Operation[] {
    return this.operations.filter((op) => op.outcome === undefined);
  }

  keys(): string[] {
    return [...new Set(this.operations.map((op) => op.key))].sort();
  }

  toJepsen(style: 'knossos' | 'elle' = 'knossos'): Record<string, unknown>[] {
    return this.events.map(({ op, completion }, index) => {
      const type = completion ? (op.outcome as Outcome) : 'invoke';
      const timeMs = completion ? (op.completeMs as number) : op.invokeMs;
      let value: number | null = null;
      if (op.kind === 'put') value = valueId(op.written);
      else if (op.kind === 'get' && completion && type === 'ok') value = valueId(op.read);
      const extras: Record<string, unknown> = { level: op.level, node: op.node, purpose: op.purpose };
      if (op.kind === 'delete') extras.delete = true;
      if (completion && op.version !== undefined) extras.version = op.version;
      if (completion && op.error !== undefined) extras.error = op.error;
      const f = op.kind === 'get' ? 'read' : 'write';
      const common = { index, type, process: op.process, time: timeMs * 1_000_000 };
      if (style === 'elle') {
        return { ...common, f: 'txn', value: [[f === 'read' ? 'r' : 'w', op.key, value]], ...extras };
      }
      return { ...common, f, key: op.key, value, ...extras };
    });
  }
}

/** "v17" -> 17; anything else (a value no client wrote) is kept as the string. */
export function valueId(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const match = /^v(\d+)$/.exec(value);
  return match ? Number(match[1]) : (value as unknown as number);
}
