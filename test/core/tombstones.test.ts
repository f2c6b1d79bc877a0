// The tombstone purger on its own: whom it asks before purging, and what keeps a tombstone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../../src/core/config.js';
import type { Layout } from '../../src/core/layout.js';
import type { Message } from '../../src/core/messages.js';
import { Placement } from '../../src/core/placement.js';
import { TombstonePurger } from '../../src/core/tombstones.js';
import { formatVersion, type Version } from '../../src/core/version.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { bytes, layoutOf, TestCluster } from './harness.js';

const nowMs = 1_700_000_000_000;
const graceMs = 60_000;
// RF 1 on a, b and c: the key below is a's alone, so b and c are asked only about leftovers.
const layout: Layout = layoutOf(['a', 'b', 'c'], { version: 4, rf: 1 });
const placement = new Placement(layout);
const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => placement.readReplicas(k)[0] === 'a') as string;
const at = (ageMs: number, nodeId = 'a') => formatVersion({ wallMs: nowMs - ageMs, counter: 0, nodeId });

/**
 * Purgers on a, b and c, and on d, which the layout removed; storages of their own; messages are kept
 * for the test to deliver. `departed` holds the removed nodes each node still remembers (departed.ts).
 */
function cluster(alive: (id: string) => boolean = () => true) {
  let current = placement;
  const ids = ['a', 'b', 'c', 'd'];
  const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
  const settled = new Map<string, number>(ids.map((id) => [id, 0]));
  const departed = new Map<string, string[]>(ids.map((id) => [id, []]));
  const queue: Array<{ from: string; to: string; message: Message }> = [];
  let op = 0;
  const purgers = new Map(
    ids.map((id) => [
      id,
      new TombstonePurger({
        selfId: id,
        config: resolveConfig({ tombstoneGraceMs: graceMs, tombstonePurgeIntervalMs: 1000 }),
        storage: storages.get(id) as MemoryStorage,
        placement: () => current,
        isAlive: alive,
        clockWallMs: () => nowMs,
        settledLayout: () => settled.get(id) as number,
        departed: () => departed.get(id) as string[],
        isMember: (other) => layout.members.some((m) => m.id === other),
        send: (to, message) => queue.push({ from: id, to, message }),
        nextOp: () => ++op,
      }),
    ]),
  );
  const deliverAll = () => {
    while (queue.length > 0) {
      const { from, to, message } = queue.shift() as (typeof queue)[number];
      const purger = purgers.get(to) as TombstonePurger;
      if (message.kind === 'purge-check') purger.handleCheck(from, message, nowMs);
      if (message.kind === 'purge-check-reply') purger.handleReply(from, message, nowMs);
    }
  };
  const store = (id: string, version: Version, value: string | null) => {
    const storage = storages.get(id) as MemoryStorage;
    storage.transaction(() => storage.apply({ key, version, value: value === null ? null : bytes(value) }));
  };
  let tickMs = nowMs;
  const purgeRound = () => {
    tickMs += 1000;
    (purgers.get('a') as TombstonePurger).tick(tickMs, tickMs);
  };
  const changeLayout = (next: Layout) => {
    current = new Placement(next);
  };
  return { storages, settled, departed, queue, purgers, deliverAll, store, purgeRound, changeLayout };
}

test('a leftover older copy on a member that no longer replicates the key keeps its tombstone', () => {
  const c = cluster();
  c.store('a', at(2 * graceMs), null); // the tombstone, past the grace period
  c.store('b', at(3 * graceMs, 'b'), 'old'); // b replicated the key before a change and still holds it
  c.purgeRound();
  const asked = c.queue.map((m) => [m.to, m.message.kind === 'purge-check' && m.message.orNothing === true]);
  assert.deepEqual(asked.sort(), [['b', true], ['c', true]], 'the members that do not replicate the key are asked about leftovers');
  c.deliverAll();
  assert.ok(c.storages.get('a')?.get(key), 'b holds an older copy: the tombstone stays');
  // b's clean-up hands its copy over and drops it (cleanup.ts); then the tombstone may go.
  c.storages.get('b')?.transaction(() => c.storages.get('b')?.dropEntry(key, at(3 * graceMs, 'b')));
  c.purgeRound();
  c.deliverAll();
  assert.equal(c.storages.get('a')?.get(key), undefined, 'purged once no member holds an older copy');
});

test('members settled under the current layout are not asked; one that is not and cannot be asked keeps every tombstone', () => {
  const dead = new Set<string>();
  const c = cluster((id) => !dead.has(id));
  c.settled.set('b', layout.version);
  c.settled.set('c', layout.version);
  c.store('a', at(2 * graceMs), null);
  c.purgeRound();
  c.deliverAll(); // b and c say they hold nothing and are settled under layout 4
  assert.equal(c.storages.get('a')?.get(key), undefined);

  c.store('a', at(2 * graceMs - 1), null); // a later delete of the key, past the grace period too
  dead.add('c');
  c.purgeRound();
  assert.deepEqual(c.queue, [], 'nobody needs asking: the key is a\'s alone, and b and c are settled');
  assert.equal(c.storages.get('a')?.get(key), undefined, 'purged at once, c being down does not matter');

  // A member that has not said it is settled (here: it never answered since a restarted a) blocks purges while it is down.
  const fresh = cluster((id) => id !== 'c');
  fresh.store('a', at(2 * graceMs), null);
  fresh.purgeRound();
  assert.deepEqual(fresh.queue, [], 'nothing is asked while c cannot answer');
  assert.ok(fresh.storages.get('a')?.get(key), 'and the tombstone stays: c may hold an older copy');
});

test('a removed node that a member remembers is asked before it purges, and an older copy it holds keeps the tombstone', () => {
  const c = cluster();
  c.settled.set('b', layout.version);
  c.settled.set('c', layout.version);
  c.departed.set('a', ['d']); // d was removed while cut off, and has not said farewell
  c.store('a', at(2 * graceMs), null);
  c.store('d', at(3 * graceMs, 'd'), 'old'); // d held the key before the delete, and still does
  c.purgeRound();
  const asked = c.queue.map((m) => [m.to, m.message.kind === 'purge-check' && m.message.orNothing === true]);
  assert.deepEqual(asked.sort(), [['b', true], ['c', true], ['d', true]], 'd is asked about a leftover, though no layout names it');
  c.deliverAll();
  assert.ok(c.storages.get('a')?.get(key), 'd holds an older copy: the tombstone stays');

  c.departed.set('a', []); // d said farewell (or was forgotten): no longer asked, nor are b and c (settled)
  c.purgeRound();
  assert.deepEqual(c.queue, []);
  assert.equal(c.storages.get('a')?.get(key), undefined, 'purged without asking d');
});

test('a removed node asking whether to hand over an old copy is told to drop it by a member that does not remember it', () => {
  const c = cluster();
  const a = c.purgers.get('a') as TombstonePurger;
  // d asks a, as its clean-up does (handOver) and as a purger does: a's answers to each.
  const ask = (version: Version) => {
    a.handleCheck('d', { kind: 'purge-check', op: 1, key, version, handOver: true }, nowMs);
    a.handleCheck('d', { kind: 'purge-check', op: 2, key, version }, nowMs);
    return c.queue.splice(0).map(({ message }) => message.kind === 'purge-check-reply' && message.holds);
  };
  // a holds nothing of the key, and may have purged a delete newer than d's old copy without d's word.
  assert.deepEqual(ask(at(2 * graceMs, 'd')), [true, false], 'an old copy: "drop it", but only to a clean-up\'s question');
  assert.deepEqual(ask(at(1000, 'd')), [false, false], 'a copy younger than any purge is wanted');
  c.departed.set('a', ['d']);
  assert.deepEqual(ask(at(2 * graceMs, 'd')), [false, false], 'remembered, d is sent for its old copy too');
});

/** Three nodes, each holding `count` tombstones past their grace, purge rounds a minute apart. */
function clusterWithDueTombstones(count: number): TestCluster {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { tombstoneGraceMs: 1000, hintWindowMs: 500, tombstonePurgeIntervalMs: 60_000 });
  const deleted = formatVersion({ wallMs: cluster.nowMs - 5000, counter: 0, nodeId: 'a' });
  for (const storage of cluster.storages.values()) {
    storage.transaction(() => {
      for (let i = 0; i < count; i++) storage.apply({ key: `gone${i}`, version: deleted, value: null });
    });
  }
  return cluster;
}

test('a node purges more than one round of tombstones per purge interval when more are due', () => {
  // Each round looks at 256 due tombstones. At one round per interval (a minute by default) a node
  // purged at most 256 a minute, about 4 a second: deletes or expiring values (Redis's EX/PX) coming
  // faster than that piled up in every store without end.
  const cluster = clusterWithDueTombstones(1000);
  cluster.advance(2000);
  for (const [id, storage] of cluster.storages) assert.equal(storage.counts().tombstones, 0, `tombstones left on ${id}`);
});

test('while a replica is down, a purge pass does not walk every due tombstone, a round a tick', () => {
  // Nothing can be purged while c is down (every key has it as a replica): a pass that went on at
  // once after each full round queried all 2,000 due tombstones, 256 a tick, every interval.
  const cluster = clusterWithDueTombstones(2000);
  cluster.isolated.add('c');
  cluster.advance(20_000);
  assert.equal(cluster.node('a').stateOf('c'), 'dead');
  const storage = cluster.storages.get('a') as MemoryStorage;
  const tombstonesBefore = storage.tombstonesBefore.bind(storage);
  let rounds = 0;
  storage.tombstonesBefore = (...args) => {
    rounds += 1;
    return tombstonesBefore(...args);
  };
  cluster.advance(120_000);
  assert.ok(rounds <= 4, `${rounds} rounds in two intervals`);
  assert.equal(storage.counts().tombstones, 2000);
});

test('answers to a check asked under a layout that has changed since do not purge; a check under the new layout does', () => {
  const c = cluster();
  c.store('a', at(2 * graceMs), null);
  for (const id of ['b', 'c']) c.settled.set(id, 0); // not settled: b and c are asked about leftovers
  c.purgeRound();
  assert.equal(c.queue.length, 2, 'b and c are asked');
  // The layout changes while the question is out (here only its version; a change may add replicas
  // that were not asked). Every answer says "holds", but they answer for the old layout's set.
  c.changeLayout(layoutOf(['a', 'b', 'c'], { version: 5, rf: 1 }));
  c.deliverAll();
  assert.ok(c.storages.get('a')?.get(key), 'the tombstone stays: its check was asked under layout 4');
  c.purgeRound();
  c.deliverAll();
  assert.equal(c.storages.get('a')?.get(key), undefined, 'asked again under layout 5, it is purged');
});
