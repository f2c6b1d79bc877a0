// The removed nodes a member remembers (departed.ts): who is added, when one is forgotten, and that
// the list outlives a restart.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DepartedNodes } from '../../src/core/departed.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Envelope } from '../../src/core/messages.js';
import { formatVersion } from '../../src/core/version.js';
import { HeldNetwork, TestCluster, layoutOf } from './harness.js';

const nowMs = 1_700_000_000_000;
const withD = layoutOf(['a', 'b', 'c', 'd'], { version: 4 });
const withoutD = layoutOf(['a', 'b', 'c'], { version: 5 });

test('a member remembers the nodes a layout removed, across a restart, until their farewell', () => {
  const storage = new MemoryStorage();
  const departed = new DepartedNodes(storage);
  departed.onLayout(withD, withoutD, 'a', nowMs);
  assert.deepEqual(departed.list, [{ id: 'd', peer: withD.members[3]?.peer, removedIn: 5, sinceMs: nowMs }]);
  const restarted = new DepartedNodes(storage);
  assert.deepEqual(restarted.ids, ['d'], 'kept in the store');
  restarted.farewell('d', 4, nowMs);
  assert.deepEqual(restarted.ids, ['d'], 'a farewell under an older layout does not count');
  restarted.farewell('d', 5, nowMs);
  assert.deepEqual(restarted.ids, []);
  assert.deepEqual(new DepartedNodes(storage).ids, [], 'forgotten in the store too');
});

test('the removed node itself remembers nobody; a node the layout names again is no longer departed; all are forgotten in time', () => {
  const removed = new DepartedNodes(new MemoryStorage());
  removed.onLayout(withD, withoutD, 'd', nowMs);
  assert.deepEqual(removed.ids, []);

  const member = new DepartedNodes(new MemoryStorage());
  member.onLayout(withD, withoutD, 'a', nowMs);
  member.onLayout(withoutD, { ...withD, version: 6 }, 'a', nowMs);
  assert.deepEqual(member.ids, [], 'd joined again');

  member.onLayout(withD, withoutD, 'a', nowMs);
  member.expire(nowMs + 999, 1000);
  assert.deepEqual(member.ids, ['d']);
  member.expire(nowMs + 1000, 1000);
  assert.deepEqual(member.ids, [], 'forgotten once the wait is over');
});

test('a member that heard the farewell is not told the node back by one that had not', () => {
  // Found by the grow/shrink integration test: b, still waiting for d, sent its layout to a, which had
  // just acknowledged d's farewell; a took d back and waited for it for departedKeepMs, holding back
  // every purge, as d had stopped for good.
  const storage = new MemoryStorage();
  const a = new DepartedNodes(storage);
  a.onLayout(withD, withoutD, 'a', nowMs);
  a.farewell('d', 5, nowMs + 10);
  const told = [{ id: 'd', peer: 'p', removedIn: 5, ageMs: 20 }];
  a.learn(told, withoutD, 'a', nowMs + 20);
  assert.deepEqual(a.ids, [], 'not taken back');
  const restarted = new DepartedNodes(storage);
  restarted.learn(told, withoutD, 'a', nowMs + 30);
  assert.deepEqual(restarted.ids, [], 'the farewell is kept in the store');
  // A later removal of d (it joined again) is news.
  restarted.learn([{ id: 'd', peer: 'p', removedIn: 7 }], { ...withoutD, version: 7 }, 'a', nowMs + 40);
  assert.deepEqual(restarted.ids, ['d']);
  // Once as old as a member's longest wait, the farewell is forgotten too: d can be told of again.
  const later = new DepartedNodes(new MemoryStorage());
  later.farewell('d', 5, nowMs);
  later.expire(nowMs + 999, 1000);
  later.learn(told, withoutD, 'a', nowMs + 999);
  assert.deepEqual(later.ids, []);
  later.expire(nowMs + 1000, 1000);
  later.learn(told, withoutD, 'a', nowMs + 1000);
  assert.deepEqual(later.ids, ['d']);
});

test('a member that acknowledged a farewell is not told the node back by a slower member (node level)', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { antiEntropyIntervalMs: 0 });
  const a = cluster.node('a');
  const from = (sender: string, message: Envelope['message']): Envelope => ({ from: sender, to: 'a', clock: { wallMs: cluster.nowMs, counter: 0 }, message });
  const told = from('b', { kind: 'layout', layout: a.layout, departed: [{ id: 'd', peer: 'pd', removedIn: 1 }] });
  a.receive([told]);
  assert.deepEqual(a.departed.map((n) => n.id), ['d']);
  a.receive([from('d', { kind: 'farewell', layout: 1 })]);
  assert.deepEqual(a.departed.map((n) => n.id), [], 'forgotten at its farewell');
  a.receive([{ ...told, from: 'c' }]);
  assert.deepEqual(a.departed.map((n) => n.id), [], 'c, not told the farewell yet, does not bring it back');
});

test('a farewell heard before the layout that removed the node is not waited for again', () => {
  const a = new DepartedNodes(new MemoryStorage());
  a.farewell('d', 5, nowMs);
  a.onLayout(withD, withoutD, 'a', nowMs + 10);
  assert.deepEqual(a.ids, []);
  // A farewell under an older layout than the removal says nothing of it.
  const b = new DepartedNodes(new MemoryStorage());
  b.farewell('d', 4, nowMs);
  b.onLayout(withD, withoutD, 'b', nowMs + 10);
  assert.deepEqual(b.ids, ['d']);
});

test('a farewell whose store fails is not taken, and is taken in full when it comes again', () => {
  const storage = new MemoryStorage();
  const a = new DepartedNodes(storage);
  a.onLayout(withD, withoutD, 'a', nowMs);
  const setMeta = storage.setMeta.bind(storage);
  storage.setMeta = () => {
    throw new Error('SQLITE_FULL: database or disk is full');
  };
  assert.throws(() => a.farewell('d', 5, nowMs), /disk is full/);
  assert.deepEqual(a.ids, ['d'], 'still waited for, as the store says');
  storage.setMeta = setMeta;
  a.farewell('d', 5, nowMs + 10);
  assert.deepEqual(a.ids, []);
  const restarted = new DepartedNodes(storage);
  restarted.learn([{ id: 'd', peer: 'p', removedIn: 5 }], withoutD, 'a', nowMs + 20);
  assert.deepEqual(restarted.ids, [], 'the farewell reached the store: a telling after a restart does not bring d back');
});

test("a farewell whose batch's commit fails is not kept in memory either", () => {
  // The farewell's own statements succeeded and the COMMIT of the batch failed: the store kept
  // nothing, and the node must not remember more than its store (a restart would forget it).
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { antiEntropyIntervalMs: 0 });
  const a = cluster.node('a');
  const storage = cluster.storages.get('a') as MemoryStorage;
  const from = (sender: string, message: Envelope['message']): Envelope => ({ from: sender, to: 'a', clock: { wallMs: cluster.nowMs, counter: 0 }, message });
  const told = from('b', { kind: 'layout', layout: a.layout, departed: [{ id: 'd', peer: 'pd', removedIn: 1 }] });
  a.receive([told]);
  storage.writeFault = (phase) => {
    if (phase === 'commit') throw new Error('SQLITE_IOERR: disk I/O error');
  };
  assert.throws(() => a.receive([from('d', { kind: 'farewell', layout: 1 })]), /I\/O error/);
  storage.writeFault = undefined;
  assert.deepEqual(a.departed.map((n) => n.id), ['d'], 'still waited for, as the store says');
  a.receive([from('d', { kind: 'farewell', layout: 1 })]);
  assert.deepEqual(a.departed.map((n) => n.id), []);
  a.receive([{ ...told, from: 'c' }]);
  assert.deepEqual(a.departed.map((n) => n.id), [], 'the second farewell was stored');
});

test('a damaged record is ignored rather than trusted', () => {
  const storage = new MemoryStorage();
  storage.transaction(() => storage.setMeta('departed', '[{"id":"d"},"x",{"id":"e","peer":"p","removedIn":3,"sinceMs":1}]'));
  assert.deepEqual(new DepartedNodes(storage).ids, ['e']);
  storage.transaction(() => storage.setMeta('departed', 'not json'));
  assert.deepEqual(new DepartedNodes(storage).ids, []);
});

test('a node that joined after a removal learns the removed node from a member, and takes its hand-over', () => {
  // It never saw d go, so it answered "held" to d's hand-over of an old copy, and d dropped the only
  // copy of an acknowledged write (simulator seed 5611695, grace 500 ms).
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { tombstoneGraceMs: 1000, hintWindowMs: 500 });
  const network = new HeldNetwork(cluster);
  const c = cluster.node('c');
  const old = formatVersion({ wallMs: cluster.nowMs - 60_000, counter: 0, nodeId: 'd' });
  const handOver = (op: number): Envelope => ({
    from: 'd',
    to: 'c',
    clock: { wallMs: cluster.nowMs, counter: 0 },
    message: { kind: 'purge-check', op, key: 'k', version: old, handOver: true },
  });
  const answer = (op: number) => {
    const [reply] = network.held((e) => e.message.kind === 'purge-check-reply' && e.to === 'd' && e.message.op === op);
    return reply?.message.kind === 'purge-check-reply' ? reply.message.holds : undefined;
  };
  c.receive([handOver(1)]);
  assert.equal(answer(1), true, 'a node that never heard of d refuses its old copy');

  const layout = c.layout;
  c.receive([{ from: 'a', to: 'c', clock: { wallMs: cluster.nowMs, counter: 0 }, message: { kind: 'layout', layout, departed: [{ id: 'd', peer: 'pd', removedIn: 1 }] } }]);
  assert.deepEqual(c.departed.map((d) => d.id), ['d'], 'learned from the member');
  c.receive([handOver(2)]);
  assert.equal(answer(2), false, 'c lacks the copy, and says so: d hands it over');
});

test('a removed node learned from another member is forgotten when that member forgets it, not a wait later', () => {
  // Members that tell each other of d with their layouts restarted each other's wait at every telling:
  // two of them could keep a node removed for good (and every purge, which asks it) for ever.
  const keepMs = 10_000;
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { departedKeepMs: keepMs, antiEntropyIntervalMs: 0 });
  const a = cluster.node('a');
  const c = cluster.node('c');
  const envelope = (from: string, to: string, message: Envelope['message']): Envelope => ({ from, to, clock: { wallMs: cluster.nowMs, counter: 0 }, message });
  a.receive([envelope('b', 'a', { kind: 'layout', layout: a.layout, departed: [{ id: 'd', peer: 'pd', removedIn: 1 }] })]);
  const start = cluster.nowMs;
  assert.deepEqual(a.departed.map((n) => n.id), ['d']);
  /** `to` asks `from` for its layout (as after seeing a newer version), which carries what `from` waits for. */
  const pull = (from: string, to: string) => {
    cluster.node(from).receive([envelope(to, from, { kind: 'layout-pull' })]);
    cluster.deliverAll();
  };
  const remembering = () => ['a', 'b', 'c'].filter((id) => cluster.node(id).departed.some((n) => n.id === 'd'));
  cluster.advance(keepMs / 2);
  pull('a', 'c');
  assert.deepEqual(remembering(), ['a', 'c'], 'c learned d from a');
  cluster.advance(keepMs / 2 + 1000);
  assert.deepEqual(remembering(), [], `${keepMs} ms after a learned of it, nobody waits for d`);
  // Telling each other again and again does not keep d for ever either.
  for (let round = 0; round < 4; round++) {
    const [holder] = remembering();
    if (holder === undefined) break;
    pull(holder, holder === 'a' ? 'c' : 'a');
    cluster.advance(keepMs / 2 + 1000);
  }
  assert.deepEqual(remembering(), [], `still waited for ${cluster.nowMs - start} ms after the removal was learned`);
});

test('a layout whose adoption failed in the store (a full disk) is adopted in full when it comes again', () => {
  // The node took the layout in memory before storing it; the store's failure then skipped the rest
  // of the adoption (the removed node remembered, members, clean-up), and the same layout coming again
  // was no longer newer: the member never waited for the removed node before purging.
  const cluster = new TestCluster(['a', 'b', 'c', 'd'], {}, { antiEntropyIntervalMs: 0 });
  const a = cluster.node('a');
  const storage = cluster.storages.get('a') as MemoryStorage;
  const setMeta = storage.setMeta.bind(storage);
  // The store fails once on the layout, then once on the removed nodes' record.
  const failing = ['layout', 'departed'];
  storage.setMeta = (name, value) => {
    if (name === failing[0]) {
      failing.shift();
      throw new Error('SQLITE_FULL: database or disk is full');
    }
    setMeta(name, value);
  };
  const removed = layoutOf(['a', 'b', 'c'], { version: 2 });
  const layout = (): Envelope => ({ from: 'b', to: 'a', clock: { wallMs: cluster.nowMs, counter: 0 }, message: { kind: 'layout', layout: removed } });
  assert.throws(() => a.receive([layout()]), /disk is full/);
  assert.throws(() => a.receive([layout()]), /disk is full/);
  assert.equal(a.layout.version, 1, 'not taken while the store fails');
  a.receive([layout()]);
  assert.equal(a.layout.version, 2);
  assert.deepEqual(a.departed.map((n) => n.id), ['d'], 'a waits for d');
});
