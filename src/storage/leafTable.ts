// The anti-entropy leaves of the SQLite store, kept in memory rather than in the database: each
// leaf's hash, and the keys the leaves hold.
//
// Hashes. A leaf table in the database cost every write one more random page in the write-ahead log
// (65,536 leaves over some 300 pages); in memory a leaf update is two XORs, and a quorum insert costs
// the nodes about 9% less CPU.
//
// Keys. Anti-entropy reads the entries of a ring interval (a leaf or part of one), and did so through
// an index of the entries by ring position. Ring positions are hashes, so every write put a random
// page of that index in the log, however ordered its keys: without it, a node's CPU per quorum
// insert fell from 179-205 µs to 139-166 µs (docs/decisions.md, "The keys of the leaves live in
// memory"). The keys here (ringKeys.ts) say which rows to read by primary key instead.
//
// The price of both is a rebuild when the store opens: the table is counted again from the stored
// keys and item hashes, in steps between event-loop turns, while the store already serves (a
// million keys: 1.05-1.07 s in a lone store, against 0.74-0.75 s when it counted only the hashes).
// Until that is done, `SqliteStorage` answers range reads by scanning the whole table, which
// anti-entropy avoids by waiting for the rebuild (Storage.leavesBuilt).
//
// While the rebuild runs, the keys up to its cursor (in key order) are counted and the rest are not:
// a write to a counted key updates its leaf, a write to a key the rebuild has yet to reach does not
// (the rebuild will read the row as it is then). Updates inside a transaction are logged so that a
// rollback takes them out again (XOR is its own inverse; a key added is removed, and the reverse).
//
// Beside the leaves, a binary indexed (Fenwick) tree of their XORs answers the hash of any run of
// leaves in 16 steps: a token range spans some 170 leaves, and an anti-entropy session hashes every
// range it shares (65,536 leaves each time, on both sides, every few seconds). A write pays 16 XORs.

import { assert } from '../core/assert.js';
import { leafCount, leafOf } from '../core/hash.js';
import type { LeafHash } from '../core/storage.js';
import { compareUtf8, type PositionedKey } from './keyOrder.js';
import { RingKeys } from './ringKeys.js';

/** An entry's key, ring position and item hash, as the rebuild reads them. */
export type HashedRow = readonly [key: string, position: number, h1: number, h2: number];

/** What a write did to its key: stored it anew, removed it, or replaced its value (`kept`). */
export type KeyChange = 'kept' | 'added' | 'removed';

export class LeafTable {
  private readonly h1 = new Uint32Array(leafCount);
  private readonly h2 = new Uint32Array(leafCount);
  /** Fenwick trees over h1 and h2: entry i holds the XOR of the leaves (i - lowbit(i), i], 1-based. */
  private readonly tree1 = new Uint32Array(leafCount + 1);
  private readonly tree2 = new Uint32Array(leafCount + 1);
  /** The last key the rebuild has counted (undefined before its first step). */
  private countedThrough: string | undefined;
  private complete = false;
  /** Every counted key by its ring position: what range reads go through. */
  private readonly keys = new RingKeys();
  /** Updates of the running transaction, as (leaf, h1, h2) triples, to undo on rollback. */
  private undoLog: number[] = [];
  /** Keys added (+1) or removed (-1) by the running transaction, as (position, key, sign), to undo on rollback. */
  private undoKeys: (number | string)[] = [];
  private inTransaction = false;

  /** Whether every stored entry is counted: leaf hashes can be read from here. */
  get built(): boolean {
    return this.complete;
  }

  /** Where the rebuild continues: after this key (undefined: from the first key). */
  get resumeAfter(): string | undefined {
    return this.countedThrough;
  }

  /** Counts rows read by the rebuild, in key order after `resumeAfter`; `last` when none follow. */
  addRebuilt(rows: readonly HashedRow[], last: boolean): void {
    assert(!this.inTransaction, 'the leaf rebuild runs between transactions');
    assert(!this.complete, 'the leaves are already built');
    for (const [key, position, h1, h2] of rows) {
      this.toggle(leafOf(position), h1, h2);
      this.keys.add(position, key);
    }
    const lastRow = rows[rows.length - 1];
    if (lastRow !== undefined) this.countedThrough = lastRow[0];
    if (last) this.complete = true;
  }

  /**
   * XORs an item hash into (or out of) the key's leaf, and adds the key to the table's keys or removes
   * it (`change`), if the rebuild has counted the key.
   */
  update(key: string, position: number, h1: number, h2: number, change: KeyChange = 'kept'): void {
    if (!this.complete && (this.countedThrough === undefined || compareUtf8(key, this.countedThrough) > 0)) return;
    const leaf = leafOf(position);
    if (h1 !== 0 || h2 !== 0) {
      this.toggle(leaf, h1, h2);
      if (this.inTransaction) this.undoLog.push(leaf, h1, h2);
    }
    if (change === 'kept') return;
    if (change === 'added') this.keys.add(position, key);
    else this.keys.remove(position, key);
    if (this.inTransaction) this.undoKeys.push(position, key, change === 'added' ? 1 : -1);
  }

  begin(): void {
    this.inTransaction = true;
    this.undoLog = [];
    this.undoKeys = [];
  }

  commit(): void {
    this.inTransaction = false;
    this.undoLog = [];
    this.undoKeys = [];
  }

  rollback(): void {
    const log = this.undoLog;
    for (let i = log.length - 3; i >= 0; i -= 3) this.toggle(log[i] as number, log[i + 1] as number, log[i + 2] as number);
    const keys = this.undoKeys;
    for (let i = keys.length - 3; i >= 0; i -= 3) {
      const [position, key, sign] = [keys[i] as number, keys[i + 1] as string, keys[i + 2] as number];
      if (sign > 0) this.keys.remove(position, key);
      else this.keys.add(position, key);
    }
    this.commit();
  }

  /**
   * Once built: the keys positioned in [start, end), strictly after `after` when given, in (position,
   * key) order, at most `limit`.
   */
  positionedKeys(start: number, end: number, limit: number, after?: PositionedKey): PositionedKey[] {
    assert(this.complete, 'the leaves are still being rebuilt');
    return this.keys.inRange(start, end, limit, after);
  }

  /** The non-empty leaves first..last, once built. */
  hashes(first: number, last: number): LeafHash[] {
    assert(this.complete, 'the leaves are still being rebuilt');
    const result: LeafHash[] = [];
    for (let leaf = first; leaf <= last; leaf++) {
      const h1 = this.h1[leaf] as number;
      const h2 = this.h2[leaf] as number;
      if (h1 !== 0 || h2 !== 0) result.push({ leaf, h1, h2 });
    }
    return result;
  }

  /** The XOR of the leaves first..last, once built. */
  rangeHash(first: number, last: number): { h1: number; h2: number } {
    assert(this.complete, 'the leaves are still being rebuilt');
    return {
      h1: (this.prefix(this.tree1, last + 1) ^ this.prefix(this.tree1, first)) >>> 0,
      h2: (this.prefix(this.tree2, last + 1) ^ this.prefix(this.tree2, first)) >>> 0,
    };
  }

  /** The XOR of leaves 0..count-1. */
  private prefix(tree: Uint32Array, count: number): number {
    let x = 0;
    for (let i = count; i > 0; i -= i & -i) x ^= tree[i] as number;
    return x;
  }

  private toggle(leaf: number, h1: number, h2: number): void {
    this.h1[leaf] = (this.h1[leaf] as number) ^ h1;
    this.h2[leaf] = (this.h2[leaf] as number) ^ h2;
    for (let i = leaf + 1; i <= leafCount; i += i & -i) {
      this.tree1[i] = (this.tree1[i] as number) ^ h1;
      this.tree2[i] = (this.tree2[i] as number) ^ h2;
    }
  }
}

