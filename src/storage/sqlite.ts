// The durable Storage of a real node: one SQLite database in WAL mode through better-sqlite3.
// Every statement is prepared once; every write runs inside a transaction (its own, or the
// caller's). The anti-entropy leaves, their hashes and which keys each holds, are kept in memory and
// rebuilt when the store opens (leafTable.ts): entries are read by ring position through them, not
// through an index. Reads by key go through a cache of committed entries first (readCache.ts). Its
// tables, and the migrations of older files, are in schema.ts.
//
// Durability: fsync 'commit' runs with synchronous = FULL, so each COMMIT is on disk before it
// returns (survives power loss). 'periodic' runs with synchronous = NORMAL: a COMMIT survives a
// process crash at once (it is in the OS's page cache) but reaches the disk only when the WAL is
// synced at a checkpoint, which `sync()` forces and the runtime calls on a timer.
//
// 'commit' with `deferCommitSync` is as durable as 'commit' for an owner that waits for
// `whenDurable` before acknowledging what it wrote (walSync.ts); the node runtime does.

import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { assert } from '../core/assert.js';
import { itemHash, leafOf, leafSpan, ringPosition } from '../core/hash.js';
import type { ApplyOutcome, EntryCounts, Hint, LeafHash, PaxosState, PositionedEntry, Storage } from '../core/storage.js';
import { isExpiry } from '../core/validate.js';
import { isExpired, isVersion, wallMsMax, type Entry, type Version } from '../core/version.js';
import { defaultCheckpointIntervalMs, startCheckpointer, type Checkpointer } from './checkpointer.js';
import { compareUtf8, type PositionedKey } from './keyOrder.js';
import { migrate } from './schema.js';
import { LeafTable, type HashedRow } from './leafTable.js';
import { checkEntry, checkKey, checkLeafRange, checkLimit, checkMs, checkRange, checkVersion } from './records.js';
import { defaultConfig } from '../core/config.js';
import { ReadCache, type ReadCacheStats } from './readCache.js';
import { WalSync, type AsyncSync } from './walSync.js';

export interface SqliteStorageOptions {
  readonly fsync: 'commit' | 'periodic';
  /** With fsync 'commit': commits return before they are synced; see `whenDurable`. */
  readonly deferCommitSync?: boolean;
  /**
   * Checkpoint the WAL into the database from a worker thread (its own connection) instead of inside
   * the commits of this one: a checkpoint copies up to a thousand pages and syncs twice, which would
   * otherwise stall the event loop several times a second under a steady write load.
   */
  readonly checkpointInBackground?: boolean;
  /**
   * With checkpointInBackground: how long (in frames, a page each) the write-ahead log may grow
   * before this connection finishes a background checkpoint itself so that the log starts over
   * (startCheckpointer). Default 4096: 16 MiB of 4 KiB pages.
   */
  readonly walRestartFrames?: number;
  /** With checkpointInBackground: how often the worker checkpoints (default 200 ms). */
  readonly checkpointIntervalMs?: number;
  /**
   * With checkpointInBackground: told when the worker dies (the store then checkpoints on commit,
   * on the event loop, and keeps working; the owner should say so).
   */
  readonly onCheckpointerFailure?: (error: Error) => void;
  /** With deferCommitSync: fdatasync on the thread pool (tests give one that hangs, as a disk can). */
  readonly syncFileAsync?: AsyncSync;
  /** Bytes of committed entries kept in memory for `get` (readCache.ts); 0 keeps none. */
  readonly readCacheBytes?: number;
}

/** Entries counted per step of the leaf rebuild (about 5 ms). */
const leafRebuildRows = 5000;

interface EntryRow {
  key: unknown;
  version: unknown;
  value: unknown;
  expires_ms: unknown;
}

/** version, value, expires_ms */
type StoredColumns = [unknown, unknown, unknown];

interface HeldRow extends EntryRow {
  h1: number;
  h2: number;
}

interface PositionedRow extends EntryRow {
  position: unknown;
}

interface PaxosRow {
  key: unknown;
  promised: unknown;
  committed: unknown;
  ballot: unknown;
  version: unknown;
  value: unknown;
  expires_ms: unknown;
}

interface HintRow extends EntryRow {
  id: number;
  target: string;
  created_ms: number;
}

export class SqliteStorage implements Storage {
  private depth = 0;
  private closed = false;
  /** A read transaction shared by the lone reads of this event-loop turn (see `get`). */
  private readSnapshot = false;
  /** Whether the running transaction called a writing method. */
  private wrote = false;
  /**
   * Keys the running transaction changed: its reads of them must not reach the read cache. A new set
   * after each transaction that changed any, not `clear()`: a long-lived set that is cleared again
   * and again kept the keys through young collections (see core/idTable.ts).
   */
  private changedKeys = new Set<string>();
  private readonly walSync: WalSync;
  private checkpointer: Checkpointer | undefined;
  private threadsDone: Promise<void> = Promise.resolve();

  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly selectEntry: Database.Statement<[string], HeldRow>;
  /** `get`'s lookup: only what an Entry holds, as an array (a row object costs a property set per column). */
  private readonly selectStored: Database.Statement<[string], StoredColumns>;
  private readonly selectHeldVersion: Database.Statement<[string], { version: unknown; h1: number; h2: number }>;
  private readonly upsertEntry: Database.Statement<[string, number, string, Buffer | null, number | null, number, number]>;
  private readonly deleteEntry: Database.Statement<[string]>;
  private readonly leaves = new LeafTable();
  private readonly selectRebuildFromStart: Database.Statement<[number], HashedRow>;
  private readonly selectRebuildAfter: Database.Statement<[string, number], HashedRow>;
  private readonly selectItemHashes: Database.Statement<[number, number], { h1: number; h2: number }>;
  private readonly selectPositionedHashes: Database.Statement<[number, number], [number, number, number]>;
  private readonly selectFloor: Database.Statement<[string], { version: unknown }>;
  private readonly selectAnyFloor: Database.Statement<[], { found: number }>;
  /** False only when no purge floor is stored, so that `apply` can skip looking one up. */
  private mayHoldFloors: boolean;
  private readonly upsertFloor: Database.Statement<[string, string, number]>;
  private readonly deleteFloorsBefore: Database.Statement<[number]>;
  private readonly scanFromStart: Database.Statement<[number], EntryRow>;
  private readonly scanAfterKey: Database.Statement<[string, number], EntryRow>;
  private readonly scanRange: Database.Statement<[number, number, number], PositionedRow>;
  private readonly scanRangeAfter: Database.Statement<[number, number, number, string, number], PositionedRow>;
  private readonly selectTombstones: Database.Statement<[string, string, number], EntryRow>;
  private readonly selectExpired: Database.Statement<[string, number, string, number], EntryRow>;
  private readonly countEntries: Database.Statement<[], { total: number }>;
  private readonly countTombstones: Database.Statement<[], { tombstones: number }>;
  private readonly countExpiringRows: Database.Statement<[], { expiring: number }>;
  private readonly insertHint: Database.Statement<[string, string, string, Buffer | null, number | null, number]>;
  private readonly selectHints: Database.Statement<[string, number], HintRow>;
  private readonly deleteHint: Database.Statement<[number]>;
  private readonly deleteHintsBefore: Database.Statement<[number]>;
  private readonly deleteOldestHints: Database.Statement<[string, string, number]>;
  private readonly selectHintCounts: Database.Statement<[], { target: string; count: number }>;
  private readonly selectMeta: Database.Statement<[string], { value: string }>;
  private readonly upsertMeta: Database.Statement<[string, string]>;
  private readonly selectPaxos: Database.Statement<[string], PaxosRow>;
  private readonly upsertPaxos: Database.Statement<[string, string, string | null, string | null, string | null, Buffer | null, number | null]>;
  private readonly deletePaxos: Database.Statement<[string]>;
  private readonly selectPaxosAfter: Database.Statement<[string, number], { key: string; promised: string }>;
  private readonly checkpoint: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    deferCommitSync: boolean,
    /** fsync 'periodic': commits reach the disk at the periodic sync, not before. */
    private readonly periodic: boolean,
    syncFileAsync: AsyncSync | undefined,
    private readonly cache: ReadCache,
  ) {
    this.walSync = new WalSync(`${path}-wal`, deferCommitSync, undefined, syncFileAsync);
    // Deferred: a transaction that only reads, or touches nothing (ticks, batches of replies), takes no
    // write lock and writes nothing. This process is the database's only writer, so the upgrade to a
    // write lock at the first write cannot meet a competing writer.
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');

    this.selectEntry = db.prepare('SELECT key, version, value, expires_ms, h1, h2 FROM entries WHERE key = ?');
    this.selectStored = db.prepare<[string], StoredColumns>('SELECT version, value, expires_ms FROM entries WHERE key = ?').raw(true);
    // What `apply` compares and replaces: the version and item hash, not the value (up to 1 MiB).
    this.selectHeldVersion = db.prepare('SELECT version, h1, h2 FROM entries WHERE key = ?');
    this.upsertEntry = db.prepare(
      `INSERT INTO entries (key, position, version, value, expires_ms, h1, h2) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value,
         expires_ms = excluded.expires_ms, h1 = excluded.h1, h2 = excluded.h2`,
    );
    this.deleteEntry = db.prepare('DELETE FROM entries WHERE key = ?');

    this.selectRebuildFromStart = db
      .prepare('SELECT key, position, h1, h2 FROM entries ORDER BY key LIMIT ?')
      .raw() as Database.Statement<[number], HashedRow>;
    this.selectRebuildAfter = db
      .prepare('SELECT key, position, h1, h2 FROM entries WHERE key > ? ORDER BY key LIMIT ?')
      .raw() as Database.Statement<[string, number], HashedRow>;
    // The range reads by position below scan the whole table: no index orders entries by position.
    // They serve only until the leaf table is rebuilt, which then says which keys a range holds.
    this.selectItemHashes = db.prepare('SELECT h1, h2 FROM entries WHERE position >= ? AND position < ?');
    this.selectPositionedHashes = db
      .prepare('SELECT position, h1, h2 FROM entries WHERE position >= ? AND position < ?')
      .raw() as Database.Statement<[number, number], [number, number, number]>;

    this.selectFloor = db.prepare('SELECT version FROM purge_floors WHERE key = ?');
    this.selectAnyFloor = db.prepare('SELECT 1 AS found FROM purge_floors LIMIT 1');
    this.mayHoldFloors = this.selectAnyFloor.get() !== undefined;
    this.upsertFloor = db.prepare(
      `INSERT INTO purge_floors (key, version, purged_ms) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET version = excluded.version, purged_ms = excluded.purged_ms`,
    );
    this.deleteFloorsBefore = db.prepare('DELETE FROM purge_floors WHERE purged_ms < ?');

    this.scanFromStart = db.prepare('SELECT key, version, value, expires_ms FROM entries ORDER BY key LIMIT ?');
    this.scanAfterKey = db.prepare('SELECT key, version, value, expires_ms FROM entries WHERE key > ? ORDER BY key LIMIT ?');
    this.scanRange = db.prepare(
      `SELECT key, version, value, expires_ms, position FROM entries
       WHERE position >= ? AND position < ? ORDER BY position, key LIMIT ?`,
    );
    this.scanRangeAfter = db.prepare(
      `SELECT key, version, value, expires_ms, position FROM entries
       WHERE position >= ? AND position < ? AND (position, key) > (?, ?) ORDER BY position, key LIMIT ?`,
    );
    // A version's first 12 characters are its wall clock in hex, so `version < bound` with a
    // 12-digit hex bound is exactly `wallMs < boundMs`.
    this.selectTombstones = db.prepare(
      `SELECT key, version, value, expires_ms FROM entries
       WHERE value IS NULL AND key > ? AND version < ? ORDER BY key LIMIT ?`,
    );
    // An expired value counts as deleted at its expiry, but never before it was written.
    this.selectExpired = db.prepare(
      `SELECT key, version, value, expires_ms FROM entries
       WHERE expires_ms IS NOT NULL AND key > ? AND expires_ms < ? AND version < ? ORDER BY key LIMIT ?`,
    );
    this.countEntries = db.prepare('SELECT count(*) AS total FROM entries');
    this.countTombstones = db.prepare('SELECT count(*) AS tombstones FROM entries WHERE value IS NULL');
    this.countExpiringRows = db.prepare('SELECT count(*) AS expiring FROM entries WHERE expires_ms IS NOT NULL');

    this.insertHint = db.prepare(
      'INSERT INTO hints (target, key, version, value, expires_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.selectHints = db.prepare(
      'SELECT id, target, key, version, value, expires_ms, created_ms FROM hints WHERE target = ? ORDER BY id LIMIT ?',
    );
    this.deleteHint = db.prepare('DELETE FROM hints WHERE id = ?');
    this.deleteHintsBefore = db.prepare('DELETE FROM hints WHERE created_ms < ?');
    // Deletes every hint of the target at or below the (keep+1)-th newest one; when there are no
    // more than `keep`, the subquery is NULL and nothing matches.
    this.deleteOldestHints = db.prepare(
      `DELETE FROM hints WHERE target = ? AND id <=
         (SELECT id FROM hints WHERE target = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    );
    this.selectHintCounts = db.prepare('SELECT target, count(*) AS count FROM hints GROUP BY target ORDER BY target');

    this.selectMeta = db.prepare('SELECT value FROM meta WHERE name = ?');
    this.upsertMeta = db.prepare(
      'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
    this.selectPaxos = db.prepare('SELECT key, promised, committed, ballot, version, value, expires_ms FROM paxos WHERE key = ?');
    this.upsertPaxos = db.prepare(
      `INSERT INTO paxos (key, promised, committed, ballot, version, value, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET promised = excluded.promised, committed = excluded.committed, ballot = excluded.ballot,
         version = excluded.version, value = excluded.value, expires_ms = excluded.expires_ms`,
    );
    this.deletePaxos = db.prepare('DELETE FROM paxos WHERE key = ?');
    this.selectPaxosAfter = db.prepare('SELECT key, promised FROM paxos WHERE key > ? ORDER BY key LIMIT ?');
    this.checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  }

  static open(path: string, options: SqliteStorageOptions): SqliteStorage {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      const deferCommitSync = options.fsync === 'commit' && options.deferCommitSync === true && path !== ':memory:';
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.fsync === 'commit' && !deferCommitSync ? 'FULL' : 'NORMAL'}`);
      db.pragma('busy_timeout = 5000');
      migrate(db);
      if (path !== ':memory:') checkpointWhatSurvived(db);
      const storage = new SqliteStorage(
        db,
        path,
        deferCommitSync,
        options.fsync === 'periodic' && path !== ':memory:',
        options.syncFileAsync,
        new ReadCache(options.readCacheBytes ?? defaultConfig.readCacheBytes),
      );
      storage.rebuildLeaves();
      if (options.checkpointInBackground === true && path !== ':memory:') {
        storage.startCheckpointer(
          options.checkpointIntervalMs ?? defaultCheckpointIntervalMs,
          options.walRestartFrames ?? 4096,
          options.onCheckpointerFailure,
        );
      }
      return storage;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  transaction<T>(fn: () => T): T {
    this.assertOpen();
    if (this.depth > 0) return fn(); // nested calls join the outer transaction
    this.endReadSnapshot();
    this.begin.run();
    this.depth = 1;
    this.wrote = false;
    this.leaves.begin();
    try {
      const result = fn();
      assert(!isThenable(result), 'transaction fn must be synchronous');
      this.commit.run();
      this.leaves.commit();
      if (this.wrote) this.walSync.committed();
      return result;
    } catch (error) {
      try {
        // SQLite rolls back by itself after some errors (e.g. disk full); then there is nothing to undo.
        if (this.db.inTransaction) this.rollback.run();
      } finally {
        // Even if ROLLBACK failed too: the leaves must not keep what the store did not.
        this.leaves.rollback();
        this.mayHoldFloors = true; // the rollback may have brought back floors the transaction expired
      }
      throw error;
    } finally {
      this.depth = 0;
      this.wrote = false;
      if (this.changedKeys.size > 0) this.changedKeys = new Set();
    }
  }

  private startCheckpointer(intervalMs: number, walRestartFrames: number, onFailure?: (error: Error) => void): void {
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = startCheckpointer(
      this.path,
      intervalMs,
      (report) => {
        // The worker has copied the log up to where it began; what came after is a few frames.
        // Copying those here, between transactions, lets the next commit rewind the log (see
        // checkpointer.ts). It costs this thread two syncs, once per walRestartFrames of log.
        if (this.closed || this.depth > 0) return;
        if (report.logFrames < walRestartFrames) return;
        this.endReadSnapshot();
        this.checkpoint.run();
      },
      // Without a checkpointer the WAL would grow without bound: fall back to checkpoints on commit.
      (error) => {
        if (this.closed) return;
        this.db.pragma('wal_autocheckpoint = 1000');
        onFailure?.(error);
      },
    );
  }

  /** A transaction of a method that writes: counted, so that `whenDurable` knows what to sync. */
  private write<T>(fn: () => T): T {
    if (this.depth > 0) {
      this.wrote = true;
      return fn();
    }
    return this.transaction(() => {
      this.wrote = true;
      return fn();
    });
  }

  /** Whether everything committed so far is on disk (always, unless commits defer their sync). */
  get durable(): boolean {
    return this.walSync.durable;
  }

  /** The count of committed writing transactions; `whenDurable` callbacks are per generation. */
  get commitGeneration(): number {
    return this.walSync.generation;
  }

  syncNow(): void {
    this.assertOpen();
    // Under 'periodic' too: what asks (the clock's ceiling) must not wait for the periodic sync.
    if (this.depth === 0) this.walSync.syncNow(this.periodic); // inside one, see Storage.syncNow
  }

  /** How long the fdatasync under way has run, 0 when none does (walSync.ts). */
  syncRunningMs(): number {
    return this.walSync.syncRunningMs();
  }

  /** Tells `observer` how long each fdatasync of the log off this thread took, in seconds. */
  observeSyncs(observer: (seconds: number) => void): void {
    this.walSync.onSynced = observer;
  }

  /** Calls back once every transaction committed before this call is on disk (walSync.ts). */
  whenDurable(callback: () => void): void {
    this.assertOpen();
    this.walSync.whenDurable(callback);
  }

  /**
   * Outside a transaction, the reads of one event-loop turn share a read transaction (a client's reads
   * at `one` come here one by one). On its own, every statement starts and ends a read transaction of
   * its own: a lock, an unlock and a stat of the file, 8 of the 12 µs a lone get took on this machine.
   * The shared one ends before any transaction begins and at the end of the turn, so it never hides a
   * commit: this connection is the database's only writer.
   *
   * Before either, the read cache: it holds only committed rows, and forgets a key before any write
   * to it, so inside a transaction too it agrees with the database for every key it holds. A row
   * read inside a transaction is kept only if the transaction did not change it (a rollback would
   * take that back): replicas answer reads from peers inside the transaction of their batch.
   */
  get(key: string): Entry | undefined {
    this.assertOpen();
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    this.shareReadSnapshot();
    const entry = this.stored(key);
    if (entry !== undefined && !(this.depth > 0 && this.changedKeys.has(key))) this.cache.remember(entry);
    return entry;
  }

  /** Called before a write changes `key`'s row. */
  private changing(key: string): void {
    this.cache.forget(key);
    this.changedKeys.add(key);
  }

  /** The read cache's size and its hits and misses since the start (the node's metrics). */
  readCacheStats(): ReadCacheStats {
    return this.cache.stats();
  }

  /** The entry stored under `key`, read by primary key. */
  private stored(key: string): Entry | undefined {
    const columns = this.selectStored.get(key);
    return columns === undefined ? undefined : storedEntry(key, columns[0], columns[1], columns[2]);
  }

  /** Outside a transaction, joins (or begins) the read transaction of this event-loop turn. */
  private shareReadSnapshot(): void {
    if (this.depth > 0 || this.readSnapshot) return;
    this.begin.run();
    this.readSnapshot = true;
    setImmediate(() => this.endReadSnapshot());
  }

  private endReadSnapshot(): void {
    if (!this.readSnapshot) return;
    this.readSnapshot = false;
    if (this.db.open && this.db.inTransaction) this.commit.run();
  }

  apply(entry: Entry): ApplyOutcome {
    checkEntry(entry);
    this.changing(entry.key);
    return this.write(() => {
      const held = this.selectHeldVersion.get(entry.key);
      if (held !== undefined) {
        const heldVersion = checkedVersion(held.version);
        if (heldVersion >= entry.version) return { applied: false, current: heldVersion };
      }
      const floor = this.purgeFloor(entry.key);
      if (floor !== undefined && floor >= entry.version) return { applied: false, current: floor };

      const position = ringPosition(entry.key);
      const [h1, h2] = itemHash(entry.key, entry.version);
      // The leaf takes out the replaced item's hash and takes in the new one.
      if (held === undefined) this.leaves.update(entry.key, position, h1, h2, 'added');
      else this.leaves.update(entry.key, position, h1 ^ held.h1, h2 ^ held.h2);
      this.upsertEntry.run(entry.key, position, entry.version, toBlob(entry.value), entry.expiresMs ?? null, h1, h2);
      return { applied: true };
    });
  }

  purgeTombstone(key: string, version: Version, nowMs: number): boolean {
    checkKey(key);
    assert(isVersion(version), 'not a version');
    checkMs(nowMs);
    this.changing(key);
    return this.write(() => {
      const held = this.selectEntry.get(key);
      if (held === undefined || held.version !== version) return false;
      if (held.value !== null && !isExpired(entryFromRow(held), nowMs)) return false;
      this.leaves.update(key, ringPosition(key), held.h1, held.h2, 'removed');
      this.deleteEntry.run(key);
      this.mayHoldFloors = true; // stays true if this rolls back: a lookup too many is harmless
      this.upsertFloor.run(key, version, nowMs);
      return true;
    });
  }

  dropEntry(key: string, version: Version): boolean {
    checkKey(key);
    assert(isVersion(version), 'not a version');
    this.changing(key);
    return this.write(() => {
      const held = this.selectEntry.get(key);
      if (held === undefined || held.version !== version) return false;
      this.leaves.update(key, ringPosition(key), held.h1, held.h2, 'removed');
      this.deleteEntry.run(key);
      return true;
    });
  }

  purgeFloor(key: string): Version | undefined {
    this.assertOpen();
    if (!this.mayHoldFloors) return undefined;
    const row = this.selectFloor.get(key);
    return row === undefined ? undefined : checkedVersion(row.version);
  }

  expirePurgeFloors(purgedBeforeMs: number): number {
    return this.write(() => {
      const expired = this.deleteFloorsBefore.run(purgedBeforeMs).changes;
      this.mayHoldFloors = this.selectAnyFloor.get() !== undefined;
      return expired;
    });
  }

  scan(afterKey: string | null, limit: number): Entry[] {
    this.assertOpen();
    checkLimit(limit);
    const rows = afterKey === null ? this.scanFromStart.all(limit) : this.scanAfterKey.all(afterKey, limit);
    return rows.map(entryFromRow);
  }

  scanPositions(start: number, end: number, limit: number, after?: PositionedKey): PositionedEntry[] {
    this.assertOpen();
    checkRange(start, end);
    checkLimit(limit);
    if (!this.leaves.built) {
      // No index orders the entries by position: this reads the whole table (leafTable.ts).
      const rows =
        after === undefined
          ? this.scanRange.all(start, end, limit)
          : this.scanRangeAfter.all(start, end, after.position, after.key, limit);
      return rows.map((row) => {
        const entry = entryFromRow(row);
        assert(row.position === ringPosition(entry.key), 'stored ring position disagrees with the key');
        return { entry, position: row.position };
      });
    }
    this.shareReadSnapshot();
    return this.leaves.positionedKeys(start, end, limit, after).map(({ key, position }) => {
      const entry = this.stored(key);
      assert(entry !== undefined, 'a key of the leaf table is not stored');
      return { entry, position };
    });
  }

  hashPositions(start: number, end: number): { h1: number; h2: number } {
    this.assertOpen();
    checkRange(start, end);
    let h1 = 0;
    let h2 = 0;
    const add = (row: { h1: number; h2: number }) => {
      h1 = (h1 ^ row.h1) >>> 0;
      h2 = (h2 ^ row.h2) >>> 0;
    };
    if (!this.leaves.built) {
      for (const row of this.selectItemHashes.all(start, end)) add(row); // the whole table, as above
      return { h1, h2 };
    }
    this.shareReadSnapshot();
    for (const { key } of this.leaves.positionedKeys(start, end, Infinity)) {
      const row = this.selectHeldVersion.get(key);
      assert(row !== undefined, 'a key of the leaf table is not stored');
      add(row);
    }
    return { h1, h2 };
  }

  leafHashes(first: number, last: number): LeafHash[] {
    this.assertOpen();
    checkLeafRange(first, last);
    if (this.leaves.built) return this.leaves.hashes(first, last);
    // Still rebuilding (leafTable.ts): hash the leaves from their entries.
    const hashes = new Map<number, LeafHash>();
    for (const [position, h1, h2] of this.selectPositionedHashes.all(first * leafSpan, (last + 1) * leafSpan)) {
      const leaf = leafOf(position);
      const held = hashes.get(leaf);
      hashes.set(leaf, { leaf, h1: ((held?.h1 ?? 0) ^ h1) >>> 0, h2: ((held?.h2 ?? 0) ^ h2) >>> 0 });
    }
    return [...hashes.values()].filter((leaf) => leaf.h1 !== 0 || leaf.h2 !== 0).sort((a, b) => a.leaf - b.leaf);
  }

  leafRangeHash(first: number, last: number): { h1: number; h2: number } {
    this.assertOpen();
    checkLeafRange(first, last);
    if (this.leaves.built) return this.leaves.rangeHash(first, last);
    return this.hashPositions(first * leafSpan, (last + 1) * leafSpan);
  }

  /** Whether the in-memory leaves are rebuilt (leafTable.ts); until then leafHashes reads entries. */
  get leavesBuilt(): boolean {
    return this.leaves.built;
  }

  tombstonesBefore(wallMsBefore: number, limit: number, afterKey?: string): Entry[] {
    this.assertOpen();
    checkLimit(limit);
    const bound = versionBoundBefore(wallMsBefore);
    if (bound === '') return [];
    const deleted = this.selectTombstones.all(afterKey ?? '', bound, limit);
    const expired = this.selectExpired.all(afterKey ?? '', Math.ceil(wallMsBefore), bound, limit);
    if (expired.length === 0) return deleted.map(entryFromRow);
    // Two sorted lists, each the first `limit` of its kind: their merge holds the first `limit` overall.
    return [...deleted, ...expired]
      .map(entryFromRow)
      .sort((a, b) => compareUtf8(a.key, b.key))
      .slice(0, limit);
  }

  counts(): EntryCounts {
    this.assertOpen();
    const total = this.countEntries.get()?.total ?? 0;
    const tombstones = this.countTombstones.get()?.tombstones ?? 0;
    return { live: total - tombstones, tombstones };
  }

  countExpiring(): number {
    this.assertOpen();
    return this.countExpiringRows.get()?.expiring ?? 0;
  }

  addHint(target: string, entry: Entry, createdMs: number): void {
    assert(target.length > 0, 'hint target must not be empty');
    checkEntry(entry);
    checkMs(createdMs);
    this.write(() => {
      this.insertHint.run(target, entry.key, entry.version, toBlob(entry.value), entry.expiresMs ?? null, createdMs);
    });
  }

  hintsFor(target: string, limit: number): Hint[] {
    this.assertOpen();
    checkLimit(limit);
    return this.selectHints.all(target, limit).map((row) => ({
      id: row.id,
      target: row.target,
      entry: entryFromRow(row),
      createdMs: row.created_ms,
    }));
  }

  removeHint(id: number): void {
    this.write(() => this.deleteHint.run(id));
  }

  expireHints(createdMsBefore: number): number {
    return this.write(() => this.deleteHintsBefore.run(createdMsBefore).changes);
  }

  trimHints(target: string, keep: number): number {
    checkLimit(keep);
    return this.write(() => this.deleteOldestHints.run(target, target, keep).changes);
  }

  hintCounts(): Map<string, number> {
    this.assertOpen();
    return new Map(this.selectHintCounts.all().map((row) => [row.target, row.count]));
  }

  getMeta(name: string): string | undefined {
    this.assertOpen();
    return this.selectMeta.get(name)?.value;
  }

  setMeta(name: string, value: string): void {
    assert(typeof name === 'string' && typeof value === 'string', 'meta names and values are strings');
    this.write(() => this.upsertMeta.run(name, value));
  }

  paxosState(key: string): PaxosState | undefined {
    this.assertOpen();
    const row = this.selectPaxos.get(key);
    if (row === undefined) return undefined;
    const promised = checkedVersion(row.promised);
    const committed = row.committed === null ? {} : { committed: checkedVersion(row.committed) };
    if (row.ballot === null) return { promised, ...committed };
    return {
      promised,
      accepted: { ballot: checkedVersion(row.ballot), entry: storedEntry(row.key, row.version, row.value, row.expires_ms) },
      ...committed,
    };
  }

  setPaxosState(key: string, state: PaxosState | undefined): void {
    checkKey(key);
    if (state === undefined) {
      this.write(() => this.deletePaxos.run(key));
      return;
    }
    checkVersion(state.promised);
    if (state.committed !== undefined) checkVersion(state.committed);
    const accepted = state.accepted;
    if (accepted !== undefined) {
      checkVersion(accepted.ballot);
      checkEntry(accepted.entry);
      assert(accepted.entry.key === key, 'an accepted proposal is of its own key');
    }
    this.write(() =>
      this.upsertPaxos.run(
        key,
        state.promised,
        state.committed ?? null,
        accepted?.ballot ?? null,
        accepted?.entry.version ?? null,
        accepted ? toBlob(accepted.entry.value) : null,
        accepted?.entry.expiresMs ?? null,
      ),
    );
  }

  expirePaxosStates(below: Version, afterKey: string, limit: number): { readonly forgotten: number; readonly next: string | undefined } {
    checkVersion(below);
    checkLimit(limit);
    assert(typeof afterKey === 'string', 'afterKey must be a string');
    this.assertOpen();
    // Walked in key order (the table's own order) rather than found through an index on the ballot:
    // such an index cost every round of every conditional write a second B-tree change, and an INCR
    // about 7% of its rate (docs/benchmarks.md).
    const looked = this.selectPaxosAfter.all(afterKey, limit);
    const expired = looked.filter((row) => row.promised < below);
    if (expired.length > 0) this.write(() => { for (const row of expired) this.deletePaxos.run(row.key); });
    return { forgotten: expired.length, next: limit > 0 && looked.length === limit ? looked[looked.length - 1]?.key : undefined };
  }

  /** Syncs the WAL and copies it into the database file: makes 'periodic' commits durable. */
  sync(): void {
    this.assertOpen();
    assert(this.depth === 0, 'sync inside a transaction');
    this.endReadSnapshot();
    this.checkpoint.run();
  }

  /** The connection's durability settings as SQLite reports them (synchronous: 1 NORMAL, 2 FULL). */
  durability(): { readonly journalMode: string; readonly synchronous: number } {
    this.assertOpen();
    return {
      journalMode: this.db.pragma('journal_mode', { simple: true }) as string,
      synchronous: this.db.pragma('synchronous', { simple: true }) as number,
    };
  }

  /** Bytes on disk: the database file plus its write-ahead log. */
  fileSizeBytes(): number {
    return fileSize(this.path) + fileSize(`${this.path}-wal`);
  }

  close(): void {
    if (this.closed) return;
    assert(this.depth === 0, 'closing a storage inside a transaction');
    this.endReadSnapshot();
    this.closed = true;
    this.walSync.close();
    if (this.checkpointer) this.threadsDone = this.checkpointer.stop();
    this.db.close();
  }

  /** After close: resolves once no thread of this store touches its files any more. */
  whenClosed(): Promise<void> {
    return this.threadsDone;
  }

  /**
   * Counts the stored entries into the in-memory leaves, `leafRebuildRows` per step, a step per
   * event-loop turn and never inside a transaction, until every entry is counted (leafTable.ts).
   */
  private rebuildLeaves(): void {
    if (this.closed || this.leaves.built) return;
    if (this.depth === 0) {
      const after = this.leaves.resumeAfter;
      const rows =
        after === undefined
          ? this.selectRebuildFromStart.all(leafRebuildRows)
          : this.selectRebuildAfter.all(after, leafRebuildRows);
      this.leaves.addRebuilt(rows, rows.length < leafRebuildRows);
      if (this.leaves.built) return;
    }
    setImmediate(() => this.rebuildLeaves());
  }

  private assertOpen(): void {
    assert(!this.closed, 'storage is closed');
  }
}

/** The smallest version string at or past wall clock `wallMs`; '' when no version is below it. */
function versionBoundBefore(wallMs: number): string {
  const bound = Math.ceil(wallMs);
  if (!(bound > 0)) return '';
  if (bound > wallMsMax) return 'g'; // above every version: they all start with a hex digit
  return bound.toString(16).padStart(12, '0');
}

/** better-sqlite3 binds Buffers; this views the same bytes without copying. */
function toBlob(value: Uint8Array | null): Buffer | null {
  return value === null ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Rows come back with Buffers; callers get plain Uint8Arrays, as from MemoryStorage. */
function entryFromRow(row: EntryRow): Entry {
  return storedEntry(row.key, row.version, row.value, row.expires_ms);
}

/** An entry from its stored columns, each checked: a damaged database fails loudly, not silently. */
function storedEntry(key: unknown, storedVersion: unknown, stored: unknown, expiresMs: unknown): Entry {
  assert(typeof key === 'string' && key.length > 0, 'stored key is not a non-empty string');
  const version = checkedVersion(storedVersion);
  if (stored === null) return { key, version, value: null };
  assert(stored instanceof Uint8Array, 'stored value is not a blob');
  const value = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
  if (expiresMs === null || expiresMs === undefined) return { key, version, value };
  assert(isExpiry(expiresMs), 'stored expiry is malformed');
  return { key, version, value, expiresMs };
}

function checkedVersion(value: unknown): Version {
  assert(isVersion(value), `stored version is malformed: ${JSON.stringify(value)}`);
  return value;
}

/**
 * Copies into the database file, and syncs, whatever log the last run left: after a crash, commits
 * whose fdatasync had not finished, or had failed. A failed fdatasync is why a node stops (walSync.ts),
 * but the kernel may already have marked those log pages clean ("fsyncgate"): they are in its cache,
 * so this run would read them as written, while no later sync of the log would ever write them. A
 * power loss would then lose them, and with them, through the log's chained checksums, every later
 * commit of the log, acknowledged ones included. The checkpoint writes them again, to the database
 * file, and syncs it; if the disk still fails, the node does not start.
 */
function checkpointWhatSurvived(db: Database.Database): void {
  const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
  assert(
    result !== undefined && result.busy === 0 && result.checkpointed === result.log,
    `the write-ahead log left by the last run could not be checkpointed (${JSON.stringify(result)}): is another process using the database?`,
  );
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

