// The coordinator: any node runs client reads and writes against a key's replicas and answers once the
// requested number of them did (DESIGN.md §3). It holds no timers: `expire(monotonicMs)` is called on
// every tick and fails what ran past its deadline. Deadlines are on the monotonic clock: a wall clock
// stepped back (NTP, an operator) would otherwise hold every request in flight for as long as the step.
//
// Writes are stamped by the hybrid clock. A replica that holds a newer version refuses and names it;
// the coordinator re-stamps above it and sends again, so a write that starts after another was
// acknowledged at quorum always wins (two quorums overlap). Reads take the newest of R answers and,
// before answering, write it back to the answering replicas that were behind (blocking read repair), so
// a later quorum read cannot see an older value: that protocol is PendingRead's (pendingRead.ts).

import { assert } from './assert.js';
import type { CoreConfig } from './config.js';
import { DeadlineQueue } from './deadlines.js';
import { QuorumError, unavailable } from './errors.js';
import { IdTable } from './idTable.js';
import type { HybridClock } from './hlc.js';
import type { Message, PaxosAcceptedMessage, PaxosPromiseMessage, ReadReply, UpdateReplyMessage, WriteReply } from './messages.js';
import type { Decide, UpdateOptions, UpdateOutcome } from './keyPaxos.js';
import type { Random } from './ports.js';
import type { Placement } from './placement.js';
import { requiredReplicas, type ConsistencyLevel } from './quorum.js';
import { PendingRead } from './pendingRead.js';
import { UpdateQueue } from './updateQueue.js';
import { ForwardedUpdate } from './updateRouting.js';
import type { UpdateSpec } from './updateSpec.js';
import { makeEntry, visibleEntry, type Entry, type Version } from './version.js';

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: QuorumError };
export type Callback<T> = (result: Result<T>) => void;

export interface WriteOptions {
  readonly consistency: ConsistencyLevel;
  /** Count hinted writes on fallback nodes toward W (sloppy quorum). */
  readonly sloppy?: boolean;
  readonly timeoutMs?: number;
  /** The wall-clock millisecond from which the written value reads as deleted (values only). */
  readonly expiresMs?: number;
  /**
   * The wall-clock millisecond after which the write is not started: its client gave up on it by
   * then and may have sent it to another node. Started later, it would get a newer version than the
   * retry, and than the client's next writes, and undo them.
   */
  readonly startBy?: number;
  /**
   * The commit of a key's consensus round (keyPaxos.ts): written with this version, not a new stamp,
   * and a replica holding a newer one holds it (a later write overwrote it; nothing to re-stamp).
   */
  readonly version?: Version;
  /** With `version`: the ballot the round chose it under, for the replicas' consensus state. */
  readonly ballot?: Version;
}

export interface ReadOptions {
  readonly consistency: ConsistencyLevel;
  readonly timeoutMs?: number;
  /**
   * Wait for every reachable replica (or the deadline), not just the first R: the answer is then the
   * newest among all replicas that reply. The prototype's routes read this way at `one`.
   */
  readonly waitForAll?: boolean;
}

export interface WriteOutcome {
  readonly version: Version;
  /** Replicas (owners) that hold the write when it was acknowledged. */
  readonly replicasAcked: number;
  /** Fallback nodes holding it as a hint for an unreachable owner. */
  readonly hintsAcked: number;
}

export interface ReadOutcome {
  /**
   * The newest entry among the answers; a tombstone, or undefined, means the key is absent. A value
   * that has expired by the coordinator's clock is given as a tombstone of the same version.
   */
  readonly entry: Entry | undefined;
  /** The replica whose answer was the newest (the first to give it). */
  readonly source: string | undefined;
  readonly replicasAnswered: number;
  /** Replicas that answered and were behind, written back before answering. */
  readonly replicasRepaired: number;
}

export interface CoordinatorDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly clock: HybridClock;
  readonly placement: () => Placement;
  readonly isAvailable: (id: string) => boolean;
  readonly send: (to: string, message: Message) => void;
  /** The wall clock: expiry of values, a client's `startBy`. */
  readonly nowMs: () => number;
  /** The monotonic clock (ports.ts): every deadline of an operation in flight is on it. */
  readonly monotonicMs: () => number;
  /** Keeps a hint on this node for an owner that never acknowledged a write. */
  readonly storeHint: (target: string, entry: Entry) => void;
  readonly nextOp: () => number;
  /**
   * This node's own copy of a key, for a read that it answers alone (`readsOwnCopyOnly`): an entry,
   * undefined when it holds none, or null when it cannot answer from its store right now (then the
   * read asks it by message, as every other read does).
   */
  readonly readOwnCopy: (key: string) => Entry | undefined | null;
  /** For the pauses between the rounds of a conditional write that met another (keyPaxos.ts). */
  readonly random: Random;
  /** Takes back this node's acceptance of its own proposal (paxosAcceptor.ts `PaxosAcceptor.withdraw`). */
  readonly withdrawProposal: (key: string, ballot: Version) => boolean;
  /** Has this node's acceptor hold other nodes' rounds of `key` back while its own accept under `ballot` awaits answers (`PaxosAcceptor.guard`); `untilMs` monotonic. */
  readonly guardAcceptance: (key: string, ballot: Version, untilMs: number) => void;
  readonly unguardAcceptance: (key: string, ballot: Version) => void;
  /** A round of `key` met a higher ballot of another node: the key's updates are raced (updateRouting.ts). */
  readonly raced: (key: string) => void;
}

/** The replies an operation in flight is sent (routed to it by their op). */
export type ReplyMessage = WriteReply | ReadReply | PaxosPromiseMessage | PaxosAcceptedMessage | UpdateReplyMessage;

/** An operation in flight: a write, a read, or a timer one of them set. */
export interface Operation {
  /** On the monotonic clock (`CoordinatorDeps.monotonicMs`). */
  readonly deadlineMs: number;
  onReply(from: string, message: ReplyMessage): void;
  expire(): void;
}

/** How far past a client's deadline (`WriteOptions.startBy`, by its clock) a write still starts. */
export const startBySkewMs = 1000;

export class Coordinator {
  /** Not a Map: see idTable.ts. */
  private readonly operations = new IdTable<Operation>();
  private readonly deadlines = new DeadlineQueue();
  /** While `expire` runs: the hints its expiries keep, stored once every due operation has expired. */
  private deferredHints: { readonly target: string; readonly entry: Entry }[] | undefined;
  private readonly updates: UpdateQueue;
  /** Conditional writes sent on to their key's coordinator since the start (updateRouting.ts). */
  updatesForwarded = 0;

  constructor(private readonly deps: CoordinatorDeps) {
    this.updates = new UpdateQueue(this, deps);
  }

  get inFlight(): number {
    return this.operations.size;
  }

  write(key: string, value: Uint8Array | null, options: WriteOptions, callback: Callback<WriteOutcome>): void {
    if (this.operations.size >= this.deps.config.pendingOperationsMax) {
      callback({ ok: false, error: overloaded(this.operations.size) });
      return;
    }
    // Checked here, just before the write is stamped: a node that stalled (a long pause, a stopped
    // process) with the request in hand must not apply it once it wakes. The deadline is the client's
    // clock: a second's grace for the skew between its clock and this node's.
    const lateMs = options.startBy === undefined ? 0 : this.deps.nowMs() - options.startBy;
    if (lateMs > startBySkewMs) {
      callback({ ok: false, error: new QuorumError('UNAVAILABLE', `write of "${key}" not started: it came ${lateMs} ms after its deadline`, { lateMs }) });
      return;
    }
    const write = new PendingWrite(this, this.deps, key, value, options, callback);
    write.start();
  }

  /**
   * A conditional write: `decide` sees the key's current value and says what to write (keyPaxos.ts).
   * Updates of one key coordinated here wait for the one in flight, and go in batches (updateQueue.ts).
   */
  update(key: string, decide: Decide, options: UpdateOptions, callback: Callback<UpdateOutcome>): void {
    if (this.operations.size >= this.deps.config.pendingOperationsMax) {
      callback({ ok: false, error: overloaded(this.operations.size) });
      return;
    }
    this.updates.submit(key, decide, options, callback);
  }

  /** A conditional write sent on to `to`, the node that coordinates its key's (updateRouting.ts). */
  forwardUpdate(to: string, key: string, spec: UpdateSpec, options: UpdateOptions, callback: Callback<UpdateOutcome>): void {
    if (this.operations.size >= this.deps.config.pendingOperationsMax) {
      callback({ ok: false, error: overloaded(this.operations.size) });
      return;
    }
    this.updatesForwarded += 1;
    new ForwardedUpdate(this, this.deps, to, key, spec, options, callback).start();
  }

  /** Batches of conditional writes started here since the start, and the updates in them. */
  updateBatches(): { readonly batches: number; readonly updates: number } {
    return { batches: this.updates.batches, updates: this.updates.updates };
  }

  /** Another node's round wrote a proposal of an update of `key` coordinated here (keyPaxos.ts). */
  updateCommitted(key: string, version: Version): void {
    this.updates.committed(key, version);
  }

  read(key: string, options: ReadOptions, callback: Callback<ReadOutcome>): void {
    if (this.operations.size >= this.deps.config.pendingOperationsMax) {
      callback({ ok: false, error: overloaded(this.operations.size) });
      return;
    }
    this.startRead(key, options, callback, 0);
  }

  /** Starts a read; `replans` counts the times it was planned again on a newer layout. */
  startRead(key: string, options: ReadOptions, callback: Callback<ReadOutcome>, replans: number): void {
    const placement = this.deps.placement();
    const sets = placement.writeReplicaSets(key);
    const ownCopyOnly = readsOwnCopyOnly(sets, options, this.deps.selfId);
    if (ownCopyOnly && this.answerFromOwnCopy(key, callback)) return;
    const read = new PendingRead(this, this.deps, key, placement.layout.version, sets, ownCopyOnly, options, callback, replans);
    read.start();
  }

  /**
   * A read this node answers alone (`readsOwnCopyOnly`) is answered at once from its store: no
   * operation, no message to itself and back, no deadline. Returns false when it must go the usual way.
   */
  private answerFromOwnCopy(key: string, callback: Callback<ReadOutcome>): boolean {
    const self = this.deps.selfId;
    const own = this.deps.readOwnCopy(key);
    if (own === null) return false;
    callback({
      ok: true,
      value: {
        entry: own === undefined ? undefined : visibleEntry(own, this.deps.nowMs()),
        source: own === undefined ? undefined : self,
        replicasAnswered: 1,
        replicasRepaired: 0,
      },
    });
    return true;
  }

  handleReply(from: string, message: ReplyMessage): void {
    this.operations.get(message.op)?.onReply(from, message);
  }

  /**
   * Fails or finishes every operation past its deadline. An expiry may store hints, and when that
   * write fails (a full disk) the exception leaves the tick, whose transaction rolls back: the
   * operations due after the one that failed go back on the queue for the next tick. Taken off it
   * with the one that failed, they never expired (simulator seed 7000342: a read stayed in flight
   * forever). The one that failed has answered its client; the hints it did not keep are
   * anti-entropy's to make up.
   */
  expire(monotonicMs: number): void {
    // Those due now, not those an expiry registers (a write waiting for a layout retries at once).
    const due = this.deadlines.popDue(monotonicMs);
    let next = 0;
    // Hints are stored after every due operation has answered its client: a full disk failing the
    // first hint stopped the tick, and the operations due behind it answered ticks late (seed 7005149).
    const hints: { readonly target: string; readonly entry: Entry }[] = [];
    this.deferredHints = hints;
    try {
      for (; next < due.length; next++) {
        const op = due[next] as number;
        const operation = this.operations.get(op);
        if (operation === undefined) continue; // finished earlier
        this.operations.delete(op);
        operation.expire();
      }
    } finally {
      this.deferredHints = undefined;
      for (const op of due.slice(next + 1)) {
        const operation = this.operations.get(op);
        if (operation !== undefined) this.deadlines.push(operation.deadlineMs, op);
      }
    }
    for (const { target, entry } of hints) this.deps.storeHint(target, entry);
  }

  /** Keeps a hint for `target` now, or, while operations expire, once they all have. */
  storeHint(target: string, entry: Entry): void {
    if (this.deferredHints !== undefined) this.deferredHints.push({ target, entry });
    else this.deps.storeHint(target, entry);
  }

  register(op: number, operation: Operation): void {
    assert(!this.operations.has(op), 'operation ids are unique');
    this.operations.set(op, operation);
    this.deadlines.push(operation.deadlineMs, op);
  }

  unregister(op: number): void {
    this.operations.delete(op);
  }
}

/**
 * At `one` (R = 1 in every replica set), a coordinator that is itself a replica in every set answers
 * from its own copy: asking the others too would cost each of them a read for an answer nobody waits
 * for (the first answer is the local one anyway). Anti-entropy, not these reads, repairs the others.
 */
function readsOwnCopyOnly(sets: readonly string[][], options: ReadOptions, self: string): boolean {
  if (options.waitForAll) return false;
  return sets.every((set) => set.includes(self) && requiredReplicas(options.consistency, set.length) === 1);
}

function overloaded(inFlight: number): QuorumError {
  return new QuorumError('OVERLOADED', `coordinator overloaded: ${inFlight} requests in flight`, { inFlight });
}

class PendingWrite implements Operation {
  readonly deadlineMs: number;
  private op = 0;
  private version: Version;
  private restamps = 0;
  private answered = false;
  /** The layout version the replicas below were chosen on. */
  private layout = 0;
  /** The replica sets the write must reach a quorum in (one, or two during a topology change). */
  private sets: string[][] = [];
  private owners: string[] = [];
  private needed: number[] = [];
  /** fallback node -> the owner it holds a hint for. */
  private readonly fallbacks = new Map<string, string>();
  private readonly acked = new Set<string>();
  private readonly replied = new Set<string>();
  /** Re-plans after a replica refused the write for a newer layout. */
  private replans = 0;
  private replanOp = 0;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly deps: CoordinatorDeps,
    private readonly key: string,
    private readonly value: Uint8Array | null,
    private readonly options: WriteOptions,
    private readonly callback: Callback<WriteOutcome>,
  ) {
    this.deadlineMs = deps.monotonicMs() + (options.timeoutMs ?? deps.config.requestTimeoutMs);
    this.version = options.version ?? deps.clock.now();
    this.plan();
  }

  /** Chooses the replica sets, the acks each needs, and fallbacks for owners known down. */
  private plan(): void {
    const placement = this.deps.placement();
    this.layout = placement.layout.version;
    this.sets = placement.writeReplicaSets(this.key);
    this.owners = [...new Set(this.sets.flat())];
    this.needed = this.sets.map((set) => requiredReplicas(this.options.consistency, set.length));
    this.fallbacks.clear();
    const down = this.owners.filter((id) => !this.deps.isAvailable(id));
    // Fallbacks are looked up (a walk of the ring) only when an owner is down.
    const spare =
      down.length === 0
        ? []
        : placement.fallbacksFor(this.key).filter((id) => !this.owners.includes(id) && this.deps.isAvailable(id));
    for (const owner of down) {
      const fallback = spare.shift();
      if (fallback === undefined) break;
      this.fallbacks.set(fallback, owner);
    }
  }

  start(): void {
    // Fail fast, and write nowhere, when the level cannot be met even if every reachable node answers.
    const reachable = this.sets.map((set) => this.countHolding(set, (id) => this.deps.isAvailable(id)));
    const short = reachable.findIndex((count, i) => count < (this.needed[i] as number));
    if (short >= 0) {
      const set = this.sets[short] as string[];
      this.finish({ ok: false, error: unavailable('write', reachable[short] as number, this.needed[short] as number, set.length) });
      return;
    }
    this.send();
  }

  private send(): void {
    this.op = this.deps.nextOp();
    this.coordinator.register(this.op, this);
    const entry = this.entry();
    const layout = this.layout;
    const ballot = this.options.ballot;
    for (const owner of this.owners) {
      if (!this.deps.isAvailable(owner)) continue;
      this.deps.send(owner, ballot === undefined ? { kind: 'write', op: this.op, entry, layout } : { kind: 'write', op: this.op, entry, layout, ballot });
    }
    for (const [fallback, owner] of this.fallbacks) {
      this.deps.send(fallback, { kind: 'write', op: this.op, entry, hintFor: owner, layout });
    }
  }

  private entry(): Entry {
    return makeEntry(this.key, this.version, this.value, this.options.expiresMs);
  }

  /** Members of `set` that hold the write, counting an owner stood in for by a hint when sloppy. */
  private countHolding(set: readonly string[], holds: (id: string) => boolean): number {
    let count = 0;
    for (const owner of set) {
      if (holds(owner)) count += 1;
      else if (this.options.sloppy) {
        for (const [fallback, forOwner] of this.fallbacks) {
          if (forOwner === owner && holds(fallback)) {
            count += 1;
            break;
          }
        }
      }
    }
    return count;
  }

  onReply(from: string, message: ReplyMessage): void {
    if (message.kind !== 'write-reply') return;
    if (!this.owners.includes(from) && !this.fallbacks.has(from)) return;
    if (message.layout !== undefined && !message.applied) return this.onNewerLayout(message.layout);
    this.replied.add(from);
    // A commit's version is fixed (WriteOptions.version): a replica that holds a newer one took a later write.
    const holdsOurs =
      message.applied || message.current === this.version || (this.options.version !== undefined && message.current !== undefined && message.current > this.version);
    if (holdsOurs) {
      this.acked.add(from);
      this.checkDone();
      return;
    }
    if (message.current === undefined || message.current < this.version) return; // malformed refusal
    // The replica holds a newer version. Once acknowledged, our write overlapped that one: nothing to do.
    if (this.answered) return;
    if (this.restamps >= this.deps.config.restampMax) {
      this.finish({
        ok: false,
        error: new QuorumError('WRITE_CONTENTION', `write of "${this.key}" kept meeting newer versions`, {
          restamps: this.restamps,
        }),
      });
      return;
    }
    // Stamped before the write leaves its operation: stamping may raise the clock's durable ceiling,
    // and if storing it fails (a full disk), the write stays registered and fails at its deadline.
    // Taken off first, it was never answered (simulator seed 7003636).
    const version = this.deps.clock.stampAbove(message.current);
    this.restamps += 1;
    this.coordinator.unregister(this.op);
    this.version = version;
    this.acked.clear();
    this.replied.clear();
    this.send();
  }

  /**
   * A replica refused the write for its layout: it runs a newer one than this write was planned on
   * (or, on the same one, does not replicate the key, which a fresh plan will not ask it to). Once
   * acknowledged, the write is answered already. Otherwise it is planned again on that layout (the
   * replica sent it; it is adopted before, or soon after, this reply) and sent again with the same
   * version, so the replicas that took it count again. Until the layout arrives, the write waits,
   * checking at every tick; if its deadline comes first, it fails then.
   */
  private onNewerLayout(layout: number): void {
    if (this.answered || this.replanOp !== 0) return;
    if (this.replans >= this.deps.config.restampMax) {
      return this.finish({ ok: false, error: new QuorumError('WRITE_CONTENTION', `write of "${this.key}" kept meeting newer layouts`, { layout }) });
    }
    this.coordinator.unregister(this.op);
    this.replanOp = this.deps.nextOp();
    const retry = (): void => {
      if (this.answered) return;
      // Past the deadline, the write fails now: sent again, it would be answered a tick late.
      if (this.deps.monotonicMs() >= this.deadlineMs) {
        this.replanOp = 0;
        this.expire();
        return;
      }
      if (this.deps.placement().layout.version < layout) {
        this.coordinator.register(this.replanOp, { deadlineMs: this.deps.monotonicMs(), onReply: () => undefined, expire: retry });
        return;
      }
      this.replanOp = 0;
      this.replans += 1;
      this.plan();
      this.acked.clear();
      this.replied.clear();
      this.start();
    };
    this.coordinator.register(this.replanOp, { deadlineMs: this.deps.monotonicMs(), onReply: () => undefined, expire: retry });
  }

  private checkDone(): void {
    const satisfied = this.sets.every(
      (set, i) => this.countHolding(set, (id) => this.acked.has(id)) >= (this.needed[i] as number),
    );
    if (satisfied && !this.answered) {
      const replicasAcked = this.owners.filter((id) => this.acked.has(id)).length;
      const hintsAcked = [...this.fallbacks.keys()].filter((id) => this.acked.has(id)).length;
      this.answered = true;
      this.callback({ ok: true, value: { version: this.version, replicasAcked, hintsAcked } });
    }
    const everyoneReplied = [...this.owners, ...this.fallbacks.keys()].every(
      (id) => this.replied.has(id) || !this.deps.isAvailable(id),
    );
    if (this.answered && everyoneReplied) this.settle();
  }

  expire(): void {
    if (!this.answered) {
      const counts = this.sets.map((set) => this.countHolding(set, (id) => this.acked.has(id)));
      const worst = counts.findIndex((count, i) => count < (this.needed[i] as number));
      const index = worst >= 0 ? worst : 0;
      this.finish({
        ok: false,
        error: unavailable('write', counts[index] as number, this.needed[index] as number, (this.sets[index] as string[]).length),
      });
      return;
    }
    this.settle();
  }

  /** Keeps a hint here for every owner that neither took the write nor has a hint for it elsewhere. */
  private settle(): void {
    this.coordinator.unregister(this.op);
    const entry = this.entry();
    for (const owner of this.owners) {
      if (owner === this.deps.selfId || this.acked.has(owner)) continue;
      const hinted = [...this.fallbacks].some(([fallback, forOwner]) => forOwner === owner && this.acked.has(fallback));
      if (!hinted) this.coordinator.storeHint(owner, entry);
    }
  }

  private finish(result: Result<WriteOutcome>): void {
    this.coordinator.unregister(this.op);
    if (this.answered) return;
    this.answered = true;
    this.callback(result);
  }
}
