// WAL checkpoints on a worker thread with its own connection, instead of inside the commits of the
// node's connection: a checkpoint copies up to a thousand pages and syncs twice, which would otherwise
// stall the event loop several times a second under a steady write load. WAL mode lets it run beside
// the writer. If the worker fails, the caller turns SQLite's own checkpoints on commit back on.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the checkpointer looks for WAL frames to copy into the database. */
const checkpointIntervalMs = 200;

// The thread's code: a plain script, so it runs the same from dist/ and under tsx.
const checkpointerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
db.pragma('synchronous = NORMAL'); // syncs the WAL before, and the database after, each checkpoint
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try { checkpoint.run(); } catch { /* busy or closing: try again next time */ }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  /** Tells the thread to close its connection (not waited for). */
  stop(): void;
}

/** Starts checkpointing the database at `path`; `onFailure` runs if the thread dies. */
export function startCheckpointer(path: string, onFailure: () => void): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(checkpointerSource, { eval: true, workerData: { module, path, intervalMs: checkpointIntervalMs } });
  worker.unref();
  worker.on('error', onFailure);
  return { stop: () => worker.postMessage('close') };
}
