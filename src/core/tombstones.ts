// Tombstone purging (DESIGN.md §1): a tombstone is removed only after the grace period AND once every
// replica of its key is known to hold it (or something newer, or has purged it already), so a deleted
// key never comes back. Each replica checks for itself: it asks the other replicas, and purges its own
// copy when all say yes. The purge leaves a floor (storage.ts) that refuses stale copies arriving late.
//
// Members that do not replicate the key are asked too, unless they said they are settled under the
// current layout (their clean-up ended with no copy kept, cleanup.ts): one may still hold an older
// leftover copy from a topology change, which its clean-up would hand over to the replicas once the
// tombstone is gone. Such a leftover keeps the tombstone, and a member that cannot be asked (not alive)
// keeps every tombstone until it answers. That is what lets clean-up hand over copies of any age.
//
// Nodes a layout removed and this member still remembers (departed.ts) are asked the same way: one
// may come back from a partition with a copy nobody else has. And a removed node's clean-up, asking
// whether to hand over an old copy, is told to drop it by a member that does not remember it: that
// member may have purged a newer tombstone without its word.

import type { CoreConfig } from './config.js';
import { ceilingMarginMs } from './hlc.js';
import type { Message, PurgeCheckMessage, PurgeCheckReply } from './messages.js';
import type { Placement } from './placement.js';
import type { Storage } from './storage.js';
import { wallMsOf, type Version } from './version.js';

export interface TombstonePurgerDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  readonly placement: () => Placement;
  /** Purging needs every replica's word: only members known alive are asked. */
  readonly isAlive: (id: string) => boolean;
  /** The hybrid clock's wall time: at least the newest clock this node has heard from (hlc.ts). */
  readonly clockWallMs: () => number;
  /** The layout whose clean-up this node finished, 0 if none since it started (cleanup.ts). */
  readonly settledLayout: () => number;
  /** Nodes a layout removed that this member still remembers (departed.ts). */
  readonly departed: () => readonly string[];
  readonly isMember: (id: string) => boolean;
  readonly send: (to: string, message: Message) => void;
  readonly nextOp: () => number;
}

interface PendingCheck {
  readonly key: string;
  readonly version: Version;
  readonly waiting: Set<string>;
  readonly deadlineMs: number;
  /** The layout the askees were chosen under: answers are only enough under the same one. */
  readonly layoutVersion: number;
}

/**
 * How long a purge floor is kept. A floor must outlive every stale copy that may still be on its way:
 * a hint can arrive as late as the hint window, a copy from repair within the grace period; and
 * another replica may become ready to purge the same version up to a clock-ceiling margin later
 * (versions may run that far ahead of their node's clock after a restart, hlc.ts), and until then it
 * still holds a copy.
 */
export function purgeFloorKeepMs(config: CoreConfig): number {
  return Math.max(config.tombstoneGraceMs, config.hintWindowMs) + config.requestTimeoutMs + ceilingMarginMs;
}

/**
 * Whether a copy at `version` is young enough that no newer tombstone of its key can have been purged
 * anywhere yet: a tombstone is purged no earlier than the grace period after its version, by the
 * purging node's clock. `clockMs` is read from the hybrid clock, which has followed every clock this
 * node heard from; the copy must land within a request timeout, and the clock-ceiling margin covers
 * what the clocks may still disagree by.
 */
export function youngerThanAnyPurge(config: CoreConfig, version: Version, clockMs: number): boolean {
  return wallMsOf(version) >= clockMs - config.tombstoneGraceMs + config.requestTimeoutMs + ceilingMarginMs;
}

/** Tombstones examined per round (a named bound on one round's work). */
const tombstonesPerRound = 256;

export class TombstonePurger {
  private readonly pending = new Map<number, PendingCheck>();
  /** Member -> the layout it last said it is settled under (its replies to purge checks). */
  private readonly settledAt = new Map<string, number>();
  private nextRunMs = 0;
  private cursor: string | undefined;
  purged = 0;

  constructor(private readonly deps: TombstonePurgerDeps) {}

  /**
   * Ages (a tombstone's grace, a purge floor's keep) are read on the wall clock: they are kept in the
   * store. The rounds' pacing and the checks' deadlines run on the monotonic clock.
   */
  tick(nowMs: number, monotonicMs: number): void {
    for (const [op, check] of this.pending) if (monotonicMs >= check.deadlineMs) this.pending.delete(op);
    if (monotonicMs < this.nextRunMs) return;
    // A pass that found a full round goes on as soon as that round's checks are answered (or have
    // expired), not at the next interval: at one round of 256 a minute, deletes and expiring values
    // coming faster than about 4 a second piled up without end. One round in flight bounds the work.
    if (this.cursor !== undefined && this.pending.size > 0) return;
    this.nextRunMs = monotonicMs + this.deps.config.tombstonePurgeIntervalMs;
    const { storage, config } = this.deps;
    storage.expirePurgeFloors(nowMs - purgeFloorKeepMs(config));
    // A tombstone's age is read on the hybrid clock, the clock its version was stamped on: replicas
    // whose own clocks lag one that stamped it then become ready to purge it about when that one
    // does. On local clocks a node minutes behind would wait minutes longer, while the node that
    // stamped it purged at once and forgot its floor, and anti-entropy bounced the tombstone between
    // them (simulator seed 1113942, clocks skewed up to 300 s). Floors keep local time: they are
    // timed from this node's own purge.
    const clockMs = Math.max(nowMs, this.deps.clockWallMs());
    const due = storage.tombstonesBefore(clockMs - config.tombstoneGraceMs, tombstonesPerRound, this.cursor);
    this.cursor = due.length === tombstonesPerRound ? due[due.length - 1]?.key : undefined;
    let progressed = false;
    for (const tombstone of due) if (this.check(tombstone.key, tombstone.version, nowMs, monotonicMs)) progressed = true;
    // More may be due: the next tick goes on, if this round checked or purged anything. A round whose
    // every key waits for a member that is down waits for the interval: going on, a pass would walk
    // every due tombstone, a query a tick, every interval, for as long as that member is down.
    if (this.cursor !== undefined && progressed) this.nextRunMs = monotonicMs;
  }

  /** Purges the tombstone or asks about it; false when it must wait (a replica or member is down). */
  private check(key: string, version: Version, nowMs: number, monotonicMs: number): boolean {
    const placement = this.deps.placement();
    const layoutVersion = placement.layout.version;
    const replicas = new Set(placement.writeReplicaSets(key).flat());
    const others = [...replicas].filter((id) => id !== this.deps.selfId);
    const unsettled = placement.layout.members
      .map((m) => m.id)
      .filter((id) => id !== this.deps.selfId && !replicas.has(id) && this.settledAt.get(id) !== layoutVersion);
    if ([...others, ...unsettled].some((id) => !this.deps.isAlive(id))) return false;
    // No liveness is known of a departed node: it is asked, and a check it does not answer expires.
    const departed = this.deps.departed().filter((id) => id !== this.deps.selfId && !replicas.has(id));
    const asked = [...others, ...unsettled, ...departed];
    if (asked.length === 0) {
      this.purge(key, version, nowMs);
      return true;
    }
    const op = this.deps.nextOp();
    this.pending.set(op, { key, version, waiting: new Set(asked), deadlineMs: monotonicMs + this.deps.config.requestTimeoutMs, layoutVersion });
    for (const id of others) this.deps.send(id, { kind: 'purge-check', op, key, version });
    for (const id of [...unsettled, ...departed]) this.deps.send(id, { kind: 'purge-check', op, key, version, orNothing: true });
    return true;
  }

  handleCheck(from: string, message: PurgeCheckMessage, nowMs: number): void {
    const entry = this.deps.storage.get(message.key);
    const floor = this.deps.storage.purgeFloor(message.key);
    // A removed node this member does not remember (it forgot it, or never knew it) asks whether to
    // hand over its copy: an old one may be of a key whose newer tombstone was purged here without its
    // word, so it is told to drop it, as held.
    const refused =
      message.handOver === true &&
      !this.deps.isMember(from) &&
      !this.deps.departed().includes(from) &&
      !youngerThanAnyPurge(this.deps.config, message.version, Math.max(nowMs, this.deps.clockWallMs()));
    const holds =
      refused ||
      (entry === undefined && message.orNothing === true) ||
      (entry !== undefined && entry.version >= message.version) ||
      (floor !== undefined && floor >= message.version);
    this.deps.send(from, { kind: 'purge-check-reply', op: message.op, holds, settled: this.deps.settledLayout() });
  }

  owns(op: number): boolean {
    return this.pending.has(op);
  }

  handleReply(from: string, message: PurgeCheckReply, nowMs: number): void {
    if (message.settled !== undefined) this.settledAt.set(from, message.settled);
    const check = this.pending.get(message.op);
    if (!check) return;
    if (!message.holds) {
      this.pending.delete(message.op);
      return;
    }
    check.waiting.delete(from);
    if (check.waiting.size === 0) {
      this.pending.delete(message.op);
      // A layout that changed meanwhile may have made replicas of nodes that were not asked (their
      // fill may bring an older copy): the tombstone waits for a check under the new layout, as the
      // clean-up of a change (cleanup.ts) drops a pass whose layout changed.
      if (this.deps.placement().layout.version !== check.layoutVersion) return;
      this.purge(check.key, check.version, nowMs);
    }
  }

  private purge(key: string, version: Version, nowMs: number): void {
    if (this.deps.storage.purgeTombstone(key, version, nowMs)) this.purged += 1;
  }
}
