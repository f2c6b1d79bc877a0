// Key order shared by the stores and the cluster listing: strings ordered as SQLite's BINARY collation
// orders their UTF-8 bytes, keys in ring order, and a sorted array kept in that (or any) order.

import { assert } from '../core/assert.js';

/**
 * Orders strings as their UTF-8 bytes order (= code point order). JS `<` compares UTF-16 code
 * units, which agrees except that a surrogate (half of a code point >= U+10000) sorts below
 * U+E000..U+FFFF; shifting both ranges at the first differing unit fixes that.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const unitA = a.charCodeAt(i);
    const unitB = b.charCodeAt(i);
    if (unitA !== unitB) return codePointRank(unitA) - codePointRank(unitB);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800; // U+E000..U+FFFF sort below every astral code point
  if (unit >= 0xd800) return unit + 0x2000; // surrogates stand for code points >= U+10000
  return unit;
}

/** A key with its ring position: anti-entropy reads entries in (position, key) order. */
export interface PositionedKey {
  readonly position: number;
  readonly key: string;
}

export function comparePositioned(a: PositionedKey, b: PositionedKey): number {
  return a.position - b.position || compareUtf8(a.key, b.key);
}

/** A sorted array with binary search: O(log n) lookups, O(n) inserts — fine for a simulator. */
export class SortedArray<T> {
  constructor(
    private readonly order: (a: T, b: T) => number,
    readonly items: T[] = [],
  ) {}

  /** Index of the first item >= probe. */
  lowerBound(probe: T): number {
    return this.bound(probe, false);
  }

  /** Index of the first item > probe. */
  upperBound(probe: T): number {
    return this.bound(probe, true);
  }

  insert(item: T): void {
    const index = this.lowerBound(item);
    assert(index === this.items.length || this.order(this.items[index] as T, item) !== 0, 'duplicate sorted item');
    this.items.splice(index, 0, item);
  }

  remove(item: T): void {
    const index = this.lowerBound(item);
    assert(index < this.items.length && this.order(this.items[index] as T, item) === 0, 'removing a missing sorted item');
    this.items.splice(index, 1);
  }

  copy(): SortedArray<T> {
    return new SortedArray(this.order, this.items.slice());
  }

  private bound(probe: T, strictlyAfter: boolean): number {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = this.order(this.items[middle] as T, probe);
      if (order < 0 || (strictlyAfter && order === 0)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
