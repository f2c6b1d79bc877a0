// Hinted handoff: writes kept for a replica that could not take them (on a fallback node, or on the
// coordinator), delivered when that replica is alive again. Hints are durable (in the store), bounded
// per target and expire after a window; anti-entropy repairs whatever they no longer carry.
//
// A hint handed on to other owners (its target left, refused it on layout grounds, or is losing the
// key) keeps the age of the first: the window bounds how long any copy of a write lives as a hint, which
// is what a tombstone's grace period must outlast (config.ts, checkDeploymentConfig).

import type { CoreConfig } from './config.js';
import { IdTable } from './idTable.js';
import type { Message, WriteReply } from './messages.js';
import type { Storage } from './storage.js';
import type { Entry } from './version.js';

export interface HintDeliveryDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  readonly isAvailable: (id: string) => boolean;
  /** Hints for a member that left the layout go to the key's replicas instead (`rehome`). */
  readonly isMember: (id: string) => boolean;
  /** The version of the layout this node runs (a replica refuses writes sent on an older one). */
  readonly layoutVersion: () => number;
  /** The key's replicas under the layout this node runs (every replica set, during a change). */
  readonly owners: (key: string) => readonly string[];
  /** Where a target's copy of the key moves to in the change under way (Placement.movesTo). */
  readonly movesTo: (key: string, target: string) => readonly string[];
  readonly send: (to: string, message: Message) => void;
  readonly nextOp: () => number;
}

interface InFlightHint {
  /** The operation id its write carries. */
  readonly op: number;
  readonly hintId: number;
  readonly target: string;
  readonly entry: Entry;
  /** When the first hint of this write was stored (handed-on hints keep it). */
  readonly createdMs: number;
  /** On the monotonic clock. */
  readonly deadlineMs: number;
}

export class HintDelivery {
  /** Not a Map: see idTable.ts (up to hintBatchMax a round per target, each answered in milliseconds). */
  private readonly inFlight = new IdTable<InFlightHint>();
  private readonly inFlightPerTarget = new Map<string, number>();
  private nextRunMs = 0;
  /** When the next round to each target may start, at hintsPerSecondMax. */
  private readonly nextRoundMs = new Map<string, number>();
  /** Hints given up since the start, by why: the target took them, this node holds something newer
   *  for their key (`superseded`), they outlived the hint window, or their target had too many. */
  delivered = 0;
  dropped = 0;
  expired = 0;
  trimmed = 0;

  constructor(private readonly deps: HintDeliveryDeps) {}

  owns(op: number): boolean {
    return this.inFlight.has(op);
  }

  store(target: string, entry: Entry, nowMs: number): void {
    this.deps.storage.addHint(target, entry, nowMs);
  }

  /**
   * Delivers a round of hints to every available target, at most one round in flight per target.
   * Hints are kept for the hint window on the wall clock (`nowMs`: their time is in the store, and
   * outlives a restart); rounds, their pacing and their timeouts run on the monotonic clock, which a
   * clock stepped back does not hold up.
   */
  tick(nowMs: number, monotonicMs: number): void {
    if (this.inFlight.size > 0) {
      for (const hint of this.inFlight.values()) if (monotonicMs >= hint.deadlineMs) this.forget(hint);
    }
    if (monotonicMs < this.nextRunMs) return;
    this.nextRunMs = monotonicMs + this.deps.config.hintDeliveryIntervalMs;
    const { storage, config } = this.deps;
    this.expired += storage.expireHints(nowMs - config.hintWindowMs);
    for (const [target, count] of storage.hintCounts()) {
      if (!this.deps.isMember(target)) {
        this.nextRoundMs.delete(target);
        this.rehome(target);
        continue;
      }
      if (count > config.hintsPerTargetMax) this.trimmed += storage.trimHints(target, config.hintsPerTargetMax);
      if (target === this.deps.selfId) continue;
      if (!this.deps.isAvailable(target) || (this.inFlightPerTarget.get(target) ?? 0) > 0) continue;
      const pacedUntil = this.nextRoundMs.get(target) ?? 0;
      if (monotonicMs < pacedUntil) {
        this.nextRunMs = Math.min(this.nextRunMs, pacedUntil);
        continue;
      }
      this.deliverRound(target, monotonicMs);
    }
  }

  /** Starts delivery now (a target was just seen alive, or took a round) instead of at the next
   *  round; hintsPerSecondMax still paces each target. */
  kick(): void {
    this.nextRunMs = 0;
  }

  /**
   * Sends `target` a batch of its hints, paced by those sent. Hints out of date are dropped here, and
   * send nothing: a batch of only those was paced as if sent and then waited for the next interval,
   * so hints drained at a quarter of hintsPerSecondMax after a restart (a probe of hand-run clusters:
   * 4,476 hints in 17 s). Then the next batch goes at once.
   */
  private deliverRound(target: string, monotonicMs: number): void {
    const hints = this.deps.storage.hintsFor(target, this.deps.config.hintBatchMax);
    let sent = 0;
    for (const hint of hints) {
      if (this.superseded(hint.entry)) {
        this.deps.storage.removeHint(hint.id);
        this.dropped += 1;
        continue;
      }
      sent += 1;
      const op = this.deps.nextOp();
      this.inFlight.set(op, {
        op,
        hintId: hint.id,
        target,
        entry: hint.entry,
        createdMs: hint.createdMs,
        deadlineMs: monotonicMs + this.deps.config.requestTimeoutMs,
      });
      this.inFlightPerTarget.set(target, (this.inFlightPerTarget.get(target) ?? 0) + 1);
      this.deps.send(target, { kind: 'write', op, entry: hint.entry, layout: this.deps.layoutVersion() });
    }
    const rate = this.deps.config.hintsPerSecondMax;
    if (rate > 0) this.nextRoundMs.set(target, monotonicMs + (sent * 1000) / rate);
    if (sent === 0 && hints.length > 0) this.kick();
  }

  handleReply(from: string, reply: WriteReply): void {
    const hint = this.inFlight.get(reply.op);
    if (!hint || hint.target !== from) return;
    if (!reply.applied && reply.layout !== undefined && reply.layout <= this.deps.layoutVersion()) {
      // Refused on layout grounds: the hint goes to the key's replicas on the layout this node now
      // runs (this node applies it itself if it is one). A target that is still one of them keeps
      // its hint, sent again on that layout: it had refused only the older layout the round was
      // sent on (simulator seed 920049 lost a write acknowledged at quorum that way). One that no
      // longer replicates the key (a change moved it) is not sent the hint back forever.
      const owners = this.deps.owners(hint.entry.key);
      this.handTo(owners.filter((owner) => owner !== from), hint.entry, hint.createdMs);
      if (!owners.includes(from)) this.deps.storage.removeHint(hint.hintId);
      return this.forget(hint);
    }
    const taken = reply.applied || (reply.current !== undefined && reply.current >= hint.entry.version);
    if (taken) {
      this.deps.storage.removeHint(hint.hintId);
      this.followMove(hint);
      this.delivered += 1;
      // The target is taking hints: deliver the next round without waiting for the interval.
      if ((this.inFlightPerTarget.get(hint.target) ?? 0) === 1) this.kick();
    }
    this.forget(hint);
  }

  /**
   * A hint taken by a replica that is losing the key in the change under way may have landed after
   * the key's new owners streamed the range from it; the change then completes and the replica's
   * clean-up drops the only copy (simulator seed 800993). So the hint also goes to the new owners,
   * as hints of their own, stored in the transaction that removes this one.
   */
  private followMove(hint: InFlightHint): void {
    this.handTo(this.deps.movesTo(hint.entry.key, hint.target), hint.entry, hint.createdMs);
  }

  /**
   * Hints for a member that left the layout go to the key's replicas on the layout this node runs, a
   * batch per round. The leave moved the member's ranges by streaming them from the member itself,
   * which never held what its hints carry: dropping them lost a sloppy write that only a hint for the
   * leaving member had acknowledged (simulator seed 2012993).
   */
  private rehome(target: string): void {
    for (const hint of this.deps.storage.hintsFor(target, this.deps.config.hintBatchMax)) {
      this.handTo(this.deps.owners(hint.entry.key), hint.entry, hint.createdMs); // `target` is not among them
      this.deps.storage.removeHint(hint.id);
    }
  }

  /**
   * Whether this node holds a newer version of the hint's key, or purged a tombstone at least as new.
   * The hint's copy is then stale, and a replica without that key's history would take it: one that
   * joined after the purge took a hint its holder had kept since before the delete, and the deleted
   * key came back (simulator seed 4226968: RF lowered to 1, then a node joined). The newer version
   * reaches the replica by hints and repair of its own.
   */
  private superseded(entry: Entry): boolean {
    const floor = this.deps.storage.purgeFloor(entry.key);
    if (floor !== undefined && floor >= entry.version) return true;
    const held = this.deps.storage.get(entry.key);
    return held !== undefined && held.version > entry.version;
  }

  /**
   * Gives a hint's `entry` to each of `owners`: applied here if this node is one, kept as a hint of
   * the same age for the others, unless this node holds something newer (`superseded`).
   */
  private handTo(owners: readonly string[], entry: Entry, createdMs: number): void {
    const others = owners.filter((owner) => owner !== this.deps.selfId);
    if (others.length < owners.length) this.deps.storage.apply(entry);
    if (others.length === 0) return;
    if (this.superseded(entry)) {
      this.dropped += others.length;
      return;
    }
    for (const owner of others) this.deps.storage.addHint(owner, entry, createdMs);
  }

  pendingCounts(): Record<string, number> {
    return Object.fromEntries(this.deps.storage.hintCounts());
  }

  private forget(hint: InFlightHint): void {
    this.inFlight.delete(hint.op);
    const left = (this.inFlightPerTarget.get(hint.target) ?? 1) - 1;
    if (left <= 0) this.inFlightPerTarget.delete(hint.target);
    else this.inFlightPerTarget.set(hint.target, left);
  }
}
