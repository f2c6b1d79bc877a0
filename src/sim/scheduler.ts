// Virtual time: a queue of events ordered by (time, insertion order). The simulator, not the event
// loop, decides what happens next, so a run is a pure function of its seed. Events scheduled for the
// same millisecond run in the order they were scheduled (a total order, no ties left to chance).

export interface ScheduledEvent {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
}

export class Scheduler {
  private heap: ScheduledEvent[] = [];
  private seq = 0;
  private currentMs = 0;
  /** Events run so far (a cheap progress figure for the trace's summary). */
  eventsRun = 0;

  /** Virtual milliseconds since the run began. */
  get nowMs(): number {
    return this.currentMs;
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs `run` at `atMs` (not before now); fractional times are rounded up to whole milliseconds. */
  at(atMs: number, run: () => void): void {
    const when = Math.max(this.currentMs, Math.ceil(atMs));
    this.push({ atMs: when, seq: this.seq++, run });
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.currentMs + delayMs, run);
  }

  /** Runs events in order until the queue is empty, `untilMs` is passed, or `stop()` says so. */
  runUntil(untilMs: number, stop: () => boolean = () => false): void {
    while (this.heap.length > 0 && !stop()) {
      const first = this.heap[0] as ScheduledEvent;
      if (first.atMs > untilMs) break;
      this.pop();
      this.currentMs = first.atMs;
      this.eventsRun += 1;
      first.run();
    }
    if (!stop() && untilMs > this.currentMs && Number.isFinite(untilMs)) this.currentMs = untilMs;
  }

  private push(event: ScheduledEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(event, heap[parent] as ScheduledEvent)) break;
      heap[i] = heap[parent] as ScheduledEvent;
      i = parent;
    }
    heap[i] = event;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as ScheduledEvent;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && earlier(heap[right] as ScheduledEvent, heap[left] as ScheduledEvent) ? right : left;
      if (!earlier(heap[child] as ScheduledEvent, last)) break;
      heap[i] = heap[child] as ScheduledEvent;
      i = child;
    }
    heap[i] = last;
  }
}

function earlier(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
