// Commits that return before they are on disk, and a way to wait until they are: 'fsync commit'
// without stopping the event loop for every fsync.
//
// SQLite runs with synchronous = NORMAL (which keeps the database consistent across power loss,
// syncing at checkpoints); the store counts its writing commits (generations), and `whenDurable`
// fdatasyncs the write-ahead log on libuv's thread pool. The event loop goes on (and commits more)
// while the disk syncs, and one fdatasync covers every commit made before it started (group commit).
// An owner that acknowledges nothing before `whenDurable` calls back is as durable as with
// synchronous = FULL. The node runtime holds back its messages this way (runtime/nodeRuntime.ts).

import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { assert } from '../core/assert.js';

/** fdatasync on libuv's thread pool, calling back with its error or null. */
export type AsyncSync = (fd: number, done: (error: Error | null) => void) => void;

export class WalSync {
  /** Committed transactions that wrote; `synced` is the last one known to be on disk. */
  private committedCount = 0;
  private synced = 0;
  private syncing = false;
  private readonly waiters: { readonly generation: number; readonly callback: () => void }[] = [];
  private fd: number | undefined;
  private closed = false;
  /** The first fdatasync that failed: nothing is reported durable after it (see `fail`). */
  private failure: Error | undefined;
  /** When the fdatasync under way started (performance.now()), for `syncRunningMs`. */
  private syncStartedAt: number | undefined;
  /** Told how long each fdatasync off this thread took, in seconds (the node's metrics). */
  onSynced: ((seconds: number) => void) | undefined;

  /**
   * `deferred` false: SQLite syncs every commit itself (synchronous = FULL) and this only counts, or
   * nothing syncs commits before the periodic sync (fsync 'periodic'). `syncFile` is fdatasync on
   * this thread (tests count its calls); `stopProcess` is told of a failed one (tests record it).
   */
  constructor(
    private readonly walPath: string,
    private readonly deferred: boolean,
    private readonly syncFile: (fd: number) => void = fdatasyncSync,
    private readonly syncFileAsync: AsyncSync = fdatasync,
    private readonly stopProcess: (error: Error) => void = throwOutside,
  ) {}

  /** Records a commit that wrote. */
  committed(): void {
    this.committedCount += 1;
    if (!this.deferred) this.synced = this.committedCount;
  }

  /** Whether everything committed so far is on disk. */
  get durable(): boolean {
    return this.committedCount === this.synced;
  }

  /** The count of committed writing transactions; `whenDurable` callbacks are per generation. */
  get generation(): number {
    return this.committedCount;
  }

  /**
   * Calls back once every transaction committed before this call is on disk: at once when it is, or
   * after an fdatasync of the WAL (one at a time; one covers every commit made before it started).
   * A failed fdatasync throws: acknowledging writes that may not be on disk is never an option.
   */
  whenDurable(callback: () => void): void {
    assert(!this.closed, 'storage is closed');
    if (this.failure) throw this.failure;
    if (this.durable) return callback();
    assert(this.deferred, 'commits are synced by SQLite unless deferCommitSync is set');
    this.waiters.push({ generation: this.committedCount, callback });
    this.startSync();
  }

  /**
   * Makes every commit so far durable before returning (blocking this thread for one fdatasync).
   * `always`: sync even when the counts say there is nothing to, for commits that SQLite itself left
   * unsynced (synchronous = NORMAL without deferral: fsync 'periodic').
   */
  syncNow(always = false): void {
    assert(!this.closed, 'storage is closed');
    if (this.failure) throw this.failure;
    if (this.durable && !always) return;
    const target = this.committedCount;
    this.fd ??= openSync(this.walPath, 'r');
    try {
      this.syncFile(this.fd);
    } catch (error) {
      this.fail(error as Error);
    }
    this.markSynced(target);
  }

  /**
   * How long the fdatasync under way has run, 0 when none does. A disk that stops answering leaves it
   * running for ever, and every message that waits for it held (the runtime warns of it).
   */
  syncRunningMs(): number {
    return this.syncStartedAt === undefined ? 0 : performance.now() - this.syncStartedAt;
  }

  /** Drops the waiters: what they would have acknowledged is not sent by a stopping node. */
  close(): void {
    this.closed = true;
    this.waiters.length = 0;
    if (this.fd !== undefined) closeSync(this.fd);
  }

  private startSync(): void {
    if (this.syncing || this.closed) return;
    this.syncing = true;
    const target = this.committedCount;
    this.fd ??= openSync(this.walPath, 'r');
    const startedAt = performance.now();
    this.syncStartedAt = startedAt;
    this.syncFileAsync(this.fd, (error) => {
      this.syncing = false;
      this.syncStartedAt = undefined;
      if (this.closed) return;
      this.onSynced?.((performance.now() - startedAt) / 1000);
      if (error) this.fail(error);
      this.markSynced(target);
      if (this.waiters.length > 0) this.startSync();
    });
  }

  /**
   * A failed fdatasync stops the node, from wherever it was called: the kernel may already have marked
   * the unsynced pages clean ("fsyncgate"), so a later fdatasync that succeeds says nothing of them, and
   * what waits for them must never be acknowledged. The synchronous path (the clock's ceiling) threw
   * to its caller, which answered one request with the error; the next asynchronous sync then released
   * the acknowledgements held for those commits (found in review). Now the error is kept, every later
   * call throws it, and it is thrown again outside any caller, where it stops the process.
   */
  private fail(cause: Error): never {
    const failure = new Error(`fdatasync of the write-ahead log failed: ${cause.message}`, { cause });
    this.failure ??= failure;
    this.waiters.length = 0;
    this.stopProcess(failure);
    throw failure;
  }

  /** Records that every commit up to `target` is on disk, and calls back the waiters it covers. */
  private markSynced(target: number): void {
    this.synced = Math.max(this.synced, target);
    while (this.waiters.length > 0 && (this.waiters[0] as { generation: number }).generation <= this.synced) {
      (this.waiters.shift() as { callback: () => void }).callback();
    }
  }
}

/** Throws `error` on its own turn of the event loop, where nothing catches it: the process stops. */
function throwOutside(error: Error): void {
  setImmediate(() => {
    throw error;
  });
}
