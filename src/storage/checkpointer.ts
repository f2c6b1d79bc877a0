// WAL checkpoints on a worker thread with its own connection, instead of inside the commits of the
// node's connection: a checkpoint copies up to a thousand pages and syncs twice, which would otherwise
// stall the event loop several times a second under a steady write load. WAL mode lets it run beside
// the writer. If the worker fails, the caller turns SQLite's own checkpoints on commit back on.
//
// A checkpoint beside a busy writer never lets the WAL start over: SQLite rewinds the log only when a
// writer begins while every frame is already in the database, and under a steady load the writer has
// always appended more since the checkpoint began. The log would grow by every page ever written
// (hundreds of MB in a benchmark minute), each frame extending the file (zeroed pages, block
// allocation, a journal commit in every fdatasync). So the worker reports each checkpoint, and the
// writer's owner finishes the job itself once the log is long: see SqliteStorage.startCheckpointer.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the checkpointer looks for WAL frames to copy into the database, by default. */
export const defaultCheckpointIntervalMs = 200;

/** Checkpoints failed in a row before the thread counts as failed (at the default interval, 10 s). */
const failuresReported = 50;

// The thread's code: a plain script, so it runs the same from dist/ and under tsx.
const checkpointerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
db.pragma('synchronous = NORMAL'); // syncs the WAL before, and the database after, each checkpoint
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let failures = 0;
const timer = setInterval(() => {
  let row;
  try {
    row = checkpoint.get();
  } catch (error) {
    // Busy or closing: try again next time. Failing for ${failuresReported} times in a row is not that.
    if (++failures === ${failuresReported}) parentPort.postMessage({ failure: String(error && error.message || error) });
    return;
  }
  failures = 0;
  if (row.busy === 0 && row.log > 0) parentPort.postMessage({ logFrames: row.log });
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/** What one background checkpoint found: the frames in the log (all of them now in the database). */
export interface CheckpointReport {
  readonly logFrames: number;
}

export interface Checkpointer {
  /**
   * Tells the thread to close its connection; resolves once it has exited. Until then it may still
   * touch the database's files (closing the last connection removes the log), so whoever removes
   * them waits for this.
   */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing the database at `path`; `onReport` hears of each checkpoint that copied
 * frames, and `onFailure` runs if the thread dies.
 */
export function startCheckpointer(
  path: string,
  intervalMs: number,
  onReport: (report: CheckpointReport) => void,
  onFailure: (error: Error) => void,
): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(checkpointerSource, { eval: true, workerData: { module, path, intervalMs } });
  worker.unref();
  worker.on('message', (message: CheckpointReport | { failure: string }) => {
    if ('failure' in message) onFailure(new Error(`background checkpoints keep failing: ${message.failure}`));
    else onReport(message);
  });
  worker.on('error', onFailure);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop: () => {
      worker.ref(); // the process now waits for the thread's exit, which stop's caller awaits
      worker.postMessage('close');
      return exited;
    },
  };
}
