// The background checkpointer's thread: a failure reaches its owner, with the reason.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatVersion } from '../../src/core/version.js';
import { startCheckpointer } from '../../src/storage/checkpointer.js';
import { SqliteStorage } from '../../src/storage/sqlite.js';

describe('background checkpointer', () => {
  it('tells its owner why its thread died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorumkv-checkpointer-'));
    try {
      const failure = await new Promise<Error>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no failure reported within 10 s')), 10_000);
        // A database in a directory that does not exist: the thread cannot open it.
        startCheckpointer(join(dir, 'missing', 'x.db'), 50, () => undefined, (error) => {
          clearTimeout(timer);
          resolve(error);
        });
      });
      assert.match(failure.message, /directory does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('copies the log into the database of a working store, and reports nothing amiss', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorumkv-checkpointer-'));
    const path = join(dir, 'q.db');
    const failures: Error[] = [];
    const storage = SqliteStorage.open(path, {
      fsync: 'periodic',
      checkpointInBackground: true,
      checkpointIntervalMs: 20,
      onCheckpointerFailure: (error) => failures.push(error),
    });
    try {
      const before = statSync(path).size;
      for (let i = 0; i < 200; i++) {
        const version = formatVersion({ wallMs: 1_000 + i, counter: 0, nodeId: 'n1' });
        storage.transaction(() => storage.apply({ key: `k${i}`, version, value: new Uint8Array(100) }));
      }
      // fsync 'periodic' and no sync(): only the thread copies pages into the database file.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(failures, []);
      assert.ok(statSync(path).size >= before + 200 * 100, `the database file grew from ${before} to ${statSync(path).size} bytes`);
    } finally {
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is done with the files once the store says it is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorumkv-checkpointer-'));
    try {
      const storage = SqliteStorage.open(join(dir, 'q.db'), { fsync: 'commit', checkpointInBackground: true });
      storage.transaction(() => storage.apply({ key: 'k', version: formatVersion({ wallMs: 1_000, counter: 0, nodeId: 'n1' }), value: null }));
      await new Promise((resolve) => setTimeout(resolve, 500)); // the thread has opened the database
      storage.close();
      await storage.whenClosed();
      // The last connection to close removes the log and its index: both connections are gone.
      assert.deepEqual(readdirSync(dir), ['q.db']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
