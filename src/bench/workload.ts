// The benchmark's workloads, after YCSB's core workloads: each is a mix of operations over a key space
// of `keys` keys (named by index) with a key choice (uniform or zipfian). Inserts take fresh keys that
// no earlier run used, so "write-only new keys" stays true when the command runs twice.

import type { SeededRandom } from './random.js';
import { keyChooser, type DistributionName, type KeyChooser } from './zipfian.js';

/** `increment`: a counter's INCR, a conditional write on quorumkv (keyPaxos.ts); RESP targets only. */
export type OperationKind = 'read' | 'update' | 'insert' | 'delete' | 'increment';
export const operationKinds: readonly OperationKind[] = ['read', 'update', 'insert', 'delete', 'increment'];

export type WorkloadName = 'a' | 'b' | 'c' | 'insert' | 'delete' | 'incr';
export const workloadNames: readonly WorkloadName[] = ['a', 'b', 'c', 'insert', 'delete', 'incr'];

export interface WorkloadMix {
  readonly name: WorkloadName;
  readonly description: string;
  /** Share of each operation; they sum to 1. */
  readonly mix: Readonly<Record<OperationKind, number>>;
  /** Whether its reads and updates expect the key space to be loaded first. */
  readonly wantsLoadedKeys: boolean;
}

export const workloads: Readonly<Record<WorkloadName, WorkloadMix>> = {
  a: {
    name: 'a',
    description: 'YCSB A, update heavy: 50% read, 50% update',
    mix: { read: 0.5, update: 0.5, insert: 0, delete: 0, increment: 0 },
    wantsLoadedKeys: true,
  },
  b: {
    name: 'b',
    description: 'YCSB B, read mostly: 95% read, 5% update',
    mix: { read: 0.95, update: 0.05, insert: 0, delete: 0, increment: 0 },
    wantsLoadedKeys: true,
  },
  c: {
    name: 'c',
    description: 'YCSB C, read only: 100% read',
    mix: { read: 1, update: 0, insert: 0, delete: 0, increment: 0 },
    wantsLoadedKeys: true,
  },
  insert: {
    name: 'insert',
    description: 'write only: 100% insert of new keys',
    mix: { read: 0, update: 0, insert: 1, delete: 0, increment: 0 },
    wantsLoadedKeys: false,
  },
  delete: {
    name: 'delete',
    description: 'delete heavy: 50% delete, 25% update (re-creates keys), 25% read',
    mix: { read: 0.25, update: 0.25, insert: 0, delete: 0.5, increment: 0 },
    wantsLoadedKeys: true,
  },
  incr: {
    name: 'incr',
    description: 'counters: 100% INCR of a key (RESP targets: atomic, a consensus round per INCR on quorumkv)',
    mix: { read: 0, update: 0, insert: 0, delete: 0, increment: 1 },
    wantsLoadedKeys: false,
  },
};

export function isWorkloadName(value: unknown): value is WorkloadName {
  return typeof value === 'string' && (workloadNames as readonly string[]).includes(value);
}

/** The counter of index i (the incr workload): apart from the loaded keys, whose values are not integers. */
export function counterName(index: number): string {
  return `counter${String(index).padStart(10, '0')}`;
}

/** The key of index i in the loaded key space: fixed width, so keys sort by index. */
export function keyName(index: number): string {
  return `user${String(index).padStart(10, '0')}`;
}

/** One operation to perform. */
export interface Operation {
  readonly kind: OperationKind;
  readonly key: string;
}

/**
 * Chooses the next operation of one benchmark client. Each client owns one (with its own seeded
 * random); `insertSequence` is shared by all clients of a run so inserted keys never repeat.
 */
export class OperationChooser {
  private readonly chooser: KeyChooser;
  private readonly thresholds: { kind: OperationKind; upTo: number }[] = [];

  constructor(
    private readonly workload: WorkloadMix,
    distribution: DistributionName,
    keys: number,
    private readonly random: SeededRandom,
    private readonly insertSequence: InsertSequence,
  ) {
    this.chooser = keyChooser(distribution, keys);
    let sum = 0;
    for (const kind of operationKinds) {
      const share = workload.mix[kind];
      if (share <= 0) continue;
      sum += share;
      this.thresholds.push({ kind, upTo: sum });
    }
  }

  next(): Operation {
    const draw = this.random.nextDouble();
    let kind: OperationKind = this.thresholds[this.thresholds.length - 1]?.kind ?? 'read';
    for (const threshold of this.thresholds) {
      if (draw < threshold.upTo) {
        kind = threshold.kind;
        break;
      }
    }
    if (kind === 'insert') return { kind, key: this.insertSequence.nextKey() };
    if (kind === 'increment') return { kind, key: counterName(this.chooser.next(this.random)) };
    return { kind, key: keyName(this.chooser.next(this.random)) };
  }

  get name(): WorkloadName {
    return this.workload.name;
  }
}

/** Fresh keys for inserts: a run tag (from the seed and the start time) and a counter. */
export class InsertSequence {
  private counter = 0;
  constructor(private readonly runTag: string) {}

  nextKey(): string {
    return `new${this.runTag}-${String(this.counter++).padStart(10, '0')}`;
  }

  static forRun(random: SeededRandom, nowMs: number): InsertSequence {
    const tag = (nowMs % 1_000_000_000).toString(36) + random.nextUint32().toString(36).slice(0, 3);
    return new InsertSequence(tag);
  }
}
