// An in-memory Storage for the deterministic simulator: no clocks, randomness, timers or IO.
// It must behave exactly like SqliteStorage (both are held to test/storage/contract.ts), so keys
// are ordered as SQLite's BINARY collation orders UTF-8 text (keyOrder.ts), and a transaction that
// throws is undone through an undo log of data records (not closures), which also lets `clone` take
// the committed state while a transaction is open.

import { assert } from '../core/assert.js';
import { itemHash, leafOf, ringPosition } from '../core/hash.js';
import type { ApplyOutcome, EntryCounts, Hint, LeafHash, PaxosState, PositionedEntry, Storage } from '../core/storage.js';
import { isExpired, makeEntry, wallMsOf, type Entry, type Version } from '../core/version.js';
import { comparePositioned, compareUtf8, SortedArray, type PositionedKey } from './keyOrder.js';
import { checkEntry, checkKey, checkLeafRange, checkLimit, checkMs, checkRange, checkVersion } from './records.js';

interface StoredEntry {
  readonly entry: Entry;
  readonly position: number;
}

interface LeafValue {
  readonly h1: number;
  readonly h2: number;
}

interface PurgeFloor {
  readonly version: Version;
  readonly purgedMs: number;
}

/** What a write replaced, so a failed transaction can put it back. */
type UndoRecord =
  | { readonly kind: 'entry'; readonly key: string; readonly previous: Entry | undefined }
  | { readonly kind: 'leaf'; readonly leaf: number; readonly previous: LeafValue | undefined }
  | { readonly kind: 'floor'; readonly key: string; readonly previous: PurgeFloor | undefined }
  | { readonly kind: 'hint'; readonly id: number; readonly previous: Hint | undefined }
  | { readonly kind: 'meta'; readonly name: string; readonly previous: string | undefined }
  | { readonly kind: 'paxos'; readonly key: string; readonly previous: PaxosState | undefined }
  | { readonly kind: 'nextHintId'; readonly previous: number };

export class MemoryStorage implements Storage {
  /** The leaves are kept up to date with every write, from the start. */
  readonly leavesBuilt = true;

  /** What a transaction committed is durable already (a crash discards only an open transaction). */
  syncNow(): void {}

  readonly durable = true;
  private entries = new Map<string, StoredEntry>();
  private keys = new SortedArray<string>(compareUtf8);
  private positions = new SortedArray<PositionedKey>(comparePositioned);
  private tombstoneKeys = new SortedArray<string>(compareUtf8);
  /** Keys whose value carries an expiry. */
  private expiringKeys = new SortedArray<string>(compareUtf8);
  /** Only non-empty leaves are held, so results match SqliteStorage, which drops empty rows. */
  private leaves = new Map<number, LeafValue>();
  private floors = new Map<string, PurgeFloor>();
  private hintsById = new Map<number, Hint>();
  private hintsByTarget = new Map<string, SortedArray<Hint>>();
  private meta = new Map<string, string>();
  private paxos = new Map<string, PaxosState>();
  private nextHintId = 1;

  /**
   * Fault injection (the simulator's full or failing disk): called before every change a transaction
   * makes, and before it commits one that changed anything. What it throws fails that write or that
   * commit, and the whole transaction rolls back, as SqliteStorage's does on SQLITE_FULL or
   * SQLITE_IOERR. A clone does not inherit it.
   */
  writeFault: ((phase: 'write' | 'commit') => void) | undefined = undefined;

  private depth = 0;
  private undoLog: UndoRecord[] = [];
  private closed = false;

  transaction<T>(fn: () => T): T {
    this.assertOpen();
    if (this.depth > 0) return fn(); // nested calls join the outer transaction
    this.depth = 1;
    try {
      const result = fn();
      assert(!isThenable(result), 'transaction fn must be synchronous');
      if (this.undoLog.length > 0) this.writeFault?.('commit');
      this.undoLog = [];
      return result;
    } catch (error) {
      this.rollback();
      throw error;
    } finally {
      this.depth = 0;
    }
  }

  /** A deep copy of the committed state: what survives if this node crashed right now. */
  clone(): MemoryStorage {
    this.assertOpen();
    const copy = new MemoryStorage();
    // Entries, hints and floors are never mutated in place (values are copied in and out), so the
    // copy may share them; only the containers need copying.
    copy.entries = new Map(this.entries);
    copy.keys = this.keys.copy();
    copy.positions = this.positions.copy();
    copy.tombstoneKeys = this.tombstoneKeys.copy();
    copy.expiringKeys = this.expiringKeys.copy();
    copy.leaves = new Map(this.leaves);
    copy.floors = new Map(this.floors);
    copy.hintsById = new Map(this.hintsById);
    copy.hintsByTarget = new Map([...this.hintsByTarget].map(([target, hints]) => [target, hints.copy()]));
    copy.meta = new Map(this.meta);
    copy.paxos = new Map(this.paxos);
    copy.nextHintId = this.nextHintId;
    for (let i = this.undoLog.length - 1; i >= 0; i--) copy.undo(this.undoLog[i] as UndoRecord);
    return copy;
  }

  get(key: string): Entry | undefined {
    this.assertOpen();
    const stored = this.entries.get(key);
    return stored === undefined ? undefined : copyEntry(stored.entry);
  }

  apply(entry: Entry): ApplyOutcome {
    checkEntry(entry);
    return this.transaction(() => {
      const held = this.entries.get(entry.key)?.entry;
      if (held !== undefined && held.version >= entry.version) return { applied: false, current: held.version };
      const floor = this.floors.get(entry.key);
      if (floor !== undefined && floor.version >= entry.version) return { applied: false, current: floor.version };
      if (held !== undefined) this.xorIntoLeaf(held);
      this.xorIntoLeaf(entry);
      this.setEntry(entry.key, copyEntry(entry));
      return { applied: true };
    });
  }

  purgeTombstone(key: string, version: Version, nowMs: number): boolean {
    checkKey(key);
    checkVersion(version);
    checkMs(nowMs);
    return this.transaction(() => {
      const held = this.entries.get(key)?.entry;
      if (held === undefined || held.version !== version || (held.value !== null && !isExpired(held, nowMs))) return false;
      this.xorIntoLeaf(held);
      this.setEntry(key, undefined);
      this.setFloor(key, { version, purgedMs: nowMs });
      return true;
    });
  }

  dropEntry(key: string, version: Version): boolean {
    checkKey(key);
    checkVersion(version);
    return this.transaction(() => {
      const held = this.entries.get(key)?.entry;
      if (held === undefined || held.version !== version) return false;
      this.xorIntoLeaf(held);
      this.setEntry(key, undefined);
      return true;
    });
  }

  purgeFloor(key: string): Version | undefined {
    this.assertOpen();
    return this.floors.get(key)?.version;
  }

  expirePurgeFloors(purgedBeforeMs: number): number {
    return this.transaction(() => {
      const expired = [...this.floors].filter(([, floor]) => floor.purgedMs < purgedBeforeMs);
      for (const [key] of expired) this.setFloor(key, undefined);
      return expired.length;
    });
  }

  scan(afterKey: string | null, limit: number): Entry[] {
    this.assertOpen();
    checkLimit(limit);
    const keys = this.keys.items;
    const first = afterKey === null ? 0 : this.keys.upperBound(afterKey);
    return keys.slice(first, first + limit).map((key) => this.heldEntry(key));
  }

  scanPositions(
    start: number,
    end: number,
    limit: number,
    after?: { readonly position: number; readonly key: string },
  ): PositionedEntry[] {
    this.assertOpen();
    checkRange(start, end);
    checkLimit(limit);
    const items = this.positions.items;
    let index = this.positions.lowerBound({ position: start, key: '' });
    if (after !== undefined) index = Math.max(index, this.positions.upperBound(after));
    const result: PositionedEntry[] = [];
    for (; index < items.length && result.length < limit; index++) {
      const item = items[index] as PositionedKey;
      if (item.position >= end) break;
      result.push({ entry: this.heldEntry(item.key), position: item.position });
    }
    return result;
  }

  hashPositions(start: number, end: number): { h1: number; h2: number } {
    this.assertOpen();
    checkRange(start, end);
    let h1 = 0;
    let h2 = 0;
    const items = this.positions.items;
    for (let i = this.positions.lowerBound({ position: start, key: '' }); i < items.length; i++) {
      const item = items[i] as PositionedKey;
      if (item.position >= end) break;
      const entry = (this.entries.get(item.key) as StoredEntry).entry;
      const [a, b] = itemHash(entry.key, entry.version);
      h1 = (h1 ^ a) >>> 0;
      h2 = (h2 ^ b) >>> 0;
    }
    return { h1, h2 };
  }

  leafHashes(first: number, last: number): LeafHash[] {
    this.assertOpen();
    checkLeafRange(first, last);
    const result: LeafHash[] = [];
    if (last - first + 1 <= this.leaves.size) {
      for (let leaf = first; leaf <= last; leaf++) {
        const value = this.leaves.get(leaf);
        if (value !== undefined) result.push({ leaf, h1: value.h1, h2: value.h2 });
      }
      return result;
    }
    for (const [leaf, value] of this.leaves) {
      if (leaf >= first && leaf <= last) result.push({ leaf, h1: value.h1, h2: value.h2 });
    }
    return result.sort((a, b) => a.leaf - b.leaf);
  }

  leafRangeHash(first: number, last: number): { h1: number; h2: number } {
    let h1 = 0;
    let h2 = 0;
    for (const leaf of this.leafHashes(first, last)) {
      h1 = (h1 ^ leaf.h1) >>> 0;
      h2 = (h2 ^ leaf.h2) >>> 0;
    }
    return { h1, h2 };
  }

  tombstonesBefore(wallMsBefore: number, limit: number, afterKey?: string): Entry[] {
    this.assertOpen();
    checkLimit(limit);
    const deleted = this.firstMatching(this.tombstoneKeys, limit, afterKey, (entry) => wallMsOf(entry.version) < wallMsBefore);
    // An expired value counts as deleted at its expiry, but never before it was written.
    const expired = this.firstMatching(
      this.expiringKeys,
      limit,
      afterKey,
      (entry) => (entry.expiresMs as number) < wallMsBefore && wallMsOf(entry.version) < wallMsBefore,
    );
    return [...deleted, ...expired].sort((a, b) => compareUtf8(a.key, b.key)).slice(0, limit);
  }

  /** The first `limit` entries of an index, after `afterKey`, that satisfy `matches`. */
  private firstMatching(index: SortedArray<string>, limit: number, afterKey: string | undefined, matches: (entry: Entry) => boolean): Entry[] {
    const keys = index.items;
    const result: Entry[] = [];
    for (let i = afterKey === undefined ? 0 : index.upperBound(afterKey); i < keys.length && result.length < limit; i++) {
      const entry = this.heldEntry(keys[i] as string);
      if (matches(entry)) result.push(entry);
    }
    return result;
  }

  counts(): EntryCounts {
    this.assertOpen();
    const tombstones = this.tombstoneKeys.items.length;
    return { live: this.entries.size - tombstones, tombstones };
  }

  countExpiring(): number {
    this.assertOpen();
    return this.expiringKeys.items.length;
  }

  addHint(target: string, entry: Entry, createdMs: number): void {
    assert(target.length > 0, 'hint target must not be empty');
    checkEntry(entry);
    checkMs(createdMs);
    this.transaction(() => {
      const id = this.nextHintId;
      this.setNextHintId(id + 1);
      this.setHint(id, { id, target, entry: copyEntry(entry), createdMs });
    });
  }

  hintsFor(target: string, limit: number): Hint[] {
    this.assertOpen();
    checkLimit(limit);
    const hints = this.hintsByTarget.get(target)?.items ?? [];
    return hints.slice(0, limit).map(copyHint);
  }

  removeHint(id: number): void {
    this.transaction(() => {
      if (this.hintsById.has(id)) this.setHint(id, undefined);
    });
  }

  expireHints(createdMsBefore: number): number {
    return this.transaction(() => {
      const expired = [...this.hintsById.values()].filter((hint) => hint.createdMs < createdMsBefore);
      for (const hint of expired) this.setHint(hint.id, undefined);
      return expired.length;
    });
  }

  trimHints(target: string, keep: number): number {
    checkLimit(keep);
    return this.transaction(() => {
      const hints = this.hintsByTarget.get(target)?.items ?? [];
      const oldest = hints.slice(0, Math.max(0, hints.length - keep));
      for (const hint of oldest) this.setHint(hint.id, undefined);
      return oldest.length;
    });
  }

  hintCounts(): Map<string, number> {
    this.assertOpen();
    // In target order, as SqliteStorage's ORDER BY returns them, so iteration order matches too.
    const targets = [...this.hintsByTarget.keys()].sort(compareUtf8);
    return new Map(targets.map((target) => [target, this.hintsByTarget.get(target)?.items.length ?? 0]));
  }

  getMeta(name: string): string | undefined {
    this.assertOpen();
    return this.meta.get(name);
  }

  setMeta(name: string, value: string): void {
    assert(typeof name === 'string' && typeof value === 'string', 'meta names and values are strings');
    this.transaction(() => this.setMetaValue(name, value));
  }

  paxosState(key: string): PaxosState | undefined {
    this.assertOpen();
    const state = this.paxos.get(key);
    return state === undefined ? undefined : copyPaxosState(state);
  }

  setPaxosState(key: string, state: PaxosState | undefined): void {
    checkKey(key);
    if (state !== undefined) {
      checkVersion(state.promised);
      if (state.committed !== undefined) checkVersion(state.committed);
      if (state.accepted !== undefined) {
        checkVersion(state.accepted.ballot);
        checkEntry(state.accepted.entry);
      }
    }
    this.transaction(() => {
      this.log({ kind: 'paxos', key, previous: this.paxos.get(key) });
      putOrDelete(this.paxos, key, state === undefined ? undefined : copyPaxosState(state));
    });
  }

  expirePaxosStates(below: Version, afterKey: string, limit: number): { readonly forgotten: number; readonly next: string | undefined } {
    checkVersion(below);
    checkLimit(limit);
    const looked = [...this.paxos.keys()]
      .filter((key) => compareUtf8(key, afterKey) > 0)
      .sort(compareUtf8)
      .slice(0, limit);
    const expired = looked.filter((key) => (this.paxos.get(key) as PaxosState).promised < below);
    this.transaction(() => {
      for (const key of expired) this.setPaxosState(key, undefined);
    });
    return { forgotten: expired.length, next: limit > 0 && looked.length === limit ? looked[looked.length - 1] : undefined };
  }

  close(): void {
    assert(this.depth === 0, 'closing a storage inside a transaction');
    this.closed = true;
  }

  // Logged writes: each records what it replaces, then goes through a raw setter that `undo` shares.

  private setEntry(key: string, entry: Entry | undefined): void {
    this.log({ kind: 'entry', key, previous: this.entries.get(key)?.entry });
    this.putEntry(key, entry);
  }

  private setLeaf(leaf: number, value: LeafValue | undefined): void {
    this.log({ kind: 'leaf', leaf, previous: this.leaves.get(leaf) });
    this.putLeaf(leaf, value);
  }

  private setFloor(key: string, floor: PurgeFloor | undefined): void {
    this.log({ kind: 'floor', key, previous: this.floors.get(key) });
    putOrDelete(this.floors, key, floor);
  }

  private setHint(id: number, hint: Hint | undefined): void {
    this.log({ kind: 'hint', id, previous: this.hintsById.get(id) });
    this.putHint(id, hint);
  }

  private setMetaValue(name: string, value: string | undefined): void {
    this.log({ kind: 'meta', name, previous: this.meta.get(name) });
    putOrDelete(this.meta, name, value);
  }

  private setNextHintId(next: number): void {
    this.log({ kind: 'nextHintId', previous: this.nextHintId });
    this.nextHintId = next;
  }

  private log(record: UndoRecord): void {
    assert(this.depth > 0, 'storage write outside a transaction');
    this.writeFault?.('write');
    this.undoLog.push(record);
  }

  private rollback(): void {
    for (let i = this.undoLog.length - 1; i >= 0; i--) this.undo(this.undoLog[i] as UndoRecord);
    this.undoLog = [];
  }

  private undo(record: UndoRecord): void {
    switch (record.kind) {
      case 'entry':
        return this.putEntry(record.key, record.previous);
      case 'leaf':
        return this.putLeaf(record.leaf, record.previous);
      case 'floor':
        return putOrDelete(this.floors, record.key, record.previous);
      case 'hint':
        return this.putHint(record.id, record.previous);
      case 'meta':
        return putOrDelete(this.meta, record.name, record.previous);
      case 'paxos':
        return putOrDelete(this.paxos, record.key, record.previous);
      case 'nextHintId':
        this.nextHintId = record.previous;
        return;
    }
  }

  // Raw setters: keep the map and its sorted indexes in step, log nothing.

  private putEntry(key: string, entry: Entry | undefined): void {
    const held = this.entries.get(key);
    if (held !== undefined) {
      this.keys.remove(key);
      this.positions.remove({ position: held.position, key });
      if (held.entry.value === null) this.tombstoneKeys.remove(key);
      if (held.entry.expiresMs !== undefined) this.expiringKeys.remove(key);
      this.entries.delete(key);
    }
    if (entry !== undefined) {
      const position = held?.position ?? ringPosition(key);
      this.entries.set(key, { entry, position });
      this.keys.insert(key);
      this.positions.insert({ position, key });
      if (entry.value === null) this.tombstoneKeys.insert(key);
      if (entry.expiresMs !== undefined) this.expiringKeys.insert(key);
    }
  }

  private putLeaf(leaf: number, value: LeafValue | undefined): void {
    const empty = value === undefined || (value.h1 === 0 && value.h2 === 0);
    putOrDelete(this.leaves, leaf, empty ? undefined : value);
  }

  private putHint(id: number, hint: Hint | undefined): void {
    const held = this.hintsById.get(id);
    if (held !== undefined) {
      const targetHints = this.hintsByTarget.get(held.target) as SortedArray<Hint>;
      targetHints.remove(held);
      if (targetHints.items.length === 0) this.hintsByTarget.delete(held.target);
      this.hintsById.delete(id);
    }
    if (hint !== undefined) {
      this.hintsById.set(id, hint);
      let targetHints = this.hintsByTarget.get(hint.target);
      if (targetHints === undefined) {
        targetHints = new SortedArray<Hint>((a, b) => a.id - b.id);
        this.hintsByTarget.set(hint.target, targetHints);
      }
      targetHints.insert(hint);
    }
  }

  /** Toggles the entry's item hash in its key's leaf (XOR is its own inverse). */
  private xorIntoLeaf(entry: Entry): void {
    const leaf = leafOf(ringPosition(entry.key));
    const [h1, h2] = itemHash(entry.key, entry.version);
    const held = this.leaves.get(leaf) ?? { h1: 0, h2: 0 };
    this.setLeaf(leaf, { h1: (held.h1 ^ h1) >>> 0, h2: (held.h2 ^ h2) >>> 0 });
  }

  private heldEntry(key: string): Entry {
    const stored = this.entries.get(key);
    assert(stored !== undefined, 'sorted index names a missing entry');
    return copyEntry(stored.entry);
  }

  private assertOpen(): void {
    assert(!this.closed, 'storage is closed');
  }
}

function putOrDelete<K, V>(map: Map<K, V>, key: K, value: V | undefined): void {
  if (value === undefined) map.delete(key);
  else map.set(key, value);
}

/**
 * Values are copied in and out so that no caller can change stored bytes through an alias, and come
 * out as plain Uint8Arrays like SqliteStorage's (`new Uint8Array`, because a Buffer's slice is a view).
 */
function copyEntry(entry: Entry): Entry {
  return makeEntry(entry.key, entry.version, entry.value === null ? null : new Uint8Array(entry.value), entry.expiresMs);
}

function copyHint(hint: Hint): Hint {
  return { id: hint.id, target: hint.target, entry: copyEntry(hint.entry), createdMs: hint.createdMs };
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A copy whose accepted value shares no bytes with the caller's (values are copied in and out). */
function copyPaxosState(state: PaxosState): PaxosState {
  const committed = state.committed === undefined ? {} : { committed: state.committed };
  if (state.accepted === undefined) return { promised: state.promised, ...committed };
  return { promised: state.promised, accepted: { ballot: state.accepted.ballot, entry: copyEntry(state.accepted.entry) }, ...committed };
}
