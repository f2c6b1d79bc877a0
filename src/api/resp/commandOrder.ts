// The order of the data commands pipelined on one RESP connection (server.ts says what it promises):
// a read waits for the earlier writes of its keys, a write for every earlier command on its keys,
// SCAN/KEYS/DBSIZE (access 'keyspace') for every earlier data command, and later data commands for
// them. Each command counts what it waits for (`waiting`); each one answered releases those that
// wait for it.

import { keyOf, keysOf } from './commands/common.js';
import type { CommandSpec } from './commands/types.js';

/** What the order needs of a command. */
export interface OrderedCall<C> {
  readonly seq: number;
  readonly args: readonly Buffer[];
  readonly spec: CommandSpec | undefined;
  /** Earlier commands this one still waits for. */
  waiting: number;
  /** Later commands that wait for this one. */
  dependents: C[] | undefined;
  /** Answered. */
  done: boolean;
}

/** Per key: the last write and the reads since, not yet known to be done. */
interface KeyLock<C> {
  writer: C | undefined;
  readers: C[];
}

const lockPruneThreshold = 1024;
const readersCompactThreshold = 64;

export class CommandOrder<C extends OrderedCall<C>> {
  /** Data commands not yet answered. */
  private outstanding = 0;
  /**
   * Per-key order among the data commands not yet answered, made only once two of them overlap and
   * dropped when none is left (see `admit`).
   */
  private locks: Map<string, KeyLock<C>> | undefined = undefined;
  /** The data command admitted while no other was outstanding: its keys are locked only if another comes. */
  private unlockedCall: C | undefined = undefined;
  private lockPruneAt = lockPruneThreshold;
  /** SCAN/KEYS/DBSIZE not yet answered, in request order. */
  private barriers: C[] = [];
  private lastBarrier: C | undefined = undefined;

  /** Takes a data command in, after every earlier one; true when it may run now. */
  admit(call: C, spec: CommandSpec): boolean {
    if (spec.access === 'keyspace') {
      // Waits for every data command before it (all of them are earlier and unanswered).
      call.waiting = this.outstanding;
      this.outstanding += 1;
      this.barriers.push(call);
      this.lastBarrier = call;
      return call.waiting === 0;
    }
    this.outstanding += 1;
    const barrier = this.lastBarrier;
    if (barrier !== undefined && !barrier.done) link(barrier, call);
    // A client that waits for each answer (most do) never has two commands outstanding, so its
    // commands need no locks. Locking every command in a table kept for the connection's life made
    // each command's objects survive the young generation's collections: at 18,000 reads/s a node's
    // scavenges each kept some 2 MB, a sixth of what was allocated, and took 5-7 ms; without, some
    // 20 KB and about 1 ms (docs/benchmarks.md, sixteenth session).
    if (this.outstanding === 1) {
      this.unlockedCall = call;
      return call.waiting === 0;
    }
    const alone = this.unlockedCall;
    this.unlockedCall = undefined;
    // Nothing was outstanding before it: locked now, it waits for nothing, as it did not then.
    if (alone !== undefined && !alone.done) this.lockKeys(alone, alone.spec as CommandSpec);
    this.lockKeys(call, spec);
    return call.waiting === 0;
  }

  /** Marks `call` answered; adds to `ready`, in order, the commands that waited only for it. */
  finish(call: C, ready: C[]): void {
    call.done = true;
    this.outstanding -= 1;
    if (this.barriers.length > 0) {
      for (const barrier of this.barriers) {
        if (barrier.seq > call.seq && !barrier.done) {
          barrier.waiting -= 1;
          if (barrier.waiting === 0) ready.push(barrier);
        }
      }
      if (call.spec?.access === 'keyspace') this.barriers = this.barriers.filter((b) => b !== call);
    }
    const dependents = call.dependents;
    if (dependents !== undefined) {
      call.dependents = undefined;
      for (const dependent of dependents) {
        dependent.waiting -= 1;
        if (dependent.waiting === 0) ready.push(dependent);
      }
    }
    if (this.outstanding === 0) this.forget();
  }

  /** Lets go of every lock (nothing is outstanding, or the connection is gone). */
  forget(): void {
    this.locks = undefined;
    this.unlockedCall = undefined;
    this.lockPruneAt = lockPruneThreshold;
    this.lastBarrier = undefined;
  }

  /** Makes `call` wait for the unanswered commands before it on its keys, and later ones for it. */
  private lockKeys(call: C, spec: CommandSpec): void {
    const locks = (this.locks ??= new Map<string, KeyLock<C>>());
    const write = spec.access === 'write';
    for (const bytes of keysOf(spec, call.args)) {
      const key = keyOf(bytes);
      let lock = locks.get(key);
      if (lock === undefined) {
        lock = { writer: undefined, readers: [] };
        locks.set(key, lock);
      }
      const writer = lock.writer;
      if (writer !== undefined && !writer.done && writer !== call) link(writer, call);
      if (write) {
        for (const reader of lock.readers) if (!reader.done && reader !== call) link(reader, call);
        lock.writer = call;
        lock.readers = [];
      } else {
        lock.readers.push(call);
        if (lock.readers.length > readersCompactThreshold) lock.readers = lock.readers.filter((r) => !r.done);
      }
    }
    if (locks.size > this.lockPruneAt) this.pruneLocks(locks);
  }

  /** Drops the locks of keys that nothing unanswered holds (a connection that never goes idle). */
  private pruneLocks(locks: Map<string, KeyLock<C>>): void {
    for (const [key, lock] of locks) {
      if ((lock.writer === undefined || lock.writer.done) && lock.readers.every((r) => r.done)) locks.delete(key);
    }
    this.lockPruneAt = Math.max(lockPruneThreshold, locks.size * 2);
  }
}

function link<C extends OrderedCall<C>>(earlier: C, later: C): void {
  (earlier.dependents ??= []).push(later);
  later.waiting += 1;
}
