// Dropping the copies a node no longer replicates once a topology change is final, without losing any.
//
// The new replicas filled their ranges from a quorum of the old ones (topology.ts), which covers every
// write acknowledged at quorum or all, but not one acknowledged at `one` by a replica that was cut off
// for the whole change (its hints may have expired by the time it is back), nor a sloppy write that a
// leaving owner and a hint for the joining one acknowledged, once that hint expired (simulator seed
// 1808193). So a copy is dropped only once every replica of its key says it holds that version, a
// newer one, or a purge floor at or above it (the tombstone purger's check, tombstones.ts). A replica
// that does not is sent the copy, and the next pass over the store asks again. A copy whose replicas
// are not all alive is kept for a later pass. Passes that get nowhere (a replica stays dead) come ever
// further apart, up to `passDelayMaxFactor` request timeouts, rather than scanning a big store every
// request timeout; a member coming back starts the next one at once (`kick`).
//
// A member hands a copy over whatever its age. That is safe because no tombstone is purged anywhere
// while a member may still hold an older leftover copy of its key: the purger asks every member that
// has not said it is settled under the current layout (`settled`: a pass ended with no copy kept),
// and a leftover older than the tombstone keeps it (tombstones.ts). So a replica that lacks the key
// never held anything newer. A node the layout removed is asked too, by the members that remember it
// (departed.ts); a member that does not, answers its question about an old copy with "drop it"
// (tombstones.ts). (A replica cannot tell "never had it" from "deleted and purged", and purge floors
// cannot either, as they stay with the replicas that purged while the key may have moved: simulator
// seeds 700075 and 977780, when every copy was handed over before purges waited.) Once a removed
// node's pass ends with no copy kept, it says farewell to the members until each one not declared
// dead has heard it, so that they stop asking it; until then its clean-up is pending. A merely
// suspected member counts: a busy member that flapped to suspect was skipped, the local front then
// stopped the removed node, and that member waited for it for departedKeepMs, holding back every
// purge (found by the grow/shrink test under load).
// A node runs a pass when it starts, too: a crash may have cut one short, and until one ends it is
// not settled.

import type { CoreConfig } from './config.js';
import type { Layout } from './layout.js';
import type { FarewellAck, Message, PurgeCheckReply } from './messages.js';
import type { Placement } from './placement.js';
import type { Storage } from './storage.js';
import type { Version } from './version.js';

export interface CleanupDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  readonly placement: () => Placement;
  readonly isAlive: (id: string) => boolean;
  /** Declared dead (not merely suspected): a farewell waits for every member that is not. */
  readonly isDead: (id: string) => boolean;
  readonly peerLayoutVersion: (id: string) => number | undefined;
  readonly send: (to: string, message: Message) => void;
  readonly nextOp: () => number;
}

/** Entries examined per step, and copies asked about at once (a named bound on one step). */
const cleanupBatch = 500;
/** Passes that get nowhere wait 2, 4, 8... request timeouts before the next, at most this many. */
const passDelayMaxFactor = 32;

interface Pass {
  readonly layoutVersion: number;
  cursor: string | null;
  /** Scanned to the end of the store; it ends once its checks are answered or expired. */
  scanned: boolean;
  /** Copies this pass could not drop yet: another pass follows. */
  kept: number;
  /** Copies this pass dropped or handed over. */
  progress: number;
  /** Passes in a row, before this one, that dropped and handed over nothing. */
  idle: number;
  notBeforeMs: number;
}

interface Check {
  /** The layout the check was asked on: an answer counts only while this node still runs it. */
  readonly layoutVersion: number;
  readonly key: string;
  readonly version: Version;
  readonly waiting: Set<string>;
  readonly lacking: string[];
  readonly deadlineMs: number;
}

function newPass(layoutVersion: number, idle: number, notBeforeMs: number): Pass {
  return { layoutVersion, cursor: null, scanned: false, kept: 0, progress: 0, idle, notBeforeMs };
}

export class Cleanup {
  private pass: Pass | undefined;
  private readonly checks = new Map<number, Check>();
  entriesDropped = 0;
  /** The layout whose pass ended with no copy kept; 0 until one has since this node started. */
  settled = 0;
  /** A removed node's farewell (see the top of this file): the members that have not heard it yet. */
  private farewell: { readonly layoutVersion: number; readonly waiting: Set<string>; nextMs: number } | undefined;

  constructor(private readonly deps: CleanupDeps) {}

  /** A final layout was adopted: the copies it moved away are to go. */
  start(layoutVersion: number): void {
    this.pass = newPass(layoutVersion, 0, 0);
    this.checks.clear();
    this.farewell = undefined;
  }

  /** A member came back: a pass waiting for it need not wait any longer. */
  kick(): void {
    const pass = this.pass;
    if (pass && pass.cursor === null && !pass.scanned) this.pass = newPass(pass.layoutVersion, 0, 0);
  }

  get pending(): boolean {
    return this.pass !== undefined || [...(this.farewell?.waiting ?? [])].some((id) => !this.deps.isDead(id));
  }

  handleFarewellAck(from: string, ack: FarewellAck): void {
    if (this.farewell !== undefined && ack.layout >= this.farewell.layoutVersion) this.farewell.waiting.delete(from);
  }

  owns(op: number): boolean {
    return this.checks.has(op);
  }

  /**
   * A transaction of this node rolled back (a full disk, say): a drop made in it was undone, though
   * its check is answered. The pass does not settle on it, and another pass asks again; settled,
   * the node would be left out of every purge while still holding the copy (found in review).
   */
  rolledBack(): void {
    if (this.pass) this.pass.kept += 1;
  }

  /** A step, once every live member runs `layout` and the previous step's checks are answered. */
  tick(layout: Layout, monotonicMs: number): void {
    if (this.pass === undefined && this.settled !== layout.version) this.pass = newPass(layout.version, 0, 0);
    this.sayFarewell(monotonicMs);
    for (const [op, check] of this.checks) {
      if (monotonicMs >= check.deadlineMs) {
        this.checks.delete(op);
        if (this.pass) this.pass.kept += 1;
      }
    }
    const pass = this.pass;
    if (!pass || pass.layoutVersion !== layout.version || monotonicMs < pass.notBeforeMs || this.checks.size > 0) return;
    if (pass.scanned) return this.endPass(pass, monotonicMs);
    const lagging = layout.members.some(
      (m) => m.id !== this.deps.selfId && this.deps.isAlive(m.id) && (this.deps.peerLayoutVersion(m.id) ?? 0) < layout.version,
    );
    if (lagging) return;
    const placement = this.deps.placement();
    const batch = this.deps.storage.scan(pass.cursor, cleanupBatch);
    for (const entry of batch) {
      const replicas = placement.readReplicas(entry.key);
      if (replicas.includes(this.deps.selfId)) continue;
      if (!replicas.every((id) => this.deps.isAlive(id))) {
        pass.kept += 1;
        continue;
      }
      const op = this.deps.nextOp();
      this.checks.set(op, {
        layoutVersion: layout.version,
        key: entry.key,
        version: entry.version,
        waiting: new Set(replicas),
        lacking: [],
        deadlineMs: monotonicMs + this.deps.config.requestTimeoutMs,
      });
      for (const id of replicas) this.deps.send(id, { kind: 'purge-check', op, key: entry.key, version: entry.version, handOver: true });
    }
    if (batch.length === cleanupBatch) {
      pass.cursor = (batch[batch.length - 1] as { key: string }).key;
      return;
    }
    pass.scanned = true;
    if (this.checks.size === 0) this.endPass(pass, monotonicMs);
  }

  /** Every check of the pass is answered or expired: done, or another pass once the copies handed over have landed. */
  private endPass(pass: Pass, monotonicMs: number): void {
    if (pass.kept === 0) {
      this.pass = undefined;
      this.settled = pass.layoutVersion;
      const layout = this.deps.placement().layout;
      if (layout.version === pass.layoutVersion && !layout.members.some((m) => m.id === this.deps.selfId)) {
        this.farewell = { layoutVersion: pass.layoutVersion, waiting: new Set(layout.members.map((m) => m.id)), nextMs: monotonicMs };
        this.sayFarewell(monotonicMs);
      }
      return;
    }
    const idle = pass.progress === 0 ? pass.idle + 1 : 0;
    const delayMs = this.deps.config.requestTimeoutMs * Math.min(2 ** idle, passDelayMaxFactor);
    this.pass = newPass(pass.layoutVersion, idle, monotonicMs + delayMs);
  }

  /** Says farewell to the members not dead that have not acknowledged it, once per request timeout. */
  private sayFarewell(monotonicMs: number): void {
    const farewell = this.farewell;
    if (farewell === undefined || farewell.waiting.size === 0 || monotonicMs < farewell.nextMs) return;
    farewell.nextMs = monotonicMs + this.deps.config.requestTimeoutMs;
    for (const id of farewell.waiting) {
      if (!this.deps.isDead(id)) this.deps.send(id, { kind: 'farewell', layout: farewell.layoutVersion });
    }
  }

  handleReply(from: string, reply: PurgeCheckReply): void {
    const check = this.checks.get(reply.op);
    if (!check || !check.waiting.delete(from)) return;
    if (!reply.holds) check.lacking.push(from);
    if (check.waiting.size > 0) return;
    this.checks.delete(reply.op);
    // A change that began since may make this node a replica of the key again, and its fill may have
    // counted this very copy (simulator seed 927902: the answer came under the next layout, and the
    // copy dropped was the one the key's new replica set relied on). The next final layout's pass
    // asks again.
    if (this.deps.placement().layout.version !== check.layoutVersion) return;
    if (this.pass) this.pass.progress += 1;
    if (check.lacking.length === 0) {
      if (this.deps.storage.transaction(() => this.deps.storage.dropEntry(check.key, check.version))) this.entriesDropped += 1;
      return;
    }
    // Hand the copy over; the next pass asks again before dropping it.
    if (this.pass) this.pass.kept += 1;
    const entry = this.deps.storage.get(check.key);
    if (entry === undefined || entry.version !== check.version) return;
    const layout = this.deps.placement().layout.version;
    for (const id of check.lacking) this.deps.send(id, { kind: 'write', op: this.deps.nextOp(), entry, layout });
  }
}
