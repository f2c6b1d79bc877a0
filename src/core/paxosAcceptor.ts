// The replica side of the consensus rounds of conditional writes (keyPaxos.ts holds the proposer, and
// why the rounds are safe): what each replica promised, accepted and was sent a commit of, per key,
// kept in the store so that a restart keeps its promises.
//
// That state is not kept for ever: every key a conditional write ever touched would keep a row, long
// after the key was deleted and its tombstone purged (Cassandra keeps its Paxos state for the
// tombstone grace period, for the same reason). Here a replica forgets a key's state once every
// ballot in it is older than `paxosStateKeepMs`, read on the hybrid clock (a sweep walks the store
// for such state every purge interval), and from then on answers
// as if a commit had been made at that age, the floor:
// - it takes part in no round whose ballot is below the floor: it refuses it, with the floor as what
//   it promised, so the proposer goes again above it. So no forgotten promise can be broken;
// - its promises report the floor as a commit, so proposers pass over a proposal accepted under an
//   older ballot (an acceptance another replica still holds, whose commit this one forgot: completing
//   it would write a decision made before rounds that came after it).
// Passing over such a proposal is safe once no update can still be waiting on it: its proposer gave
// up a request timeout after its ballot, and the grace period is far longer than any clock skew the
// store tolerates (tombstones depend on the same bound, tombstones.ts). A value chosen but never
// written by then had an unknown outcome; if a quorum read saw it on one replica, its blocking repair
// wrote it to a quorum, where every later round sees it.

import { AcceptedBallots } from './acceptedBallots.js';
import type { CoreConfig } from './config.js';
import type { ReplyMessage } from './coordinator.js';
import { ceilingMarginMs } from './hlc.js';
import type { PaxosAcceptMessage, PaxosPrepareMessage } from './messages.js';
import type { PaxosState, Storage } from './storage.js';
import { formatVersion, parseVersion, type Version } from './version.js';

/**
 * How long a replica keeps a key's consensus state after the last ballot in it: the tombstone grace
 * period, plus a round's lifetime and the clock-ceiling margin (versions may run that far ahead of
 * their node's clock after a restart, hlc.ts).
 */
export function paxosStateKeepMs(config: CoreConfig): number {
  return config.tombstoneGraceMs + config.requestTimeoutMs + ceilingMarginMs;
}

/** Keys whose state the sweep looks at per step (a named bound on one step's work). */
const sweepBatch = 1000;

export interface PaxosAcceptorDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  /**
   * Whether a message planned on layout `layout` must be refused for this node's layout (then the
   * layout version to answer with), as for reads and writes; node.ts supplies it.
   */
  readonly refusesLayout: (key: string, layout: number) => number | undefined;
  /** The hybrid clock's wall time: it never goes back, not even across a restart (hlc.ts). */
  readonly clockWallMs: () => number;
  /** Answers a prepare or accept held back while this node's own accept of its key awaited answers (`guard`). */
  readonly answerHeld: (from: string, message: PaxosPrepareMessage | PaxosAcceptMessage) => void;
}

/** Messages held back per guarded key, at most (more are answered at once: a named bound on memory). */
const heldMessagesMax = 64;

interface Guard {
  readonly ballot: Version;
  /** On the monotonic clock. */
  readonly untilMs: number;
  readonly held: { readonly from: string; readonly message: PaxosPrepareMessage | PaxosAcceptMessage }[];
  /** Another node's round of the key was answered while the guard held (past its bound, or released late). */
  breached: boolean;
}

/** What a replica holds for a key, once what is older than the floor is left out, and the floor. */
interface Held {
  readonly state: PaxosState | undefined;
  readonly floor: Version | undefined;
}

function keyOf(message: PaxosPrepareMessage | PaxosAcceptMessage): string {
  return message.kind === 'paxos-prepare' ? message.key : message.entry.key;
}

function highest(a: Version | undefined, b: Version | undefined): Version | undefined {
  return a === undefined ? b : b === undefined || a >= b ? a : b;
}

export class PaxosAcceptor {
  private nextSweepMs = 0;
  /** Where the sweep's pass over the store goes on from; undefined between passes. */
  private sweepAfter: string | undefined;
  /** Keys whose state was forgotten as expired, since this node started. */
  forgotten = 0;
  /** The ballots accepted lately, so that a refusal can say a proposal was never taken here. */
  private readonly acceptedBallots = new AcceptedBallots();
  /** Keys whose own accept this node's round awaits answers to, and what is held back meanwhile. */
  private readonly guards = new Map<string, Guard>();
  /** Held back by a guard that ended, to be answered (`answerReleased`). */
  private readonly released: { readonly from: string; readonly message: PaxosPrepareMessage | PaxosAcceptMessage }[] = [];

  constructor(private readonly deps: PaxosAcceptorDeps) {}

  prepare(message: PaxosPrepareMessage): ReplyMessage {
    const refused = this.deps.refusesLayout(message.key, message.layout);
    if (refused !== undefined) return { kind: 'paxos-promise', op: message.op, ok: false, layout: refused };
    const { state, floor } = this.held(message.key);
    const promised = highest(state?.promised, floor);
    this.acceptedBallots.seen(message.key, promised);
    // A prepare of the ballot already promised is the same one again (a network duplicate): answered again.
    if (promised !== undefined && promised > message.ballot) {
      return { kind: 'paxos-promise', op: message.op, ok: false, promised };
    }
    const storage = this.deps.storage;
    storage.setPaxosState(message.key, { ...state, promised: message.ballot });
    const entry = storage.get(message.key);
    const purged = entry === undefined ? storage.purgeFloor(message.key) : undefined;
    const committed = highest(state?.committed, floor);
    return {
      kind: 'paxos-promise',
      op: message.op,
      ok: true,
      entry: entry ?? null,
      ...(purged !== undefined ? { purged } : {}),
      ...(state?.accepted !== undefined ? { accepted: state.accepted } : {}),
      ...(committed !== undefined ? { committed } : {}),
    };
  }

  accept(message: PaxosAcceptMessage): ReplyMessage {
    const key = message.entry.key;
    const refused = this.deps.refusesLayout(key, message.layout);
    if (refused !== undefined) return { kind: 'paxos-accepted', op: message.op, ok: false, layout: refused };
    const { state, floor } = this.held(key);
    const promised = highest(state?.promised, floor);
    this.acceptedBallots.seen(key, promised);
    if (promised !== undefined && promised > message.ballot) {
      // With what it holds: a refusal proves the proposal was never accepted here only while nothing at
      // or above its ballot was accepted or committed here (this may be a duplicate of an accept taken),
      // or while this replica remembers every ballot it accepted since before this one.
      // Below the floor, it may have been accepted and forgotten.
      const committed = highest(state?.committed, floor);
      return {
        kind: 'paxos-accepted',
        op: message.op,
        ok: false,
        promised,
        ...(state?.accepted !== undefined ? { accepted: state.accepted.ballot } : {}),
        ...(committed !== undefined ? { committed } : {}),
        ...(this.acceptedBallots.neverAccepted(key, message.ballot) ? { neverAccepted: true as const } : {}),
      };
    }
    this.acceptedBallots.accepted(key, message.ballot);
    this.deps.storage.setPaxosState(key, { ...state, promised: message.ballot, accepted: { ballot: message.ballot, entry: message.entry } });
    return { kind: 'paxos-accepted', op: message.op, ok: true };
  }

  /**
   * This node's round of `key` sent its own proposal under `ballot` and awaits the answers: until
   * `untilMs` (monotonic) or `unguard`, other nodes' prepares and accepts of the key are held back
   * here (`hold`), and answered after. Held back, a message is only late, as a network may make it, so
   * nothing is lost for safety; and this node's acceptance stays unreported and unreplaced, so that if
   * every other replica refused the proposal it can be taken back (`withdraw`) and the update decided
   * again. Promising a racer's ballot meanwhile, the usual race at a hot key's first updates, left the
   * proposal possibly completed by that racer, and a whole batch failed with an unknown outcome (the
   * twenty-eighth session's measurements). The bound keeps a round whose answers are lost from
   * holding the key's other rounds up for long.
   */
  guard(key: string, ballot: Version, untilMs: number): void {
    this.release(key);
    this.guards.set(key, { ballot, untilMs, held: [], breached: false });
  }

  unguard(key: string, ballot: Version): void {
    if (this.guards.get(key)?.ballot === ballot) this.release(key);
  }

  /**
   * Whether `message`, another node's prepare or accept of a guarded key, is held back (to be answered
   * through `answerHeld` once the guard ended, by `answerReleased`); false when it is to be answered now.
   */
  hold(from: string, message: PaxosPrepareMessage | PaxosAcceptMessage): boolean {
    const guard = this.guards.get(keyOf(message));
    if (guard === undefined || guard.ballot === message.ballot || parseVersion(message.ballot).nodeId === this.deps.selfId) return false;
    if (guard.held.length >= heldMessagesMax) {
      guard.breached = true;
      return false;
    }
    guard.held.push({ from, message });
    return true;
  }

  /** Ends the guards whose time is up. Call it from the node's timers. */
  releaseExpired(monotonicMs: number): void {
    for (const [key, guard] of this.guards) if (guard.untilMs <= monotonicMs) this.release(key);
  }

  /**
   * Answers what guards that ended held back. Not from `unguard` itself: that runs inside a round's
   * step, and an answer that fails to be stored (a full disk) would break off that step half done
   * (simulator seed 587755719: an update never answered). The node calls this once a batch of
   * messages or a tick is through, in the same transaction; an answer that fails is lost, as a
   * network may lose it, and the rest wait for the next call.
   */
  answerReleased(): void {
    for (let next = this.released.shift(); next !== undefined; next = this.released.shift()) {
      const guard = this.guards.get(keyOf(next.message));
      if (guard !== undefined) guard.breached = true;
      this.deps.answerHeld(next.from, next.message);
    }
  }

  private release(key: string): void {
    const guard = this.guards.get(key);
    if (guard === undefined) return;
    this.guards.delete(key);
    this.released.push(...guard.held);
  }

  /**
   * Takes back this node's acceptance of its own proposal under `ballot`, which every other replica
   * refused, so that no round can ever complete it (PendingUpdate.forgetIfNoneHolds). Only while this
   * node has neither promised nor accepted anything since: a promise reported the proposal to its
   * proposer, who may complete it, even if a later acceptance replaced it here (simulated race, seed
   * 255: another round completed it from this node's promise, and the update decided a second time).
   * While the proposal's guard holds, no other node's round was answered here: then the proposal was
   * never reported, and if a commit of a later round cleared it (that round went on without this
   * node), it is held nowhere. Returns whether it was taken back, or is held here no more.
   */
  withdraw(key: string, ballot: Version): boolean {
    const { state } = this.held(key);
    const guard = this.guards.get(key);
    const unreported = guard?.ballot === ballot && !guard.breached;
    if (state?.accepted?.ballot !== ballot) return unreported; // held here no more (or never taken)
    if (state.promised !== ballot && !unreported) return false;
    this.deps.storage.setPaxosState(key, { promised: state.promised, ...(state.committed !== undefined ? { committed: state.committed } : {}) });
    return true;
  }

  /**
   * The commit of a round chosen under `ballot` reached this replica (its entry is applied by the
   * caller): a proposal accepted at or below it is done, and is dropped with its value. A commit below
   * the floor (a hint delivered late) changes nothing: such state is forgotten already.
   */
  committed(key: string, ballot: Version): void {
    const { state, floor } = this.held(key);
    const committed = highest(state?.committed, floor);
    if (committed !== undefined && committed >= ballot) return;
    const accepted = state?.accepted !== undefined && state.accepted.ballot > ballot ? { accepted: state.accepted } : {};
    this.deps.storage.setPaxosState(key, { promised: highest(state?.promised, ballot) as Version, committed: ballot, ...accepted });
  }

  /**
   * Forgets the state of keys whose every ballot is below the floor: a pass over the store every purge
   * interval, a batch of keys a step, one step a call. Call it from the node's timers.
   */
  sweep(monotonicMs: number): void {
    if (monotonicMs < this.nextSweepMs) return;
    const floor = this.floor();
    if (floor === undefined) {
      this.nextSweepMs = monotonicMs + this.deps.config.tombstonePurgeIntervalMs;
      return;
    }
    const { forgotten, next } = this.deps.storage.expirePaxosStates(floor, this.sweepAfter ?? '', sweepBatch);
    this.forgotten += forgotten;
    this.sweepAfter = next;
    this.nextSweepMs = next !== undefined ? monotonicMs : monotonicMs + this.deps.config.tombstonePurgeIntervalMs;
  }

  /**
   * The lowest ballot this replica still takes part in: `paxosStateKeepMs` before the hybrid clock.
   * Undefined while the clock is younger than that (a simulated clock starts near 0).
   */
  private floor(): Version | undefined {
    const wallMs = this.deps.clockWallMs() - paxosStateKeepMs(this.deps.config);
    return wallMs > 0 ? formatVersion({ wallMs, counter: 0, nodeId: this.deps.selfId }) : undefined;
  }

  /**
   * The key's state with what is below the floor left out: state whose promise is below it is as if
   * forgotten (the sweep may not have come to it yet), and so are an acceptance or commit below it.
   */
  private held(key: string): Held {
    const stored = this.deps.storage.paxosState(key);
    const floor = this.floor();
    if (stored === undefined || floor === undefined) return { state: stored, floor };
    if (stored.promised < floor) return { state: undefined, floor };
    const { promised, accepted, committed } = stored;
    return {
      state: {
        promised,
        ...(accepted !== undefined && accepted.ballot >= floor ? { accepted } : {}),
        ...(committed !== undefined && committed >= floor ? { committed } : {}),
      },
      floor,
    };
  }
}
