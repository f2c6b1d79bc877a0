// The hash tree anti-entropy compares (DESIGN.md §4), in three levels:
//   1. a token range of the ring: the XOR of its segments' hashes;
//   2. a segment: the part of a range inside one leaf (2^16 ring positions). A leaf lying wholly inside
//      the range is read from the store's leaf table, kept up to date in the same transaction as each
//      write; a leaf cut by the range's edge is hashed from the entries in that part;
//   3. the (key, version) pairs of a segment.
// Two replicas exchange level-1 hashes, then level-2 hashes of the ranges that differ, then the keys of
// the segments that differ: a few hashes when they agree, only the differing keys when they do not.

import { leafSpan, ringSize } from './hash.js';
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
 * The non-empty segments of `range` as held by `storage`, with their hashes. Empty ones are left out:
 * both sides of a comparison list theirs, and a segment only one side lists differs.
 */
export function hashSegments(storage: Storage, range: RingRange): HashedInterval[] {
  const hashed: HashedInterval[] = [];
  for (const interval of rangeIntervals(range)) {
    const { head, wholeLeaves, tail } = splitInterval(interval);
    // Partial leaves are hashed from their entries' stored item hashes (no values read).
    if (head) pushIfNotEmpty(hashed, { ...head, ...storage.hashPositions(head.lo, head.hi) });
    if (wholeLeaves) {
      for (const leaf of storage.leafHashes(wholeLeaves.first, wholeLeaves.last)) {
        pushIfNotEmpty(hashed, { lo: leaf.leaf * leafSpan, hi: (leaf.leaf + 1) * leafSpan, h1: leaf.h1, h2: leaf.h2 });
      }
    }
    if (tail) pushIfNotEmpty(hashed, { ...tail, ...storage.hashPositions(tail.lo, tail.hi) });
  }
  return hashed;
}

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

/** The range's level-1 hash: the XOR of its segments. */
export function hashRange(storage: Storage, range: RingRange): { h1: number; h2: number } {
  let h1 = 0;
  let h2 = 0;
  for (const segment of hashSegments(storage, range)) {
    h1 = (h1 ^ segment.h1) >>> 0;
    h2 = (h2 ^ segment.h2) >>> 0;
  }
  return { h1, h2 };
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
