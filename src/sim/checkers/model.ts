// What the checkers share: their input (the client history and the replicas' final state), what a
// violation looks like, and the real-time rules of a last-writer-wins register read at quorum
// (DESIGN.md §3 and §5). The checkers trust nothing the store says about order beyond what clients
// saw: invocation and completion times, and the unique value each write stored.
//
// Effective end of a write. A write "completes" for ordering purposes only if it was acknowledged at
// quorum: a quorum (or all) write without sloppy counting. Every other write (failed, in doubt,
// acknowledged at `one` or through hints) may still take effect at any later time, so its effective
// end is +infinity: it overlaps every later write and can never be "superseded". (The count of owners
// that acknowledged is no proof of a quorum: during a topology change a write's owners span two
// replica sets, and two owners of four may be one in each; found when seed 822 flagged a sloppy write.)
//
// Superseded. Write c is superseded by write w when w was acknowledged at quorum and began after c's
// effective end: w must then win over c everywhere (quorums overlap and versions are stamped above).
// A quorum read that began after w was acknowledged must not return c; neither may the final read.
//
// Conditional updates (keyPaxos.ts) fit this model as what they are: one that was applied is a
// quorum write of its value at the version it wrote (acknowledged only once committed at quorum);
// one that wrote nothing is a quorum read of the value it saw (a majority of every replica set
// answered it); one that failed is a write whose outcome is unknown. `isWrite` and `isRead`
// (history.ts) say which.

import { isRead, isWrite, writtenValue, type Operation } from '../history.js';

export interface Violation {
  /** The checker's name (the property it guards). */
  readonly checker: string;
  readonly key?: string;
  readonly message: string;
}

/** What one replica durably holds for a key. */
export interface StoredState {
  /** Undefined when the replica holds no entry. */
  readonly version?: string;
  /** The value, or null for a tombstone (meaningful only with a version). */
  readonly value?: string | null;
  /** The key's purge floor, if its tombstone was purged. */
  readonly purgeFloor?: string;
}

export interface KeyState {
  /** The key's replicas (its preference list on the final layout). */
  readonly replicas: readonly string[];
  /** node id -> what it holds; nodes that are not replicas may appear and are ignored. */
  readonly stored: ReadonlyMap<string, StoredState>;
}

export interface CheckInput {
  readonly history: readonly Operation[];
  /** How late past its timeout an answer may come (the coordinator expires requests on ticks). */
  readonly answerSlackMs: number;
  /**
   * Hints older than this may be dropped (the core's `hintWindowMs`). A write acknowledged only by
   * hint holders (sloppy, no owner among its acknowledgers) is durable only while its hints live.
   */
  readonly hintWindowMs: number;
  /**
   * Nodes removed from the cluster while they were down, and never started again: what only they
   * held is gone with them, as with a disk lost for good (`remove-node`). A write at `one` that one
   * replica acknowledged, coordinated by such a node, may have lived only there.
   */
  readonly lostForGood?: ReadonlySet<string>;
  /** The replicas' state after heal, by key (used by the convergence checker). */
  readonly finalState: ReadonlyMap<string, KeyState>;
}

export type Checker = (input: CheckInput) => Violation[];

/** Whether the write is acknowledged at quorum (see the module comment). */
export function quorumAcknowledged(op: Operation): boolean {
  return isWrite(op) && op.outcome === 'ok' && op.level !== 'one' && !op.sloppy;
}

/** A read whose answer is bound by the quorum rules: ok at quorum or all (an update that wrote nothing included). */
export function isQuorumRead(op: Operation): boolean {
  return isRead(op) && op.outcome === 'ok' && op.level !== 'one';
}

/** Whether the write leaves a tombstone (a delete, or an update of no value), which a purge may turn into no entry. */
export function leavesTombstone(op: Operation): boolean {
  return isWrite(op) && writtenValue(op) === null;
}

export function effectiveEndMs(op: Operation): number {
  return quorumAcknowledged(op) ? (op.completeMs as number) : Infinity;
}

/** The writes of `key`, in invocation order. */
export function writesOf(history: readonly Operation[], key: string): Operation[] {
  return history.filter((op) => op.key === key && isWrite(op));
}

export interface RealTimeVerdict {
  readonly allowed: boolean;
  /** When not allowed: the acknowledged write that superseded every write that could explain the value. */
  readonly supersededBy?: Operation;
  /** The writes that could have produced the value (none: a value nobody wrote). */
  readonly sources: readonly Operation[];
}

/**
 * Whether a read that returned `value` (null: absent) may have done so, given the writes of its key
 * that were acknowledged at quorum before `readInvokeMs` (+infinity for a final read). Absent is
 * explained by any delete, or by the initial state when no write was acknowledged before the read.
 * `readCompleteMs` excludes writes that began after the read ended.
 */
export function realTimeVerdict(
  value: string | null,
  writes: readonly Operation[],
  readInvokeMs: number,
  readCompleteMs: number,
): RealTimeVerdict {
  let latest: Operation | undefined; // the acknowledged write that began last, among those before the read
  for (const w of writes) {
    if (!quorumAcknowledged(w) || (w.completeMs as number) >= readInvokeMs) continue;
    if (latest === undefined || w.invokeMs > latest.invokeMs) latest = w;
  }
  const sources = writes.filter((w) => writtenValue(w) === value && w.invokeMs <= readCompleteMs);
  if (latest === undefined) return { allowed: value === null || sources.length > 0, sources };
  const boundMs = latest.invokeMs;
  const allowed = sources.some((w) => effectiveEndMs(w) >= boundMs);
  return allowed ? { allowed, sources } : { allowed, supersededBy: latest, sources };
}

/**
 * Whether "no entry at all" may stand for a state newer than `version`: a purged tombstone newer
 * than it. True if some delete of the key, invoked before `beforeMs`, has a version above `version`
 * or an unknown one (a delete that failed or ended in doubt may still have been applied).
 */
export function absentExplained(version: string, writes: readonly Operation[], beforeMs: number): boolean {
  return writes.some((w) => leavesTombstone(w) && w.invokeMs <= beforeMs && (w.version === undefined || w.version > version));
}

/** A version that became visible at quorum: what every later quorum read and quorum write must not go below. */
export interface Visible {
  readonly version: string;
  /** Whether it is a delete (a tombstone, or a value that expired). */
  readonly tombstone: boolean;
  readonly op: Operation;
  /** When it became visible: the write's acknowledgement or the read's answer. */
  readonly sinceMs: number;
}

/**
 * The versions of one key's operations that became visible at quorum: those of writes acknowledged
 * at quorum (two quorums overlap) and those quorum reads returned (blocking read repair wrote them
 * back to a quorum before answering; README "Read-your-writes at quorum").
 */
export function visibleAtQuorum(ops: readonly Operation[]): Visible[] {
  const visible: Visible[] = [];
  for (const op of ops) {
    if (op.version === undefined) continue;
    if (quorumAcknowledged(op)) {
      visible.push({ version: op.version, tombstone: writtenValue(op) === null, op, sinceMs: op.completeMs as number });
    } else if (isQuorumRead(op)) {
      visible.push({ version: op.version, tombstone: op.read === null, op, sinceMs: op.completeMs as number });
    }
  }
  return visible;
}

/** The newest of `visible` that became visible strictly before `beforeMs`. */
export function newestVisibleBefore(visible: readonly Visible[], beforeMs: number): Visible | undefined {
  let floor: Visible | undefined;
  for (const known of visible) {
    if (known.sinceMs < beforeMs && (floor === undefined || known.version > floor.version)) floor = known;
  }
  return floor;
}

/** "op#12 c3 put k1 v9 [100..130ms]"; "op#13 c2 update k1 v10 (saw v9) [...]" */
export function describeOp(op: Operation): string {
  const end = op.completeMs === undefined ? '?' : `${op.completeMs}`;
  const saw = op.kind === 'update' && op.outcome === 'ok' ? ` (${op.applied ? '' : 'not applied, '}saw ${op.read ?? 'absent'}@${op.previousVersion ?? 'none'})` : '';
  const value =
    op.kind === 'put' ? ` ${op.written}` : op.kind === 'update' ? ` ${op.written}${saw}` : op.kind === 'get' ? ` -> ${op.read ?? 'absent'}` : '';
  const outcome = op.outcome === 'ok' ? '' : ` ${op.outcome ?? 'pending'}`;
  return `op#${op.index} ${op.client} ${op.kind} ${op.key}${value} @${op.node} ${op.level} [${op.invokeMs}..${end}ms]${outcome}`;
}
