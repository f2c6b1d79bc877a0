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

test('a failed fdatasync on this thread stops the node, and nothing it failed to sync is reported durable by a later one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-walsync-'));
  let failNext = true;
  const syncFile = () => {
    if (!failNext) return;
    failNext = false;
    throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  };
  const stopped: Error[] = [];
  const wal = new WalSync(join(dir, 'db-wal'), true, syncFile, (_fd, done) => setImmediate(() => done(null)), (error) => stopped.push(error));
  try {
    writeFileSync(join(dir, 'db-wal'), 'frames');
    wal.committed();
    // A write waits for its commit, whose sync (the clock's ceiling, on this thread) fails.
    assert.throws(() => wal.syncNow(), /fdatasync of the write-ahead log failed: EIO/);
    assert.equal(stopped.length, 1, 'the node is stopped');
    assert.match(stopped[0]?.message ?? '', /fdatasync of the write-ahead log failed/);
    // Were it to go on, a later sync would succeed (the kernel marked the pages clean) and release the
    // acknowledgements held for that commit: every later call fails instead.
    let acknowledged = false;
    assert.throws(() => wal.whenDurable(() => (acknowledged = true)), /fdatasync of the write-ahead log failed/);
    assert.throws(() => wal.syncNow(), /fdatasync of the write-ahead log failed/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(acknowledged, false);
    assert.equal(wal.durable, false);
  } finally {
    wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed fdatasync off this thread stops the node and releases none of its waiters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-walsync-'));
  let finish: ((error: Error | null) => void) | undefined;
  const stopped: Error[] = [];
  const wal = new WalSync(join(dir, 'db-wal'), true, () => {}, (_fd, done) => (finish = done), (error) => stopped.push(error));
  try {
    writeFileSync(join(dir, 'db-wal'), 'frames');
    wal.committed();
    let acknowledged = false;
    wal.whenDurable(() => (acknowledged = true));
    assert.throws(() => finish?.(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })), /write-ahead log failed: EIO/);
    assert.equal(stopped.length, 1);
    assert.equal(acknowledged, false);
    assert.throws(() => wal.syncNow(), /write-ahead log failed/);
    assert.equal(acknowledged, false);
  } finally {
    wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
