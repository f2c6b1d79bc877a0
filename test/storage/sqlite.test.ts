import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { itemHash, leafCount, leafSpan, ringPosition, ringSize } from '../../src/core/hash.js';
import { formatVersion, type Entry } from '../../src/core/version.js';
import type { LeafHash } from '../../src/core/storage.js';
import { comparePositioned } from '../../src/storage/keyOrder.js';
import { migrations, schemaVersion } from '../../src/storage/schema.js';
import { SqliteStorage } from '../../src/storage/sqlite.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { randomInt } from '../../src/core/ports.js';
import { Prng } from '../../src/sim/random.js';
import { allEntries, naiveLeaves, storageContract } from './contract.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'quorumkv-storage-'));
}

storageContract('SqliteStorage', () => {
  const dir = tempDir();
  const storage = SqliteStorage.open(join(dir, 'data.db'), { fsync: 'periodic' });
  return {
    storage,
    cleanup: () => {
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

function entry(key: string, wallMs: number, value: string | null): Entry {
  return {
    key,
    version: formatVersion({ wallMs, counter: 0, nodeId: 'n1' }),
    value: value === null ? null : new TextEncoder().encode(value),
  };
}

/** Runs `body` with a fresh temp dir that is removed afterwards. */
async function inTempDir(body: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One random write of `key` to every store, chosen on what `mirror` (one of them) holds: a drop or a
 * purge of that, or a new value or tombstone at `wallMs`. Returns the wall time the next write takes.
 */
function writeRandomly(random: Prng, mirror: MemoryStorage, stores: readonly (MemoryStorage | SqliteStorage)[], key: string, wallMs: number): number {
  const held = mirror.get(key);
  const roll = random.next();
  if (held !== undefined && roll < 0.15) {
    for (const store of stores) store.dropEntry(held.key, held.version);
  } else if (held !== undefined && held.value === null && roll < 0.3) {
    for (const store of stores) store.purgeTombstone(held.key, held.version, wallMs);
  } else {
    const written = entry(key, wallMs, roll < 0.5 ? null : `v${wallMs}`);
    for (const store of stores) store.apply(written);
    return wallMs + 1;
  }
  return wallMs;
}

const xor32 = (values: readonly number[]) => values.reduce((x, value) => (x ^ value) >>> 0, 0);

const fixture = fileURLToPath(new URL('./fixtures/apply-then-wait.ts', import.meta.url));
/** The project root, so that `--import tsx` resolves whatever directory the tests run from. */
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const childTimeoutMs = 30_000;

/** Starts the fixture, waits for 'committed', kills it with SIGKILL and waits for it to exit. */
async function applyThenKill(path: string, count: number, fsync: 'commit' | 'periodic'): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, String(count), fsync], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('committed')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`fixture exited (${code}) before committing: ${stderr}`)));
      timer = setTimeout(() => reject(new Error(`fixture did not commit within ${childTimeoutMs} ms: ${stderr}`)), childTimeoutMs);
    });
  } finally {
    clearTimeout(timer);
    // SIGKILL gives SQLite no chance to finish anything: only what COMMIT already wrote survives.
    child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL');
}

describe('SqliteStorage', () => {
  it('creates the directory of the database file', () =>
    inTempDir((dir) => {
      const path = join(dir, 'nested', 'deeper', 'data.db');
      const storage = SqliteStorage.open(path, { fsync: 'commit' });
      storage.apply(entry('a', 1, 'v'));
      storage.close();
      assert.ok(existsSync(path));
    }));

  it('keeps everything across close and reopen', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      const first = SqliteStorage.open(path, { fsync: 'commit' });
      first.apply(entry('a', 1, 'one'));
      first.apply(entry('b', 1, null));
      first.apply(entry('gone', 1, null));
      first.purgeTombstone('gone', entry('gone', 1, null).version, 77);
      first.apply(entry('empty', 1, ''));
      first.addHint('peer', entry('a', 1, 'one'), 10);
      first.setMeta('ring', 'r1');
      const observe = (storage: SqliteStorage) => ({
        entries: storage.scan(null, 100),
        leaves: storage.leafHashes(0, leafCount - 1),
        floor: storage.purgeFloor('gone'),
        hints: storage.hintsFor('peer', 10),
        meta: storage.getMeta('ring'),
        counts: storage.counts(),
      });
      const before = observe(first);
      first.close();
      const second = SqliteStorage.open(path, { fsync: 'periodic' });
      try {
        assert.deepEqual(observe(second), before);
        assert.deepEqual(second.get('empty')?.value, new Uint8Array(0));
        // Hint ids keep increasing after a reopen.
        second.addHint('peer', entry('b', 1, null), 11);
        const ids = second.hintsFor('peer', 10).map((hint) => hint.id);
        assert.ok((ids[1] as number) > (ids[0] as number));
      } finally {
        second.close();
      }
    }));

  it('runs in WAL mode at the current schema version', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      SqliteStorage.open(path, { fsync: 'commit' }).close();
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.pragma('user_version', { simple: true }), schemaVersion);
      } finally {
        db.close();
      }
    }));

  it('syncs every commit with fsync commit, and leaves it to checkpoints with fsync periodic', () =>
    inTempDir((dir) => {
      for (const [fsync, synchronous] of [
        ['commit', 2],
        ['periodic', 1],
      ] as const) {
        const storage = SqliteStorage.open(join(dir, `${fsync}.db`), { fsync });
        try {
          assert.deepEqual(storage.durability(), { journalMode: 'wal', synchronous });
        } finally {
          storage.close();
        }
      }
    }));

  it('with deferCommitSync, runs synchronous NORMAL and calls back once commits are synced', () =>
    inTempDir(async (dir) => {
      const storage = SqliteStorage.open(join(dir, 'data.db'), { fsync: 'commit', deferCommitSync: true });
      try {
        assert.deepEqual(storage.durability(), { journalMode: 'wal', synchronous: 1 });
        assert.equal(storage.durable, true);
        storage.transaction(() => storage.get('a'));
        assert.equal(storage.durable, true, 'a transaction that only reads leaves nothing to sync');
        storage.apply(entry('a', 1, 'one'));
        assert.equal(storage.durable, false);
        const first = storage.commitGeneration;
        const order: string[] = [];
        const synced = new Promise<void>((resolve) => storage.whenDurable(() => (order.push('first'), resolve())));
        storage.apply(entry('b', 1, 'two'));
        assert.equal(storage.commitGeneration, first + 1);
        const second = new Promise<void>((resolve) => storage.whenDurable(() => (order.push('second'), resolve())));
        await Promise.all([synced, second]);
        assert.deepEqual(order, ['first', 'second']);
        assert.equal(storage.durable, true);
        let now = false;
        storage.whenDurable(() => (now = true));
        assert.equal(now, true, 'calls back at once when nothing waits for a sync');
      } finally {
        storage.close();
      }
    }));

  it('with checkpointInBackground, leaves checkpoints to another connection and keeps the data', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      const storage = SqliteStorage.open(path, { fsync: 'commit', deferCommitSync: true, checkpointInBackground: true });
      try {
        for (let i = 0; i < 100; i++) storage.apply(entry(`k${i}`, 1, 'x'.repeat(100)));
      } finally {
        storage.close();
      }
      const reopened = SqliteStorage.open(path, { fsync: 'commit' });
      try {
        assert.deepEqual(reopened.counts(), { live: 100, tombstones: 0 });
      } finally {
        reopened.close();
      }
    }));

  it('with checkpointInBackground, starts the write-ahead log over under a steady write load', () =>
    inTempDir(async (dir) => {
      // A background checkpoint alone rarely lets the log start over while commits keep coming, and
      // the log grows by every page written until it does (checkpointer.ts); the writer helps.
      const path = join(dir, 'data.db');
      const storage = SqliteStorage.open(path, { fsync: 'commit', deferCommitSync: true, checkpointInBackground: true, checkpointIntervalMs: 20, walRestartFrames: 64 });
      const walBytes = () => statSync(`${path}-wal`).size;
      let written = 0;
      try {
        const end = Date.now() + 1000;
        while (Date.now() < end) {
          // Commits back to back for 10 ms, as a busy node does, then an event-loop turn.
          const turnEnd = Date.now() + 10;
          while (Date.now() < turnEnd) {
            storage.transaction(() => {
              for (let i = 0; i < 10; i++) storage.apply(entry(`k${written++}`, 1, 'x'.repeat(100)));
            });
            storage.whenDurable(() => {});
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        // Each transaction dirties a couple of pages per entry (random ring positions), and a log that
        // never started over holds every one of them: about 10 KiB per entry written here, against
        // 1-2 KiB when it starts over.
        assert.ok(walBytes() < 6144 * written, `a ${walBytes()} B log after ${written} entries`);
      } finally {
        storage.close();
      }
    }));

  it('lets the reads of one event-loop turn share a read transaction that hides no commit and ends with the turn', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'data.db');
      const storage = SqliteStorage.open(path, { fsync: 'commit', deferCommitSync: true, checkpointInBackground: true, checkpointIntervalMs: 20, walRestartFrames: 64 });
      const other = new Database(path);
      const text = (key: string) => {
        const value = storage.get(key)?.value;
        return value ? new TextDecoder().decode(value) : undefined;
      };
      try {
        const end = Date.now() + 500;
        for (let turn = 1; Date.now() < end; turn++) {
          assert.equal(text('k'), turn === 1 ? undefined : String(turn - 1), 'a lone read sees the last commit');
          storage.apply(entry('k', turn, String(turn)));
          assert.equal(text('k'), String(turn), 'and one made after it, in the same turn');
          await new Promise((resolve) => setImmediate(resolve));
        }
        assert.equal(text('k') !== undefined, true);
        await new Promise((resolve) => setImmediate(resolve));
        // A truncating checkpoint waits for no reader: the turn's read transaction has ended. It is
        // refused for a moment while the background checkpointer runs one of its own, so it is tried
        // again, without yielding: no further turn of this event loop can end a read left open.
        const until = Date.now() + 2000;
        let result: { busy: number } | undefined;
        do [result] = other.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
        while (result?.busy !== 0 && Date.now() < until);
        assert.equal(result?.busy, 0, 'no read transaction left open after the turn');
      } finally {
        other.close();
        storage.close();
      }
    }));

  it('rebuilds its anti-entropy leaves in memory when it opens, counting the writes made meanwhile', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'data.db');
      const key = (i: number) => `k${String(i).padStart(5, '0')}`;
      const first = SqliteStorage.open(path, { fsync: 'periodic' });
      first.transaction(() => {
        for (let i = 0; i < 12_000; i++) first.apply(entry(key(i), 1, 'v')); // more than one rebuild step
      });
      first.close();
      const storage = SqliteStorage.open(path, { fsync: 'periodic' });
      try {
        const check = (when: string) => {
          const leaves = naiveLeaves(allEntries(storage, 1000));
          assert.deepEqual(storage.leafHashes(0, leafCount - 1), leaves, when);
          // The hash of a run of leaves agrees with them, read from the entries or from the leaf table.
          const run = leaves.slice(10, 40);
          const [first, last] = [(run[0] as LeafHash).leaf, (run[run.length - 1] as LeafHash).leaf];
          const xor = (part: readonly LeafHash[], pick: (leaf: LeafHash) => number) => part.reduce((x, leaf) => (x ^ pick(leaf)) >>> 0, 0);
          assert.deepEqual(storage.leafRangeHash(first, last), { h1: xor(run, (l) => l.h1), h2: xor(run, (l) => l.h2) }, when);
          // Entries read by ring position (from the whole table, or through the leaves' keys) are the
          // stored ones, in (position, key) order, page by page, and so are their hashes.
          const stored = allEntries(storage, 1000)
            .map((held) => ({ held, position: ringPosition(held.key) }))
            .sort((a, b) => comparePositioned({ position: a.position, key: a.held.key }, { position: b.position, key: b.held.key }));
          for (const [start, end] of [[0, ringSize], [leafSpan * 7 + 3, leafSpan * 300 - 5], [leafSpan * 9 + 100, leafSpan * 9 + 30_000]] as const) {
            const expected = stored.filter(({ position }) => position >= start && position < end);
            const paged: { entry: Entry; position: number }[] = [];
            for (let page = storage.scanPositions(start, end, 997); ; ) {
              paged.push(...page);
              if (page.length < 997) break;
              const last = page[page.length - 1] as { entry: Entry; position: number };
              page = storage.scanPositions(start, end, 997, { position: last.position, key: last.entry.key });
            }
            assert.deepEqual(paged.map(({ entry, position }) => [entry, position]), expected.map(({ held, position }) => [held, position]), `${when}: [${start}, ${end})`);
            const hashes = expected.map(({ held }) => itemHash(held.key, held.version));
            assert.deepEqual(storage.hashPositions(start, end), { h1: xor32(hashes.map(([h1]) => h1)), h2: xor32(hashes.map(([, h2]) => h2)) }, `${when}: [${start}, ${end})`);
          }
        };
        assert.equal(storage.leavesBuilt, false, 'the first step counts only the first keys');
        check('while rebuilding, leaves are hashed from the entries');
        // Writes on both sides of the rebuild's cursor: the first keys are counted, the last ones not yet.
        storage.transaction(() => {
          for (const k of [key(1), key(11_999), 'a-new', 'z-new']) storage.apply(entry(k, 2, 'newer'));
          for (const k of [key(2), key(11_998)]) storage.apply(entry(k, 2, null));
        });
        for (const k of [key(2), key(11_998)]) assert.ok(storage.purgeTombstone(k, entry(k, 2, null).version, 10));
        for (const k of [key(3), key(11_997)]) assert.ok(storage.dropEntry(k, entry(k, 1, 'v').version));
        assert.throws(
          () =>
            storage.transaction(() => {
              for (const k of [key(4), key(11_996), 'a-gone']) storage.apply(entry(k, 3, 'rolled back'));
              throw new Error('abort');
            }),
          /abort/,
        );
        check('during the rebuild, after writes');
        while (!storage.leavesBuilt) await new Promise((resolve) => setImmediate(resolve));
        check('once rebuilt');
        storage.apply(entry(key(5), 4, 'after'));
        storage.dropEntry(key(6), entry(key(6), 1, 'v').version);
        check('rebuilt, after more writes');
      } finally {
        storage.close();
      }
    }));

  it('reads ranges of ring positions as a MemoryStorage given the same writes does, through rebuilds and rollbacks', () =>
    inTempDir(async (dir) => {
      // The leaf table's keys (ringKeys.ts) stand in for an index: they must follow every write the
      // database keeps, and none it rolls back, before the rebuild has counted a key and after.
      const random = new Prng(1401);
      const path = join(dir, 'data.db');
      const key = (i: number) => `k${String(i).padStart(5, '0')}${i % 7 === 0 ? 'é€' : ''}`;
      const keyCount = 14_000; // the rebuild counts 5,000 rows a step: it runs while the writes do
      const mirror = new MemoryStorage();
      const first = SqliteStorage.open(path, { fsync: 'periodic' });
      first.transaction(() => {
        for (let i = 0; i < keyCount; i += 2) for (const store of [first, mirror]) store.apply(entry(key(i), 1, 'v'));
      });
      first.close();
      const storage = SqliteStorage.open(path, { fsync: 'periodic' });
      const stores = [storage, mirror];
      let wallMs = 2;
      const step = () => {
        wallMs = writeRandomly(random, mirror, stores, key(randomInt(random, keyCount)), wallMs);
      };
      const compare = (when: string) => {
        for (let check = 0; check < 4; check++) {
          const start = check === 0 ? 0 : randomInt(random, ringSize);
          const end = check === 0 ? ringSize : Math.min(ringSize, start + randomInt(random, leafSpan * 64));
          assert.deepEqual(storage.scanPositions(start, end, 10_000), mirror.scanPositions(start, end, 10_000), `${when}: [${start}, ${end})`);
          assert.deepEqual(storage.hashPositions(start, end), mirror.hashPositions(start, end), `${when}: hash of [${start}, ${end})`);
        }
        assert.deepEqual(storage.leafHashes(0, leafCount - 1), mirror.leafHashes(0, leafCount - 1), `${when}: leaves`);
      };
      try {
        assert.equal(storage.leavesBuilt, false);
        for (let round = 0; round < 40; round++) {
          const rolledBack = random.next() < 0.3;
          try {
            const run = () => {
              for (let n = 0; n < 25; n++) step();
              if (rolledBack) throw new Error('abort');
            };
            // Both stores roll back what the transaction did, as they must.
            storage.transaction(() => mirror.transaction(run));
          } catch (error) {
            assert.equal((error as Error).message, 'abort');
          }
          if (round % 4 === 3) compare(`round ${round} (${storage.leavesBuilt ? 'built' : 'rebuilding'})`);
          await new Promise((resolve) => setImmediate(resolve)); // the rebuild takes a step
        }
        assert.equal(storage.leavesBuilt, true, 'the rounds outlasted the rebuild');
        compare('at the end');
      } finally {
        storage.close();
      }
    }));

  it('reads a key as a MemoryStorage given the same writes does, through its read cache and rollbacks', () =>
    inTempDir((dir) => {
      // The read cache (readCache.ts) must forget a key at every write to it, and keep no row a
      // transaction wrote, which a rollback takes back. Few keys, so that reads hit it often; a small
      // cache, so that it drops entries too.
      const random = new Prng(1501);
      const storage = SqliteStorage.open(join(dir, 'data.db'), { fsync: 'periodic', readCacheBytes: 20 * 400 });
      const mirror = new MemoryStorage();
      const stores = [storage, mirror];
      const key = (i: number) => `key-${i}${i % 3 === 0 ? '-with-a-longer-name' : ''}`;
      const keyCount = 60;
      let wallMs = 1;
      const read = (when: string) => {
        const k = key(randomInt(random, keyCount));
        assert.deepEqual(storage.get(k), mirror.get(k), `${when}: ${k}`);
      };
      const write = () => {
        wallMs = writeRandomly(random, mirror, stores, key(randomInt(random, keyCount)), wallMs);
      };
      try {
        for (let round = 0; round < 400; round++) {
          for (let n = randomInt(random, 6); n > 0; n--) read(`round ${round}, outside`);
          const rolledBack = random.next() < 0.3;
          try {
            storage.transaction(() =>
              mirror.transaction(() => {
                for (let n = 1 + randomInt(random, 5); n > 0; n--) {
                  if (random.next() < 0.5) write();
                  read(`round ${round}, inside`);
                }
                if (rolledBack) throw new Error('abort');
              }),
            );
          } catch (error) {
            assert.equal((error as Error).message, 'abort');
          }
        }
        for (let i = 0; i < keyCount; i++) assert.deepEqual(storage.get(key(i)), mirror.get(key(i)), `at the end: ${key(i)}`);
      } finally {
        storage.close();
      }
    }));

  it('refuses a database written by a newer schema', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      SqliteStorage.open(path, { fsync: 'commit' }).close();
      const db = new Database(path);
      db.pragma(`user_version = ${schemaVersion + 1}`);
      db.close();
      assert.throws(() => SqliteStorage.open(path, { fsync: 'commit' }), new RegExp(`schema version ${schemaVersion + 1}`));
    }));

  it('upgrades a schema 1 database (before key expiry) and keeps its rows', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      const old = new Database(path);
      old.exec(migrations[0] as string);
      old.pragma('user_version = 1');
      old.prepare("INSERT INTO entries (key, position, version, value, h1, h2) VALUES ('a', 1, ?, x'76', 1, 2)").run(entry('a', 1, 'v').version);
      old.prepare("INSERT INTO hints (target, key, version, value, created_ms) VALUES ('t', 'a', ?, x'76', 5)").run(entry('a', 1, 'v').version);
      old.close();
      const storage = SqliteStorage.open(path, { fsync: 'commit' });
      try {
        assert.deepEqual(storage.get('a'), entry('a', 1, 'v'));
        assert.deepEqual(storage.hintsFor('t', 1)[0]?.entry, entry('a', 1, 'v'));
        storage.apply({ ...entry('b', 1, 'w'), expiresMs: 1234 });
        assert.equal(storage.get('b')?.expiresMs, 1234);
      } finally {
        storage.close();
      }
    }));

  it('upgrades a schema 3 database: drops the index by ring position and reads ranges through the leaves', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      const old = new Database(path);
      for (const migration of migrations.slice(0, 3)) old.exec(migration);
      old.pragma('user_version = 3');
      const insert = old.prepare('INSERT INTO entries (key, position, version, value, h1, h2) VALUES (?, ?, ?, ?, ?, ?)');
      const written = ['a', 'b', 'c'].map((key) => entry(key, 1, key));
      for (const held of written) insert.run(held.key, ringPosition(held.key), held.version, Buffer.from(held.value ?? []), ...itemHash(held.key, held.version));
      old.close();
      const storage = SqliteStorage.open(path, { fsync: 'commit' });
      try {
        const indexes = new Database(path, { readonly: true });
        try {
          const names = indexes.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'").pluck().all();
          assert.equal(names.includes('entries_by_position'), false, `indexes: ${names.join(', ')}`);
        } finally {
          indexes.close();
        }
        assert.equal(storage.leavesBuilt, true);
        const byPosition = [...written].sort((x, y) => ringPosition(x.key) - ringPosition(y.key));
        assert.deepEqual(storage.scanPositions(0, ringSize, 10).map(({ entry: held }) => held), byPosition);
      } finally {
        storage.close();
      }
    }));

  it('upgrades a schema 5 database: keeps its consensus state, with no index on it (schema 6 had one)', () =>
    inTempDir((dir) => {
      const path = join(dir, 'data.db');
      const old = new Database(path);
      for (const migration of migrations.slice(0, 5)) old.exec(migration);
      old.pragma('user_version = 5');
      const ballot = (ms: number) => formatVersion({ wallMs: ms, counter: 0, nodeId: 'n1' });
      old.prepare('INSERT INTO paxos (key, promised, committed) VALUES (?, ?, ?)').run('old', ballot(10), ballot(9));
      old.prepare('INSERT INTO paxos (key, promised) VALUES (?, ?)').run('new', ballot(30));
      old.close();
      const storage = SqliteStorage.open(path, { fsync: 'commit' });
      try {
        assert.deepEqual(storage.paxosState('old'), { promised: ballot(10), committed: ballot(9) });
        const db = new Database(path, { readonly: true });
        try {
          assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'paxos'").pluck().all(), []);
        } finally {
          db.close();
        }
        assert.deepEqual(storage.expirePaxosStates(ballot(20), '', 10), { forgotten: 1, next: undefined });
        assert.equal(storage.paxosState('old'), undefined);
        assert.deepEqual(storage.paxosState('new'), { promised: ballot(30) });
      } finally {
        storage.close();
      }
    }));

  it('sync checkpoints the WAL and fileSizeBytes counts the files', () =>
    inTempDir((dir) => {
      const storage = SqliteStorage.open(join(dir, 'data.db'), { fsync: 'periodic' });
      try {
        for (let i = 0; i < 100; i++) storage.apply(entry(`k${i}`, 1, 'x'.repeat(100)));
        storage.sync();
        assert.ok(storage.fileSizeBytes() > 100 * 100);
        assert.throws(() => storage.transaction(() => storage.sync()));
      } finally {
        storage.close();
      }
    }));

  for (const fsync of ['commit', 'periodic'] as const) {
    it(`keeps a committed transaction when the process is killed, and checkpoints it at open (fsync ${fsync})`, () =>
      inTempDir(async (dir) => {
        const path = join(dir, 'data.db');
        const count = 500;
        await applyThenKill(path, count, fsync);
        const walBytes = () => statSync(`${path}-wal`).size;
        assert.ok(walBytes() > 0, 'the killed process left its commits in the log');
        const storage = SqliteStorage.open(path, { fsync });
        try {
          // In the database file and synced, not left in a log whose pages a failed fdatasync may
          // have left in the page cache only (checkpointWhatSurvived).
          assert.equal(walBytes(), 0);
          assert.deepEqual(storage.counts(), { live: count, tombstones: 0 });
          assert.deepEqual(storage.get(`key-${count - 1}`), {
            key: `key-${count - 1}`,
            version: formatVersion({ wallMs: 1000 + count - 1, counter: 0, nodeId: 'child' }),
            value: new TextEncoder().encode(`value-${count - 1}`),
          });
          assert.equal(storage.hintsFor('peer', 10).length, 1);
          assert.equal(storage.getMeta('written'), String(count));
        } finally {
          storage.close();
        }
      }));
  }
});
