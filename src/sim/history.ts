// The client history of a run: every request's invocation and completion, with values and virtual
// times, in the order they happened. The checkers read it; `toJepsen` exports it for Jepsen's tools.
//
// Export format (a JSON array; one object per event, in the order events happened):
//   {"index": 7, "type": "invoke"|"ok"|"fail"|"info", "f": "read"|"write", "key": "k3", "value": 17,
//    "process": 2, "time": 1234000000, ...extras}
// - `time` is virtual nanoseconds since the run began (Jepsen's unit); `index` counts events from 0.
// - Every write stores a unique value "v<id>" and is exported as the integer id, so a read names the
//   exact write it saw. A read's invoke has value null; its ok has the id, or null for absent.
// - A delete is a write of null with "delete": true (Jepsen registers read nil as "absent").
// - A conditional update ("update": true) is a write of its value "v<id>" that may decide not to
//   write: ok when applied, fail when it wrote nothing (its condition did not hold), info when its
//   outcome is unknown (any error: a round may have been chosen without its proposer hearing so).
//   Extras "applied", "previous" (the version it saw) and "read" (the id of the value it saw).
// - `fail` means the request certainly failed to be acknowledged, though under a quorum store a failed
//   write may still take effect on some replicas (checkers treat it as never completing, like `info`).
//   `info` means the outcome is unknown (its coordinator crashed or paused, or it never answered).
//   After an `info` the client continues under a new process number (Jepsen's convention).
// - Extras: "level" (one|quorum|all), "node" (the coordinator), "version" (acknowledged or read
//   version), "error" (an error code), "purpose" (workload, create-read, create-put, sweep, final).
// Style "elle" writes the same events as single-key transactions for elle-cli's rw-register model:
//   {"f": "txn", "value": [["w", "k3", 17]]} or [["r", "k3", 17]]
// and an update as a read of the value it saw and a write, in one transaction: [["r", "k3", 16], ["w", "k3", 17]].
// (elle has no delete: histories with deletes are best checked with knossos-style tools or our own).

import type { ConsistencyLevel } from '../core/quorum.js';

export type RequestKind = 'put' | 'get' | 'delete' | 'update';
export type Outcome = 'ok' | 'fail' | 'info';
export type Purpose = 'workload' | 'create-read' | 'create-put' | 'sweep' | 'final' | 'scenario';

export interface Invocation {
  readonly process: number;
  /** The client's name, e.g. "c3" (stable across its process numbers). */
  readonly client: string;
  readonly kind: RequestKind;
  readonly key: string;
  /** The value a put writes ("v<id>"), or an update writes if its condition holds. */
  readonly written?: string;
  /**
   * Updates: the version the key must be at for the update to write (compare-and-set; null: the key
   * must hold no entry at all), or undefined when it writes whatever it finds (read-modify-write).
   */
  readonly expectVersion?: string | null;
  readonly level: ConsistencyLevel;
  readonly sloppy: boolean;
  readonly waitForAll: boolean;
  /** The coordinator. */
  readonly node: string;
  readonly purpose: Purpose;
  readonly timeoutMs: number;
}

// An update that answered ok is a read of the key's current value (the one its `decide` saw), and, if
// applied, a quorum write above it: `read`, `tombstone` and `previousVersion` describe what it saw,
// `version` is the version it wrote when applied, else the one it saw (as a read's). An update that
// wrote nothing is a read and nothing else; one that failed is a write whose outcome is unknown.
export interface Completion {
  readonly outcome: Outcome;
  /** What a read returned, or an update saw: a value, or null when absent or a tombstone. */
  readonly read?: string | null;
  /** The version acknowledged (writes) or read (reads; undefined when no entry at all). */
  readonly version?: string;
  /** Whether the read found a tombstone (as opposed to no entry at all). */
  readonly tombstone?: boolean;
  /** Updates: whether the update wrote (its condition held and the write was committed). */
  readonly applied?: boolean;
  /** Updates: the version of the entry the update saw (undefined when there was none at all). */
  readonly previousVersion?: string;
  /** Replicas (owners, not hint holders) that held the write when it was acknowledged. */
  readonly replicasAcked?: number;
  readonly error?: string;
  readonly errorMessage?: string;
}

export interface Operation extends Invocation, Partial<Completion> {
  /** Invocation order, from 0. */
  readonly index: number;
  readonly invokeMs: number;
  completeMs?: number;
}

/** Whether the operation wrote or may have written: puts, deletes, and updates unless they answered that they wrote nothing. */
export function isWrite(op: Operation): boolean {
  if (op.kind === 'update') return !(op.outcome === 'ok' && op.applied === false);
  return op.kind !== 'get';
}

/** Whether the operation answered a value read from the key: gets, and updates that wrote nothing (a read of the current value). */
export function isRead(op: Operation): boolean {
  return op.kind === 'get' || (op.kind === 'update' && op.outcome === 'ok' && op.applied === false);
}

/** The value a write leaves: its value, or null for a delete (an update without a value writes a tombstone). */
export function writtenValue(op: Operation): string | null {
  return op.kind === 'put' || op.kind === 'update' ? (op.written ?? null) : null;
}

export class History {
  readonly operations: Operation[] = [];
  /** Invocations and completions in the order they happened. */
  private readonly events: { readonly op: Operation; readonly completion: boolean }[] = [];

  invoke(invocation: Invocation, nowMs: number): Operation {
    const op: Operation = { ...invocation, index: this.operations.length, invokeMs: nowMs };
    this.operations.push(op);
    this.events.push({ op, completion: false });
    return op;
  }

  complete(op: Operation, completion: Completion, nowMs: number): void {
    if (op.outcome !== undefined) throw new Error(`operation ${op.index} completed twice`);
    Object.assign(op, completion);
    op.completeMs = nowMs;
    this.events.push({ op, completion: true });
  }

  pending(): Operation[] {
    return this.operations.filter((op) => op.outcome === undefined);
  }

  keys(): string[] {
    return [...new Set(this.operations.map((op) => op.key))].sort();
  }

  toJepsen(style: 'knossos' | 'elle' = 'knossos'): Record<string, unknown>[] {
    return this.events.map(({ op, completion }, index) => {
      const type = completion ? (op.outcome as Outcome) : 'invoke';
      const timeMs = completion ? (op.completeMs as number) : op.invokeMs;
      let value: number | null = null;
      if (op.kind === 'put' || op.kind === 'update') value = valueId(op.written);
      else if (op.kind === 'get' && completion && type === 'ok') value = valueId(op.read);
      const extras: Record<string, unknown> = { level: op.level, node: op.node, purpose: op.purpose };
      if (op.kind === 'delete') extras.delete = true;
      if (completion && op.version !== undefined) extras.version = op.version;
      if (completion && op.error !== undefined) extras.error = op.error;
      const f = op.kind === 'get' ? 'read' : 'write';
      const common = { index, type, process: op.process, time: timeMs * 1_000_000 };
      if (op.kind === 'update') return updateEvent(op, completion, common, value, extras, style);
      if (style === 'elle') {
        return { ...common, f: 'txn', value: [[f === 'read' ? 'r' : 'w', op.key, value]], ...extras };
      }
      return { ...common, f, key: op.key, value, ...extras };
    });
  }
}

/**
 * An update's event (see the header): ok when applied, fail when it wrote nothing, info on any error
 * (its outcome is unknown, whatever the code: a round may be chosen after its proposer gave up).
 */
function updateEvent(
  op: Operation,
  completion: boolean,
  common: { readonly index: number; readonly type: string; readonly process: number; readonly time: number },
  value: number | null,
  extras: Record<string, unknown>,
  style: 'knossos' | 'elle',
): Record<string, unknown> {
  const type = !completion ? 'invoke' : op.outcome !== 'ok' ? 'info' : op.applied ? 'ok' : 'fail';
  const seen = completion && op.outcome === 'ok' ? valueId(op.read) : null;
  const more: Record<string, unknown> = { ...extras, update: true };
  if (completion && op.outcome === 'ok') {
    more.applied = op.applied;
    more.read = seen;
    if (op.previousVersion !== undefined) more.previous = op.previousVersion;
  }
  if (style === 'elle') return { ...common, type, f: 'txn', value: [['r', op.key, seen], ['w', op.key, value]], ...more };
  return { ...common, type, f: 'write', key: op.key, value, ...more };
}

/** "v17" -> 17; anything else (a value no client wrote) is kept as the string. */
export function valueId(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const match = /^v(\d+)$/.exec(value);
  return match ? Number(match[1]) : (value as unknown as number);
}
