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
import { bytes, layoutOf } from './harness.js';

const nowMs = 1_700_000_000_000;
const graceMs = 60_000;
// RF 1 on a, b and c: the key below is a's alone, so b and c are asked only about leftovers.
const layout: Layout = layoutOf(['a', 'b', 'c'], { version: 4, rf: 1 });
const placement = new Placement(layout);
const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => placement.readReplicas(k)[0] === 'a') as string;
const at = (ageMs: number, nodeId = 'a') => formatVersion({ wallMs: nowMs - ageMs, counter: 0, nodeId });

/** Purgers on a, b and c over storages of their own; messages are kept for the test to deliver. */
function cluster(alive: (id: string) => boolean = () => true) {
  const storages = new Map(['a', 'b', 'c'].map((id) => [id, new MemoryStorage()]));
  const settled = new Map<string, number>([['a', 0], ['b', 0], ['c', 0]]);
  const queue: Array<{ from: string; to: string; message: Message }> = [];
  let op = 0;
  const purgers = new Map(
    ['a', 'b', 'c'].map((id) => [
      id,
      new TombstonePurger({
        selfId: id,
        config: resolveConfig({ tombstoneGraceMs: graceMs, tombstonePurgeIntervalMs: 1000 }),
        storage: storages.get(id) as MemoryStorage,
        placement: () => placement,
        isAlive: alive,
        clockWallMs: () => nowMs,
        settledLayout: () => settled.get(id) as number,
        send: (to, message) => queue.push({ from: id, to, message }),
        nextOp: () => ++op,
      }),
    ]),
  );
  const deliverAll = () => {
    while (queue.length > 0) {
      const { from, to, message } = queue.shift() as (typeof queue)[number];
      const purger = purgers.get(to) as TombstonePurger;
      if (message.kind === 'purge-check') purger.handleCheck(from, message);
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
    (purgers.get('a') as TombstonePurger).tick(tickMs);
  };
  return { storages, settled, queue, deliverAll, store, purgeRound };
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
