// A quorum read in flight (coordinator.ts starts it): it asks every reachable replica, takes the newest
// of the first R answers and, before answering, writes it back to the answering replicas that were
// behind until R of them hold it (blocking read repair), so that a later quorum read cannot see an
// older value. Replicas that answer later are repaired in the background.

import type { Callback, Coordinator, CoordinatorDeps, Operation, ReadOptions, ReadOutcome } from './coordinator.js';
import { QuorumError, unavailable } from './errors.js';
import type { ReadReply, WriteReply } from './messages.js';
import { requiredReplicas } from './quorum.js';
import { mergeEntries, visibleEntry, type Entry, type Version } from './version.js';

export class PendingRead implements Operation {
  readonly deadlineMs: number;
  private readonly op: number;
  private repairOp = 0;
  /**
   * The version `repairOp`'s writes carry. A replica's acknowledgement says it applied a write, not
   * which: each newer version gets an op of its own, so that a replica that took the repair of an
   * older one is never counted as holding the newest (simulator seed 4814367).
   */
  private repairVersion: Version | undefined;
  private stragglerOp = 0;
  /** The wait for stragglers is over: from now on every answer is decided on as it arrives. */
  private stragglerWaitOver = false;
  private readonly targets: string[];
  private readonly neededPerSet: number[];
  private readonly replies = new Map<string, Entry | null>();
  private newest: Entry | undefined;
  /** `newest` is a purged tombstone: no replica holds it, one reported it as its purge floor. */
  private newestPurged = false;
  private source: string | undefined;
  private readonly waitForAll: boolean;
  private readonly upToDate = new Set<string>();
  private repaired = 0;
  private readonly repairsSent = new Map<string, Version>();
  private answered = false;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly deps: CoordinatorDeps,
    private readonly key: string,
    /** The layout version the replicas below were chosen on (replicas on a newer one refuse). */
    private readonly layout: number,
    /** The replica sets a read must reach a quorum in: the serving one, and the next one during a
     *  change (so that a read sees what a write acknowledged on either, and its repair reaches both). */
    private readonly sets: string[][],
    /** Only this node's own copy is asked (`readsOwnCopyOnly`): its store could not be read at once. */
    ownCopyOnly: boolean,
    private readonly options: ReadOptions,
    private readonly callback: Callback<ReadOutcome>,
    private readonly replans: number,
  ) {
    this.deadlineMs = deps.monotonicMs() + (options.timeoutMs ?? deps.config.requestTimeoutMs);
    this.neededPerSet = this.sets.map((set) => requiredReplicas(options.consistency, set.length));
    this.waitForAll = options.waitForAll ?? false;
    this.targets = ownCopyOnly ? [deps.selfId] : [...new Set(this.sets.flat())].filter((id) => deps.isAvailable(id));
    this.op = deps.nextOp();
  }

  /** The first replica set where fewer than the needed members satisfy `has`; undefined when all are met. */
  private shortSet(has: (id: string) => boolean): { answered: number; needed: number; replicas: number } | undefined {
    for (let i = 0; i < this.sets.length; i++) {
      const set = this.sets[i] as string[];
      const answered = set.filter(has).length;
      const needed = this.neededPerSet[i] as number;
      if (answered < needed) return { answered, needed, replicas: set.length };
    }
    return undefined;
  }

  private enoughUpToDate(): boolean {
    return this.shortSet((id) => this.upToDate.has(id)) === undefined;
  }

  start(): void {
    const short = this.shortSet((id) => this.targets.includes(id));
    if (short) {
      this.answered = true;
      this.callback({ ok: false, error: unavailable('read', short.answered, short.needed, short.replicas) });
      return;
    }
    this.coordinator.register(this.op, this);
    for (const target of this.targets) this.deps.send(target, { kind: 'read', op: this.op, key: this.key, layout: this.layout });
  }

  onReply(from: string, message: WriteReply | ReadReply): void {
    if (!this.targets.includes(from)) return;
    if (message.kind === 'read-reply') this.onReadReply(from, message);
    else this.onRepairReply(from, message);
  }

  private onReadReply(from: string, message: ReadReply): void {
    if (message.layout !== undefined) return this.onNewerLayout(message.layout);
    if (this.replies.has(from)) return;
    if (message.entry !== null && message.entry.key !== this.key) return;
    // A purge floor counts as the tombstone it was: it outranks older copies, and the replicas that
    // answered one are repaired with that tombstone (as anti-entropy offers floors, antiEntropy.ts).
    const purged = message.entry === null && message.purged !== undefined;
    const entry = purged ? { key: this.key, version: message.purged as Version, value: null } : message.entry;
    this.replies.set(from, entry);
    const before = this.newest;
    this.newest = mergeEntries(this.newest, entry ?? undefined);
    if (this.newest !== before) {
      this.source = from;
      this.newestPurged = purged;
      // A newer version arrived: who was up to date is no longer.
      this.upToDate.clear();
      for (const [id, held] of this.replies) if (sameVersion(held, this.newest)) this.upToDate.add(id);
    } else if (sameVersion(entry, this.newest)) {
      this.upToDate.add(from);
      if (!purged) this.newestPurged = false; // a replica still holds that tombstone
    }
    if (this.answered) {
      if (!sameVersion(entry, this.newest)) this.repair([from]);
      this.finishIfAllReplied();
      return;
    }
    if (this.shortSet((id) => this.replies.has(id))) return;
    if (this.waitForAll && this.replies.size < this.targets.length && !this.stragglerWaitOver) {
      this.waitForStragglers();
      return;
    }
    this.decide();
  }

  /**
   * A replica refused the read: it runs a newer layout than the read was planned on, whose change may
   * have moved the key to other replicas and dropped this copy. Once answered, nothing to do; otherwise
   * this read ends and a new one is planned on that layout (the replica sent it; until it arrives, the
   * retry waits, checking at every tick), within the same deadline.
   */
  private onNewerLayout(layout: number): void {
    if (this.answered) return;
    this.answered = true;
    this.unregisterAll();
    if (this.replans >= this.deps.config.restampMax) {
      this.callback({ ok: false, error: new QuorumError('UNAVAILABLE', `read of "${this.key}" kept meeting newer layouts`, { layout }) });
      return;
    }
    const retryOp = this.deps.nextOp();
    const retry = (): void => {
      const monotonicMs = this.deps.monotonicMs();
      if (monotonicMs >= this.deadlineMs) {
        this.callback({ ok: false, error: new QuorumError('UNAVAILABLE', `read of "${this.key}" timed out waiting for layout v${layout}`, { layout }) });
        return;
      }
      if (this.deps.placement().layout.version < layout) {
        this.coordinator.register(retryOp, { deadlineMs: monotonicMs, onReply: () => undefined, expire: retry });
        return;
      }
      this.coordinator.startRead(this.key, { ...this.options, timeoutMs: this.deadlineMs - monotonicMs }, this.callback, this.replans + 1);
    };
    retry();
  }

  private unregisterAll(): void {
    this.coordinator.unregister(this.op);
    if (this.repairOp !== 0) this.coordinator.unregister(this.repairOp);
    if (this.stragglerOp !== 0) this.coordinator.unregister(this.stragglerOp);
  }

  /** Repairs the answering replicas that are behind, and answers once R of them hold the newest. */
  private decide(): void {
    this.repair([...this.replies.keys()].filter((id) => !this.upToDate.has(id)));
    if (this.enoughUpToDate()) this.answer();
  }

  /**
   * Waiting for every replica, R answered already: give the others `readStragglerWaitMs` more, then
   * go on with those that answered. A replica that died and is not yet known dead does not hold
   * the read for the whole request timeout.
   */
  private waitForStragglers(): void {
    if (this.stragglerOp !== 0) return;
    this.stragglerOp = this.deps.nextOp();
    this.coordinator.register(this.stragglerOp, {
      deadlineMs: this.deps.monotonicMs() + this.deps.config.readStragglerWaitMs,
      onReply: () => undefined,
      expire: () => {
        this.stragglerWaitOver = true;
        if (!this.answered) this.decide();
      },
    });
  }

  /** Writes the newest entry back to replicas that answered with an older one (once per version). */
  private repair(ids: string[]): void {
    const entry = this.newest;
    if (entry === undefined) return;
    const due = ids.filter((id) => this.repairsSent.get(id) !== entry.version);
    if (due.length === 0) return;
    if (this.repairVersion !== entry.version) {
      if (this.repairOp !== 0) this.coordinator.unregister(this.repairOp); // late answers are for an older version
      this.repairOp = this.deps.nextOp();
      this.repairVersion = entry.version;
      this.coordinator.register(this.repairOp, this);
    }
    for (const id of due) {
      this.repairsSent.set(id, entry.version);
      this.deps.send(id, { kind: 'write', op: this.repairOp, entry, layout: this.deps.placement().layout.version });
    }
  }

  private onRepairReply(from: string, message: WriteReply): void {
    const entry = this.newest;
    if (entry === undefined) return;
    // `applied` says the replica took the version `repairOp` carried, which a newer answer may have
    // overtaken before its repair went out (simulator seed 4814367; a review found the same after the
    // straggler wait): only a refusal naming a version at least as new proves anything then.
    const tookNewest = message.applied && this.repairVersion === entry.version;
    if (tookNewest || (message.current !== undefined && message.current >= entry.version)) {
      if (!this.upToDate.has(from)) this.repaired += 1;
      this.upToDate.add(from);
    }
    if (!this.answered && this.enoughUpToDate()) this.answer();
  }

  private answer(): void {
    this.answered = true;
    this.callback({
      ok: true,
      value: this.outcome(),
    });
    this.finishIfAllReplied();
  }

  private outcome(): ReadOutcome {
    return {
      // A purged key reads as absent, with no version, as it would from replicas that all purged it.
      entry: this.newest === undefined || this.newestPurged ? undefined : visibleEntry(this.newest, this.deps.nowMs()),
      source: this.newestPurged ? undefined : this.source,
      replicasAnswered: this.replies.size,
      replicasRepaired: this.repaired,
    };
  }

  private finishIfAllReplied(): void {
    if (this.replies.size === this.targets.length) {
      this.coordinator.unregister(this.op);
      // Repair replies may still come; they only need the repair op, which expires with the deadline.
    }
  }

  expire(): void {
    this.unregisterAll();
    if (this.answered) return;
    this.answered = true;
    if (this.enoughUpToDate()) {
      // Reached when waiting for every replica (waitForAll) and some never answered: R hold the newest.
      this.callback({ ok: true, value: this.outcome() });
      return;
    }
    const unanswered = this.shortSet((id) => this.replies.has(id));
    if (unanswered === undefined) {
      // R replicas answered, but the newest version did not reach R of them in time. Answering it would
      // let a later quorum read miss it and go back in time (found by the simulator: a version held by
      // one replica, whose repair writes were lost, was returned at quorum, then a quorum read of the
      // other two returned the older one). Fail instead, as Cassandra's blocking read repair does.
      const behind = this.shortSet((id) => this.upToDate.has(id)) as { answered: number; needed: number; replicas: number };
      this.callback({
        ok: false,
        error: new QuorumError(
          'UNAVAILABLE',
          `read failed: the newest version reached ${behind.answered} of ${behind.replicas} replicas, ${behind.needed} needed (read repair did not finish in time)`,
          { ...behind },
        ),
      });
      return;
    }
    this.callback({ ok: false, error: unavailable('read', unanswered.answered, unanswered.needed, unanswered.replicas) });
  }
}

function sameVersion(entry: Entry | null | undefined, newest: Entry | undefined): boolean {
  if (newest === undefined) return entry === null || entry === undefined;
  return entry !== null && entry !== undefined && entry.version === newest.version;
}
