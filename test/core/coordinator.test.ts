// The coordinator's protocol, step by step on a 3-node cluster with a perfect network: quorum writes
// and reads, re-stamping above newer versions under clock skew, blocking read repair, tombstones,
// clear errors when too few replicas answer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatVersion } from '../../src/core/version.js';
import type { ReadOutcome, Result, WriteOutcome } from '../../src/core/coordinator.js';
import type { Layout } from '../../src/core/layout.js';
import type { Envelope } from '../../src/core/messages.js';
import { Placement } from '../../src/core/placement.js';
import { HeldNetwork, TestCluster, bytes, text } from './harness.js';

const minute = 60_000;

test('a write at quorum is read back at quorum through every coordinator', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const put = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v1'), { consistency: 'quorum' }, cb));
  assert.ok(put.ok);
  for (const id of ['a', 'b', 'c']) {
    const read = cluster.run<ReadOutcome>((cb) => cluster.node(id).get('k', { consistency: 'quorum' }, cb));
    assert.ok(read.ok);
    assert.equal(text(read.value.entry?.value), 'v1');
  }
});

test('a coordinator whose clock is minutes behind still makes a later write win', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  cluster.skewMs.set('a', 10 * minute); // a runs ahead
  cluster.skewMs.set('c', -10 * minute); // c runs behind
  const first = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('from-a'), { consistency: 'quorum' }, cb));
  assert.ok(first.ok);
  const later = cluster.run<WriteOutcome>((cb) => cluster.node('c').put('k', bytes('from-c-later'), { consistency: 'quorum' }, cb));
  assert.ok(later.ok);
  assert.ok(later.value.version > first.value.version, 'the later write got the higher version');
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('b').get('k', { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'from-c-later');
});

test('a write that meets a newer version on a replica re-stamps above it and wins', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  // Every replica already holds a version 30 minutes in the future that no coordinator clock has seen
  // (written by a node whose clock ran ahead and is gone): the next write must still win.
  const future = formatVersion({ wallMs: cluster.nowMs + 30 * minute, counter: 0, nodeId: 'gone' });
  for (const storage of cluster.storages.values()) {
    storage.transaction(() => storage.apply({ key: 'k', version: future, value: bytes('from-the-future') }));
  }
  const write = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('now'), { consistency: 'quorum' }, cb));
  assert.ok(write.ok);
  assert.ok(write.value.version > future, 'the write was re-stamped above the newer version');
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('b').get('k', { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'now');
});

test('a read repairs a replica that missed a write before answering', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  cluster.isolated.add('c');
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'quorum' }, cb)).ok);
  cluster.isolated.delete('c');
  assert.equal(cluster.storages.get('c')?.get('k'), undefined, 'c missed the write');
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('c').get('k', { consistency: 'all' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'v');
  assert.ok(read.value.replicasRepaired >= 1);
  assert.equal(text(cluster.storages.get('c')?.get('k')?.value), 'v', 'c holds the value again');
});

test('a delete writes a tombstone that reads as absent', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all' }, cb)).ok);
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('b').remove('k', { consistency: 'all' }, cb)).ok);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('c').get('k', { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(read.value.entry?.value, null);
  for (const storage of cluster.storages.values()) assert.equal(storage.get('k')?.value, null);
});

test('too few replicas: the error names how many answered and how many were needed', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { requestTimeoutMs: 200 });
  cluster.isolated.add('c');
  const write = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all' }, cb));
  assert.ok(!write.ok);
  assert.equal(write.error.code, 'UNAVAILABLE');
  assert.deepEqual({ ...write.error.details }, { answered: 2, needed: 3, replicas: 3 });
  assert.match(write.error.message, /2 of 3 replicas answered, 3 needed/);
});

test('keys and values over the limits are refused before anything is sent', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { keyBytesMax: 8, valueBytesMax: 4 });
  const longKey = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('123456789', bytes('v'), {}, cb));
  assert.ok(!longKey.ok && longKey.error.code === 'KEY_TOO_LARGE');
  const bigValue = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('12345'), {}, cb));
  assert.ok(!bigValue.ok && bigValue.error.code === 'VALUE_TOO_LARGE');
  const badKey = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('\uD800x', bytes('v'), {}, cb));
  assert.ok(!badKey.ok && badKey.error.code === 'BAD_REQUEST');
});

test('a read waiting for every replica does not wait the whole timeout for one that went silent', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { requestTimeoutMs: 2000, readStragglerWaitMs: 100 });
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all' }, cb)).ok);
  cluster.isolated.add('c'); // crashed, but not yet known dead
  const startedMs = cluster.nowMs;
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('a').get('k', { consistency: 'one', waitForAll: true }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'v');
  assert.equal(read.value.replicasAnswered, 2);
  assert.ok(cluster.nowMs - startedMs <= 200, `answered after ${cluster.nowMs - startedMs} ms`);
});

test('an expiring value reads as absent from its expiry on, then is purged everywhere like a tombstone', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { tombstoneGraceMs: 1000, tombstonePurgeIntervalMs: 100 });
  const expiresMs = cluster.nowMs + 500;
  const put = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all', expiresMs }, cb));
  assert.ok(put.ok);
  for (const storage of cluster.storages.values()) assert.equal(storage.get('k')?.expiresMs, expiresMs);
  const before = cluster.run<ReadOutcome>((cb) => cluster.node('b').get('k', { consistency: 'quorum' }, cb));
  assert.ok(before.ok);
  assert.equal(text(before.value.entry?.value), 'v');
  assert.equal(before.value.entry?.expiresMs, expiresMs);

  cluster.advance(600);
  const after = cluster.run<ReadOutcome>((cb) => cluster.node('c').get('k', { consistency: 'quorum' }, cb));
  assert.ok(after.ok);
  assert.deepEqual(after.value.entry, { key: 'k', version: put.value.version, value: null }, 'a tombstone of the same version');
  assert.equal(cluster.node('a').localEntries(null, 10)[0]?.value, null, 'listings see it as deleted too');

  cluster.advance(1500); // past expiry + grace: every replica agrees and purges it, leaving a floor
  for (const storage of cluster.storages.values()) {
    assert.equal(storage.get('k'), undefined);
    assert.equal(storage.purgeFloor('k'), put.value.version);
  }
});

test('a newer write without an expiry makes the key permanent again; a delete never carries one', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const soon = cluster.nowMs + 100;
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v1'), { consistency: 'all', expiresMs: soon }, cb)).ok);
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('b').put('k', bytes('v2'), { consistency: 'all' }, cb)).ok);
  cluster.advance(200);
  const read = cluster.run<ReadOutcome>((cb) => cluster.node('c').get('k', { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  assert.equal(text(read.value.entry?.value), 'v2');
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').remove('k', { consistency: 'all', expiresMs: soon }, cb)).ok);
  for (const storage of cluster.storages.values()) assert.deepEqual(Object.keys(storage.get('k') ?? {}).sort(), ['key', 'value', 'version']);
});

test('an expiry that no version could hold is refused as a bad request', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  for (const expiresMs of [-1, 1.5, Number.NaN, 2 ** 60]) {
    const put = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'quorum', expiresMs }, cb));
    assert.ok(!put.ok);
    assert.equal(put.error.code, 'BAD_REQUEST');
  }
});

test('a replica on a newer layout refuses a write planned on an older one; the coordinator plans it again on the newer one', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 1 });
  const owner = cluster.node('a').placement.readReplicas('k')[0] as string;
  const coordinator = ['a', 'b', 'c'].find((id) => id !== owner) as string;
  // Only the owner has heard of layout 2 (every node replicates every key), as right after it was published.
  const newer = { ...cluster.node(owner).layout, version: 2, rf: 3 };
  assert.ok(cluster.node(owner).adoptLayout(newer));
  const put = cluster.run<WriteOutcome>((cb) => cluster.node(coordinator).put('k', bytes('v'), { consistency: 'one' }, cb));
  assert.ok(put.ok);
  assert.equal(cluster.node(coordinator).layout.version, 2, 'the coordinator adopted the layout the replica sent');
  cluster.deliverAll();
  for (const [id, storage] of cluster.storages) assert.equal(text(storage.get('k')?.value), 'v', `${id} holds the write planned on layout 2`);
});

test('a write waiting for the newer layout a replica refused it for fails at its deadline, and is not sent again', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 1 });
  const owner = cluster.node('a').placement.readReplicas('k')[0] as string;
  const coordinator = ['a', 'b', 'c'].find((id) => id !== owner) as string;
  assert.ok(cluster.node(owner).adoptLayout({ ...cluster.node(owner).layout, version: 2, rf: 3 }));
  // The layout never reaches the coordinator; it learns only that a newer one exists.
  cluster.drop = (envelope) => envelope.to === coordinator && envelope.message.kind === 'layout';
  const startMs = cluster.nowMs;
  let answeredMs: number | undefined;
  let result: Result<WriteOutcome> | undefined;
  cluster.node(coordinator).put('k', bytes('v'), { consistency: 'one', timeoutMs: 200 }, (r) => {
    result = r;
    answeredMs = cluster.nowMs;
  });
  let writesAfterDeadline = 0;
  const inner = cluster.drop;
  cluster.drop = (envelope) => {
    if (envelope.message.kind === 'write' && cluster.nowMs >= startMs + 200) writesAfterDeadline += 1;
    return inner(envelope);
  };
  cluster.advance(400);
  assert.ok(result !== undefined && !result.ok);
  assert.equal(result.error.code, 'UNAVAILABLE');
  assert.equal(answeredMs, startMs + 200, 'answered at the tick that reached its deadline');
  assert.equal(writesAfterDeadline, 0, 'not sent again past its deadline');
});

test('a replica refuses a copy of a key it does not replicate; a hint for it goes to the key\'s replica instead', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 1 }, { hintDeliveryIntervalMs: 10 });
  const owner = cluster.node('a').placement.readReplicas('k')[0] as string;
  const [holder, stranger] = ['a', 'b', 'c'].filter((id) => id !== owner) as [string, string];
  // A hint left over from an earlier layout, for a node that does not replicate the key now.
  const entry = { key: 'k', version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: holder }), value: bytes('moved') };
  const holderStorage = cluster.storages.get(holder)!;
  holderStorage.transaction(() => holderStorage.addHint(stranger, entry, cluster.nowMs));
  cluster.advance(200);
  assert.equal(cluster.storages.get(stranger)?.get('k'), undefined, 'no stray copy on the node that does not replicate the key');
  assert.equal(text(cluster.storages.get(owner)?.get('k')?.value), 'moved', 'the replica got it');
  assert.deepEqual(holderStorage.hintCounts(), new Map(), 'no hint left behind');
});

test('a hint its holder has superseded is dropped, not delivered: a newer version, or a purged tombstone', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { hintDeliveryIntervalMs: 10 });
  const holder = cluster.storages.get('a')!;
  const version = (wallMs: number) => formatVersion({ wallMs, counter: 0, nodeId: 'a' });
  const old = (key: string) => ({ key, version: version(cluster.nowMs - 100), value: bytes('old') });
  holder.transaction(() => {
    // Held newer here: the hint is stale.
    holder.addHint('b', old('overwritten'), cluster.nowMs);
    holder.apply({ key: 'overwritten', version: version(cluster.nowMs), value: bytes('new') });
    // Deleted and purged here: only the floor remembers the tombstone.
    holder.addHint('b', old('purged'), cluster.nowMs);
    holder.apply({ key: 'purged', version: version(cluster.nowMs), value: null });
    // Nothing newer here: the hint is delivered.
    holder.addHint('b', old('current'), cluster.nowMs);
  });
  holder.transaction(() => assert.ok(holder.purgeTombstone('purged', version(cluster.nowMs), cluster.nowMs)));
  cluster.advance(200);
  const replica = cluster.storages.get('b')!;
  assert.equal(replica.get('overwritten')?.version === version(cluster.nowMs - 100), false, 'the stale copy did not land');
  assert.equal(replica.get('purged'), undefined, 'the purged key did not come back');
  assert.equal(text(replica.get('current')?.value), 'old', 'a hint nothing supersedes is delivered');
  assert.deepEqual(holder.hintCounts(), new Map(), 'no hint left behind');
});

test('hints reach a returning replica no faster than hintsPerSecondMax', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { hintDeliveryIntervalMs: 10, hintBatchMax: 10, hintsPerSecondMax: 100 });
  const holder = cluster.storages.get('a')!;
  holder.transaction(() => {
    for (let i = 0; i < 50; i++) {
      const entry = { key: `k${i}`, version: formatVersion({ wallMs: cluster.nowMs, counter: i, nodeId: 'a' }), value: bytes('v') };
      holder.addHint('b', entry, cluster.nowMs);
    }
  });
  const delivered = () => cluster.storages.get('b')!.counts().live;
  cluster.advance(250);
  // Rounds of 10 at 100 hints/s: one every 100 ms, so three by now (at 0, 100 and 200 ms).
  assert.ok(delivered() >= 20 && delivered() <= 30, `${delivered()} hints delivered in 250 ms`);
  cluster.advance(500);
  assert.equal(delivered(), 50);
  assert.deepEqual(holder.hintCounts(), new Map());
});

test('a hint taken by a replica that is losing the key in a change also goes to the key\'s new owner', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const cluster = new TestCluster(ids, { rf: 1, members: ids.map((id) => ({ id, peer: `p${id}`, http: `h${id}`, role: id === 'd' ? 'joining' : 'active' })) }, { hintDeliveryIntervalMs: 10 });
  const placement = cluster.node('a').placement;
  // A key that moves from an active member to the joining d.
  const key = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => placement.movesTo(k, placement.readReplicas(k)[0] as string).includes('d'));
  assert.ok(key !== undefined);
  const loser = placement.readReplicas(key)[0] as string;
  const holder = ['a', 'b', 'c'].find((id) => id !== loser) as string;
  // d is cut off, so the change cannot complete and the hint's copy for d stays visible.
  cluster.isolated.add('d');
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: holder }), value: bytes('late') };
  const holderStorage = cluster.storages.get(holder)!;
  holderStorage.transaction(() => holderStorage.addHint(loser, entry, cluster.nowMs));
  cluster.advance(100);
  assert.equal(text(cluster.storages.get(loser)?.get(key)?.value), 'late', 'the losing replica took its hint');
  assert.deepEqual(holderStorage.hintCounts(), new Map([['d', 1]]), 'a hint for the new owner took its place');
  cluster.isolated.delete('d');
  cluster.advance(5000); // d is seen alive again, then takes the hint
  assert.equal(text(cluster.storages.get('d')?.get(key)?.value), 'late', 'the new owner got it');
  assert.deepEqual(holderStorage.hintCounts(), new Map());
});

test('a hint refused only for the older layout it was sent on reaches its target on the newer one', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 1 }, { hintDeliveryIntervalMs: 10 });
  const owner = cluster.node('a').placement.readReplicas('k')[0] as string;
  const holder = ['a', 'b', 'c'].find((id) => id !== owner) as string;
  // The owner alone has heard of layout 2, which keeps it the key's replica.
  assert.ok(cluster.node(owner).adoptLayout({ ...cluster.node(owner).layout, version: 2 }));
  const entry = { key: 'k', version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: holder }), value: bytes('hinted') };
  const holderStorage = cluster.storages.get(holder)!;
  holderStorage.transaction(() => holderStorage.addHint(owner, entry, cluster.nowMs));
  cluster.advance(200);
  assert.equal(cluster.node(holder).layout.version, 2, 'the holder adopted the layout the owner sent');
  assert.equal(text(cluster.storages.get(owner)?.get('k')?.value), 'hinted', 'the owner took the hint sent again on layout 2');
  assert.deepEqual(holderStorage.hintCounts(), new Map());
});

test('a replica on a newer layout refuses a read planned on an older one; the coordinator reads again on the newer one', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 1 });
  const base = cluster.node('a').layout;
  // A key and a layout 2 (other tokens) that moves it between two nodes; the third coordinates.
  let found: { key: string; owner: string; newOwner: string; moved: Layout } | undefined;
  for (let i = 0; i < 100 && !found; i++) {
    const key = `k${i}`;
    const owner = cluster.node('a').placement.readReplicas(key)[0] as string;
    const moved = { ...base, version: 2, vnodes: 16 };
    const newOwner = new Placement(moved).readReplicas(key)[0] as string;
    if (newOwner !== owner) found = { key, owner, newOwner, moved };
  }
  assert.ok(found, 'a key that layout 2 moves');
  const { key, owner, newOwner, moved } = found;
  const coordinator = ['a', 'b', 'c'].find((id) => id !== owner && id !== newOwner) as string;
  // Only the new owner holds the key (as once the change and its clean-up completed), and only the
  // two owners run layout 2: the coordinator has not heard of it yet.
  const entry = { key, version: formatVersion({ wallMs: cluster.nowMs, counter: 0, nodeId: newOwner }), value: bytes('moved') };
  cluster.storages.get(newOwner)!.transaction(() => cluster.storages.get(newOwner)!.apply(entry));
  for (const id of [owner, newOwner]) assert.ok(cluster.node(id).adoptLayout(moved));
  const read = cluster.run<ReadOutcome>((cb) => cluster.node(coordinator).get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok, read.ok ? '' : read.error.message);
  assert.equal(text(read.value.entry?.value), 'moved', 'read from the owner on layout 2, not the old owner');
  assert.equal(cluster.node(coordinator).layout.version, 2, 'the coordinator adopted the layout the replica sent');
});

test('a read at `one` by a replica of the key is answered from its own store at once, without a message', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const put = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all' }, cb));
  assert.ok(put.ok);
  const expiresMs = cluster.nowMs + 100;
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('x', bytes('soon'), { consistency: 'all', expiresMs }, cb)).ok);

  let read: Result<ReadOutcome> | undefined;
  cluster.node('b').get('k', { consistency: 'one' }, (result) => (read = result));
  assert.ok(read?.ok, 'answered before get returned');
  assert.equal(text(read.value.entry?.value), 'v');
  assert.equal(read.value.source, 'b');
  assert.equal(read.value.replicasAnswered, 1);
  assert.deepEqual(cluster.node('b').takeOutbox(), [], 'nothing sent, not even to itself');
  assert.equal(cluster.node('b').status().operationsInFlight, 0, 'no operation left waiting for a deadline');

  let missing: Result<ReadOutcome> | undefined;
  cluster.node('c').get('nobody', { consistency: 'one' }, (result) => (missing = result));
  assert.ok(missing?.ok);
  assert.equal(missing.value.entry, undefined);
  assert.equal(missing.value.source, undefined);

  cluster.advance(200);
  let expired: Result<ReadOutcome> | undefined;
  cluster.node('c').get('x', { consistency: 'one' }, (result) => (expired = result));
  assert.ok(expired?.ok);
  assert.equal(expired.value.entry?.value, null, 'an expired value reads as a tombstone of its version');
});

test('a replica whose last commits are not yet durable answers from its store only by message', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all' }, cb)).ok);
  Object.defineProperty(cluster.storages.get('b'), 'durable', { value: false });
  let read: Result<ReadOutcome> | undefined;
  cluster.node('b').get('k', { consistency: 'one' }, (result) => (read = result));
  assert.equal(read, undefined, 'not answered within the call');
  assert.deepEqual(cluster.node('b').takeOutbox().map((e) => [e.to, e.message.kind]), [['b', 'read']], 'asked itself by message, which its owner holds until the sync');
});

test('a paused replica does not answer a read at `one` from its store', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { requestTimeoutMs: 200 });
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('v'), { consistency: 'all' }, cb)).ok);
  cluster.node('b').pause();
  let read: Result<ReadOutcome> | undefined;
  cluster.node('b').get('k', { consistency: 'one' }, (result) => (read = result));
  assert.equal(read, undefined, 'not answered at once');
  cluster.node('b').resume();
  cluster.deliverAll();
  assert.equal(read, undefined, 'the read sent while paused is lost, as a crashed node loses it');
});

test('a read does not count a repair of an older version as holding the newest (simulator seed 4814367)', () => {
  // b holds v2, c the older v1, a the newest v3 (a write at quorum that reached only a). The read's
  // first answers (b, c) make v2 the newest and repair c with it; then a's answer makes v3 the newest.
  // c's acknowledgement of the v2 repair must not count as c holding v3: answering v3 with one copy
  // would let a later quorum read of b and c return v2, back in time.
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { requestTimeoutMs: 500 });
  const at = (offsetMs: number, id: string) => formatVersion({ wallMs: cluster.nowMs + offsetMs, counter: 0, nodeId: id });
  const [v1, v2, v3] = [at(-3000, 'c'), at(-2000, 'b'), at(-1000, 'a')];
  cluster.store('a', 'k', v3, 'three');
  cluster.store('b', 'k', v2, 'two');
  cluster.store('c', 'k', v1, 'one');
  const network = new HeldNetwork(cluster);

  const read: { result?: Result<ReadOutcome> } = {};
  cluster.node('a').get('k', { consistency: 'quorum' }, (r) => (read.result = r));
  network.deliver((e) => e.message.kind === 'read' && e.to !== 'a'); // b and c answer
  network.deliver((e) => e.message.kind === 'read-reply'); // a: v2 is the newest; c is repaired with it
  network.deliver((e) => e.message.kind === 'read' && e.to === 'a');
  network.deliver((e) => e.message.kind === 'read-reply'); // a's own answer: v3 is the newest now
  network.discard((e) => isRepairOf(e, v3)); // the v3 repairs are lost
  network.deliver((e) => isRepairOf(e, v2)); // c takes v2
  network.deliver((e) => e.message.kind === 'write-reply'); // and says so
  assert.equal(read.result === undefined, true, 'v3 is on one replica only: no answer yet');

  cluster.advance(600);
  const { result } = read;
  assert.ok(result !== undefined && !result.ok, 'the read fails rather than answer v3 from one copy');
  assert.equal(result.error.code, 'UNAVAILABLE');
  assert.match(result.error.message, /read repair did not finish in time/);

  // With its repairs delivered, the same read answers v3, held by a quorum.
  const again = cluster.run<ReadOutcome>((cb) => cluster.node('a').get('k', { consistency: 'quorum' }, cb));
  assert.ok(again.ok);
  assert.equal(text(again.value.entry?.value), 'three');
});

test('a replica that purged a tombstone says so: a read does not return the older copy another replica answered (simulator seed 97005134)', () => {
  // a still holds v1; the key was deleted at v2, and b and c have purged that tombstone (only their
  // purge floors remain). a's own answer comes first. Before the fix b answered "no entry", which
  // merged with a's v1 into v1: the read returned a deleted value and repaired it onto b.
  const cluster = new TestCluster(['a', 'b', 'c']);
  const at = (offsetMs: number, id: string) => formatVersion({ wallMs: cluster.nowMs + offsetMs, counter: 0, nodeId: id });
  const [v1, v2] = [at(-3000, 'a'), at(-2000, 'b')];
  cluster.store('a', 'k', v1, 'old');
  for (const id of ['b', 'c']) {
    const storage = cluster.storages.get(id);
    storage?.transaction(() => storage.apply({ key: 'k', version: v2, value: null }));
    storage?.transaction(() => storage.purgeTombstone('k', v2, cluster.nowMs));
    assert.equal(storage?.get('k'), undefined);
  }
  const network = new HeldNetwork(cluster);

  const read: { result?: Result<ReadOutcome> } = {};
  cluster.node('a').get('k', { consistency: 'quorum' }, (r) => (read.result = r));
  network.deliver((e) => e.message.kind === 'read' && e.to === 'a');
  network.deliver((e) => e.message.kind === 'read-reply'); // v1, a's own
  network.deliver((e) => e.message.kind === 'read' && e.to === 'b');
  const reply = network.held((e) => e.message.kind === 'read-reply' && e.from === 'b')[0]?.message;
  assert.deepEqual(reply, { kind: 'read-reply', op: reply?.kind === 'read-reply' ? reply.op : 0, entry: null, purged: v2 });
  network.deliver((e) => e.message.kind === 'read-reply');
  assert.deepEqual(network.held((e) => isRepairOf(e, v2)).map((e) => e.to), ['a'], 'a is repaired with the tombstone');
  network.deliver((e) => isRepairOf(e, v2));
  network.deliver((e) => e.message.kind === 'write-reply');

  const { result } = read;
  assert.ok(result?.ok, 'answered once a holds the tombstone');
  assert.equal(result.value.entry, undefined, 'the key reads as absent, with no version: it was purged');
  assert.equal(result.value.source, undefined);
  assert.equal(cluster.storages.get('a')?.get('k')?.version, v2);
  assert.equal(cluster.storages.get('a')?.get('k')?.value, null);
});

test('a read that waits for every replica repairs a newer version that comes after the wait, and counts only its repair', () => {
  // RF 5, R 3, read by e waiting for every replica. a, b, d answer (a v2, b and d v1); the straggler
  // wait ends and b, d are repaired with v2. Then c answers with v3, held by c alone. The acks of the
  // v2 repairs must not count as holding v3 (a later quorum read of a, b, d would return v2), and v3
  // must be repaired: before the fix, the read answered v3 from c's copy alone, or never repaired it.
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const cluster = new TestCluster(ids, { rf: 5 }, { readStragglerWaitMs: 50, requestTimeoutMs: 2000 });
  const at = (offsetMs: number) => formatVersion({ wallMs: cluster.nowMs + offsetMs, counter: 0, nodeId: 'x' });
  const [v1, v2, v3] = [at(-3000), at(-2000), at(-1000)];
  cluster.store('a', 'k', v2, 'two');
  for (const id of ['b', 'd', 'e']) cluster.store(id, 'k', v1, 'one');
  cluster.store('c', 'k', v3, 'three');
  const network = new HeldNetwork(cluster);
  const first = ['a', 'b', 'd'];

  const read: { result?: Result<ReadOutcome> } = {};
  cluster.node('e').get('k', { consistency: 'quorum', waitForAll: true }, (r) => (read.result = r));
  network.deliver((e) => e.message.kind === 'read' && first.includes(e.to));
  network.deliver((e) => e.message.kind === 'read-reply' && first.includes(e.from));
  network.tick(['e'], 60); // the straggler wait ends: b and d are repaired with v2
  assert.deepEqual(network.held((e) => isRepairOf(e, v2)).map((e) => e.to).sort(), ['b', 'd']);
  network.deliver((e) => isRepairOf(e, v2)); // b and d take v2; their acks wait
  network.deliver((e) => e.message.kind === 'read' && e.to === 'c');
  network.deliver((e) => e.message.kind === 'read-reply' && e.from === 'c'); // v3, on c alone
  network.deliver((e) => e.message.kind === 'write-reply' && (e.from === 'b' || e.from === 'd'));
  assert.equal(read.result === undefined, true, 'v2 acknowledgements do not make v3 a quorum');
  assert.deepEqual(network.held((e) => isRepairOf(e, v3)).map((e) => e.to).sort(), ['a', 'b', 'd'], 'v3 is repaired');

  network.deliver((e) => isRepairOf(e, v3));
  network.deliver((e) => e.message.kind === 'write-reply');
  const { result } = read;
  assert.ok(result?.ok, 'the read answers once v3 reached a quorum');
  assert.equal(text(result.value.entry?.value), 'three');
  const holders = ids.filter((id) => cluster.storages.get(id)?.get('k')?.version === v3);
  assert.ok(holders.length >= 3, `v3 is held by ${holders.join(', ')}`);
});

test('a write is not started more than a second after the deadline its client sent (startBy)', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const late = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('late'), { consistency: 'quorum', startBy: cluster.nowMs - 1500 }, cb));
  assert.ok(!late.ok);
  assert.equal(late.error.code, 'UNAVAILABLE');
  assert.match(late.error.message, /not started: it came 1500 ms after its deadline/);
  for (const storage of cluster.storages.values()) assert.equal(storage.get('k'), undefined, 'nothing written');
  // Within the second of grace for clock skew between client and node, it goes ahead.
  const skewed = cluster.run<WriteOutcome>((cb) => cluster.node('a').put('k', bytes('ok'), { consistency: 'quorum', startBy: cluster.nowMs - 500 }, cb));
  assert.ok(skewed.ok);
});

/** A read repair: a write from the coordinator carrying `version`. */
function isRepairOf(envelope: Envelope, version: string): boolean {
  return envelope.message.kind === 'write' && envelope.message.entry.version === version;
}

test('operations expire on time though the hints their expiry keeps cannot be stored (a full disk)', () => {
  // Simulator seeds 7000342 and 7005149 (storage failures): a tick expired an acknowledged write,
  // whose hint for the silent replica hit a full disk and threw. First, every other operation due at
  // that tick had been taken off the deadline queue with it and never expired (a read stayed in
  // flight for good); then, put back, they expired one tick at a time behind each failing hint, past
  // their timeout. Hints are now kept once every due operation has expired.
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { requestTimeoutMs: 500 });
  cluster.drop = (envelope) => envelope.to === 'c' && (envelope.message.kind === 'write' || envelope.message.kind === 'read');
  const a = cluster.node('a');
  const results: Result<WriteOutcome>[] = [];
  for (const key of ['k1', 'k2', 'k3']) a.put(key, bytes('v'), { consistency: 'quorum' }, (result) => results.push(result));
  cluster.deliverAll();
  assert.equal(results.length, 3, 'acknowledged by a and b');
  assert.equal(a.status().operationsInFlight, 3, 'each waits for c until its deadline, to keep a hint for it');
  let read: Result<ReadOutcome> | undefined;
  a.get('k1', { consistency: 'all' }, (result) => (read = result));
  cluster.deliverAll();
  assert.equal(read, undefined, 'waits for c');

  const storage = cluster.storages.get('a');
  assert.ok(storage);
  storage.writeFault = () => {
    throw new Error('SQLITE_FULL: database or disk is full');
  };
  cluster.nowMs += 510; // past the deadlines
  assert.throws(() => a.tick(), /SQLITE_FULL/);
  storage.writeFault = undefined;
  assert.equal((read as Result<ReadOutcome> | undefined)?.ok, false, 'the read due with them failed at that tick');
  assert.equal(a.status().operationsInFlight, 0, 'every operation due at that tick expired');
});

test('a write whose re-stamp cannot store the clock ceiling (a full disk) still fails at its deadline', () => {
  // Simulator seed 7003636 (storage failures): a replica answered with a newer version; the
  // coordinator took the write off its operations to re-stamp it, and raising the clock's durable
  // ceiling for the new version threw on a full disk. The write was never registered again: its
  // client was never answered.
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { requestTimeoutMs: 500 });
  const a = cluster.node('a');
  assert.ok(cluster.run<WriteOutcome>((cb) => a.put('other', bytes('v'), { consistency: 'quorum' }, cb)).ok, 'the clock ceiling is stored');
  const ahead = formatVersion({ wallMs: cluster.nowMs + minute, counter: 0, nodeId: 'x' });
  for (const id of ['a', 'b', 'c']) cluster.store(id, 'k', ahead, 'from a clock a minute ahead');

  const storage = cluster.storages.get('a');
  assert.ok(storage);
  storage.writeFault = () => {
    throw new Error('SQLITE_FULL: database or disk is full');
  };
  let result: Result<WriteOutcome> | undefined;
  a.put('k', bytes('mine'), { consistency: 'quorum' }, (r) => (result = r));
  assert.throws(() => cluster.deliverAll(), /SQLITE_FULL/, 're-stamping above the newer version stores a higher ceiling');
  storage.writeFault = undefined;

  cluster.advance(600);
  assert.ok(result !== undefined, 'answered by its deadline');
  assert.equal(a.status().operationsInFlight, 0);
});
