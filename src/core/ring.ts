// Consistent hashing with virtual nodes. Each member places `vnodes` tokens on the 32-bit ring; a key
// belongs to the range ending at the first token at or after its position (wrapping), and its
// preference list is the first N distinct members met walking clockwise from there (DESIGN.md §2).

import { assert } from './assert.js';
import { ringPosition, ringSize, tokenPosition } from './hash.js';

export interface TokenRange {
  /** Exclusive start position. */
  readonly start: number;
  /** Inclusive end position: the token that closes the range. */
  readonly end: number;
  readonly owner: string;
}

export class Ring {
  private readonly tokens: Uint32Array;
  private readonly owners: string[];
  readonly memberIds: readonly string[];

  constructor(memberIds: readonly string[], vnodes: number) {
    assert(vnodes >= 1, 'ring needs at least one token per member');
    this.memberIds = [...new Set(memberIds)].sort();
    const placed: { token: number; owner: string }[] = [];
    for (const id of this.memberIds) {
      for (let i = 0; i < vnodes; i++) placed.push({ token: tokenPosition(id, i), owner: id });
    }
    // Ties between tokens (rare) are broken by owner id, so every node builds the same ring.
    placed.sort((a, b) => a.token - b.token || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
    this.tokens = Uint32Array.from(placed.map((p) => p.token));
    this.owners = placed.map((p) => p.owner);
  }

  get size(): number {
    return this.memberIds.length;
  }

  /** Index of the first token at or after `position`, wrapping to 0. */
  private tokenIndexFor(position: number): number {
    let low = 0;
    let high = this.tokens.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.tokens[mid] as number) < position) low = mid + 1;
      else high = mid;
    }
    return low === this.tokens.length ? 0 : low;
  }

  /** Distinct members clockwise from `position`, nearest first; at most `count`. */
  walk(position: number, count: number = this.memberIds.length): string[] {
    const found: string[] = [];
    if (this.tokens.length === 0) return found;
    const start = this.tokenIndexFor(position);
    for (let step = 0; step < this.tokens.length && found.length < count; step++) {
      const owner = this.owners[(start + step) % this.tokens.length] as string;
      if (!found.includes(owner)) found.push(owner);
    }
    return found;
  }

  preferenceListFor(key: string, count: number): string[] {
    return this.walk(ringPosition(key), count);
  }

  /** Every token range of the ring, in position order. */
  ranges(): TokenRange[] {
    const ranges: TokenRange[] = [];
    const count = this.tokens.length;
    for (let i = 0; i < count; i++) {
      const previous = this.tokens[(i - 1 + count) % count] as number;
      ranges.push({ start: previous, end: this.tokens[i] as number, owner: this.owners[i] as string });
    }
    return ranges;
  }

  /** How much of the ring each member owns as primary, as fractions summing to 1. */
  primaryShares(): Map<string, number> {
    const shares = new Map<string, number>(this.memberIds.map((id) => [id, 0]));
    for (const range of this.ranges()) {
      shares.set(range.owner, (shares.get(range.owner) ?? 0) + rangeLength(range) / ringSize);
    }
    return shares;
  }
}

/** Length of a range; a range whose start equals its end (a single token) is the whole ring. */
export function rangeLength(range: { readonly start: number; readonly end: number }): number {
  if (range.end > range.start) return range.end - range.start;
  return ringSize - range.start + range.end;
}

/** Whether `position` lies in the range (start, end], wrapping. */
export function rangeContains(range: { readonly start: number; readonly end: number }, position: number): boolean {
  if (range.end > range.start) return position > range.start && position <= range.end;
  return position > range.start || position <= range.end;
}
