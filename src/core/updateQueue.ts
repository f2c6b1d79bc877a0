// Conditional writes of one key coordinated by one node wait for one another, and go in batches
// (keyPaxos.ts). Run together, their rounds would only outbid one another (60 racing INCRs through
// three nodes gave up after 10 rounds); one after the other, a hot counter took about 500 INCRs a
// second, a round each. So the updates that queued behind a round are decided together in the next:
// one round, each update on the value the one before it left.
//
// A waiting update is an operation like any other: counted against pendingOperationsMax, and
// answered at its own deadline, not when its turn comes (behind a few hundred INCRs of one key, that
// was seconds late).

import type { Callback, Coordinator, CoordinatorDeps } from './coordinator.js';
import { QuorumError } from './errors.js';
import { PendingUpdate, type Decide, type UpdateOptions, type UpdateOutcome } from './keyPaxos.js';
import type { Version } from './version.js';

/** Updates of one key decided in one round, at most (a named bound on a round's work). */
export const updateBatchMax = 64;

interface Queued {
  /** Its operation while it waits (0 for one that never waited). */
  readonly op: number;
  readonly decide: Decide;
  readonly callback: Callback<UpdateOutcome>;
  /** On the monotonic clock. */
  readonly deadlineMs: number;
}

function timedOut(key: string): QuorumError {
  return new QuorumError('UNAVAILABLE', `update of "${key}" timed out behind earlier updates of it`);
}

export class UpdateQueue {
  /** Keys with a batch in flight here, and the updates of each waiting for it. */
  private readonly waiting = new Map<string, Queued[]>();
  /** The batch in flight of each key. */
  private readonly inFlight = new Map<string, PendingUpdate>();
  /** Batches started since this node started, and the updates in them (their mean size, for metrics). */
  batches = 0;
  updates = 0;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly deps: CoordinatorDeps,
  ) {}

  submit(key: string, decide: Decide, options: UpdateOptions, callback: Callback<UpdateOutcome>): void {
    const deadlineMs = this.deps.monotonicMs() + (options.timeoutMs ?? this.deps.config.requestTimeoutMs);
    const queue = this.waiting.get(key);
    if (queue === undefined) {
      this.waiting.set(key, []);
      return this.run(key, [{ op: 0, decide, callback, deadlineMs }], true);
    }
    const queued: Queued = { op: this.deps.nextOp(), decide, callback, deadlineMs };
    queue.push(queued);
    this.coordinator.register(queued.op, {
      deadlineMs,
      onReply: () => undefined,
      expire: () => {
        queue.splice(queue.indexOf(queued), 1);
        callback({ ok: false, error: timedOut(key) });
      },
    });
  }

  /** Another node's round wrote `version` of `key`: the batch in flight here may be waiting on it. */
  committed(key: string, version: Version): void {
    this.inFlight.get(key)?.committedElsewhere(version);
  }

  /** The batch of `key` in flight answered: the updates waiting behind it go, as the next batch. */
  private next(key: string): void {
    const queue = this.waiting.get(key);
    if (queue === undefined || queue.length === 0) {
      this.waiting.delete(key);
      return;
    }
    const batch = queue.splice(0, updateBatchMax);
    for (const queued of batch) this.coordinator.unregister(queued.op);
    this.run(key, batch, false);
  }

  private run(key: string, batch: readonly Queued[], direct: boolean): void {
    let finished = false;
    let batchInFlight: PendingUpdate | undefined;
    const done = (): void => {
      if (finished) return;
      finished = true;
      if (this.inFlight.get(key) === batchInFlight) this.inFlight.delete(key);
      this.next(key);
    };
    // One whose deadline came before the tick that would have expired it is answered so here.
    const nowMs = this.deps.monotonicMs();
    const late = batch.filter((queued) => queued.deadlineMs <= nowMs);
    const due = batch.filter((queued) => queued.deadlineMs > nowMs);
    for (const queued of late) queued.callback({ ok: false, error: timedOut(key) });
    if (due.length === 0) return done();
    const deadlineMs = Math.min(...due.map((queued) => queued.deadlineMs));
    const requests = due.map(({ decide, callback }) => ({ decide, callback }));
    this.batches += 1;
    this.updates += requests.length;
    try {
      batchInFlight = new PendingUpdate(this.coordinator, this.deps, key, requests, { timeoutMs: deadlineMs - nowMs }, done);
      this.inFlight.set(key, batchInFlight);
      batchInFlight.start();
    } catch (error) {
      // Failing to start (a full disk, stamping the ballot), a batch must not hold up the key's queue
      // for good (simulator seed 35). Started by its own request, the error is that request's to
      // answer; started from the queue, inside whatever finished the batch before, it is answered here.
      if (direct) {
        done();
        throw error;
      }
      if (finished) return; // it answered (and the next batch went) before the error
      const message = error instanceof Error ? error.message : String(error);
      const failure = error instanceof QuorumError ? error : new QuorumError('UNAVAILABLE', `update of "${key}" not started: ${message}`);
      try {
        for (const { callback } of due) callback({ ok: false, error: failure });
      } finally {
        done(); // even if an answer throws: the key's queue must go on
      }
    }
  }
}
