// The checkers checked: each property checker is fed a hand-made history or replica state that breaks
// its property (and a close one that does not), so that a checker that never fails cannot pass for a
// healthy cluster.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatVersion } from '../../src/core/version.js';
import { checkConvergence } from '../../src/sim/checkers/convergence.js';
import { checkLostWrites } from '../../src/sim/checkers/lostWrites.js';
import type { CheckInput, KeyState, StoredState } from '../../src/sim/checkers/model.js';
import { checkReadValues } from '../../src/sim/checkers/readValues.js';
import { checkReadYourWrites } from '../../src/sim/checkers/readYourWrites.js';
import { checkRealTimeReads } from '../../src/sim/checkers/realTimeReads.js';
import { checkResurrection } from '../../src/sim/checkers/resurrection.js';
import { checkTimeliness } from '../../src/sim/checkers/timeliness.js';
import { checkUpdates } from '../../src/sim/checkers/updates.js';
import { checkWriteOrder } from '../../src/sim/checkers/writeOrder.js';
import { History, type Operation } from '../../src/sim/history.js';

/** A version whose order follows `wallMs`. */
function v(wallMs: number, node = 'n1'): string {
  return formatVersion({ wallMs: 1_735_689_600_000 + wallMs, counter: 0, nodeId: node });
}

let nextIndex = 0;

/** An operation with defaults: client c1, quorum, coordinator n1, timeout 1000 ms, ok. */
function op(fields: Partial<Operation> & Pick<Operation, 'kind' | 'invokeMs'>): Operation {
  return {
    index: nextIndex++,
    process: 0,
    client: 'c1',
    key: 'k',
    level: 'quorum',
    sloppy: false,
    waitForAll: false,
    node: 'n1',
    purpose: 'workload',
    timeoutMs: 1000,
    outcome: 'ok',
    completeMs: fields.invokeMs + 10,
    ...fields,
  } as Operation;
}

function put(value: string, invokeMs: number, version: string, fields: Partial<Operation> = {}): Operation {
  return op({ kind: 'put', written: value, invokeMs, version, replicasAcked: 2, ...fields });
}

function del(invokeMs: number, version: string, fields: Partial<Operation> = {}): Operation {
  return op({ kind: 'delete', invokeMs, version, replicasAcked: 2, ...fields });
}

function read(value: string | null, invokeMs: number, version: string | undefined, fields: Partial<Operation> = {}): Operation {
  return op({ kind: 'get', read: value, invokeMs, ...(version !== undefined ? { version } : {}), ...fields });
}

/**
 * An update that was applied: it saw `saw` (value@version; undefined: no entry) and wrote `value` at
 * `version`. `fields` may make it one that wrote nothing (applied: false, version: what it saw) or failed.
 */
function update(
  value: string,
  invokeMs: number,
  version: string | undefined,
  saw: { readonly value: string | null; readonly version: string } | undefined,
  fields: Partial<Operation> = {},
): Operation {
  return op({
    kind: 'update',
    written: value,
    invokeMs,
    applied: true,
    read: saw?.value ?? null,
    ...(saw?.value === null ? { tombstone: true } : {}),
    ...(saw !== undefined ? { previousVersion: saw.version } : {}),
    ...(version !== undefined ? { version } : {}),
    ...fields,
  });
}

/** An update whose condition did not hold: a read of what it saw. */
function notApplied(value: string, invokeMs: number, saw: { readonly value: string | null; readonly version: string } | undefined, fields: Partial<Operation> = {}): Operation {
  return update(value, invokeMs, saw?.version, saw, { applied: false, ...fields });
}

function finalRead(value: string | null, version: string | undefined): Operation {
  return read(value, 10_000, version, { purpose: 'final', client: 'final' });
}

function input(history: Operation[], finalState: Map<string, KeyState> = new Map()): CheckInput {
  return { history, answerSlackMs: 21, hintWindowMs: 60_000, finalState };
}

describe('lost-writes checker', () => {
  const first = put('v1', 0, v(0));
  const second = put('v2', 100, v(100));

  it('fails when the final read returns a write superseded by a later acknowledged one', () => {
    const violations = checkLostWrites(input([first, second, finalRead('v1', v(0))]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /superseded by op#\d+ c1 put k v2/);
  });

  it('accepts the last acknowledged write, and a write that overlapped it', () => {
    assert.deepEqual(checkLostWrites(input([first, second, finalRead('v2', v(100))])), []);
    const overlapping = put('v3', 50, v(150), { completeMs: 150 });
    assert.deepEqual(checkLostWrites(input([first, second, overlapping, finalRead('v3', v(150))])), []);
  });

  it('fails on a value nobody wrote, and on a final version older than an acknowledged one', () => {
    assert.equal(checkLostWrites(input([first, finalRead('v9', v(5))])).length, 1);
    const older = checkLostWrites(input([first, second, finalRead('v2', v(50))]));
    assert.equal(older.length, 1);
    assert.match(older[0]?.message ?? '', /older than/);
  });

  it('fails when a write acknowledged at one vanishes (durability), but lets a write in doubt win or lose', () => {
    const atOne = put('v1', 0, v(0), { level: 'one', replicasAcked: 1 });
    assert.equal(checkLostWrites(input([atOne, finalRead(null, undefined)])).length, 1);
    const inDoubt = put('v2', 100, undefined as unknown as string, { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    assert.deepEqual(checkLostWrites(input([first, inDoubt, finalRead('v1', v(0))])), []);
    assert.deepEqual(checkLostWrites(input([first, inDoubt, finalRead('v2', v(100))])), []);
  });

  it('exempts a write at one that only one node may have held, once a node was removed while down for good', () => {
    const atOne = put('v1', 0, v(0, 'n2'), { level: 'one', replicasAcked: 1, node: 'n2' });
    const gone = { ...input([atOne, finalRead(null, undefined)]), lostForGood: new Set(['n2']) };
    assert.deepEqual(checkLostWrites(gone), []);
    // A coordinator that is not a replica forwards the write: its one acknowledgement came from
    // another node, which may be the one lost.
    const elsewhere = { ...gone, lostForGood: new Set(['n3']) };
    assert.deepEqual(checkLostWrites(elsewhere), [], 'the replica that took it may not be the coordinator');
    assert.equal(checkLostWrites({ ...gone, lostForGood: new Set<string>() }).length, 1, 'no node lost for good explains nothing');
    const twoCopies = put('v1', 0, v(0, 'n2'), { level: 'one', replicasAcked: 2, node: 'n2' });
    assert.equal(checkLostWrites({ ...input([twoCopies, finalRead(null, undefined)]), lostForGood: new Set(['n3']) }).length, 1, 'two copies outlive one node');
    assert.deepEqual(checkLostWrites({ ...input([twoCopies, finalRead(null, undefined)]), lostForGood: new Set(['n2', 'n3']) }), [], 'not two nodes');
    const atQuorum = put('v1', 0, v(0, 'n2'), { node: 'n2' });
    assert.equal(checkLostWrites({ ...input([atQuorum, finalRead(null, undefined)]), lostForGood: new Set(['n2']) }).length, 1, 'a quorum write outlives any one node');
  });

  it('fails when the final read did not succeed', () => {
    const failed = read(null, 10_000, undefined, { purpose: 'final', outcome: 'fail', error: 'UNAVAILABLE' });
    assert.equal(checkLostWrites(input([first, failed])).length, 1);
  });
});

describe('convergence checker', () => {
  const state = (stored: Record<string, StoredState>): Map<string, KeyState> =>
    new Map([['k', { replicas: Object.keys(stored), stored: new Map(Object.entries(stored)) }]]);

  it('fails when replicas hold different versions', () => {
    const violations = checkConvergence(input([], state({ n1: { version: v(1), value: 'a' }, n2: { version: v(2), value: 'b' }, n3: {} })));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /n1=a@.* n2=b@.* n3=absent/);
  });

  it('accepts a purge in progress: a tombstone on some replicas, its purge floor on the others', () => {
    const agreeing = state({ n1: { version: v(3), value: null }, n2: { purgeFloor: v(3) }, n3: { version: v(3), value: null } });
    assert.deepEqual(checkConvergence(input([], agreeing)), []);
  });

  it('fails on tombstones of different versions, and on a purge floor older than a live tombstone', () => {
    assert.equal(checkConvergence(input([], state({ n1: { version: v(3), value: null }, n2: { version: v(2), value: null } }))).length, 1);
    assert.equal(checkConvergence(input([], state({ n1: { version: v(3), value: null }, n2: { purgeFloor: v(2) } }))).length, 1);
  });
});

describe('resurrection checker', () => {
  it('fails when a read after an acknowledged delete returns a value written before the delete began', () => {
    const written = put('v1', 0, v(0));
    const deleted = del(100, v(100));
    const violations = checkResurrection(input([written, deleted, read('v1', 200, v(0))]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /resurrected v1/);
  });

  it('accepts a write that overlapped the delete coming back', () => {
    const overlapping = put('v2', 95, v(105), { completeMs: 120 });
    const deleted = del(100, v(100));
    assert.deepEqual(checkResurrection(input([deleted, overlapping, read('v2', 200, v(105))])), []);
  });
});

describe('read-your-writes checker', () => {
  it('fails when a client does not read its own acknowledged quorum write', () => {
    const other = put('v1', 0, v(0), { client: 'c2' });
    const own = put('v2', 100, v(100));
    const violations = checkReadYourWrites(input([other, own, read('v1', 200, v(0))]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /does not see its own/);
  });

  it('accepts another client\'s write that overlapped its own, and ignores reads at one', () => {
    const own = put('v2', 100, v(100));
    const concurrent = put('v3', 105, v(106), { client: 'c2' });
    assert.deepEqual(checkReadYourWrites(input([own, concurrent, read('v3', 200, v(106))])), []);
    const other = put('v1', 0, v(0), { client: 'c2' });
    assert.deepEqual(checkReadYourWrites(input([other, own, read('v1', 200, v(0), { level: 'one' })])), []);
  });
});

describe('real-time reads checker', () => {
  it('fails when a quorum read returns a version older than one an earlier quorum read returned', () => {
    const a = put('v1', 0, undefined as unknown as string, { outcome: 'fail', error: 'UNAVAILABLE' });
    const b = put('v2', 0, undefined as unknown as string, { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    const sawNew = read('v2', 100, v(50));
    const sawOld = read('v1', 200, v(40));
    const violations = checkRealTimeReads(input([a, b, sawNew, sawOld]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /older than .* seen at quorum/);
  });

  it('accepts reads that overlap each other in time', () => {
    const a = put('v1', 0, v(40), { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    const b = put('v2', 0, v(50), { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    assert.deepEqual(checkRealTimeReads(input([a, b, read('v2', 100, v(50), { completeMs: 300 }), read('v1', 200, v(40))])), []);
  });
});

describe('timeliness checker', () => {
  it('fails on a late answer, a request given up on, and one never answered', () => {
    const late = put('v1', 0, v(0), { completeMs: 1100 });
    const abandoned = put('v2', 0, undefined as unknown as string, { outcome: 'info', error: 'NO_ANSWER' });
    const pending = op({ kind: 'get', invokeMs: 0, outcome: undefined, completeMs: undefined });
    assert.equal(checkTimeliness(input([late, abandoned, pending])).length, 3);
  });

  it('exempts requests lost with their coordinator, and accepts an answer within the slack', () => {
    const lost = put('v1', 0, undefined as unknown as string, { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    const onTime = read(null, 0, undefined, { outcome: 'fail', error: 'UNAVAILABLE', completeMs: 1020 });
    assert.deepEqual(checkTimeliness(input([lost, onTime])), []);
  });
});

describe('convergence checker and purged keys', () => {
  const state = (stored: Record<string, StoredState>): Map<string, KeyState> =>
    new Map([['k', { replicas: Object.keys(stored), stored: new Map(Object.entries(stored)) }]]);

  it('accepts a key gone everywhere, whatever purge floors remain (none, or an older delete\'s)', () => {
    assert.deepEqual(checkConvergence(input([], state({ n1: { purgeFloor: v(3) }, n2: { purgeFloor: v(1) }, n3: {} }))), []);
  });

  it('fails when a live tombstone or value has not reached a replica that holds nothing', () => {
    assert.equal(checkConvergence(input([], state({ n1: { version: v(3), value: null }, n2: { purgeFloor: v(3) }, n3: {} }))).length, 1);
    assert.equal(checkConvergence(input([], state({ n1: { version: v(3), value: 'a' }, n2: { version: v(3), value: 'a' }, n3: {} }))).length, 1);
  });
});

describe('lost-writes checker and missing final reads', () => {
  it('fails when a key the clients used has no final read, once the run made final reads', () => {
    const a = put('v1', 0, v(0));
    const b = put('v2', 0, v(1), { key: 'other' });
    const violations = checkLostWrites(input([a, b, finalRead('v1', v(0))]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /other had no final read/);
    assert.deepEqual(checkLostWrites(input([a, b])), [], 'a history without final reads (a scenario) is not judged');
  });
});

describe('convergence checker and the final read', () => {
  const state = (stored: Record<string, StoredState>): Map<string, KeyState> =>
    new Map([['k', { replicas: Object.keys(stored), stored: new Map(Object.entries(stored)) }]]);
  const agreeing = state({ n1: { version: v(3), value: 'v1' }, n2: { version: v(3), value: 'v1' }, n3: { version: v(3), value: 'v1' } });

  it('accepts a final read of the converged value, and absent for a key deleted or gone everywhere', () => {
    assert.deepEqual(checkConvergence(input([finalRead('v1', v(3))], agreeing)), []);
    const deleted = state({ n1: { version: v(4), value: null }, n2: { purgeFloor: v(4) }, n3: { version: v(4), value: null } });
    assert.deepEqual(checkConvergence(input([finalRead(null, v(4))], deleted)), []);
    assert.deepEqual(checkConvergence(input([finalRead(null, undefined)], deleted)), [], 'purged between the snapshot and the read');
    assert.deepEqual(checkConvergence(input([finalRead(null, undefined)], state({ n1: { purgeFloor: v(4) }, n2: {}, n3: {} }))), []);
  });

  it('fails when the final read answers other than what every replica holds', () => {
    assert.equal(checkConvergence(input([finalRead('v0', v(2))], agreeing)).length, 1, 'an older value');
    assert.equal(checkConvergence(input([finalRead('v1', v(2))], agreeing)).length, 1, 'another version');
    assert.equal(checkConvergence(input([finalRead(null, undefined)], agreeing)).length, 1, 'absent');
    const deleted = state({ n1: { version: v(4), value: null }, n2: { version: v(4), value: null } });
    assert.equal(checkConvergence(input([finalRead('v1', v(3))], deleted)).length, 1, 'a value the replicas deleted');
  });

  it('accepts a newer version landing after the snapshot from a write that failed or ended in doubt, not from one acknowledged', () => {
    // Seed 8004927: the failed write's message was still in the network when the state was read.
    const failed = put('v2', 5000, undefined as unknown as string, { outcome: 'fail', error: 'UNAVAILABLE', completeMs: 6000 });
    assert.deepEqual(checkConvergence(input([failed, finalRead('v2', v(5000))], agreeing)), []);
    const gone = state({ n1: {}, n2: {}, n3: {} });
    assert.deepEqual(checkConvergence(input([failed, finalRead('v2', v(5000))], gone)), []);
    const lateDelete = del(5000, undefined as unknown as string, { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    assert.deepEqual(checkConvergence(input([lateDelete, finalRead(null, v(5000))], agreeing)), []);
    assert.equal(checkConvergence(input([failed, finalRead('v2', v(2))], agreeing)).length, 1, 'older than the snapshot');
    const acked = put('v2', 5000, v(5000));
    assert.equal(checkConvergence(input([acked, finalRead('v2', v(5000))], agreeing)).length, 1, 'an acknowledged write');
    assert.equal(checkConvergence(input([failed, finalRead(null, undefined)], agreeing)).length, 1, 'absent');
  });
});

describe('write-order checker', () => {
  it('fails when a quorum write that began after another was acknowledged at quorum gets a lower version', () => {
    const first = put('v1', 0, v(100));
    const second = put('v2', 50, v(60), { client: 'c2' });
    const violations = checkWriteOrder(input([first, second]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /not above .* op#\d+ c1 put k v1/);
    const deleted = del(50, v(60), { client: 'c2' });
    assert.equal(checkWriteOrder(input([first, deleted])).length, 1, 'deletes too');
  });

  it('fails when a quorum write that began after a quorum read answered gets a lower version', () => {
    const inDoubt = put('v1', 0, undefined as unknown as string, { outcome: 'info', error: 'COORDINATOR_CRASHED' });
    const sawIt = read('v1', 20, v(100));
    const later = put('v2', 50, v(60), { client: 'c2' });
    assert.equal(checkWriteOrder(input([inDoubt, sawIt, later])).length, 1);
  });

  it('accepts overlapping writes in any order, and lower versions for writes not acknowledged at quorum', () => {
    const first = put('v1', 0, v(100));
    assert.deepEqual(checkWriteOrder(input([first, put('v2', 5, v(60), { client: 'c2' })])), [], 'began before the first was acknowledged');
    assert.deepEqual(checkWriteOrder(input([first, put('v2', 50, v(60), { level: 'one', replicasAcked: 1 })])), [], 'at one');
    assert.deepEqual(checkWriteOrder(input([first, put('v2', 50, v(60), { sloppy: true, replicasAcked: 0 })])), [], 'sloppy');
    assert.deepEqual(checkWriteOrder(input([put('v0', 0, v(100), { level: 'one' }), put('v2', 50, v(60))])), [], 'after a write at one');
    assert.deepEqual(checkWriteOrder(input([first, read('v1', 20, v(100), { level: 'one' }), put('v2', 50, v(101))])), []);
  });
});

describe('read-values checker', () => {
  it('fails when a read at any level returns a value no put of the key wrote before the read ended', () => {
    const written = put('v1', 0, v(0));
    assert.equal(checkReadValues(input([written, read('v9', 100, v(5), { level: 'one' })])).length, 1, 'never written');
    assert.equal(checkReadValues(input([written, read('expired', 100, v(5), { level: 'one' })])).length, 1, 'an expired value');
    assert.equal(checkReadValues(input([put('v2', 0, v(1), { key: 'other' }), read('v2', 100, v(1), { level: 'one' })])).length, 1, 'another key');
    const future = put('v3', 200, v(200));
    assert.equal(checkReadValues(input([read('v3', 100, v(200), { level: 'one' }), future])).length, 1, 'a write that began later');
  });

  it('accepts stale reads at one, absent, and a value under an earlier stamp of a re-stamped write', () => {
    const first = put('v1', 0, v(0));
    const second = put('v2', 100, v(100));
    assert.deepEqual(checkReadValues(input([first, second, read('v1', 200, v(0), { level: 'one' }), read(null, 300, undefined, { level: 'one' })])), []);
    assert.deepEqual(checkReadValues(input([second, read('v2', 150, v(90), { level: 'one' })])), [], 're-stamped: one write, two versions');
  });

  it('fails when one version names two states, in the history or in the replicas\' storage', () => {
    const first = put('v1', 0, v(0));
    const second = put('v2', 100, v(100));
    assert.equal(checkReadValues(input([first, second, read('v2', 200, v(0), { level: 'one' })])).length, 1, 'two values');
    assert.equal(checkReadValues(input([first, read(null, 200, v(0), { tombstone: true })])).length, 1, 'a value and a delete');
    const stored = new Map([['k', { replicas: ['n1', 'n2'], stored: new Map<string, StoredState>([['n1', { version: v(0), value: 'v1' }], ['n2', { version: v(0), value: 'v7' }]]) }]]);
    assert.equal(checkReadValues(input([first], stored)).length, 1, 'storage');
  });
});

describe('updates checker', () => {
  const saw = (value: string | null, version: string) => ({ value, version });

  it('accepts a chain of applied updates, each over the one before, and updates that wrote nothing', () => {
    const first = update('v1', 0, v(10), undefined);
    const second = update('v2', 5, v(20), saw('v1', v(10)), { client: 'c2', completeMs: 40 });
    const lookedOnly = notApplied('v3', 50, saw('v2', v(20)), { client: 'c3' });
    const failed = update('v4', 60, undefined, undefined, { outcome: 'fail', error: 'WRITE_CONTENTION', applied: undefined, read: undefined });
    assert.deepEqual(checkUpdates(input([first, second, lookedOnly, failed, read('v2', 100, v(20))])), []);
  });

  it('fails when two applied updates saw the same state (a lost update), or one saw less than another wrote', () => {
    const written = put('v0', 0, v(0));
    const a = update('v1', 20, v(10), saw('v0', v(0)));
    const b = update('v2', 20, v(11), saw('v0', v(0)), { client: 'c2' });
    const same = checkUpdates(input([written, a, b]));
    assert.equal(same.length, 1);
    assert.match(same[0]?.message ?? '', /lost update: .* both saw/);
    const older = checkUpdates(input([written, a, update('v2', 20, v(12), saw('v0', v(5)), { client: 'c2' })]));
    assert.equal(older.length, 1);
    assert.match(older[0]?.message ?? '', /older than .* written by op#\d+ c1 update k v1/);
  });

  it('lets absence recur only after a delete that may have left a tombstone at least as new', () => {
    // Overlapping in time, so that only the lost update can be at fault (not real-time order).
    const first = update('v1', 0, v(10), undefined);
    const second = update('v2', 5, v(30), undefined, { client: 'c2', completeMs: 300 });
    const violations = checkUpdates(input([first, second]));
    assert.equal(violations.length, 1, 'no delete: both created the key');
    assert.match(violations[0]?.message ?? '', /both saw no entry/);
    assert.deepEqual(checkUpdates(input([first, del(50, v(20)), second])), [], 'a delete, purged since');
    assert.deepEqual(checkUpdates(input([first, del(50, undefined as unknown as string, { outcome: 'info', error: 'COORDINATOR_CRASHED' }), second])), [], 'a delete in doubt');
    assert.equal(checkUpdates(input([first, del(50, v(5)), second])).length, 1, 'a delete older than the first update\'s write');
    assert.equal(checkUpdates(input([first, del(400, v(40)), second])).length, 1, 'a delete invoked after it ended');
    assert.deepEqual(checkUpdates(input([update('v1', 0, v(10), undefined, { written: undefined }), second])), [], 'the first wrote a tombstone itself');
  });

  it('fails when an applied update saw less than was visible at quorum before it began, excluding sloppy writes and overlap', () => {
    const acked = put('v1', 0, v(50));
    const late = update('v2', 100, v(60), saw('v0', v(40)), { client: 'c2' });
    const violations = checkUpdates(input([acked, late]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /older than .* seen at quorum by op#\d+ c1 put k v1/);
    assert.deepEqual(checkUpdates(input([put('v1', 0, v(50), { sloppy: true }), late])), [], 'sloppy');
    assert.deepEqual(checkUpdates(input([put('v1', 0, v(50), { level: 'one' }), late])), [], 'at one');
    assert.deepEqual(checkUpdates(input([put('v1', 95, v(50), { completeMs: 120 }), late])), [], 'overlapping');
    assert.equal(checkUpdates(input([read('v1', 0, v(50)), late])).length, 1, 'a quorum read before it');
    const deleted = del(0, v(50));
    assert.deepEqual(checkUpdates(input([deleted, update('v2', 100, v(60), undefined)])), [], 'absent: the delete\'s tombstone purged');
    assert.equal(checkUpdates(input([acked, update('v2', 100, v(60), undefined)])).length, 1, 'absent after a value');
  });

  it('fails when an update wrote no higher than it saw, or a compare-and-set applied over another version', () => {
    assert.equal(checkUpdates(input([update('v2', 0, v(10), saw('v1', v(10)))])).length, 1);
    const cas = (expectVersion: string | null, previous: { readonly value: string | null; readonly version: string } | undefined) =>
      update('v2', 0, v(30), previous, { expectVersion });
    assert.deepEqual(checkUpdates(input([cas(v(10), saw('v1', v(10)))])), []);
    assert.deepEqual(checkUpdates(input([cas(null, undefined)])), []);
    assert.equal(checkUpdates(input([cas(v(10), saw('v1', v(20)))])).length, 1);
    assert.equal(checkUpdates(input([cas(null, saw(null, v(20)))])).length, 1, 'absent is no tombstone');
  });

  it('fails when an update took effect twice, or once though it answered it wrote nothing', () => {
    const twice = update('v1', 0, v(30), saw('v0', v(10)));
    const violations = checkUpdates(input([twice, read('v1', 100, v(20), { level: 'one' })]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /took effect twice: its value v1 shows under/);
    const stored = new Map([['k', { replicas: ['n1'], stored: new Map<string, StoredState>([['n1', { version: v(20), value: 'v1' }]]) }]]);
    assert.equal(checkUpdates(input([twice], stored)).length, 1, 'in storage after heal');
    const ownValue = update('v1', 0, v(30), saw('v1', v(20)));
    assert.match(checkUpdates(input([ownValue]))[0]?.message ?? '', /saw its own value/);
    const nothing = notApplied('v1', 0, saw('v0', v(10)));
    assert.match(checkUpdates(input([nothing, read('v1', 100, v(20))]))[0]?.message ?? '', /answered it never wrote/);
    const inDoubt = update('v1', 0, undefined, undefined, { outcome: 'info', error: 'COORDINATOR_CRASHED', applied: undefined, read: undefined });
    assert.deepEqual(checkUpdates(input([inDoubt, read('v1', 100, v(20)), read('v1', 200, v(20))])), [], 'in doubt: it may have taken effect, once');
    assert.equal(checkUpdates(input([inDoubt, read('v1', 100, v(20)), read('v1', 200, v(25))])).length, 1, 'in doubt, twice');
  });
});

describe('the other checkers and updates', () => {
  const saw = (value: string | null, version: string) => ({ value, version });

  it('hold an applied update to a quorum write\'s rules', () => {
    const first = put('v1', 0, v(0));
    const applied = update('v2', 100, v(100), saw('v1', v(0)));
    assert.equal(checkLostWrites(input([first, applied, finalRead('v1', v(0))])).length, 1, 'lost after heal');
    assert.deepEqual(checkLostWrites(input([first, applied, finalRead('v2', v(100))])), []);
    assert.equal(checkRealTimeReads(input([first, applied, read('v1', 200, v(0))])).length, 1, 'a quorum read after it');
    assert.equal(checkWriteOrder(input([applied, put('v3', 150, v(90), { client: 'c2' })])).length, 1, 'a quorum write after it');
    assert.equal(checkReadYourWrites(input([applied, read('v1', 200, v(0))])).length, 1, 'its client reads it');
    assert.deepEqual(checkReadValues(input([first, applied, read('v2', 200, v(100), { level: 'one' })])), []);
    assert.equal(checkReadValues(input([first, applied, read('v1', 200, v(100), { level: 'one' }), read('v9', 200, v(100), { level: 'one' })])).length, 2);
  });

  it('hold an update that wrote nothing to a quorum read\'s rules, and never count its value as written', () => {
    const first = put('v1', 0, v(0));
    const second = put('v2', 50, v(50));
    assert.equal(checkRealTimeReads(input([first, second, notApplied('v3', 100, saw('v1', v(0)))])).length, 1, 'stale');
    assert.deepEqual(checkRealTimeReads(input([first, second, notApplied('v3', 100, saw('v2', v(50)))])), []);
    const sawNew = notApplied('v3', 100, saw('v2', v(50)));
    assert.equal(checkRealTimeReads(input([first, put('v2', 0, v(50), { outcome: 'fail', error: 'UNAVAILABLE' }), sawNew, read('v1', 200, v(0))])).length, 1, 'a later read behind it');
    assert.equal(checkWriteOrder(input([sawNew, put('v4', 150, v(40), { client: 'c2' })])).length, 1, 'a later write below it');
    assert.equal(checkLostWrites(input([first, notApplied('v3', 100, saw('v1', v(0))), finalRead('v3', v(100))])).length, 1, 'its value was never written');
  });

  it('count an update that failed as a write that may have taken effect', () => {
    const first = put('v1', 0, v(0));
    const failed = update('v2', 100, undefined, undefined, { outcome: 'fail', error: 'UNAVAILABLE', applied: undefined, read: undefined });
    assert.deepEqual(checkLostWrites(input([first, failed, finalRead('v2', v(100))])), []);
    assert.deepEqual(checkLostWrites(input([first, failed, finalRead('v1', v(0))])), []);
    assert.deepEqual(checkConvergence(input([failed, finalRead('v2', v(100))], new Map([['k', { replicas: ['n1'], stored: new Map([['n1', { version: v(0), value: 'v1' }]]) }]]))), []);
  });
});

describe('history export of updates', () => {
  it('exports an update as a write: ok when applied, fail when it wrote nothing, info when in doubt', () => {
    const history = new History();
    const invocation = { process: 0, client: 'c1', kind: 'update' as const, key: 'k', written: 'v2', level: 'quorum' as const, sloppy: false, waitForAll: false, node: 'n1', purpose: 'workload' as const, timeoutMs: 1000 };
    const applied = history.invoke(invocation, 0);
    history.complete(applied, { outcome: 'ok', applied: true, read: 'v1', previousVersion: v(0), version: v(10) }, 10);
    const unchanged = history.invoke({ ...invocation, written: 'v3', expectVersion: null }, 20);
    history.complete(unchanged, { outcome: 'ok', applied: false, read: 'v2', previousVersion: v(10), version: v(10) }, 30);
    const inDoubt = history.invoke({ ...invocation, written: 'v4' }, 40);
    history.complete(inDoubt, { outcome: 'fail', error: 'UNAVAILABLE' }, 50);
    const knossos = history.toJepsen().filter((e) => e.type !== 'invoke');
    assert.deepEqual(knossos.map((e) => [e.type, e.f, e.value, e.read]), [['ok', 'write', 2, 1], ['fail', 'write', 3, 2], ['info', 'write', 4, undefined]]);
    const elle = history.toJepsen('elle').filter((e) => e.type === 'ok');
    assert.deepEqual(elle[0]?.value, [['r', 'k', 1], ['w', 'k', 2]]);
  });
});
