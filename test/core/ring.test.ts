// Placement: consistent hashing with virtual nodes spreads keys evenly, preference lists are N
// distinct members, and the `full` strategy puts every key on every member.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ringPosition } from '../../src/core/hash.js';
import { vnodesDefault, type Layout } from '../../src/core/layout.js';
import { Placement, replicaCount } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';

function layoutOf(ids: string[], strategy: 'consistent' | 'full', rf: number): Layout {
  return {
    version: 1,
    members: ids.map((id) => ({ id, peer: `127.0.0.1:${6000 + Number(id)}`, http: `127.0.0.1:${5000 + Number(id)}`, role: 'active' as const })),
    strategy,
    rf,
    vnodes: vnodesDefault,
  };
}

/** A seeded key generator (mulberry32), so the test sees the same "random" keys every run. */
function randomKeys(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => `key-${Math.floor(next() * 1e12).toString(36)}`);
}

test('5 nodes, 10,000 random keys: no node is primary for more than 1.3x its fair share', () => {
  const ring = new Ring(['0', '1', '2', '3', '4'], vnodesDefault);
  const primaries = new Map<string, number>();
  for (const key of randomKeys(10_000, 42)) {
    const primary = ring.preferenceListFor(key, 1)[0] as string;
    primaries.set(primary, (primaries.get(primary) ?? 0) + 1);
  }
  const fair = 10_000 / 5;
  for (const [id, count] of primaries) assert.ok(count <= 1.3 * fair, `node ${id} is primary for ${count} keys (fair ${fair})`);
  for (const [id, share] of ring.primaryShares()) assert.ok(share <= 1.3 / 5, `node ${id} owns ${share} of the ring`);
});

test('at least 64 virtual nodes per member by default', () => {
  assert.ok(vnodesDefault >= 64);
});

test('preference lists hold N distinct members, nearest first, the same on every node', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 7 }), (key, rf) => {
      const ids = ['0', '1', '2', '3', '4', '5', '6'];
      const a = new Placement(layoutOf(ids, 'consistent', rf)).readReplicas(key);
      const b = new Placement(layoutOf([...ids].reverse(), 'consistent', rf)).readReplicas(key);
      assert.equal(a.length, rf);
      assert.equal(new Set(a).size, rf);
      assert.deepEqual(a, b);
    }),
  );
});

test('the full strategy places every key on every member', () => {
  const placement = new Placement(layoutOf(['0', '1', '2', '3'], 'full', 2));
  for (const key of randomKeys(200, 7)) assert.deepEqual([...placement.readReplicas(key)].sort(), ['0', '1', '2', '3']);
  assert.equal(placement.servingCount, 4);
});

test('the replication factor is capped at the member count', () => {
  assert.equal(replicaCount({ strategy: 'consistent', rf: 5 }, 3), 3);
  assert.equal(replicaCount({ strategy: 'consistent', rf: 2 }, 3), 2);
  assert.equal(replicaCount({ strategy: 'full', rf: 1 }, 3), 3);
});

test('adding a member moves only about 1/(n+1) of primary ownership', () => {
  const before = new Ring(['0', '1', '2', '3'], vnodesDefault);
  const after = new Ring(['0', '1', '2', '3', '4'], vnodesDefault);
  const keys = randomKeys(5000, 9);
  const moved = keys.filter((k) => before.walk(ringPosition(k), 1)[0] !== after.walk(ringPosition(k), 1)[0]);
  for (const key of moved) assert.equal(after.walk(ringPosition(key), 1)[0], '4', 'keys only move to the new member');
  assert.ok(moved.length < keys.length * 0.3, `${moved.length} of ${keys.length} moved`);
});

test('during a change, writes reach both the serving and the next replica sets', () => {
  const layout: Layout = { ...layoutOf(['0', '1', '2'], 'consistent', 1), pending: { strategy: 'full', rf: 1 } };
  const placement = new Placement(layout);
  const sets = placement.writeReplicaSets('some-key');
  assert.equal(sets.length, 2);
  assert.equal(sets[0]?.length, 1);
  assert.equal(sets[1]?.length, 3);
});

test('a leaving member is never a fallback for hints: its leave does not carry them', () => {
  const base = layoutOf(['0', '1', '2', '3', '4'], 'consistent', 1);
  const layout: Layout = { ...base, members: base.members.map((m) => (m.id === '2' ? { ...m, role: 'leaving' as const } : m)) };
  const before = new Placement(base);
  const during = new Placement(layout);
  const keys = randomKeys(200, 7);
  // Some keys had the leaving member among their fallbacks before; none has during the leave.
  assert.ok(keys.some((key) => before.fallbacksFor(key).includes('2')));
  for (const key of keys) {
    const fallbacks = during.fallbacksFor(key);
    assert.ok(!fallbacks.includes('2'), key);
    assert.deepEqual(fallbacks, before.fallbacksFor(key).filter((id) => id !== '2'), 'the others, in the same order');
  }
});
