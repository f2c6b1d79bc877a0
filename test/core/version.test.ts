// Versions and the hybrid logical clock: string order is version order, the clock never goes
// backwards, and last-writer-wins merge is commutative, associative and idempotent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HybridClock } from '../../src/core/hlc.js';
import { compare, formatVersion, mergeEntries, parseVersion, type Entry, type Version } from '../../src/core/version.js';

const versionArb = fc
  .record({
    wallMs: fc.integer({ min: 0, max: 2 ** 45 }),
    counter: fc.integer({ min: 0, max: 2 ** 20 }),
    nodeId: fc.constantFrom('0', '1', '2', 'n10', 'zz'),
  })
  .map(formatVersion);

const entryArb = fc.record({
  key: fc.constant('k'),
  version: versionArb,
  value: fc.option(fc.uint8Array({ maxLength: 4 }), { nil: null }),
}) as fc.Arbitrary<Entry>;

test('string order of versions is (wall, counter, node) order', () => {
  fc.assert(
    fc.property(versionArb, versionArb, (a, b) => {
      const pa = parseVersion(a);
      const pb = parseVersion(b);
      const expected =
        pa.wallMs !== pb.wallMs ? Math.sign(pa.wallMs - pb.wallMs) : pa.counter !== pb.counter ? Math.sign(pa.counter - pb.counter) : pa.nodeId < pb.nodeId ? -1 : pa.nodeId > pb.nodeId ? 1 : 0;
      assert.equal(compare(a, b), expected);
    }),
  );
});

test('format and parse round-trip', () => {
  fc.assert(fc.property(versionArb, (v) => assert.equal(formatVersion(parseVersion(v)), v)));
});

test('merge is commutative, associative and idempotent', () => {
  // Distinct versions never carry different values (a version names one write), so build entries
  // whose value is a function of the version.
  const canonical = (e: Entry): Entry => ({ ...e, value: e.value === null ? null : new TextEncoder().encode(e.version) });
  fc.assert(
    fc.property(entryArb.map(canonical), entryArb.map(canonical), entryArb.map(canonical), (a, b, c) => {
      assert.deepEqual(mergeEntries(a, b), mergeEntries(b, a));
      assert.deepEqual(mergeEntries(a, mergeEntries(b, c)), mergeEntries(mergeEntries(a, b), c));
      assert.deepEqual(mergeEntries(a, a), a);
      assert.deepEqual(mergeEntries(a, undefined), a);
    }),
  );
});

test('the hybrid clock never goes backwards when the wall clock does', () => {
  let wall = 10_000;
  const clock = new HybridClock({ nowMs: () => wall }, 'a');
  let previous = clock.now();
  for (const step of [5, -3000, 0, 0, 1, -1, 2000, -50_000]) {
    wall += step;
    const next = clock.now();
    assert.ok(next > previous, `${next} > ${previous}`);
    previous = next;
  }
});

test('observing a remote clock moves this one past it', () => {
  const behind = new HybridClock({ nowMs: () => 1000 }, 'a');
  const ahead = new HybridClock({ nowMs: () => 5 * 60_000 }, 'b');
  const remote = ahead.now();
  behind.observe(ahead.reading());
  assert.ok(behind.now() > remote);
  const stamped: Version = behind.stampAbove(formatVersion({ wallMs: 10 * 60_000, counter: 7, nodeId: 'z' }));
  assert.ok(parseVersion(stamped).wallMs >= 10 * 60_000);
});
