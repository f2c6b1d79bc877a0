// Anti-entropy: two replicas compare their hash trees (segments.ts) over the token ranges they share
// and exchange only the keys that differ; it is what guarantees convergence when hints were lost or
// expired (DESIGN.md §4). The initiator drives a session step by step; the responder keeps no state.
//
//   initiator                                   responder
//   ae-ranges  (range hashes, a chunk)   ->     compares with its own
//              <-  ae-diff  (its segment hashes of the ranges that differ)
//   ae-keys    ((key, version) of the segments that differ, a batch)  ->
//              <-  ae-sync  (entries the initiator lacks, keys it wants)
//   ae-push    (the wanted entries)      ->
// Sessions run on a schedule with each co-replica in turn, on demand, and when a node (re)starts.
// They are paced by a key rate so that repair never starves client traffic.
//
// Every request carries the session's step number and its answer carries it back: an answer to an
// earlier step (a duplicate, or one from before the initiator restarted) is ignored rather than taken
// for the current one, which would skip a chunk of ranges or a batch of keys and still end "done".
// Session ids come from the node's operation counter, which starts at random, so a restarted node's
// sessions do not reuse the ids its earlier run had in flight.

import type { CoreConfig } from './config.js';
import type { AeBehindMessage, AeDiffMessage, AeKeysMessage, AePushMessage, AeRangesMessage, AeSyncMessage, Message } from './messages.js';
import type { Placement } from './placement.js';
import { shuffled, type Random } from './ports.js';
import { entriesIn, SegmentHasher, type PositionInterval, type RingRange } from './segments.js';
import type { Storage } from './storage.js';
import type { Entry, Version } from './version.js';

export type SessionReason = 'schedule' | 'manual' | 'recovery' | 'stream';

export interface SessionProgress {
  readonly id: number;
  readonly peer: string;
  readonly reason: SessionReason;
  state: 'running' | 'done' | 'failed';
  readonly rangesTotal: number;
  rangesCompared: number;
  rangesDiffering: number;
  keysSent: number;
  keysReceived: number;
  bytesSent: number;
  bytesReceived: number;
  readonly startedMs: number;
  finishedMs: number | undefined;
  /** Some exchange was cut at a bound: another session is needed to finish. */
  truncated: boolean;
}

interface Session {
  readonly progress: SessionProgress;
  readonly peer: string;
  readonly chunks: RingRange[][];
  chunk: number;
  /** Requests sent so far; only the answer carrying the latest one is taken. */
  step: number;
  /** Segments found to differ, waiting for their keys to be exchanged. */
  differing: PositionInterval[];
  awaiting: 'diff' | 'sync' | 'nothing';
  lastHeardMs: number;
  /** Pacing: the next step may not be sent before this time. */
  notBeforeMs: number;
  onDone?: ((progress: SessionProgress) => void) | undefined;
}

export interface AntiEntropyDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  readonly random: Random;
  readonly placement: () => Placement;
  readonly isAvailable: (id: string) => boolean;
  readonly send: (to: string, message: Message) => void;
  /** A fresh number, never used before by this node or its earlier runs (QuorumNode.nextOp). */
  readonly nextId: () => number;
  /** The wall clock, for the times a session's progress shows; its pacing and timeouts run on the monotonic one. */
  readonly wallMs: () => number;
}

/**
 * Ranges per ae-ranges message. Both ends hash each range (segments.ts, a few µs once warm); fewer
 * per message bounds a step's work but costs a round trip more per chunk: at 16, repairing 5,000
 * missed writes in 100,000 keys (`bench scale`) took 3.4-4.1 s against 2.6-3.1 s at 64.
 */
const rangesPerChunk = 64;
/**
 * Ranges per ae-ranges message of a scheduled session, which nobody waits for. Under writes a chunk of
 * 64 cost each end 2-6 ms in one go, and requests that came meanwhile waited: at half load on the
 * development machine, p99 of quorum inserts 7.7-9.5 ms with chunks of 64 and 7.1-8.7 ms with 16
 * (four runs each; 6.5-6.9 ms with no scheduled repair at all).
 */
const scheduledRangesPerChunk = 16;
/**
 * Segments per ae-keys message. Each costs both ends a range query whatever it holds (about 25 µs on
 * an idle machine), so in a small store, where most segments hold a key or two, a step of
 * `antiEntropyKeysMax` segments kept the responder's event loop busy for 50-60 ms: every request
 * waited behind it while a restarted node caught up (`bench failover`).
 */
export const segmentsPerKeysStep = 128;
/**
 * Pace of the range comparison of a scheduled session, in ranges per second (while the keys' pace is
 * on; the others, asked for or repairing a node that came back, are wanted done soon). Each
 * range costs both ends about 35 µs under a steady stream of writes, which changes the leaves at the
 * ranges' edges and so defeats the hasher's memory (segments.ts): unpaced, a session's chunks went back
 * to back and took 20-30 ms of each end's CPU within 60-90 ms, and at half load on the development
 * machine the requests due then waited up to 60 ms. At this pace a session's comparison takes each end
 * under a tenth of a core (a chunk of 16 ranges every 8 ms).
 */
export const rangesPerSecondMax = 2000;
/** Bytes of values per ae-sync or ae-push message; beyond it the rest waits for another session. */
const syncBytesMax = 8 * 1024 * 1024;
/** Finished sessions remembered for the status view. */
const historyMax = 32;

export class AntiEntropy {
  private readonly sessions = new Map<number, Session>();
  private readonly history: SessionProgress[] = [];
  private coReplicasOf: { readonly placement: Placement; readonly peers: readonly string[] } | undefined;
  /** sharedRanges by peer, for the placement they were computed on (a walk of the ring per range). */
  private sharedRangesOf: { readonly placement: Placement; readonly byPeer: Map<string, readonly RingRange[]> } | undefined;
  private nextScheduledMs = 0;
  /**
   * The order scheduled sessions go through the co-replicas in: shuffled once per set of co-replicas,
   * then kept, so each pair meets at least once per rotation (co-replicas x interval). Shuffled anew
   * every rotation, a peer could come first in one and last in the next, nearly two rotations apart
   * (simulator seed 961038: n1 and n4 did not meet in the 40 s after the heal).
   */
  private rotation: { readonly peers: readonly string[]; readonly order: readonly string[] } | undefined;
  private rotationIndex = 0;
  private readonly hasher: SegmentHasher;
  keysRepaired = 0;

  constructor(private readonly deps: AntiEntropyDeps) {
    this.hasher = new SegmentHasher(deps.storage);
  }

  /** Members that share at least one range with this node on the serving ring. */
  coReplicas(): readonly string[] {
    const placement = this.deps.placement();
    // Asked on every tick while recovering; a placement never changes, so its answer is kept with it.
    if (this.coReplicasOf?.placement === placement) return this.coReplicasOf.peers;
    const peers = new Set<string>();
    for (const range of placement.serving.ranges()) {
      const replicas = placement.serving.walk(range.end, placement.servingCount);
      if (!replicas.includes(this.deps.selfId)) continue;
      for (const id of replicas) if (id !== this.deps.selfId) peers.add(id);
    }
    this.coReplicasOf = { placement, peers: [...peers].sort() };
    return this.coReplicasOf.peers;
  }

  /** The ranges of the serving ring whose replicas include both this node and `peer`. */
  sharedRanges(peer: string): readonly RingRange[] {
    const placement = this.deps.placement();
    if (this.sharedRangesOf?.placement !== placement) this.sharedRangesOf = { placement, byPeer: new Map() };
    let ranges = this.sharedRangesOf.byPeer.get(peer);
    if (ranges === undefined) {
      ranges = placement.serving
        .ranges()
        .filter((range) => {
          const replicas = placement.serving.walk(range.end, placement.servingCount);
          return replicas.includes(this.deps.selfId) && replicas.includes(peer);
        })
        .map((range) => ({ start: range.start, end: range.end }));
      this.sharedRangesOf.byPeer.set(peer, ranges);
    }
    return ranges;
  }

  isRunningWith(peer: string): boolean {
    for (const session of this.sessions.values()) if (session.peer === peer) return true;
    return false;
  }

  /** Starts a session with `peer` over `ranges` (its shared ranges by default). */
  start(
    peer: string,
    reason: SessionReason,
    monotonicMs: number,
    ranges: readonly RingRange[] = this.sharedRanges(peer),
    onDone?: (progress: SessionProgress) => void,
  ): SessionProgress | undefined {
    if (peer === this.deps.selfId || this.isRunningWith(peer) || !this.deps.isAvailable(peer)) return undefined;
    // Until the store has counted its leaves, hashing ranges would read every entry in them.
    if (!this.deps.storage.leavesBuilt) return undefined;
    const chunks: RingRange[][] = [];
    const perChunk = reason === 'schedule' ? scheduledRangesPerChunk : rangesPerChunk;
    for (let i = 0; i < ranges.length; i += perChunk) chunks.push(ranges.slice(i, i + perChunk));
    const id = this.deps.nextId();
    const progress: SessionProgress = {
      id,
      peer,
      reason,
      state: 'running',
      rangesTotal: ranges.length,
      rangesCompared: 0,
      rangesDiffering: 0,
      keysSent: 0,
      keysReceived: 0,
      bytesSent: 0,
      bytesReceived: 0,
      startedMs: this.deps.wallMs(),
      finishedMs: undefined,
      truncated: false,
    };
    const session: Session = {
      progress,
      peer,
      chunks,
      chunk: 0,
      step: 0,
      differing: [],
      awaiting: 'nothing',
      lastHeardMs: monotonicMs,
      notBeforeMs: monotonicMs,
      onDone,
    };
    this.sessions.set(id, session);
    this.step(session, monotonicMs);
    return progress;
  }

  /** Sessions with every available co-replica now (on demand, or when recovering). */
  startAll(reason: SessionReason, monotonicMs: number, onDone?: (progress: SessionProgress) => void): SessionProgress[] {
    const started: SessionProgress[] = [];
    for (const peer of this.coReplicas()) {
      const progress = this.start(peer, reason, monotonicMs, undefined, onDone);
      if (progress) started.push(progress);
    }
    return started;
  }

  tick(monotonicMs: number): void {
    const staleMs = 2 * this.deps.config.requestTimeoutMs;
    for (const session of this.sessions.values()) {
      if (session.awaiting !== 'nothing' && monotonicMs - session.lastHeardMs > staleMs) {
        this.finish(session, 'failed', monotonicMs);
      } else if (session.awaiting === 'nothing' && monotonicMs >= session.notBeforeMs) {
        this.step(session, monotonicMs);
      }
    }
    const interval = this.deps.config.antiEntropyIntervalMs;
    if (interval > 0 && monotonicMs >= this.nextScheduledMs) {
      // Within a quarter of the interval either way: nodes started together would otherwise run their
      // sessions at the same moments for ever, each node both initiator and responder at once.
      this.nextScheduledMs = monotonicMs + Math.round(interval * (0.75 + 0.5 * this.deps.random.next()));
      const peers = this.coReplicas();
      if (this.rotation?.peers !== peers) {
        this.rotation = { peers, order: shuffled(this.deps.random, peers) };
        this.rotationIndex = 0;
      }
      const peer = this.rotation.order[this.rotationIndex % Math.max(1, this.rotation.order.length)];
      this.rotationIndex += 1;
      if (peer !== undefined) this.start(peer, 'schedule', monotonicMs);
    }
  }

  running(): SessionProgress[] {
    return [...this.sessions.values()].map((s) => s.progress);
  }

  recent(): SessionProgress[] {
    return [...this.history];
  }

  private layoutVersion(): number {
    return this.deps.placement().layout.version;
  }

  /**
   * A responder on an older layout than the initiator does not answer: it asks for the layout and
   * says so, and the initiator ends the session (its owner starts another soon). So when a new
   * replica streams a range from an old one (topology.ts), the old one already runs the new layout,
   * and every write it accepted under the old layout is in what it sends: writes planned on older
   * layouts it refuses from then on (node.ts).
   */
  private behind(initiator: string, request: AeRangesMessage | AeKeysMessage): boolean {
    if (request.layout <= this.layoutVersion()) return false;
    this.deps.send(initiator, { kind: 'layout-pull' });
    this.deps.send(initiator, { kind: 'ae-behind', session: request.session, step: request.step });
    return true;
  }

  handleBehind(from: string, message: AeBehindMessage, monotonicMs: number): void {
    const session = this.answered(from, message);
    if (session) this.finish(session, 'failed', monotonicMs);
  }

  /** The session `message` answers the latest request of, if any (else it is stale: ignored). */
  private answered(from: string, message: { readonly session: number; readonly step: number }): Session | undefined {
    const session = this.sessions.get(message.session);
    if (!session || session.peer !== from || session.step !== message.step) return undefined;
    return session;
  }

  // ---- initiator ------------------------------------------------------------------------------

  /** Sends the session's next message: more keys of differing segments, or the next chunk of ranges. */
  private step(session: Session, monotonicMs: number): void {
    if (session.differing.length > 0) return this.sendKeys(session, monotonicMs);
    const chunk = session.chunks[session.chunk];
    if (chunk === undefined) return this.finish(session, 'done', monotonicMs);
    session.chunk += 1;
    const ranges = chunk.map((range) => ({ ...range, ...this.hasher.range(range) }));
    if (session.progress.reason === 'schedule') session.notBeforeMs = this.pacedAfter(monotonicMs, chunk.length, rangesPerSecondMax);
    session.awaiting = 'diff';
    session.lastHeardMs = monotonicMs;
    session.step += 1;
    this.deps.send(session.peer, { kind: 'ae-ranges', session: session.progress.id, step: session.step, layout: this.layoutVersion(), ranges });
  }

  handleDiff(from: string, message: AeDiffMessage, monotonicMs: number): void {
    const session = this.answered(from, message);
    if (!session || session.awaiting !== 'diff') return;
    session.lastHeardMs = monotonicMs;
    session.awaiting = 'nothing';
    const chunk = session.chunks[session.chunk - 1] ?? [];
    session.progress.rangesCompared += chunk.length;
    session.progress.rangesDiffering += message.ranges.length;
    const theirs = new Map(message.segments.map((segment) => [segment.lo, segment]));
    for (const range of message.ranges) {
      for (const ours of this.hasher.segments(range)) {
        const other = theirs.get(ours.lo);
        theirs.delete(ours.lo);
        if (!other || other.hi !== ours.hi || other.h1 !== ours.h1 || other.h2 !== ours.h2) {
          session.differing.push({ lo: ours.lo, hi: ours.hi });
        }
      }
    }
    // Segments only they hold data in.
    for (const other of theirs.values()) session.differing.push({ lo: other.lo, hi: other.hi });
    if (monotonicMs >= session.notBeforeMs) this.step(session, monotonicMs);
  }

  private sendKeys(session: Session, monotonicMs: number): void {
    const segments: PositionInterval[] = [];
    const items: [string, Version][] = [];
    // Whole segments only: the responder compares complete key lists of each segment. A segment we hold
    // nothing in counts as one key (the peer holds at least one there), so that a node with nothing in
    // the range (a joining one) does not ask for a whole chunk of ranges in one step.
    let weight = 0;
    while (session.differing.length > 0 && weight < this.deps.config.antiEntropyKeysMax && segments.length < segmentsPerKeysStep) {
      const segment = session.differing.shift() as PositionInterval;
      segments.push(segment);
      const before = items.length;
      for (const { entry } of entriesIn(this.deps.storage, segment)) items.push([entry.key, entry.version]);
      weight += Math.max(1, items.length - before);
    }
    session.awaiting = 'sync';
    session.lastHeardMs = monotonicMs;
    session.step += 1;
    const { id } = session.progress;
    this.deps.send(session.peer, { kind: 'ae-keys', session: id, step: session.step, layout: this.layoutVersion(), segments, items });
  }

  handleSync(from: string, message: AeSyncMessage, monotonicMs: number): void {
    const session = this.answered(from, message);
    if (!session || session.awaiting !== 'sync') return;
    session.lastHeardMs = monotonicMs;
    session.awaiting = 'nothing';
    const received = this.applyEntries(message.entries);
    session.progress.keysReceived += received.count;
    session.progress.bytesReceived += received.bytes;
    if (message.truncated) session.progress.truncated = true;
    if (message.want.length > 0) {
      const { entries, bytes, truncated } = this.collect(message.want);
      session.progress.keysSent += entries.length;
      session.progress.bytesSent += bytes;
      if (truncated) session.progress.truncated = true;
      this.deps.send(from, { kind: 'ae-push', entries });
    }
    const moved = received.count + message.want.length;
    session.notBeforeMs = this.pacedAfter(monotonicMs, moved, this.deps.config.antiEntropyKeysPerSecondMax);
    if (monotonicMs >= session.notBeforeMs) this.step(session, monotonicMs);
  }

  /**
   * When a session that did `work` (keys moved, ranges compared) may take its next step, at `rate` a
   * second. A session whose keys are unpaced (`antiEntropyKeysPerSecondMax` 0) is not paced at all.
   */
  private pacedAfter(monotonicMs: number, work: number, rate: number): number {
    if (this.deps.config.antiEntropyKeysPerSecondMax <= 0) return monotonicMs;
    return monotonicMs + Math.ceil((work / rate) * 1000);
  }

  private finish(session: Session, state: 'done' | 'failed', monotonicMs: number): void {
    this.sessions.delete(session.progress.id);
    session.progress.state = state;
    session.progress.finishedMs = this.deps.wallMs();
    this.history.push(session.progress);
    if (this.history.length > historyMax) this.history.shift();
    session.onDone?.(session.progress);
    // A session cut short by a bound continues right away rather than at the next scheduled round, if
    // it moved anything. One that moved nothing would only do the same again: the peer's offers that
    // filled the bound were all refused here (tombstones this node purged and the peer still holds),
    // and restarted at once the two nodes would run sessions back to back for as long as that lasts.
    const moved = session.progress.keysReceived + session.progress.keysSent;
    if (state === 'done' && session.progress.truncated && moved > 0) this.start(session.peer, session.progress.reason, monotonicMs);
  }

  // ---- responder ------------------------------------------------------------------------------

  handleRanges(from: string, message: AeRangesMessage): void {
    if (this.behind(from, message)) return;
    if (!this.deps.storage.leavesBuilt) {
      this.deps.send(from, { kind: 'ae-behind', session: message.session, step: message.step });
      return;
    }
    const ranges: { start: number; end: number }[] = [];
    const segments: { lo: number; hi: number; h1: number; h2: number }[] = [];
    for (const range of message.ranges) {
      const ours = this.hasher.range(range);
      if (ours.h1 === range.h1 && ours.h2 === range.h2) continue;
      ranges.push({ start: range.start, end: range.end });
      segments.push(...this.hasher.segments(range));
    }
    this.deps.send(from, { kind: 'ae-diff', session: message.session, step: message.step, ranges, segments });
  }

  handleKeys(from: string, message: AeKeysMessage): void {
    if (this.behind(from, message)) return;
    const theirs = new Map<string, Version>(message.items);
    const entries: Entry[] = [];
    const want: string[] = [];
    let bytes = 0;
    let truncated = false;
    const offer = (entry: Entry) => {
      const size = entry.key.length + (entry.value?.length ?? 0);
      // Bounded by bytes and by keys per step (the rest waits for another session).
      if ((bytes + size > syncBytesMax || entries.length >= this.deps.config.antiEntropyKeysMax) && entries.length > 0) {
        truncated = true;
        return;
      }
      bytes += size;
      entries.push(entry);
    };
    for (const segment of message.segments) {
      for (const { entry } of entriesIn(this.deps.storage, segment)) {
        const version = theirs.get(entry.key);
        theirs.delete(entry.key);
        if (version === undefined || version < entry.version) offer(entry);
        else if (version > entry.version && this.owns(entry.key)) want.push(entry.key);
      }
    }
    // Keys they hold and we do not: want them, unless we purged a tombstone at least that new, in
    // which case they hold a stale copy of a deleted key and get the tombstone back instead.
    for (const [key, version] of theirs) {
      const floor = this.deps.storage.purgeFloor(key);
      if (floor !== undefined && floor >= version) offer({ key, version: floor, value: null });
      else if (this.owns(key)) want.push(key);
    }
    this.deps.send(from, { kind: 'ae-sync', session: message.session, step: message.step, entries, want, truncated });
  }

  handlePush(message: AePushMessage): void {
    this.applyEntries(message.entries);
  }

  // ---- both -----------------------------------------------------------------------------------

  /** Whether this node is a replica of `key` (for reads or, during a change, for writes). */
  private owns(key: string): boolean {
    return this.deps.placement().writeReplicaSets(key).some((set) => set.includes(this.deps.selfId));
  }

  /** Ends every running session: after a layout change their ranges are stale (they restart afresh). */
  abortAll(monotonicMs: number): void {
    for (const session of [...this.sessions.values()]) this.finish(session, 'failed', monotonicMs);
  }

  /** Applies repaired entries of keys this node owns (a peer on an older layout may offer others). */
  private applyEntries(entries: readonly Entry[]): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const entry of entries) {
      if (!this.owns(entry.key)) continue;
      if (this.deps.storage.apply(entry).applied) {
        count += 1;
        bytes += entry.value?.length ?? 0;
      }
    }
    this.keysRepaired += count;
    return { count, bytes };
  }

  private collect(keys: readonly string[]): { entries: Entry[]; bytes: number; truncated: boolean } {
    const entries: Entry[] = [];
    let bytes = 0;
    for (const key of keys) {
      const entry = this.deps.storage.get(key);
      if (!entry) continue;
      const size = key.length + (entry.value?.length ?? 0);
      if (bytes + size > syncBytesMax && entries.length > 0) return { entries, bytes, truncated: true };
      bytes += size;
      entries.push(entry);
    }
    return { entries, bytes, truncated: false };
  }
}
