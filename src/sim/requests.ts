// Client requests against the simulated cluster, recorded in the history and the trace. Shared by the
// workload's clients, the heal phase's sweep and final reads, and the scenario tests.
//
// Every request gets a client-side watchdog: if the coordinator neither answers nor is lost (crash,
// pause) well past the request's timeout, the client gives up and records `info` with the error
// NO_ANSWER, which the timeliness checker reports: the core must answer every request in time.
// A request lost with its coordinator (crash, pause, a storage failure that rejects it) is `info`.
//
// An update (a conditional write, keyPaxos.ts) writes `value` if the key is at `expectVersion`
// (compare-and-set on the version), or whatever it finds when that is undefined (read-modify-write).

import type { Result } from '../core/coordinator.js';
import type { UpdateOutcome } from '../core/keyPaxos.js';
import type { UpdateSpec } from '../core/updateSpec.js';
import type { UpdateRoute } from './cluster.js';
import type { Version } from '../core/version.js';
import type { ConsistencyLevel } from '../core/quorum.js';
import type { SimCluster } from './cluster.js';
import type { Completion, History, Invocation, Operation, Purpose, RequestKind } from './history.js';
import type { Scheduler } from './scheduler.js';
import type { Trace } from './trace.js';

const textEncoder = new TextEncoder();
const expiredValue = textEncoder.encode('expired');
const textDecoder = new TextDecoder();

/** How long past its timeout a client waits for an answer before it gives up on the coordinator. */
export const watchdogGraceMs = 2000;

export interface RequestSpec {
  readonly process: number;
  readonly client: string;
  readonly kind: RequestKind;
  readonly key: string;
  /** For puts and updates: the value to write ("v<id>"). */
  readonly value?: string;
  /** For updates: write only if the key is at this version (null: no version, absent); undefined: always. */
  readonly expectVersion?: string | null;
  /**
   * For updates: coordinated by `node` itself, or by the key's coordinator, whatever `node` would
   * choose (updateRouting.ts); undefined: as it chooses.
   */
  readonly route?: UpdateRoute;
  readonly level: ConsistencyLevel;
  readonly node: string;
  readonly purpose: Purpose;
  readonly sloppy?: boolean;
  readonly waitForAll?: boolean;
  /**
   * For deletes: send a write whose value expired long ago (expiresMs 0, past on every clock) instead
   * of a tombstone. To every reader that is a delete, so the checkers hold it to a delete's rules, and
   * it takes expiry through the whole path (hints, repair, anti-entropy, purging like a tombstone).
   * Default: every other delete of the random workload, by operation index (not the PRNG, so seeds
   * keep their sequence of choices).
   */
  readonly asExpiredWrite?: boolean;
}

export interface RequestDeps {
  readonly cluster: SimCluster;
  readonly scheduler: Scheduler;
  readonly history: History;
  readonly trace: Trace;
}

export class Requests {
  constructor(private readonly deps: RequestDeps) {}

  /**
   * Sends a request to its coordinator and calls `onDone` with the completed operation (exactly once).
   * Returns undefined, recording nothing, when the coordinator is not up.
   */
  issue(spec: RequestSpec, onDone: (op: Operation) => void = () => {}): Operation | undefined {
    const { cluster, scheduler, history, trace } = this.deps;
    if (cluster.stateOf(spec.node) !== 'up') return undefined;
    const timeoutMs = cluster.config.requestTimeoutMs;
    const invocation: Invocation = {
      process: spec.process,
      client: spec.client,
      kind: spec.kind,
      key: spec.key,
      ...(spec.value !== undefined ? { written: spec.value } : {}),
      ...(spec.kind === 'update' && spec.expectVersion !== undefined ? { expectVersion: spec.expectVersion } : {}),
      level: spec.level,
      sloppy: spec.sloppy ?? false,
      waitForAll: spec.waitForAll ?? false,
      node: spec.node,
      purpose: spec.purpose,
      timeoutMs,
    };
    const op = history.invoke(invocation, scheduler.nowMs);
    trace.event(`${spec.client} ${describeInvocation(invocation)}${spec.route ? ` (route: ${spec.route})` : ''}`);

    let finished = false;
    const finish = (completion: Completion) => {
      if (finished) return;
      finished = true;
      history.complete(op, completion, scheduler.nowMs);
      trace.event(`${spec.client} ${spec.kind} ${spec.key} -> ${describeCompletion(op)}`);
      onDone(op);
    };
    // A storage failure on the coordinator rejects the request: the client gets an error, and the
    // outcome is unknown (a write may have reached replicas before it).
    const lostError = (reason: string) =>
      reason === 'pause' ? 'COORDINATOR_PAUSED' : reason === 'storage failure' ? 'STORAGE_FAILURE' : 'COORDINATOR_CRASHED';
    const lost = (reason: string) => finish({ outcome: 'info', error: lostError(reason), errorMessage: reason });

    if (spec.kind === 'get') {
      cluster.read(
        spec.node,
        spec.key,
        { consistency: spec.level, ...(spec.waitForAll ? { waitForAll: true } : {}) },
        (result) => finish(readCompletion(result)),
        lost,
      );
    } else if (spec.kind === 'update') {
      // Always at quorum (a majority of every replica set promises, accepts, and takes the commit).
      const then = { op: 'set', value: textEncoder.encode(spec.value ?? '') } as const;
      const expect = spec.expectVersion as Version | null | undefined;
      const update: UpdateSpec = expect === undefined ? { then } : { when: { versions: [expect] }, then };
      const options = spec.route ? { route: spec.route } : {};
      cluster.update(spec.node, spec.key, update, options, (result) => finish(updateCompletion(result)), lost);
    } else {
      const expiredPut = spec.kind === 'delete' && (spec.asExpiredWrite ?? (spec.purpose === 'workload' && op.index % 2 === 1));
      const bytes = spec.kind === 'put' ? textEncoder.encode(spec.value ?? '') : expiredPut ? expiredValue : null;
      cluster.write(
        spec.node,
        spec.key,
        bytes,
        { consistency: spec.level, ...(spec.sloppy ? { sloppy: true } : {}), ...(expiredPut ? { expiresMs: 0 } : {}) },
        (result) => finish(writeCompletion(result)),
        lost,
      );
    }
    // The coordinator's deadlines run on the monotonic clock: its wall clock's steps owe no wait.
    const waitMs = timeoutMs + watchdogGraceMs;
    scheduler.after(waitMs, () => {
      if (!finished) finish({ outcome: 'info', error: 'NO_ANSWER', errorMessage: `no answer within ${waitMs}ms` });
    });
    return op;
  }
}

function readCompletion(result: Result<{ readonly entry: { readonly version: string; readonly value: Uint8Array | null } | undefined }>): Completion {
  if (!result.ok) return { outcome: 'fail', error: result.error.code, errorMessage: result.error.message };
  const entry = result.value.entry;
  if (entry === undefined) return { outcome: 'ok', read: null };
  if (entry.value === null) return { outcome: 'ok', read: null, tombstone: true, version: entry.version };
  return { outcome: 'ok', read: textDecoder.decode(entry.value), version: entry.version };
}

function writeCompletion(result: Result<{ readonly version: string; readonly replicasAcked: number }>): Completion {
  if (!result.ok) return { outcome: 'fail', error: result.error.code, errorMessage: result.error.message };
  return { outcome: 'ok', version: result.value.version, replicasAcked: result.value.replicasAcked };
}

function updateCompletion(result: Result<UpdateOutcome>): Completion {
  if (!result.ok) return { outcome: 'fail', error: result.error.code, errorMessage: result.error.message };
  const { applied, previous, written } = result.value;
  const seen = {
    read: previous === undefined || previous.value === null ? null : textDecoder.decode(previous.value),
    ...(previous?.value === null ? { tombstone: true } : {}),
    ...(previous !== undefined ? { previousVersion: previous.version } : {}),
  };
  if (applied) return { outcome: 'ok', applied: true, ...seen, ...(written !== undefined ? { version: written.version } : {}) };
  return { outcome: 'ok', applied: false, ...seen, ...(previous !== undefined ? { version: previous.version } : {}) };
}

function describeInvocation(inv: Invocation): string {
  const flags = [inv.level, ...(inv.sloppy ? ['sloppy'] : []), ...(inv.waitForAll ? ['wait-all'] : [])].join(' ');
  const condition = inv.expectVersion === undefined ? '' : inv.expectVersion === null ? ' if absent' : ` if at ${inv.expectVersion}`;
  const value = inv.kind === 'put' ? ` ${inv.written}` : inv.kind === 'update' ? ` ${inv.written}${condition}` : '';
  const purpose = inv.purpose === 'workload' ? '' : ` (${inv.purpose})`;
  return `${inv.kind} ${inv.key}${value} @${inv.node} ${flags}${purpose}`;
}

function describeCompletion(op: Operation): string {
  if (op.outcome !== 'ok') return `${op.outcome} ${op.error}: ${op.errorMessage}`;
  if (op.kind === 'get') {
    const seen = op.read ?? (op.tombstone ? 'tombstone' : 'absent');
    return `ok ${seen}${op.version !== undefined ? ` @${op.version}` : ''}`;
  }
  if (op.kind === 'update') {
    const seen = `${op.read ?? (op.tombstone ? 'tombstone' : 'absent')}${op.previousVersion !== undefined ? ` @${op.previousVersion}` : ''}`;
    return op.applied ? `ok applied @${op.version} over ${seen}` : `ok not applied, saw ${seen}`;
  }
  return `ok @${op.version} replicas=${op.replicasAcked}`;
}
