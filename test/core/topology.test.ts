// Topology changes in the core, step by step: a lower replication factor keeps every acknowledged
// write readable, because staying replicas sync with the departing ones before the change completes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadOutcome, WriteOutcome } from '../../src/core/coordinator.js';
import { layoutDigest, parseLayout, type Layout } from '../../src/core/layout.js';
import { Placement } from '../../src/core/placement.js';
import { finalized } from '../../src/core/topology.js';
import { isLayoutChange } from '../../src/core/validate.js';
import { formatVersion } from '../../src/core/version.js';
import type { MemoryStorage } from '../../src/storage/memory.js';
import { TestCluster, bytes, layoutOf, text } from './harness.js';

/** Has `by` propose removing `id`, and runs the cluster `ms`: the change must be accepted by then. */
function leaveAndRun(cluster: TestCluster, by: string, id: string, ms: number): void {
  let done = false;
  cluster.node(by).proposeChange({ type: 'leave', id }, (r) => {
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    done = true;
  });
  cluster.advance(ms);
  assert.ok(done, `the leave of ${id} was accepted`);
}

test('RF 3 -> 1: the one remaining replica gets a write it had missed before the change completes', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  // A key whose only replica under RF 1 will be a, written (as if acknowledged at quorum) to b and c only.
  let key = '';
  for (let i = 0; !key; i++) if (cluster.node('a').placement.serving.preferenceListFor(`k${i}`, 1)[0] === 'a') key = `k${i}`;
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'b' }), value: bytes('acked') };
  for (const id of ['b', 'c']) cluster.storages.get(id)?.transaction(() => cluster.storages.get(id)?.apply(entry));
  let changed: Layout | undefined;
  cluster.node('b').proposeChange({ type: 'replication', strategy: 'consistent', rf: 1 }, (r) => {
    assert.ok(r.ok);
    changed = r.value;
  });
  cluster.advance(3000);
  assert.ok(changed?.pending, 'the change started with a transition');
  for (const node of cluster.nodes.values()) assert.equal(node.layout.pending, undefined, 'the change completed');
  assert.equal(cluster.node('a').layout.rf, 1);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('c').get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'acked');
});

test('RF 3 -> 2 while a replica is cut off: its copy of a write only it holds is handed over, not dropped', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  // A key whose replicas under RF 2 leave c out, written (as if acknowledged at `one`) to c alone.
  let key = '';
  for (let i = 0; !key; i++) if (!cluster.node('a').placement.serving.preferenceListFor(`k${i}`, 2).includes('c')) key = `k${i}`;
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'c' }), value: bytes('only on c') };
  cluster.storages.get('c')?.transaction(() => cluster.storages.get('c')?.apply(entry));
  // c is cut off as the change starts (a change is refused while a member is dead, so c dies after it
  // was asked for), while a and b fill from each other; it comes back, fills from them and the change
  // completes, and nothing has pulled the write from c.
  let done = false;
  cluster.node('a').proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }, (r) => {
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    done = true;
  });
  cluster.isolated.add('c');
  cluster.advance(20_000);
  assert.ok(done);
  for (const id of ['a', 'b']) assert.equal(cluster.node(id).stateOf('c'), 'dead', `${id} sees c dead`);
  for (const id of ['a', 'b']) assert.notEqual(cluster.node(id).layout.pending, undefined, `${id}: the change waits for c`);
  assert.equal(cluster.storages.get('a')?.get(key), undefined, 'a never saw the write');
  cluster.isolated.delete('c');
  cluster.advance(10_000);
  for (const id of ['a', 'b', 'c']) assert.equal(cluster.node(id).layout.pending, undefined, `${id}: the change completed`);
  assert.equal(cluster.node('c').layout.rf, 2);
  // c's clean-up handed the copy to the key's replicas before dropping it.
  for (const id of ['a', 'b']) assert.equal(text(cluster.storages.get(id)?.get(key)?.value), 'only on c', `${id} got the copy`);
  assert.equal(cluster.storages.get('c')?.get(key), undefined, 'c dropped its copy once they held it');
});

test('a change is refused while a member is dead (it would wait for it); removing the dead member is not', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 3 });
  cluster.isolated.add('d');
  cluster.advance(20_000);
  assert.equal(cluster.node('a').stateOf('d'), 'dead');
  for (const change of [
    { type: 'replication', strategy: 'consistent', rf: 2 },
    { type: 'leave', id: 'c' },
    { type: 'join', member: { id: 'e', peer: 'e:1', http: 'e:2' } },
  ] as const) {
    const refused = cluster.run<Layout>((cb) => cluster.node('b').proposeChange(change, cb));
    assert.ok(!refused.ok, change.type);
    assert.equal(refused.error.code, 'UNAVAILABLE');
    assert.match(refused.error.message, /node d is dead, and the change would wait for it: recover it first, or remove it \(remove-node d\)/);
  }
  assert.equal(cluster.node('a').layout.version, 1, 'nothing was voted in');
  const removal = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: 'd' }, cb));
  assert.ok(removal.ok, removal.ok ? '' : removal.error.message);
  cluster.advance(20_000);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(cluster.node(id).layout.members.map((m) => m.id), ['a', 'b', 'c'], `${id}: d is gone`);
  const after = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }, cb));
  assert.ok(after.ok, 'with d removed, changes go ahead');
});

/** 20 keys written at quorum through `via`, each with its own value. */
function writeKeys(cluster: TestCluster, via: string): Map<string, string> {
  const written = new Map<string, string>();
  for (let i = 0; i < 20; i++) {
    const put = cluster.run<WriteOutcome>((cb) => cluster.node(via).put(`key${i}`, bytes(`value${i}`), { consistency: 'quorum' }, cb));
    assert.ok(put.ok, `key${i} written`);
    written.set(`key${i}`, `value${i}`);
  }
  return written;
}

/** Every key reads back its value at quorum through `via`, and is on each of its replicas. */
function assertKept(cluster: TestCluster, via: string, written: Map<string, string>): void {
  for (const [key, value] of written) {
    const read = cluster.run<ReadOutcome>((cb) => cluster.node(via).get(key, { consistency: 'quorum' }, cb));
    assert.ok(read.ok && text(read.value.entry?.value) === value, `${key} reads back`);
    for (const id of cluster.node(via).placement.readReplicas(key)) assert.equal(text(cluster.storages.get(id)?.get(key)?.value), value, `${key} is on ${id}`);
  }
}

for (const [name, members, rf, change] of [
  ['an RF change (2 -> 3)', ['a', 'b', 'c', 'd'], 2, { type: 'replication', strategy: 'consistent', rf: 3 }],
  ['a decommission (of c)', ['a', 'b', 'c', 'd', 'e'], 3, { type: 'leave', id: 'c' }],
] as const) {
  test(`a member that dies during ${name} is removed by joining its removal to the change, which then completes`, () => {
    const cluster = new TestCluster([...members], { rf }, { antiEntropyIntervalMs: 0 });
    const written = writeKeys(cluster, 'a');
    let started: Layout | undefined;
    cluster.node('b').proposeChange(change, (r) => {
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      started = r.value;
    });
    // d fills ranges in this change, and dies as it starts: the change waits for it.
    cluster.isolated.add('d');
    // Asked at once, before failure detection declared d dead, its removal is refused as a conflict
    // that says to wait for that, not for the change to complete (which it would not, without d).
    cluster.advance(100);
    const early = cluster.run<Layout>((cb) => cluster.node('c').proposeChange({ type: 'leave', id: 'd' }, cb));
    assert.ok(!early.ok && early.error.code === 'LAYOUT_CONFLICT');
    assert.match(early.error.message, /node d is not seen dead: .*try again in a few seconds/);
    cluster.advance(20_000);
    assert.ok(started, 'the change started');
    const stuck = cluster.node('a').layout;
    assert.equal(stuck.version, started.version, 'the change waits for d');
    assert.equal(cluster.node('a').stateOf('d'), 'dead');
    const removal = cluster.run<Layout>((cb) => cluster.node('c').proposeChange({ type: 'leave', id: 'd' }, cb));
    assert.ok(removal.ok, removal.ok ? '' : `${removal.error.code}: ${removal.error.message}`);
    assert.equal(removal.value.version, stuck.version + 1);
    assert.deepEqual(removal.value.pending, stuck.pending, 'the same change goes on');
    assert.equal(removal.value.members.find((m) => m.id === 'd')?.role, 'leaving');
    cluster.advance(30_000);
    const live = members.filter((id) => id !== 'd' && !(change.type === 'leave' && id === change.id));
    for (const id of live) {
      const layout = cluster.node(id).layout;
      assert.deepEqual(layout.members.map((m) => m.id), live, `${id}: the change completed without d`);
      assert.equal(layout.pending, undefined);
      assert.equal(layout.rf, change.type === 'replication' ? change.rf : rf);
    }
    assertKept(cluster, 'a', written);
  });
}

test('a coordinator that sees no majority of the members alive changes nothing: the other side of a partition may', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 });
  cluster.isolated.add('b');
  cluster.isolated.add('c');
  cluster.advance(20_000);
  assert.equal(cluster.node('a').stateOf('b'), 'dead');
  const change = cluster.run<Layout>((cb) => cluster.node('a').proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }, cb));
  assert.ok(!change.ok);
  assert.equal(change.error.code, 'UNAVAILABLE');
  assert.equal(cluster.node('a').layout.version, 1, 'no new layout was published');
});

test('a hint for a member that leaves before it could be delivered goes to the key\'s new replica', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 1 }, { antiEntropyIntervalMs: 0 });
  // A key of d's under RF 1, and a hint for d on a (a sloppy write that only the hint acknowledged).
  let key = '';
  for (let i = 0; !key; i++) if (cluster.node('a').placement.serving.preferenceListFor(`k${i}`, 1)[0] === 'd') key = `k${i}`;
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'a' }), value: bytes('hinted') };
  const storageA = cluster.storages.get('a');
  storageA?.transaction(() => storageA.addHint('d', entry, cluster.nowMs));
  // a's writes to d are lost, so the hint stays on a while d leaves: d streams its ranges to their new
  // owners, and it never held this write.
  cluster.drop = (envelope) => envelope.from === 'a' && envelope.to === 'd' && envelope.message.kind === 'write';
  leaveAndRun(cluster, 'b', 'd', 5000);
  for (const id of ['a', 'b', 'c']) assert.equal(cluster.node(id).layout.members.length, 3, `${id}: d is gone`);
  const owner = cluster.node('a').placement.readReplicas(key)[0] as string;
  assert.equal(text(cluster.storages.get(owner)?.get(key)?.value), 'hinted', `the new replica ${owner} got the write`);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('b').get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'hinted');
});

test('a node removed while cut off hands over, once back, a write only it holds, however old; its farewell ends the wait for it', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 3 }, { antiEntropyIntervalMs: 0, tombstoneGraceMs: 1000 });
  // A key of d's, written (as if acknowledged at `one`) to d alone, which is then cut off.
  let key = '';
  for (let i = 0; !key; i++) if (cluster.node('a').placement.serving.preferenceListFor(`k${i}`, 3).includes('d')) key = `k${i}`;
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'd' }), value: bytes('only on d') };
  cluster.storages.get('d')?.transaction(() => cluster.storages.get('d')?.apply(entry));
  cluster.isolated.add('d');
  cluster.advance(20_000);
  leaveAndRun(cluster, 'a', 'd', 5000);
  for (const id of ['a', 'b', 'c']) {
    assert.equal(cluster.node(id).layout.members.length, 3, `${id}: d is removed`);
    assert.deepEqual(cluster.node(id).departed.map((n) => n.id), ['d'], `${id} waits for d`);
  }
  // Back long after the grace period: its copy is far older than any tombstone a purge could have taken.
  cluster.isolated.delete('d');
  cluster.advance(10_000);
  const owners = cluster.node('a').placement.readReplicas(key);
  for (const id of owners) assert.equal(text(cluster.storages.get(id)?.get(key)?.value), 'only on d', `${id} got d's copy`);
  assert.equal(cluster.storages.get('d')?.get(key), undefined, 'd dropped it once they held it');
  for (const id of ['a', 'b', 'c']) assert.deepEqual(cluster.node(id).departed, [], `${id} heard d's farewell`);
  assert.equal(cluster.node('d').cleanupPending, false, 'd is done: it may be stopped');
});

test('a removed node that still holds hints says its clean-up is pending until they are delivered, so it is not stopped with them', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  // d holds a hint for c (as a fallback for a sloppy write), which it cannot deliver yet.
  const entry = { key: 'hinted', version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'd' }), value: bytes('only in a hint') };
  const d = cluster.storages.get('d') as MemoryStorage;
  d.transaction(() => d.addHint('c', entry, cluster.nowMs));
  cluster.drop = (envelope) => envelope.from === 'd' && envelope.to === 'c' && envelope.message.kind === 'write';
  leaveAndRun(cluster, 'a', 'd', 30_000);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(cluster.node(id).layout.members.map((m) => m.id), ['a', 'b', 'c'], `${id}: d is removed`);
  assert.equal(cluster.node('d').hintsPending().c, 1);
  assert.equal(cluster.node('d').cleanupPending, true, 'd still holds the only copy of a write, as a hint');
  cluster.drop = undefined;
  cluster.advance(10_000);
  assert.equal(text(cluster.storages.get('c')?.get('hinted')?.value), 'only in a hint', 'the hint reached c');
  assert.equal(cluster.node('d').cleanupPending, false, 'then d may be stopped');
});

test('a leave or an RF change asked again while it runs answers the change under way, not a conflict', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  // Fillers' reports are lost, so the change stays under way.
  cluster.drop = (envelope) => envelope.message.kind === 'move-done';
  const first = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: 'd' }, cb));
  assert.ok(first.ok, first.ok ? '' : first.error.message);
  // The answer was lost (a timeout, a 503 after the vote went ahead): the admin asks again.
  const again = cluster.run<Layout>((cb) => cluster.node('c').proposeChange({ type: 'leave', id: 'd' }, cb));
  assert.ok(again.ok, again.ok ? '' : `${again.error.code}: ${again.error.message}`);
  assert.equal(again.value.version, first.value.version, 'no new layout');
  assert.equal(cluster.node('a').layout.version, first.value.version);
  // Another change is still refused.
  const other = cluster.run<Layout>((cb) => cluster.node('c').proposeChange({ type: 'leave', id: 'c' }, cb));
  assert.ok(!other.ok && other.error.code === 'LAYOUT_CONFLICT');

  const rf = new TestCluster(['a', 'b', 'c'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  rf.drop = (envelope) => envelope.message.kind === 'move-done';
  const lower = rf.run<Layout>((cb) => rf.node('b').proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }, cb));
  assert.ok(lower.ok && lower.value.pending?.rf === 2);
  const lowerAgain = rf.run<Layout>((cb) => rf.node('c').proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }, cb));
  assert.ok(lowerAgain.ok, lowerAgain.ok ? '' : `${lowerAgain.error.code}: ${lowerAgain.error.message}`);
  assert.equal(lowerAgain.value.version, lower.value.version);
  const different = rf.run<Layout>((cb) => rf.node('c').proposeChange({ type: 'replication', strategy: 'consistent', rf: 1 }, cb));
  assert.ok(!different.ok && different.error.code === 'LAYOUT_CONFLICT');
});

test('a stream whose batch rolls back (a full disk) is streamed again: the change does not complete without what it carried', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 1 }, { antiEntropyIntervalMs: 0 });
  // A key of d's under RF 1, acknowledged (at quorum, which is 1) by d alone.
  let key = '';
  for (let i = 0; !key; i++) if (cluster.node('a').placement.serving.preferenceListFor(`k${i}`, 1)[0] === 'd') key = `k${i}`;
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'd' }), value: bytes('acked') };
  cluster.storages.get('d')?.transaction(() => cluster.storages.get('d')?.apply(entry));
  const owner = new Placement({ ...cluster.node('a').layout, members: cluster.node('a').layout.members.filter((m) => m.id !== 'd') })
    .readReplicas(key)[0] as string;
  // The new owner's batch that applies the streamed copy fails at its commit (a full disk, say): the
  // store rolls it back, and the node goes on (as the runtime does: it logs the failed batch).
  const storage = cluster.storages.get(owner) as MemoryStorage;
  const transaction = storage.transaction.bind(storage);
  const apply = storage.apply.bind(storage);
  let depth = 0;
  let streamed = false;
  let failed = false;
  storage.apply = (e) => {
    if (e.key === key && !failed) streamed = true;
    return apply(e);
  };
  storage.transaction = <T>(fn: () => T): T =>
    transaction(() => {
      depth += 1;
      try {
        const result = fn();
        if (depth === 1 && streamed && !failed) {
          failed = true;
          throw new Error('disk full');
        }
        return result;
      } finally {
        depth -= 1;
      }
    });
  const node = cluster.node(owner);
  const receive = node.receive.bind(node);
  node.receive = (batch) => {
    try {
      receive(batch);
    } catch {
      // logged by the runtime
    }
  };
  // d is cut off from clean-up once the change is final: its hand-over cannot make up for the loss.
  cluster.drop = (envelope) => envelope.from === 'd' && envelope.message.kind === 'purge-check';
  leaveAndRun(cluster, 'a', 'd', 10_000);
  assert.ok(failed, 'the batch with the streamed copy rolled back');
  for (const id of ['a', 'b', 'c']) assert.equal(cluster.node(id).layout.members.length, 3, `${id}: d is gone`);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('a').get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'acked', `the new owner ${owner} holds the write`);
});

/** A cluster of five at RF 3 whose nodes d and e are dead for good, with a key whose only live replica is `survivor`. */
function twoLost(): { cluster: TestCluster; key: string; survivor: string } {
  const cluster = new TestCluster(['a', 'b', 'c', 'd', 'e'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  // A key whose replicas are d, e and one live node, written to all three (acknowledged at quorum).
  let key = '';
  let survivor = '';
  for (let i = 0; !key; i++) {
    const replicas = cluster.node('a').placement.serving.preferenceListFor(`k${i}`, 3);
    if (replicas.includes('d') && replicas.includes('e')) {
      key = `k${i}`;
      survivor = replicas.find((id) => id !== 'd' && id !== 'e') as string;
    }
  }
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: 'a' }), value: bytes('kept') };
  for (const id of ['d', 'e', survivor]) cluster.storages.get(id)?.transaction(() => cluster.storages.get(id)?.apply(entry));
  cluster.isolated.add('d');
  cluster.isolated.add('e');
  cluster.advance(20_000);
  for (const id of ['a', 'b', 'c']) for (const lost of ['d', 'e']) assert.equal(cluster.node(id).stateOf(lost), 'dead');
  return { cluster, key, survivor };
}

test('removing one of two nodes lost for good completes when forced, and the other removal can then run', () => {
  // With RF 3, a piece of the ring whose other two replicas are both dead has one live source, and a
  // fill waits for N - quorum + 1 = 2: unforced, neither removal could complete (see the next test).
  const { cluster, key } = twoLost();
  let forced: Layout | undefined;
  cluster.node('b').proposeChange({ type: 'leave', id: 'd', force: true }, (r) => {
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    forced = r.value;
  });
  cluster.advance(30_000);
  assert.equal(forced?.forced, true, 'the change runs forced');
  for (const id of ['a', 'b', 'c']) {
    const layout = cluster.node(id).layout;
    assert.deepEqual(layout.members.map((m) => m.id), ['a', 'b', 'c', 'e'], `${id}: d is removed`);
    assert.equal(layout.forced, undefined, `${id}: the final layout is not forced`);
  }
  // The copy on the one live replica was streamed to the key's new replica: force gave up only what
  // the dead nodes alone held.
  const holders = cluster.node('a').placement.readReplicas(key).filter((id) => id !== 'e');
  for (const id of holders) assert.equal(text(cluster.storages.get(id)?.get(key)?.value), 'kept', `${id} holds the key`);
  // e's ranges now each have two live replicas: its removal needs no force.
  leaveAndRun(cluster, 'a', 'e', 30_000);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(cluster.node(id).layout.members.map((m) => m.id), ['a', 'b', 'c'], `${id}: e is removed`);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('c').get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'kept');
});

test('unforced, the removal of two lost nodes waits (the second joins the first); forced, both complete; force is refused for a member that is not dead', () => {
  const { cluster, key } = twoLost();
  leaveAndRun(cluster, 'a', 'd', 30_000);
  for (const id of ['a', 'b', 'c']) {
    assert.equal(cluster.node(id).layout.members.find((m) => m.id === 'd')?.role, 'leaving', `${id}: d is still leaving`);
  }
  const join = cluster.run<Layout>((cb) => cluster.node('a').proposeChange({ type: 'join', member: { id: 'f', peer: 'f:1', http: 'f:2' } }, cb));
  assert.ok(!join.ok && join.error.code === 'LAYOUT_CONFLICT', 'another change waits for it');
  // The removal of the other dead member joins the change under way, which still waits: a piece whose
  // replicas were d, e and one live node has one source of the two it needs.
  const other = cluster.run<Layout>((cb) => cluster.node('a').proposeChange({ type: 'leave', id: 'e' }, cb));
  assert.ok(other.ok, other.ok ? '' : other.error.message);
  assert.equal(other.value.forced, undefined);
  cluster.advance(30_000);
  for (const id of ['a', 'b', 'c']) {
    const roles = cluster.node(id).layout.members.filter((m) => m.role === 'leaving').map((m) => m.id);
    assert.deepEqual(roles, ['d', 'e'], `${id}: d and e are both still leaving`);
  }
  // A live member hands its ranges over: force, which would give up its copies, is refused.
  for (const live of ['c', 'a']) {
    const refused = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: live, force: true }, cb));
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'BAD_REQUEST', refused.error.message);
    assert.match(refused.error.message, /not dead/);
  }
  // Forced, the change gives up what only d and e held, and completes without both.
  const forced = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: 'e', force: true }, cb));
  assert.ok(forced.ok && forced.value.forced === true, 'forcing either removal forces the change');
  cluster.advance(30_000);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(cluster.node(id).layout.members.map((m) => m.id), ['a', 'b', 'c'], `${id}: d and e are removed`);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('c').get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'kept', 'the copy on the live replica was kept');
  const steady = new TestCluster(['a', 'b', 'c'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  const live = steady.run<Layout>((cb) => steady.node('a').proposeChange({ type: 'leave', id: 'c', force: true }, cb));
  assert.ok(!live.ok && live.error.code === 'BAD_REQUEST', 'a live member is not removed by force');
  assert.equal(steady.node('a').layout.version, 1, 'nothing changed');
});

test('forcing the stuck removal under way forces it in place: a new layout version, then it completes', () => {
  const { cluster } = twoLost();
  leaveAndRun(cluster, 'a', 'd', 30_000);
  const stuck = cluster.node('a').layout;
  assert.ok(stuck.members.some((m) => m.id === 'd' && m.role === 'leaving') && !stuck.forced, 'the removal is stuck');
  // Fillers' reports are held back for a moment, so the forced layout can be looked at before it completes.
  cluster.drop = (envelope) => envelope.message.kind === 'move-done';
  const upgrade = cluster.run<Layout>((cb) => cluster.node('c').proposeChange({ type: 'leave', id: 'd', force: true }, cb));
  assert.ok(upgrade.ok, upgrade.ok ? '' : `${upgrade.error.code}: ${upgrade.error.message}`);
  assert.equal(upgrade.value.version, stuck.version + 1);
  assert.equal(upgrade.value.forced, true);
  assert.deepEqual(upgrade.value.members, stuck.members, 'the same change');
  // Asked again, forced or not, it answers the forced layout.
  for (const force of [true, false]) {
    const again = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: 'd', force }, cb));
    assert.ok(again.ok && again.value.version === upgrade.value.version && again.value.forced === true, `asked again (force ${force})`);
  }
  cluster.drop = () => false;
  cluster.advance(30_000);
  for (const id of ['a', 'b', 'c']) {
    const layout = cluster.node(id).layout;
    assert.deepEqual(layout.members.map((m) => m.id), ['a', 'b', 'c', 'e'], `${id}: d is removed`);
    assert.equal(layout.forced, undefined);
  }
});

test('a forced layout is one that removes a member: the flag is parsed, digested, and dropped when final', () => {
  const leaving = layoutOf(['a', 'b', 'c'], { version: 2 });
  const transition: Layout = { ...leaving, members: leaving.members.map((m) => (m.id === 'c' ? { ...m, role: 'leaving' as const } : m)) };
  const forced: Layout = { ...transition, forced: true };
  assert.deepEqual(parseLayout(JSON.parse(JSON.stringify(forced))), forced);
  assert.equal(parseLayout({ ...transition, forced: false }), undefined, 'only true');
  assert.equal(parseLayout({ ...leaving, forced: true }), undefined, 'only with a leaving member');
  assert.notEqual(layoutDigest(forced), layoutDigest(transition), 'the vote tells them apart');
  assert.equal(finalized(forced).forced, undefined);
  assert.ok(isLayoutChange({ type: 'leave', id: 'c', force: true }));
  assert.ok(!isLayoutChange({ type: 'leave', id: 'c', force: 'maybe' }));
});

test('a change that could never be made is refused as such while another runs, not as a conflict to retry', () => {
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], { rf: 3 }, { antiEntropyIntervalMs: 0 });
  cluster.drop = (envelope) => envelope.message.kind === 'move-done'; // the change stays under way
  const leave = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: 'd' }, cb));
  assert.ok(leave.ok);
  const unknown = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'leave', id: 'x' }, cb));
  assert.ok(!unknown.ok);
  assert.equal(unknown.error.code, 'UNKNOWN_NODE', unknown.error.message);
  const tooMany = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'replication', strategy: 'consistent', rf: 9 }, cb));
  assert.ok(!tooMany.ok);
  assert.equal(tooMany.error.code, 'BAD_REQUEST', tooMany.error.message);
});

test('a layout whose storing fails (a full disk) is not half adopted: the node keeps its layout and adopts the new one whole when it comes again', () => {
  // Simulator seed 7001752 (storage failures): n5's disk was full when layout v7 came; the node took
  // v7 in memory, then storing it threw, and the rest of the adoption never ran. Every later copy
  // of v7 was no news, so the clean-up of v6 waited for good (pass on v6, layout v7).
  const cluster = new TestCluster(['a', 'b', 'c', 'd']);
  const a = cluster.node('a');
  const storage = cluster.storages.get('a');
  assert.ok(storage);
  const next: Layout = { ...a.layout, version: a.layout.version + 1, rf: 2 };
  const send = () => a.receive([{ from: 'b', to: 'a', clock: { wallMs: cluster.nowMs, counter: 0 }, message: { kind: 'layout', layout: next } }]);

  storage.writeFault = () => {
    throw new Error('SQLITE_FULL: database or disk is full');
  };
  assert.throws(send, /SQLITE_FULL/);
  storage.writeFault = undefined;
  assert.equal(a.layout.version, next.version - 1, 'still on the layout it could store');

  send();
  assert.equal(a.layout.version, next.version);
  assert.equal(JSON.parse(storage.getMeta('layout') ?? '{}').version, next.version);
});

test('a change whose coordinator does not answer fails saying it may still take effect', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 });
  // b asks a (the layout coordinator), whose answer is lost.
  cluster.drop = (envelope) => envelope.from === 'a' && envelope.message.kind === 'layout-change-reply';
  const change = cluster.run<Layout>((cb) => cluster.node('b').proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }, cb));
  assert.ok(!change.ok);
  assert.equal(change.error.code, 'UNAVAILABLE');
  assert.equal(change.error.message, 'the layout coordinator did not answer: the change may still take effect (quorumkv topology shows whether it did)');
  cluster.advance(5000);
  assert.equal(cluster.node('b').layout.rf, 2, 'and it did');
});

test('members started with different layouts of one version all come to run the same one', () => {
  // c was started with --vnodes 16, the others with 64: both layouts are version 1.
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 2 }, {}, { c: { vnodes: 16 } });
  cluster.advance(5000);
  const digests = new Set(['a', 'b', 'c'].map((id) => layoutDigest(cluster.node(id).layout)));
  assert.equal(digests.size, 1, 'one layout everywhere');
  // The one with the higher digest (layout.ts supersedes), still version 1.
  const started = [layoutOf(['a', 'b', 'c'], { rf: 2 }), layoutOf(['a', 'b', 'c'], { rf: 2, vnodes: 16 })].map(layoutDigest);
  assert.equal([...digests][0], Math.max(...started));
  assert.equal(cluster.node('a').layout.version, 1);
  for (let i = 0; i < 50; i++) {
    const lists = ['a', 'b', 'c'].map((id) => cluster.node(id).placement.readReplicas(`k${i}`).join());
    assert.equal(new Set(lists).size, 1, `k${i} has the same replicas on every node`);
  }
});
