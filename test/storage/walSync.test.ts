// WalSync on its own: when syncNow reaches the disk. Under fsync 'periodic' SQLite leaves commits
// unsynced until the periodic sync, so a caller that needs one durable now (the clock's ceiling) must
// get an fdatasync anyway: it returned at once, the counts saying all was durable (found in review).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WalSync } from '../../src/storage/walSync.js';

/** A WalSync over a log file in a fresh directory, one commit made, counting its syncs. */
function withCommit(deferred: boolean, run: (wal: WalSync, syncs: () => number) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-walsync-'));
  let count = 0;
  const wal = new WalSync(join(dir, 'db-wal'), deferred, () => (count += 1));
  try {
    writeFileSync(join(dir, 'db-wal'), 'frames');
    wal.committed();
    run(wal, () => count);
  } finally {
    wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('commits SQLite syncs itself need no sync; `always` syncs what SQLite left unsynced', () =>
  withCommit(false, (wal, syncs) => {
    assert.equal(wal.durable, true);
    wal.syncNow();
    assert.equal(syncs(), 0, 'synchronous = FULL: SQLite synced the commit');
    wal.syncNow(true);
    assert.equal(syncs(), 1, "fsync 'periodic': synced now, not at the next periodic sync");
  }));

test('deferred commits are synced by syncNow, once', () =>
  withCommit(true, (wal, syncs) => {
    assert.equal(wal.durable, false);
    wal.syncNow();
    wal.syncNow();
    assert.equal(syncs(), 1);
    assert.equal(wal.durable, true);
  }));

test('an fdatasync under way reports how long it has run, and its duration once done', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-walsync-'));
  let finish: ((error: Error | null) => void) | undefined;
  const wal = new WalSync(join(dir, 'db-wal'), true, () => {}, (_fd, done) => (finish = done));
  const durations: number[] = [];
  wal.onSynced = (seconds) => durations.push(seconds);
  try {
    writeFileSync(join(dir, 'db-wal'), 'frames');
    wal.committed();
    assert.equal(wal.syncRunningMs(), 0, 'no sync yet');
    let acknowledged = false;
    wal.whenDurable(() => (acknowledged = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(wal.syncRunningMs() >= 25, `a disk that does not answer: ${wal.syncRunningMs()} ms`);
    assert.equal(acknowledged, false);
    finish?.(null);
    assert.equal(acknowledged, true);
    assert.equal(wal.syncRunningMs(), 0);
    assert.equal(durations.length, 1);
    assert.ok((durations[0] as number) >= 0.025);
  } finally {
    wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
