// The clean-up after a topology change, on its own: which copies it hands over before dropping them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cleanup } from '../../src/core/cleanup.js';
import { resolveConfig } from '../../src/core/config.js';
import type { Layout } from '../../src/core/layout.js';
import type { Message } from '../../src/core/messages.js';
import { Placement } from '../../src/core/placement.js';
import { formatVersion } from '../../src/core/version.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { bytes, layoutOf } from './harness.js';

const nowMs = 1_700_000_000_000;
// c no longer replicates anything: RF 1 on a, b and c, and the keys below belong to a or b.
const layout: Layout = layoutOf(['a', 'b', 'c'], { version: 2, rf: 1 });
const placement = new Placement(layout);
const strayKey = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => placement.readReplicas(k)[0] !== 'c') as string;

/**
 * Runs one clean-up step on c, holding a copy of `strayKey` written `ageMs` ago; returns what it sent,
 * and the clean-up (whose placement `current.placement` can be changed afterwards).
 */
function stepWithCopyAged(ageMs: number, config = resolveConfig({ tombstoneGraceMs: 60_000 }), onLayout = layout) {
  const storage = new MemoryStorage();
  const version = formatVersion({ wallMs: nowMs - ageMs, counter: 0, nodeId: 'c' });
  storage.transaction(() => storage.apply({ key: strayKey, version, value: bytes('v') }));
  const sent: Array<{ to: string; message: Message }> = [];
  let op = 0;
  const current = { placement: new Placement(onLayout) };
  /** Members as c sees them (absent: alive). */
  const states = new Map<string, 'suspect' | 'dead'>();
  const cleanup = new Cleanup({
    selfId: 'c',
    config,
    storage,
    placement: () => current.placement,
    isAlive: (id) => !states.has(id),
    isDead: (id) => states.get(id) === 'dead',
    peerLayoutVersion: () => onLayout.version,
    send: (to, message) => sent.push({ to, message }),
    nextOp: () => ++op,
  });
  cleanup.start(onLayout.version);
  storage.transaction(() => cleanup.tick(onLayout, nowMs));
  return { sent, held: storage.get(strayKey) !== undefined, cleanup, storage, current, states };
}

test('clean-up asks the key\'s replicas before dropping a recent copy, and keeps it until they answer', () => {
  const { sent, held } = stepWithCopyAged(1000);
  assert.ok(held, 'the copy is kept until the replicas answer');
  assert.deepEqual(sent.map((s) => [s.to, s.message.kind]), [[placement.readReplicas(strayKey)[0], 'purge-check']]);
});

test('clean-up hands over a copy older than the tombstone grace period too: no newer delete can have been purged meanwhile', () => {
  // Seed 1808193: a sloppy write at `all` during a join rested on the leaving owner's copy and on a
  // hint for the joining one, which expired; the change ended after the grace period, and the old
  // owner dropped its copy without asking. Purges now wait for leftovers like this one (tombstones.ts).
  const { sent, held, cleanup, storage } = stepWithCopyAged(60_000);
  assert.ok(held, 'the copy is kept until the replicas answer');
  const check = sent[0];
  const asked = check?.message;
  assert.ok(check && asked?.kind === 'purge-check');
  assert.equal(check.to, placement.readReplicas(strayKey)[0]);
  storage.transaction(() => cleanup.handleReply(check.to, { kind: 'purge-check-reply', op: asked.op, holds: false }));
  const handedOver = sent.slice(1).map((s) => [s.to, s.message.kind, s.message.kind === 'write' ? s.message.entry.key : '']);
  assert.deepEqual(handedOver, [[check.to, 'write', strayKey]], 'the replica that lacks it is sent the copy');
  assert.ok(storage.get(strayKey) !== undefined, 'and it is kept until the next pass hears that the replica holds it');
  assert.equal(cleanup.settled, 0, 'a node holding a leftover is not settled');
});

test('a node the layout removed asks about old copies too, and once it keeps none says farewell until every live member has heard it', () => {
  // c left while cut off: the members that remember it ask it before purging (departed.ts), and tell
  // it to drop an old copy if they do not (tombstones.ts). So it asks, whatever the copy's age.
  const withoutC: Layout = { ...layout, version: 3, members: layout.members.filter((m) => m.id !== 'c') };
  const { sent, held, cleanup, storage } = stepWithCopyAged(60_000, undefined, withoutC);
  assert.ok(held, 'the old copy is kept until the replicas answer');
  const check = sent[0];
  const asked = check?.message;
  assert.ok(check && asked?.kind === 'purge-check' && asked.handOver === true, 'asked as a hand-over');
  storage.transaction(() => cleanup.handleReply(check.to, { kind: 'purge-check-reply', op: asked.op, holds: true }));
  assert.equal(storage.get(strayKey), undefined, 'dropped once the replica holds it (or says to drop it)');
  sent.length = 0;
  storage.transaction(() => cleanup.tick(withoutC, nowMs));
  assert.equal(cleanup.settled, withoutC.version);
  assert.deepEqual(sent.map((s) => [s.to, s.message]).sort(), [
    ['a', { kind: 'farewell', layout: 3 }],
    ['b', { kind: 'farewell', layout: 3 }],
  ]);
  assert.ok(cleanup.pending, 'pending until the members have heard it');
  cleanup.handleFarewellAck('a', { kind: 'farewell-ack', layout: 3 });
  sent.length = 0;
  storage.transaction(() => cleanup.tick(withoutC, nowMs + 60_000));
  assert.deepEqual(sent.map((s) => s.to), ['b'], 'said again to the member that has not acknowledged it');
  cleanup.handleFarewellAck('b', { kind: 'farewell-ack', layout: 3 });
  assert.equal(cleanup.pending, false);
});

test('a farewell waits for a member only suspected, and not for one declared dead', () => {
  // b, busy, flapped to suspect in c's view just as a and the others had acknowledged: c's clean-up
  // was no longer pending, the local front stopped c, and b waited for it for departedKeepMs with
  // every purge (found by the grow/shrink integration test under load).
  const withoutC: Layout = { ...layout, version: 3, members: layout.members.filter((m) => m.id !== 'c') };
  const { sent, cleanup, storage, states } = stepWithCopyAged(60_000, undefined, withoutC);
  const check = sent[0];
  const asked = check?.message;
  assert.ok(check && asked?.kind === 'purge-check');
  storage.transaction(() => cleanup.handleReply(check.to, { kind: 'purge-check-reply', op: asked.op, holds: true }));
  states.set('b', 'suspect');
  sent.length = 0;
  storage.transaction(() => cleanup.tick(withoutC, nowMs));
  assert.deepEqual(sent.map((s) => s.to).sort(), ['a', 'b'], 'said to the suspected member too');
  cleanup.handleFarewellAck('a', { kind: 'farewell-ack', layout: 3 });
  assert.ok(cleanup.pending, 'pending while the suspected member has not heard it');
  states.set('b', 'dead');
  assert.equal(cleanup.pending, false, 'a member declared dead is not waited for');
});

test('a node runs a clean-up pass when it starts, and is settled under the layout once the pass keeps nothing', () => {
  const storage = new MemoryStorage();
  const version = formatVersion({ wallMs: nowMs - 1000, counter: 0, nodeId: 'c' });
  storage.transaction(() => storage.apply({ key: strayKey, version, value: bytes('v') }));
  const sent: Array<{ to: string; message: Message }> = [];
  const cleanup = new Cleanup({
    selfId: 'c',
    config: resolveConfig({}),
    storage,
    placement: () => placement,
    isAlive: () => true,
    isDead: () => false,
    peerLayoutVersion: () => layout.version,
    send: (to, message) => sent.push({ to, message }),
    nextOp: () => sent.length + 1,
  });
  // No start(): a restarted node has no layout change to react to, but a crash may have cut its last
  // pass short.
  storage.transaction(() => cleanup.tick(layout, nowMs));
  const check = sent[0];
  const asked = check?.message;
  assert.ok(check && asked?.kind === 'purge-check', 'the leftover is asked about');
  assert.equal(cleanup.settled, 0);
  storage.transaction(() => cleanup.handleReply(check.to, { kind: 'purge-check-reply', op: asked.op, holds: true }));
  assert.equal(storage.get(strayKey), undefined, 'dropped once its replica holds it');
  storage.transaction(() => cleanup.tick(layout, nowMs));
  assert.equal(cleanup.settled, layout.version, 'no copy kept: settled under the layout');
  assert.equal(cleanup.pending, false);
});

test('a drop undone by a rolled-back transaction keeps the pass from settling; the next pass drops the copy', () => {
  const { sent, cleanup, storage } = stepWithCopyAged(1000);
  const check = sent[0];
  const asked = check?.message;
  assert.ok(check && asked?.kind === 'purge-check');
  // The answer comes in a batch that fails after it (a full disk, say): the drop is rolled back.
  assert.throws(() =>
    storage.transaction(() => {
      cleanup.handleReply(check.to, { kind: 'purge-check-reply', op: asked.op, holds: true });
      throw new Error('disk full');
    }),
  );
  cleanup.rolledBack(); // what the node does when its transaction fails
  assert.ok(storage.get(strayKey) !== undefined, 'the copy is back');
  storage.transaction(() => cleanup.tick(layout, nowMs));
  assert.equal(cleanup.settled, 0, 'not settled while the copy is held');
  assert.equal(cleanup.pending, true);

  const later = nowMs + 10 * 60_000; // the next pass, after its back-off
  storage.transaction(() => cleanup.tick(layout, later));
  const again = sent.slice(1).find((s) => s.message.kind === 'purge-check');
  const askedAgain = again?.message;
  assert.ok(again && askedAgain?.kind === 'purge-check', 'the next pass asks again');
  storage.transaction(() => cleanup.handleReply(again.to, { kind: 'purge-check-reply', op: askedAgain.op, holds: true }));
  assert.equal(storage.get(strayKey), undefined);
  storage.transaction(() => cleanup.tick(layout, later));
  assert.equal(cleanup.settled, layout.version);
});

test('an answer that comes after the node moved on to another layout drops nothing', () => {
  const { sent, cleanup, storage, current } = stepWithCopyAged(1000);
  const check = sent[0]?.message;
  assert.ok(check?.kind === 'purge-check');
  // A change began meanwhile (here: layout 3, which may make c a replica of the key again).
  current.placement = new Placement({ ...layout, version: 3 });
  storage.transaction(() => cleanup.handleReply(sent[0]!.to, { kind: 'purge-check-reply', op: check.op, holds: true }));
  assert.ok(storage.get(strayKey) !== undefined, 'the copy is kept for the next pass to judge');
});

test('passes that get nowhere while a replica is dead come ever further apart; its return starts the next at once', () => {
  const storage = new MemoryStorage();
  const version = formatVersion({ wallMs: nowMs - 1000, counter: 0, nodeId: 'c' });
  storage.transaction(() => storage.apply({ key: strayKey, version, value: bytes('v') }));
  let scans = 0;
  const scan = storage.scan.bind(storage);
  storage.scan = (cursor, limit) => {
    scans += 1;
    return scan(cursor, limit);
  };
  const replica = placement.readReplicas(strayKey)[0] as string;
  let replicaAlive = false;
  const sent: Message[] = [];
  const config = resolveConfig({ requestTimeoutMs: 2000 }); // the default grace: days, so the copy is handed over
  const cleanup = new Cleanup({
    selfId: 'c',
    config,
    storage,
    placement: () => placement,
    isAlive: (id) => id !== replica || replicaAlive,
    isDead: (id) => id === replica && !replicaAlive,
    peerLayoutVersion: () => layout.version,
    send: (_to, message) => sent.push(message),
    nextOp: () => sent.length + 1,
  });
  cleanup.start(layout.version);
  let t = nowMs;
  const runFor = (ms: number) => {
    for (const end = t + ms; t < end; t += 100) storage.transaction(() => cleanup.tick(layout, t));
  };
  runFor(300_000);
  // Every 2 s, 150 passes over the store; backing off (2, 4, ... 64 s), 9.
  assert.ok(scans <= 12, `${scans} passes in 5 minutes`);
  assert.ok(cleanup.pending, 'the copy is still kept');
  assert.equal(sent.length, 0, 'a dead replica is not asked');

  replicaAlive = true;
  cleanup.kick();
  runFor(100);
  assert.deepEqual(sent.map((m) => m.kind), ['purge-check'], 'asked at once');
});
