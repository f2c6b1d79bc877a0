// The hash tree anti-entropy compares (DESIGN.md §4), in three levels:
//   1. a token range of the ring: the XOR of its segments' hashes;
//   2. a segment: the part of a range inside one leaf (2^16 ring positions). A leaf lying wholly inside
//      the range is read from the store's leaf table, kept up to date in the same transaction as each
//      write; a leaf cut by the range's edge is hashed from the entries in that part;
//   3. the (key, version) pairs of a segment.
// Two replicas exchange level-1 hashes, then level-2 hashes of the ranges that differ, then the keys of
// the segments that differ: a few hashes when they agree, only the differing keys when they do not.

import { leafOf, leafSpan, ringSize } from './hash.js';
import type { PositionedEntry, Storage } from './storage.js';

export interface PositionInterval {
  /** Inclusive. */
  readonly lo: number;
  /** Exclusive; at most 2^32. */
  readonly hi: number;
}

export interface HashedInterval extends PositionInterval {
  readonly h1: number;
  readonly h2: number;
}

/** A token range (start, end] of the ring, wrapping past 2^32. */
export interface RingRange {
  readonly start: number;
  readonly end: number;
}

/** Entries hashed per scan when a segment is computed from the data (a named bound per query). */
const scanBatch = 2048;

/** The position intervals [lo, hi) of a range (start, end]: two when it wraps, the whole ring when start == end. */
export function rangeIntervals(range: RingRange): PositionInterval[] {
  const lo = (range.start + 1) % ringSize;
  const hi = range.end + 1;
  if (range.start === range.end) return [{ lo: 0, hi: ringSize }];
  if (range.end > range.start) return [{ lo: range.start + 1, hi }];
  const parts: PositionInterval[] = [];
  if (lo !== 0) parts.push({ lo, hi: ringSize });
  parts.push({ lo: 0, hi });
  return parts;
}

/** Splits an interval at leaf boundaries. */
export function segmentsOf(interval: PositionInterval): PositionInterval[] {
  const segments: PositionInterval[] = [];
  let lo = interval.lo;
  while (lo < interval.hi) {
    const leafEnd = (Math.floor(lo / leafSpan) + 1) * leafSpan;
    const hi = Math.min(leafEnd, interval.hi);
    segments.push({ lo, hi });
    lo = hi;
  }
  return segments;
}

export function rangeSegments(range: RingRange): PositionInterval[] {
  return rangeIntervals(range).flatMap(segmentsOf);
}

/**
 * Hashes the ranges and segments of one store. A range has a partial leaf at each end, hashed from its
 * entries (a SQLite range query took about 25 µs whatever it found; the SQLite store now reads each
 * key of the leaf), so hashing a chunk of ranges cost each end of a session about 3 ms of queries,
 * holding its event loop that long every few seconds. The
 * ranges' ends stay put between layout changes, so the hasher remembers each partial leaf's hash with
 * the hash its whole leaf had then: while the leaf table shows the same hash for the leaf, it holds the
 * same entries, and so does every part of it. A leaf the table shows empty has no entries to query.
 * (Taking equal leaf hashes for equal contents is the bet the whole tree makes: a 2^-64 chance.)
 */
export class SegmentHasher {
  /** Partial leaves by their first position (the last differs only after a layout change). */
  private readonly partials = new Map<number, { readonly hi: number; readonly leafH1: number; readonly leafH2: number; readonly h1: number; readonly h2: number }>();

  constructor(private readonly storage: Storage) {}

  /** The range's level-1 hash: the XOR of its segments (the whole leaves' at once, from the store). */
  range(range: RingRange): { h1: number; h2: number } {
    let h1 = 0;
    let h2 = 0;
    const add = (part: { readonly h1: number; readonly h2: number }) => {
      h1 = (h1 ^ part.h1) >>> 0;
      h2 = (h2 ^ part.h2) >>> 0;
    };
    for (const interval of rangeIntervals(range)) {
      const { head, wholeLeaves, tail } = splitInterval(interval);
      if (head) add(this.partialLeaf(head));
      if (wholeLeaves) add(this.storage.leafRangeHash(wholeLeaves.first, wholeLeaves.last));
      if (tail) add(this.partialLeaf(tail));
    }
    return { h1, h2 };
  }

  /**
   * The non-empty segments of `range` as held by the store, with their hashes. Empty ones are left
   * out: both sides of a comparison list theirs, and a segment only one side lists differs.
   */
  segments(range: RingRange): HashedInterval[] {
    const hashed: HashedInterval[] = [];
    for (const interval of rangeIntervals(range)) {
      const { head, wholeLeaves, tail } = splitInterval(interval);
      if (head) pushIfNotEmpty(hashed, this.partialLeaf(head));
      if (wholeLeaves) {
        for (const leaf of this.storage.leafHashes(wholeLeaves.first, wholeLeaves.last)) {
          pushIfNotEmpty(hashed, { lo: leaf.leaf * leafSpan, hi: (leaf.leaf + 1) * leafSpan, h1: leaf.h1, h2: leaf.h2 });
        }
      }
      if (tail) pushIfNotEmpty(hashed, this.partialLeaf(tail));
    }
    return hashed;
  }

  /** A part of one leaf, from its entries' stored item hashes (no values read), or remembered. */
  private partialLeaf(segment: PositionInterval): HashedInterval {
    // Until the leaf table is counted, leafHashes itself reads entries: query the part directly.
    if (!this.storage.leavesBuilt) return { ...segment, ...this.storage.hashPositions(segment.lo, segment.hi) };
    const leaf = this.storage.leafHashes(leafOf(segment.lo), leafOf(segment.lo))[0];
    if (leaf === undefined) return { ...segment, h1: 0, h2: 0 };
    const known = this.partials.get(segment.lo);
    if (known !== undefined && known.hi === segment.hi && known.leafH1 === leaf.h1 && known.leafH2 === leaf.h2) {
      return { ...segment, h1: known.h1, h2: known.h2 };
    }
    const { h1, h2 } = this.storage.hashPositions(segment.lo, segment.hi);
    // Two per range of the ring; a layout change leaves the old ones unused, so start afresh now and then.
    if (this.partials.size >= partialLeavesRemembered) this.partials.clear();
    this.partials.set(segment.lo, { hi: segment.hi, leafH1: leaf.h1, leafH2: leaf.h2, h1, h2 });
    return { ...segment, h1, h2 };
  }
}

/** Partial leaves a hasher remembers: both ends of every range of a ring of 1,024 nodes x 8 tokens. */
const partialLeavesRemembered = 16_384;

function pushIfNotEmpty(list: HashedInterval[], segment: HashedInterval): void {
  if (segment.h1 !== 0 || segment.h2 !== 0) list.push(segment);
}

/** An interval as a partial leaf at each end and the whole leaves between them. */
function splitInterval(interval: PositionInterval): {
  head: PositionInterval | undefined;
  wholeLeaves: { first: number; last: number } | undefined;
  tail: PositionInterval | undefined;
} {
  const firstWhole = Math.ceil(interval.lo / leafSpan);
  const endWhole = Math.floor(interval.hi / leafSpan); // exclusive
  if (firstWhole >= endWhole) {
    // No whole leaf: the interval lies within one leaf, or straddles one boundary.
    const parts = segmentsOf(interval);
    return { head: parts[0], wholeLeaves: undefined, tail: parts[1] };
  }
  const headHi = firstWhole * leafSpan;
  const tailLo = endWhole * leafSpan;
  return {
    head: interval.lo < headHi ? { lo: interval.lo, hi: headHi } : undefined,
    wholeLeaves: { first: firstWhole, last: endWhole - 1 },
    tail: tailLo < interval.hi ? { lo: tailLo, hi: interval.hi } : undefined,
  };
}

/** Every entry with a ring position in the interval, in (position, key) order. */
export function* entriesIn(storage: Storage, interval: PositionInterval): Generator<PositionedEntry> {
  let after: { position: number; key: string } | undefined;
  for (;;) {
    const batch = storage.scanPositions(interval.lo, interval.hi, scanBatch, after);
    yield* batch;
    if (batch.length < scanBatch) return;
    const last = batch[batch.length - 1] as PositionedEntry;
    after = { position: last.position, key: last.entry.key };
  }
}

export function isSegment(value: unknown): value is PositionInterval {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as PositionInterval;
  return (
    Number.isInteger(s.lo) &&
    Number.isInteger(s.hi) &&
    s.lo >= 0 &&
    s.hi <= ringSize &&
    s.lo < s.hi &&
    Math.floor(s.lo / leafSpan) === Math.floor((s.hi - 1) / leafSpan)
  );
}
