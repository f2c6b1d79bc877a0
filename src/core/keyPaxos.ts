// Conditional writes (compare-and-set, create-only, read-modify-write such as INCR) through a consensus
// round per key: Cassandra's lightweight transactions, on the key's replicas (DESIGN.md §3). A plain
// write is stamped and sent; a conditional one must see the key's current value and write only if no
// other conditional write came between, which timestamps alone cannot promise (two racing creates both
// found the key absent, and both succeeded).
//
// The round is single-decree Paxos whose ballots are versions from the hybrid clock (Cassandra's
// Paxos, with the read folded into the prepare):
// - prepare(key, ballot): each replica promises to take no lower ballot for the key, and answers with
//   its entry for it, the proposal it accepted last and the highest ballot it was sent a commit of;
// - with promises from a majority of every replica set of the key (both sets during a topology change,
//   as for writes), the proposer looks at them. A proposal accepted under a ballot above every commit
//   answered may have been chosen by a round that stopped before writing it: it is completed first
//   (accepted under this ballot, then committed), and the round starts again;
// - otherwise the caller's `decide` sees the newest entry answered, the key's current value, and
//   either writes nothing (the condition failed: answered at once) or names a new value, stamped above
//   every version answered;
// - accept(ballot, entry): with acceptances from a majority of every set the entry is chosen;
// - commit: the entry is written to the replicas like any write, with its version fixed and its
//   ballot attached, at `quorum`; only then is the update acknowledged, so a quorum read sees it.
//
// Why it is safe: a round chosen under ballot b was accepted by a majority; any later round's majority
// of promises meets it in a replica that reports that proposal, a later one, or a commit at or past
// b; every later proposal completes it or is stamped above what its own round saw. So each conditional
// write sees the one chosen before it. A proposal accepted by a minority and then passed over is
// never completed later: the round that passed it over committed a higher ballot, which every later
// majority reports (or the floor of a replica that forgot that commit as too old: paxosAcceptor.ts).
// Plain writes racing a conditional one are ordered by version, as they are among themselves
// (docs/decisions.md). This file is the proposer, on the node that coordinates the update;
// paxosAcceptor.ts is the replica side, and how long a replica keeps its state.

import type { Callback, Coordinator, CoordinatorDeps, Operation, ReplyMessage } from './coordinator.js';
import { QuorumError, unavailable } from './errors.js';
import type { PaxosAcceptMessage, PaxosPrepareMessage } from './messages.js';
import { randomInt } from './ports.js';
import { requiredReplicas } from './quorum.js';
import { makeEntry, parseVersion, visibleEntry, type Entry, type Version } from './version.js';

/** What an update writes, decided from the key's current value; `undefined` writes nothing. */
export interface UpdateWrite {
  /** null writes a tombstone (a delete). */
  readonly value: Uint8Array | null;
  /** The wall-clock millisecond from which the value reads as deleted (values only). */
  readonly expiresMs?: number;
}

/** An update that writes nothing, for a reason its client is told (INCR of a value that is not an integer). */
export interface UpdateRefusal {
  readonly refused: string;
}

/**
 * Sees the key's current entry (undefined when absent; an expired value reads as a tombstone) and says
 * what to write, if anything, or why it refuses. Called once per round, so it must depend on nothing
 * but its argument (updateSpec.ts makes one from data); it may throw a QuorumError (a value over the
 * size limit), which fails the update.
 */
export type Decide = (current: Entry | undefined) => UpdateWrite | UpdateRefusal | undefined;

export interface UpdateOptions {
  readonly timeoutMs?: number;
}

export interface UpdateOutcome {
  /** Whether `decide` asked for a write and it was made. */
  readonly applied: boolean;
  /** The entry `decide` saw: the key's value just before the update (a tombstone or undefined when absent). */
  readonly previous: Entry | undefined;
  /** The written entry, when applied. */
  readonly written?: Entry;
  /** Why nothing was written, when `decide` refused. */
  readonly refused?: string;
}

/** One update of a batch: what it decides, and where its answer goes. */
export interface UpdateRequest {
  readonly decide: Decide;
  readonly callback: Callback<UpdateOutcome>;
}

/** An update's answer. */
type Answer = Parameters<Callback<UpdateOutcome>>[0];

/** Rounds a conditional write tries (within its deadline) before it gives up on contention. */
const roundsMax = 32;
/** The pause between two rounds that met a higher ballot: random, so racers drift apart, and up to
 *  twice as long each time, from 4 ms to this. */
const backoffMaxMs = 128;
/**
 * How long this node's acceptor holds other nodes' rounds of a key back while its own accept awaits its
 * answers (`PaxosAcceptor.guard`): answers come within a round trip; a lost one ends the guard here.
 */
const guardMs = 100;

type Phase = 'prepare' | 'accept' | 'commit' | 'wait';

/** One of this batch's own proposals: the answers it was decided with, and whether another node may hold it. */
interface OwnProposal {
  readonly answers: readonly Answer[];
  /** Once another replica took it, or a round found it in progress, it is never forgotten. */
  heldElsewhere: boolean;
}

/**
 * Conditional writes of one key in flight, on the node that coordinates them: a batch of the updates
 * that queued here behind the one before (updateQueue.ts), decided in order in one round. Each
 * `decide` sees the value the one before it left, and gets its own version, stamped in that order;
 * the last value is the one written. So a hot counter takes many INCRs per round, and each still
 * answers with its own result. All of them take effect at the commit, in their order, and every one
 * of them waited for it: linearizable as one after another at that instant.
 */
export class PendingUpdate implements Operation {
  readonly deadlineMs: number;
  private op = 0;
  private phase: Phase = 'wait';
  private rounds = 0;
  private layout = 0;
  private sets: string[][] = [];
  private owners: string[] = [];
  private needed: number[] = [];
  private ballot: Version | undefined;
  private readonly granted = new Set<string>();
  private readonly refused = new Set<string>();
  /** The owners this phase's message went to. */
  private readonly sentTo = new Set<string>();
  /** The highest ballot a replica said it promised: the next round's ballot goes above it. */
  private highestPromised: Version | undefined;
  /** Newest entry among the promises (undefined for a purge floor: absent); `newestVersion` covers floors. */
  private newest: Entry | undefined;
  private newestVersion: Version | undefined;
  /** The version each promise held (undefined: none), for the repair of `answerOnceHeld`. */
  private readonly versionsAnswered: (Version | undefined)[] = [];
  /** The proposal accepted under the highest ballot among the promises. */
  private inProgress: { readonly ballot: Version; readonly entry: Entry } | undefined;
  /** The highest ballot committed among the promises. */
  private lastCommit: Version | undefined;
  /** The entry being accepted and committed, and whether it is an earlier round's (then the update starts again). */
  private proposal: { readonly entry: Entry; readonly completing: boolean } | undefined;
  /** What each update of the batch answers once the proposal being made is written. */
  private answers: readonly Answer[] = [];
  /**
   * This batch's own proposals that some replica may hold, by version. A proposal may be chosen
   * without its proposer hearing so, or be completed later by another update's round: a later round
   * that finds it in progress, or written, answers with it; one that finds neither does not decide
   * again (an INCR must not count twice).
   */
  private readonly own = new Map<Version, OwnProposal>();
  private answered = false;
  /** The ballot this node's acceptor is guarding for this batch's own accept, if any. */
  private guarded: Version | undefined;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly deps: CoordinatorDeps,
    private readonly key: string,
    private readonly requests: readonly UpdateRequest[],
    options: UpdateOptions,
    /** Called once every update of the batch has answered. */
    private readonly done: () => void,
  ) {
    this.deadlineMs = deps.monotonicMs() + (options.timeoutMs ?? deps.config.requestTimeoutMs);
  }

  start(): void {
    if (this.answered) return;
    if (this.rounds >= roundsMax) return this.finish({ ok: false, error: this.contention('kept meeting other updates of it') });
    this.rounds += 1;
    const placement = this.deps.placement();
    this.layout = placement.layout.version;
    this.sets = placement.writeReplicaSets(this.key);
    this.owners = [...new Set(this.sets.flat())];
    this.needed = this.sets.map((set) => requiredReplicas('quorum', set.length));
    const reachable = this.sets.map((set) => set.filter((id) => this.deps.isAvailable(id)).length);
    const short = reachable.findIndex((count, i) => count < (this.needed[i] as number));
    if (short >= 0) {
      const set = this.sets[short] as string[];
      return this.finish({ ok: false, error: unavailable('write', reachable[short] as number, this.needed[short] as number, set.length) });
    }
    const clock = this.deps.clock;
    this.ballot = this.highestPromised === undefined ? clock.now() : clock.stampAbove(this.highestPromised);
    this.newest = undefined;
    this.newestVersion = undefined;
    this.versionsAnswered.length = 0;
    this.inProgress = undefined;
    this.lastCommit = undefined;
    this.proposal = undefined;
    this.answers = [];
    this.send('prepare', (op) => ({ kind: 'paxos-prepare', op, key: this.key, ballot: this.ballot as Version, layout: this.layout }));
  }

  /**
   * A later round, started from an answer or a timer: when starting it fails (stamping the ballot on a
   * full disk), no operation of this update is registered any more, so it answers now, and the error
   * goes on to roll back what it was part of (simulator seed 26005104: the update never answered).
   */
  private startAgain(): void {
    try {
      this.start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.finish({ ok: false, error: new QuorumError('UNAVAILABLE', `update of "${this.key}" failed: ${message}`, { rounds: this.rounds }) });
      throw error;
    }
  }

  private send(phase: 'prepare' | 'accept', message: (op: number) => PaxosPrepareMessage | PaxosAcceptMessage): void {
    this.phase = phase;
    this.granted.clear();
    this.refused.clear();
    this.sentTo.clear();
    this.op = this.deps.nextOp();
    this.coordinator.register(this.op, this);
    const built = message(this.op);
    for (const owner of this.owners) {
      if (!this.deps.isAvailable(owner)) continue;
      this.sentTo.add(owner);
      this.deps.send(owner, built);
    }
  }

  onReply(from: string, message: ReplyMessage): void {
    if (!this.owners.includes(from) || this.granted.has(from) || this.refused.has(from)) return;
    if (this.phase === 'prepare' && message.kind === 'paxos-promise') {
      if (message.layout !== undefined) return this.onNewerLayout(message.layout);
      if (!message.ok) return this.onRefused(from, message.promised);
      this.granted.add(from);
      this.notePromise(message.entry ?? null, message.purged, message.accepted, message.committed);
      if (this.majorities((id) => this.granted.has(id))) this.promised();
    } else if (this.phase === 'accept' && message.kind === 'paxos-accepted') {
      if (message.layout !== undefined) return this.onNewerLayout(message.layout);
      if (!message.ok) {
        // Refused, it may still hold the proposal (a duplicated accept it took first: simulator seed
        // 29006060) when it accepted or committed something at or above this ballot, unless it
        // remembers that it never took this one (acceptedBallots.ts).
        const ballot = this.ballot as Version;
        const maybeHeld =
          message.neverAccepted !== true &&
          ((message.accepted !== undefined && message.accepted >= ballot) || (message.committed !== undefined && message.committed >= ballot));
        if (maybeHeld) this.markHeldElsewhere();
        return this.onRefused(from, message.promised);
      }
      this.granted.add(from);
      if (from !== this.deps.selfId) this.markHeldElsewhere();
      if (this.majorities((id) => this.granted.has(id))) this.commit();
      else this.retryIfLost(); // this node's own answer, awaited by a round already lost
    }
  }

  /** The proposal being accepted, if it is this update's own, may be held by another node. */
  private markHeldElsewhere(): void {
    const ours = this.proposal === undefined ? undefined : this.own.get(this.proposal.entry.version);
    if (ours !== undefined) ours.heldElsewhere = true;
  }

  private notePromise(
    entry: Entry | null,
    purged: Version | undefined,
    accepted: { readonly ballot: Version; readonly entry: Entry } | undefined,
    committed: Version | undefined,
  ): void {
    const version = entry?.version ?? purged;
    this.versionsAnswered.push(version);
    if (version !== undefined && (this.newestVersion === undefined || version > this.newestVersion)) {
      this.newestVersion = version;
      // A purge floor is the tombstone of a delete that every replica confirmed: the key is absent.
      this.newest = entry ?? undefined;
    }
    if (accepted !== undefined && (this.inProgress === undefined || accepted.ballot > this.inProgress.ballot)) this.inProgress = accepted;
    if (committed !== undefined && (this.lastCommit === undefined || committed > this.lastCommit)) this.lastCommit = committed;
  }

  /** Whether the members that satisfy `has` make a majority of every replica set. */
  private majorities(has: (id: string) => boolean): boolean {
    return this.sets.every((set, i) => set.filter(has).length >= (this.needed[i] as number));
  }

  /** Promised by a majority of every set: complete an earlier proposal, or decide and propose. */
  private promised(): void {
    const earlier = this.inProgress;
    if (earlier !== undefined && (this.lastCommit === undefined || earlier.ballot > this.lastCommit)) {
      const ours = this.own.get(earlier.entry.version);
      if (ours !== undefined) {
        this.answers = ours.answers;
        ours.heldElsewhere = true;
      }
      return this.propose({ entry: earlier.entry, completing: ours === undefined });
    }
    const held = this.newestVersion === undefined ? undefined : this.own.get(this.newestVersion);
    if (held !== undefined && this.newest !== undefined) {
      // Chosen and written already (another round completed it): this batch took effect, once a
      // quorum holds it (the round that wrote it may have reached only one replica: seed 1209 of a
      // random interleaving, where a quorum read after the answer returned the value before it).
      return this.answerOnceHeld(held.answers);
    }
    if (this.own.size > 0) {
      // A proposal of ours that some replica may hold, neither in progress here nor written: it may
      // have been chosen and written over since, or be completed by a later round. Deciding again
      // could apply this batch twice, so its outcome stays unknown.
      return this.finish({ ok: false, error: this.contention('met other updates of it') });
    }
    const decision = this.decideAll(this.newest === undefined ? undefined : visibleEntry(this.newest, this.deps.nowMs()));
    if (decision.entry === undefined) return this.answerOnceHeld(decision.answers);
    this.answers = decision.answers;
    this.propose({ entry: decision.entry, completing: false });
  }

  /**
   * Runs each update's `decide` in order, each on the value the one before left, stamping each write
   * above the last version seen: the answers, and the entry to write (the last one written), if any.
   */
  private decideAll(current: Entry | undefined): { readonly answers: readonly Answer[]; readonly entry: Entry | undefined } {
    const answers: Answer[] = [];
    let state = current;
    let entry: Entry | undefined;
    let above = this.newestVersion;
    for (const { decide } of this.requests) {
      let write: ReturnType<Decide>;
      try {
        write = decide(state);
      } catch (error) {
        if (!(error instanceof QuorumError)) throw error;
        answers.push({ ok: false, error });
        continue;
      }
      if (write === undefined || 'refused' in write) {
        answers.push({ ok: true, value: { applied: false, previous: state, ...(write && { refused: write.refused }) } });
        continue;
      }
      const version = above === undefined ? this.deps.clock.now() : this.deps.clock.stampAbove(above);
      if (above !== undefined && version <= above) {
        // The held version is beyond what this clock will follow (hlc.ts): a write could not win.
        answers.push({ ok: false, error: this.contention(`cannot be stamped above the held version ${above}`) });
        continue;
      }
      entry = makeEntry(this.key, version, write.value, write.value === null ? undefined : write.expiresMs);
      answers.push({ ok: true, value: { applied: true, previous: state, written: entry } });
      state = visibleEntry(entry, this.deps.nowMs());
      above = version;
    }
    return { answers, entry };
  }

  /**
   * Answers with what the promises showed (no new write), once a quorum holds its newest version: like
   * a quorum read, the answer must not show what a later quorum read could miss. Promises that held an
   * older version are sent the newest first (simulator seed 434: an update whose condition failed saw
   * a delete held by one replica, and a quorum read after it returned the value from before the delete).
   */
  private answerOnceHeld(answers: readonly Answer[]): void {
    const newestVersion = this.newestVersion;
    if (newestVersion === undefined || this.versionsAnswered.every((version) => version === newestVersion)) {
      return this.answerEach(answers);
    }
    // A purge floor is repaired as the tombstone it was (replicas holding the floor take it as held).
    this.writeAtQuorum(this.newest ?? makeEntry(this.key, newestVersion, null), undefined, () => this.answerEach(answers));
  }

  /**
   * Writes `entry` with its own version (no new stamp) to a quorum of the key's replicas, with the
   * ballot it was chosen under when it is a commit; then `done`, or the update fails with the write.
   */
  private writeAtQuorum(entry: Entry, ballot: Version | undefined, done: () => void): void {
    this.coordinator.unregister(this.op);
    this.unguard();
    this.phase = 'commit';
    const expiry = entry.expiresMs !== undefined ? { expiresMs: entry.expiresMs } : {};
    const timeoutMs = Math.max(1, this.deadlineMs - this.deps.monotonicMs());
    this.coordinator.write(this.key, entry.value, { consistency: 'quorum', timeoutMs, version: entry.version, ...(ballot ? { ballot } : {}), ...expiry }, (result) => {
      if (this.answered) return;
      if (!result.ok) return this.finish(result);
      done();
    });
  }

  private propose(proposal: { readonly entry: Entry; readonly completing: boolean }): void {
    this.coordinator.unregister(this.op);
    this.proposal = proposal;
    if (!proposal.completing) {
      if (!this.own.has(proposal.entry.version)) this.own.set(proposal.entry.version, { answers: this.answers, heldElsewhere: false });
      // Until its answers are in, racers' rounds cannot make this node report or replace it.
      this.guarded = this.ballot as Version;
      this.deps.guardAcceptance(this.key, this.guarded, this.deps.monotonicMs() + guardMs);
    }
    this.send('accept', (op) => ({ kind: 'paxos-accept', op, ballot: this.ballot as Version, entry: proposal.entry, layout: this.layout }));
  }

  /** The accept phase is over: this node's acceptor takes part in other rounds of the key again. */
  private unguard(): void {
    if (this.guarded === undefined) return;
    this.deps.unguardAcceptance(this.key, this.guarded);
    this.guarded = undefined;
  }

  /** Chosen: written to the replicas with its version and ballot, at quorum; acknowledged once it is. */
  private commit(): void {
    const proposal = this.proposal as { readonly entry: Entry; readonly completing: boolean };
    this.writeAtQuorum(proposal.entry, this.ballot as Version, () => {
      if (!proposal.completing) return this.answerEach(this.answers);
      // Another node's proposal, completed: its proposer may still be waiting, and once this round's
      // next decision is written over it, it could no longer tell that its update took effect.
      const proposer = parseVersion(proposal.entry.version).nodeId;
      if (proposer !== this.deps.selfId) this.deps.send(proposer, { kind: 'update-committed', key: this.key, version: proposal.entry.version });
      this.startAgain();
    });
  }

  /**
   * Another node's round completed a proposal and wrote it to a quorum (`update-committed`): if it is
   * one of this batch's own, the batch took effect, with the answers it was decided with. Rounds under
   * contention often complete a racer's proposal and then decide over it; without this word the racer
   * found its proposal neither in progress nor written, and failed with an unknown outcome.
   */
  committedElsewhere(version: Version): void {
    const ours = this.own.get(version);
    if (ours !== undefined) this.answerEach(ours.answers);
  }

  /**
   * A replica promised a higher ballot. Once a majority is out of reach, the update waits a moment
   * and goes again, above that ballot. A proposal of ours is forgotten only when no replica holds it
   * (`forgetIfNoneHolds`): then no later round can complete it. One that another replica accepted (or
   * did not answer) may still be completed by another update's round, so the next round looks for it
   * (and the update fails with an unknown outcome if it cannot tell).
   */
  private onRefused(from: string, promised: Version | undefined): void {
    this.refused.add(from);
    if (promised !== undefined && (this.highestPromised === undefined || promised > this.highestPromised)) this.highestPromised = promised;
    if (promised !== undefined && parseVersion(promised).nodeId !== this.deps.selfId) this.deps.raced(this.key);
    this.retryIfLost();
  }

  /** Once a majority is out of reach in this phase, goes again after a random pause. */
  private retryIfLost(): void {
    if (this.majorities((id) => !this.refused.has(id) && this.deps.isAvailable(id))) return;
    if (this.phase === 'accept' && this.proposal !== undefined) {
      // Every answer is awaited (they come within a round trip; a replica that died costs the
      // deadline): only then can the proposal be forgotten if no replica holds it. Gone on without
      // them, racing INCRs left a third of their updates with an unknown outcome.
      if (![...this.sentTo].every((id) => this.granted.has(id) || this.refused.has(id))) return;
      this.forgetIfNoneHolds(this.proposal.entry.version);
    }
    this.again(randomInt(this.deps.random, Math.min(backoffMaxMs, 2 ** (this.rounds + 1))) + 1, undefined);
  }

  /**
   * Forgets a proposal of ours that no replica holds: every one it went to refused it, or every one
   * but this node, whose acceptance is taken back. The usual case under contention: this node's own
   * acceptance arrives first, the others had promised a racer's higher ballot (and this node's
   * acceptor held the racer's round back meanwhile: `guard` in `propose`). Kept otherwise, it would
   * leave the update's outcome unknown.
   */
  private forgetIfNoneHolds(version: Version): void {
    if (this.own.get(version)?.heldElsewhere !== false) return;
    const self = this.deps.selfId;
    if (![...this.sentTo].every((id) => id === self || this.refused.has(id))) return;
    if (this.sentTo.has(self) && !this.refused.has(self)) {
      // Until its answer is in, this node's acceptor may still take the proposal.
      if (!this.granted.has(self) || !this.deps.withdrawProposal(this.key, this.ballot as Version)) return;
    }
    this.own.delete(version);
  }

  /** A replica runs a newer layout (or does not replicate the key on this one): go again on it. */
  private onNewerLayout(layout: number): void {
    this.again(0, layout);
  }

  /**
   * Starts the update again after `delayMs`, once this node runs `layout` (if given); until the
   * deadline. The round left behind may still be chosen: the next one completes it if so.
   */
  private again(delayMs: number, layout: number | undefined): void {
    this.coordinator.unregister(this.op);
    this.unguard();
    this.phase = 'wait';
    const at = this.deps.monotonicMs() + delayMs;
    const retry = (): void => {
      if (this.answered) return;
      const now = this.deps.monotonicMs();
      if (now >= this.deadlineMs) return this.expire();
      if (now < at || (layout !== undefined && this.deps.placement().layout.version < layout)) return wait(now < at ? at : now);
      this.startAgain();
    };
    const wait = (untilMs: number): void => {
      this.op = this.deps.nextOp();
      this.coordinator.register(this.op, { deadlineMs: Math.min(untilMs, this.deadlineMs), onReply: () => undefined, expire: retry });
    };
    wait(at);
  }

  expire(): void {
    if (this.answered) return;
    const reason =
      this.phase === 'accept'
        ? `no majority of the replicas of "${this.key}" accepted in time`
        : `no majority of the replicas of "${this.key}" promised in time`;
    this.finish({ ok: false, error: new QuorumError('UNAVAILABLE', `update failed: ${reason}`, { rounds: this.rounds }) });
  }

  private contention(what: string): QuorumError {
    return new QuorumError('WRITE_CONTENTION', `update of "${this.key}" ${what}`, { rounds: this.rounds });
  }

  /**
   * Fails every update of the batch. A failure after one of its proposals went out, or while writing a
   * chosen value, leaves the outcome unknown: a later round may complete the proposal. The error says
   * so, in its message and as `outcomeUnknown` (the prototype's create-only route falls back to a plain
   * write only otherwise).
   */
  private finish(failure: Answer & { ok: false }): void {
    if (this.answered) return;
    let error = failure.error;
    if (this.own.size > 0 || this.phase === 'commit') {
      const { code, message, details } = error;
      error = new QuorumError(code, `${message}: the update may have taken effect`, { ...details, outcomeUnknown: true });
    }
    this.answerEach(this.requests.map(() => ({ ok: false, error })));
  }

  /** Answers every update of the batch, once, each with its own answer. */
  private answerEach(answers: readonly Answer[]): void {
    this.coordinator.unregister(this.op);
    this.unguard();
    if (this.answered) return;
    this.answered = true;
    // Every update is answered even if a callback throws; the first such error goes on up.
    let thrown: { readonly error: unknown } | undefined;
    this.requests.forEach((request, i) => {
      try {
        request.callback(answers[i] as Answer);
      } catch (error) {
        thrown ??= { error };
      }
    });
    this.done();
    if (thrown !== undefined) throw thrown.error;
  }
}
