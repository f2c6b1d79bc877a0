// WalSync on its own: when syncNow reaches the disk. Under fsync 'periodic' SQLite leaves commits
// unsynced until the periodic sync, so a caller that needs one durable now (the clock's ceiling) must
// get an fdatasync anyway: it returned at once, the counts saying all was durable (found in review).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WalSync } from '../../src/storage/walSync.js';

function withLog(run: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-walsync-'));
  try {
    const path = join(dir, 'db-wal');
    writeFileSync(path, 'frames');
    run(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('commits SQLite syncs itself need no sync; `always` syncs what SQLite left unsynced', () =>
  withLog((path) => {
    let syncs = 0;
    const wal = new WalSync(path, false, () => (syncs += 1));
    wal.committed();
    assert.equal(wal.durable, true);
    wal.syncNow();
    assert.equal(syncs, 0, 'synchronous = FULL: SQLite synced the commit');
    wal.syncNow(true);
    assert.equal(syncs, 1, "fsync 'periodic': synced now, not at the next periodic sync");
    wal.close();
  }));

test('deferred commits are synced by syncNow, once', () =>
  withLog((path) => {
    let syncs = 0;
    const wal = new WalSync(path, true, () => (syncs += 1));
    wal.committed();
    assert.equal(wal.durable, false);
    wal.syncNow();
    wal.syncNow();
    assert.equal(syncs, 1);
    assert.equal(wal.durable, true);
    wal.close();
  }));
