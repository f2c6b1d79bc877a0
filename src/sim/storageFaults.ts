// Storage failures that roll back while the node keeps running: what SQLITE_FULL or SQLITE_IOERR on a
// write does to a real node. The simulator installs a fault hook in each node's MemoryStorage
// (`writeFault`): a write or commit it fails throws `SimulatedStorageFailure`, the transaction rolls
// back (nothing of it is kept, as SqliteStorage's rollback keeps nothing), and the exception leaves
// the core as the real store's error would. The cluster then does what the runtime does with an
// exception from the core (src/runtime/nodeRuntime.ts):
//   - a batch of peer messages (`receive`): logged; the rest of the batch is lost; the outbox is sent;
//   - a tick: logged; the outbox is sent;
//   - a client call (read, write, topology change): the promise rejects (the client gets an error,
//     which the history records as `info`), unless the core answered before it threw; the outbox
//     waits for the next flush;
//   - resume: the admin call fails; the node runs on, its outbox waits for the next flush;
//   - start (the constructor or `start`): the process fails to start; the node stays down.
// Two kinds: a full disk (every write on the node fails for a while) and a single failing write.

/** The error a failed storage write throws, named like the SQLite result code it stands for. */
export class SimulatedStorageFailure extends Error {
  override name = 'SimulatedStorageFailure';
  constructor(
    readonly code: 'SQLITE_FULL' | 'SQLITE_IOERR',
    readonly phase: 'write' | 'commit',
  ) {
    super(`${code}: ${code === 'SQLITE_FULL' ? 'database or disk is full' : 'disk I/O error'} (${phase})`);
  }
}

/** A node's pending storage faults. */
export interface StorageFaultState {
  /** Every write fails before this virtual time (the disk is full). */
  fullUntilMs: number;
  /** Storage writes and commits left before a single one fails; undefined when none is armed. */
  failCountdown: number | undefined;
}

/** Throws if a write (or commit) of this node's storage fails now. */
export function strikeStorage(state: StorageFaultState, nowMs: number, phase: 'write' | 'commit'): void {
  if (nowMs < state.fullUntilMs) throw new SimulatedStorageFailure('SQLITE_FULL', phase);
  if (state.failCountdown === undefined) return;
  state.failCountdown -= 1;
  if (state.failCountdown > 0) return;
  state.failCountdown = undefined;
  throw new SimulatedStorageFailure('SQLITE_IOERR', phase);
}
