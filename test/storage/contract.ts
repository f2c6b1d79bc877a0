// The contract every Storage implementation is held to. MemoryStorage stands in for SqliteStorage in
// the simulator, so anything the simulator could observe must behave identically in both: ordering,
// refusals, leaf hashes, transaction semantics, and the shape of returned values.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { itemHash, leafCount, leafOf, ringPosition, ringSize } from '../../src/core/hash.js';
import type { LeafHash, Storage } from '../../src/core/storage.js';
import { formatVersion, wallMsOf, type Entry, type Version } from '../../src/core/version.js';

export interface StoreUnderTest {
  readonly storage: Storage;
  cleanup(): void;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

function version(wallMs: number, counter = 0, nodeId = 'n1'): Version {
  return formatVersion({ wallMs, counter, nodeId });
}

function entry(key: string, entryVersion: Version, value: string | Uint8Array | null): Entry {
  return { key, version: entryVersion, value: typeof value === 'string' ? new TextEncoder().encode(value) : value };
}

function text(value: Uint8Array | null | undefined): string | null | undefined {
  return value === null || value === undefined ? value : new TextDecoder().decode(value);
}

function utf8Order(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Keys whose UTF-8 order differs from JS string order: '😀' (a surrogate pair) sorts after U+E000. */
const unicodeKeys = ['a', 'ab', 'b', 'z', '~', '\u00e9', '\u65e5\u672c', '\uE000', '\uFFFF', '\u{1F600}', '\u{10FFFF}'];

/** Two keys with one ring position, so (position, key) ordering and cursors must use the key. */
const samePositionKeys = ['c100368', 'c119089'] as const;

/** Groups of keys that share an anti-entropy leaf, so leaf XORs combine several items. */
const sameLeafKeys: string[] = (() => {
  const byLeaf = new Map<number, string[]>();
  for (let i = 0; i < 3000; i++) {
    const key = `k${i}`;
    const leaf = leafOf(ringPosition(key));
    byLeaf.set(leaf, [...(byLeaf.get(leaf) ?? []), key]);
  }
  return [...byLeaf.values()].filter((keys) => keys.length >= 2).slice(0, 4).flat();
})();

/** Pages through `scan` to read every entry, in the store's order. */
export function allEntries(storage: Storage, pageSize = 7): Entry[] {
  const result: Entry[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = storage.scan(cursor, pageSize);
    result.push(...page);
    if (page.length < pageSize) return result;
    const next = (page[page.length - 1] as Entry).key;
    assert.notEqual(next, cursor, 'scan did not advance past its cursor');
    cursor = next;
  }
}

/** Leaf hashes recomputed from scratch, empty leaves omitted, as the stores report them. */
export function naiveLeaves(entries: readonly Entry[]): LeafHash[] {
  const leaves = new Map<number, [number, number]>();
  for (const held of entries) {
    const leaf = leafOf(ringPosition(held.key));
    const [h1, h2] = itemHash(held.key, held.version);
    const [a1, a2] = leaves.get(leaf) ?? [0, 0];
    leaves.set(leaf, [(a1 ^ h1) >>> 0, (a2 ^ h2) >>> 0]);
  }
  return [...leaves]
    .filter(([, [h1, h2]]) => h1 !== 0 || h2 !== 0)
    .map(([leaf, [h1, h2]]) => ({ leaf, h1, h2 }))
    .sort((a, b) => a.leaf - b.leaf);
}

function allLeaves(storage: Storage): LeafHash[] {
  return storage.leafHashes(0, leafCount - 1);
}

/** Everything observable about a store, for before/after comparisons. */
function observe(storage: Storage, keys: readonly string[], targets: readonly string[], metaNames: readonly string[]) {
  return {
    entries: allEntries(storage),
    leaves: allLeaves(storage),
    ringHash: storage.leafRangeHash(0, leafCount - 1),
    counts: storage.counts(),
    floors: keys.map((key) => storage.purgeFloor(key)),
    hints: targets.map((target) => storage.hintsFor(target, 1000)),
    hintCounts: [...storage.hintCounts()].sort(),
    meta: metaNames.map((name) => storage.getMeta(name)),
  };
}

// ---------------------------------------------------------------------------------------------
// The suite

export function storageContract(name: string, make: () => StoreUnderTest): void {
  /** Runs `body` against a fresh store and always cleans it up. */
  function withStore<T>(body: (storage: Storage) => T): T {
    const store = make();
    try {
      return body(store.storage);
    } finally {
      store.cleanup();
    }
  }

  function test(title: string, body: (storage: Storage) => void): void {
    it(title, () => withStore(body));
  }

  describe(`${name}: storage contract`, () => {
    describe('apply and get', () => {
      test('get of an unknown key is undefined', (storage) => {
        assert.equal(storage.get('missing'), undefined);
      });

      test('a first write is applied and read back', (storage) => {
        assert.deepEqual(storage.apply(entry('k', version(10), 'one')), { applied: true });
        assert.deepEqual(storage.get('k'), entry('k', version(10), 'one'));
      });

      test('a newer version replaces the held one', (storage) => {
        storage.apply(entry('k', version(10), 'one'));
        assert.deepEqual(storage.apply(entry('k', version(10, 1), 'two')), { applied: true });
        assert.deepEqual(storage.apply(entry('k', version(11), 'three')), { applied: true });
        assert.deepEqual(storage.get('k'), entry('k', version(11), 'three'));
      });

      test('an older version is refused with the held version as current', (storage) => {
        storage.apply(entry('k', version(20), 'new'));
        assert.deepEqual(storage.apply(entry('k', version(19, 5), 'old')), { applied: false, current: version(20) });
        assert.equal(text(storage.get('k')?.value), 'new');
      });

      test('an equal version is refused (it is the same write)', (storage) => {
        storage.apply(entry('k', version(20), 'first'));
        assert.deepEqual(storage.apply(entry('k', version(20), 'again')), { applied: false, current: version(20) });
        assert.equal(text(storage.get('k')?.value), 'first');
      });

      test('node ids order versions with equal clocks', (storage) => {
        storage.apply(entry('k', version(5, 0, 'a'), 'from a'));
        assert.deepEqual(storage.apply(entry('k', version(5, 0, 'b'), 'from b')), { applied: true });
        assert.deepEqual(storage.apply(entry('k', version(5, 0, 'a'), 'from a')), {
          applied: false,
          current: version(5, 0, 'b'),
        });
      });

      test('a tombstone replaces a value and is read back with value null', (storage) => {
        storage.apply(entry('k', version(1), 'v'));
        assert.deepEqual(storage.apply(entry('k', version(2), null)), { applied: true });
        assert.deepEqual(storage.get('k'), entry('k', version(2), null));
        assert.deepEqual(storage.apply(entry('k', version(1, 9), 'late')), { applied: false, current: version(2) });
        assert.deepEqual(storage.apply(entry('k', version(3), 'revived')), { applied: true });
        assert.equal(text(storage.get('k')?.value), 'revived');
      });

      test('a tombstone for an unknown key is stored', (storage) => {
        assert.deepEqual(storage.apply(entry('k', version(1), null)), { applied: true });
        assert.deepEqual(storage.get('k'), entry('k', version(1), null));
      });

      test('an empty value is an empty Uint8Array, not a tombstone', (storage) => {
        storage.apply(entry('k', version(1), new Uint8Array(0)));
        const held = storage.get('k');
        assert.ok(held?.value instanceof Uint8Array);
        assert.equal(held.value.length, 0);
        assert.deepEqual(storage.counts(), { live: 1, tombstones: 0 });
        assert.deepEqual(storage.scan(null, 10), [entry('k', version(1), new Uint8Array(0))]);
      });

      test('binary values keep every byte value, and come back as plain Uint8Arrays', (storage) => {
        const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
        storage.apply(entry('bin', version(1), bytes));
        storage.apply(entry('buf', version(1), Buffer.from([0, 255, 0, 128])));
        assert.deepEqual(storage.get('bin')?.value, bytes);
        assert.deepEqual(storage.get('buf')?.value, new Uint8Array([0, 255, 0, 128]));
        assert.deepEqual(storage.scan('bin', 1)[0]?.value, new Uint8Array([0, 255, 0, 128]));
      });

      test('a value that is a view into a larger buffer stores only the viewed bytes', (storage) => {
        const backing = Uint8Array.from([9, 9, 1, 2, 3, 9]);
        storage.apply(entry('k', version(1), backing.subarray(2, 5)));
        assert.deepEqual(storage.get('k')?.value, new Uint8Array([1, 2, 3]));
      });

      test('stored bytes do not change when the caller changes its arrays', (storage) => {
        const input = new Uint8Array([1, 2, 3]);
        storage.apply(entry('k', version(1), input));
        input[0] = 99;
        const output = storage.get('k')?.value as Uint8Array;
        output[1] = 99;
        assert.deepEqual(storage.get('k')?.value, new Uint8Array([1, 2, 3]));
      });

      test('keys with non-ASCII text and NUL characters round-trip', (storage) => {
        const keys = [...unicodeKeys, 'nul\u0000inside', 'nul'];
        for (const key of keys) storage.apply(entry(key, version(1), key));
        for (const key of keys) assert.equal(text(storage.get(key)?.value), key);
      });

      test('malformed entries are rejected and nothing is stored', (storage) => {
        assert.throws(() => storage.apply(entry('', version(1), 'v')));
        assert.throws(() => storage.apply(entry('k', 'not-a-version' as Version, 'v')));
        assert.throws(() => storage.apply(entry('lone\ud800', version(1), 'v')));
        assert.deepEqual(storage.counts(), { live: 0, tombstones: 0 });
        assert.deepEqual(allLeaves(storage), []);
      });
    });

    describe('scan', () => {
      test('returns entries in UTF-8 byte order, including non-ASCII keys', (storage) => {
        for (const key of [...unicodeKeys].reverse()) storage.apply(entry(key, version(1), key));
        const expected = ['a', 'ab', 'b', 'z', '~', '\u00e9', '\u65e5\u672c', '\uE000', '\uFFFF', '\u{1F600}', '\u{10FFFF}'];
        assert.deepEqual([...unicodeKeys].sort(utf8Order), expected);
        assert.deepEqual(
          storage.scan(null, 100).map((held) => held.key),
          expected,
        );
      });

      test('pages with a cursor and a limit', (storage) => {
        for (const key of unicodeKeys) storage.apply(entry(key, version(1), key));
        const expected = [...unicodeKeys].sort(utf8Order);
        for (const pageSize of [1, 2, 3, 100]) {
          assert.deepEqual(
            allEntries(storage, pageSize).map((held) => held.key),
            expected,
          );
        }
        assert.deepEqual(
          storage.scan('\uE000', 2).map((held) => held.key),
          ['\uFFFF', '\u{1F600}'],
        );
        assert.deepEqual(
          storage.scan('\u{1F600}', 10).map((held) => held.key),
          ['\u{10FFFF}'],
        );
      });

      test('a cursor that is not a held key starts at the next key', (storage) => {
        for (const key of ['a', 'c', 'e']) storage.apply(entry(key, version(1), key));
        assert.deepEqual(
          storage.scan('b', 10).map((held) => held.key),
          ['c', 'e'],
        );
        assert.deepEqual(storage.scan('e', 10), []);
        assert.deepEqual(storage.scan('\u{1F600}', 10), []);
        assert.deepEqual(storage.scan(null, 0), []);
      });

      test('includes tombstones', (storage) => {
        storage.apply(entry('a', version(1), 'v'));
        storage.apply(entry('b', version(1), null));
        assert.deepEqual(storage.scan(null, 10), [entry('a', version(1), 'v'), entry('b', version(1), null)]);
      });

      it('orders arbitrary Unicode keys by their UTF-8 bytes (property)', () => {
        fc.assert(
          // (fc.array + Set rather than fc.uniqueArray, which is slow to generate Unicode strings.)
          fc.property(fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), { maxLength: 30 }), (drawn) =>
            withStore((storage) => {
              const keys = [...new Set(drawn)];
              for (const key of keys) storage.apply(entry(key, version(1), null));
              assert.deepEqual(
                allEntries(storage, 4).map((held) => held.key),
                [...keys].sort(utf8Order),
              );
            }),
          ),
          { numRuns: 30, seed: 1 },
        );
      });
    });

    describe('scanPositions', () => {
      const keys = Array.from({ length: 120 }, (_, i) => `p${i}`).concat(unicodeKeys, samePositionKeys);

      function expectedIn(start: number, end: number) {
        return keys
          .map((key) => ({ key, position: ringPosition(key) }))
          .filter(({ position }) => position >= start && position < end)
          .sort((a, b) => a.position - b.position || utf8Order(a.key, b.key));
      }

      function loaded(storage: Storage): void {
        for (const key of keys) storage.apply(entry(key, version(1), key));
      }

      function pageAll(storage: Storage, start: number, end: number, pageSize: number) {
        const result: { key: string; position: number }[] = [];
        let after: { position: number; key: string } | undefined;
        for (;;) {
          const page = storage.scanPositions(start, end, pageSize, after);
          result.push(...page.map(({ entry: held, position }) => ({ key: held.key, position })));
          if (page.length < pageSize) return result;
          const last = page[page.length - 1] as (typeof page)[number];
          assert.ok(
            after === undefined || last.position !== after.position || last.entry.key !== after.key,
            'scanPositions did not advance past its cursor',
          );
          after = { position: last.position, key: last.entry.key };
        }
      }

      it('the fixture keys share a ring position', () => {
        assert.equal(ringPosition(samePositionKeys[0]), ringPosition(samePositionKeys[1]));
      });

      test('returns the whole ring in (position, key) order, with entries and positions', (storage) => {
        loaded(storage);
        const result = storage.scanPositions(0, ringSize, 1000);
        assert.deepEqual(
          result.map(({ entry: held, position }) => ({ key: held.key, position })),
          expectedIn(0, ringSize),
        );
        for (const { entry: held } of result) assert.equal(text(held.value), held.key);
      });

      test('returns only positions in [start, end)', (storage) => {
        loaded(storage);
        const positions = expectedIn(0, ringSize).map(({ position }) => position);
        const cuts = [0, 1, 2 ** 31, ringSize - 1, ringSize, ...positions.slice(0, 40)];
        for (const start of cuts) {
          for (const end of [start, start + 1, ...cuts.slice(0, 8)]) {
            if (end < start || end > ringSize) continue;
            assert.deepEqual(
              pageAll(storage, start, end, 1000),
              expectedIn(start, end),
              `range [${start}, ${end})`,
            );
          }
        }
      });

      test('an empty range returns nothing', (storage) => {
        loaded(storage);
        const position = ringPosition('p0');
        assert.deepEqual(storage.scanPositions(position, position, 10), []);
        assert.deepEqual(storage.scanPositions(ringSize, ringSize, 10), []);
        assert.deepEqual(storage.scanPositions(0, ringSize, 0), []);
        assert.equal(storage.scanPositions(position, position + 1, 10).length, 1);
      });

      test('pages with a cursor, including between keys at one position', (storage) => {
        loaded(storage);
        for (const pageSize of [1, 2, 5, 13]) {
          assert.deepEqual(pageAll(storage, 0, ringSize, pageSize), expectedIn(0, ringSize));
          assert.deepEqual(pageAll(storage, 2 ** 30, 3 * 2 ** 30, pageSize), expectedIn(2 ** 30, 3 * 2 ** 30));
        }
        const [first, second] = samePositionKeys;
        const position = ringPosition(first);
        assert.deepEqual(
          storage.scanPositions(position, position + 1, 10, { position, key: first }).map(({ entry: held }) => held.key),
          [second],
        );
        assert.deepEqual(
          storage.scanPositions(0, ringSize, 1, { position, key: '' }).map(({ entry: held }) => held.key),
          [first],
        );
      });

      test('a cursor outside the range neither widens nor empties it', (storage) => {
        loaded(storage);
        const start = 2 ** 31;
        const end = 3 * 2 ** 30;
        assert.deepEqual(
          pageAll(storage, start, end, 1000),
          storage.scanPositions(start, end, 1000, { position: 0, key: 'zzz' }).map(({ entry: held, position }) => ({
            key: held.key,
            position,
          })),
        );
        assert.deepEqual(storage.scanPositions(start, end, 1000, { position: end, key: '' }), []);
      });

      test('the last ring position is reachable with end = 2^32', (storage) => {
        loaded(storage);
        const last = expectedIn(0, ringSize).at(-1) as { key: string; position: number };
        assert.deepEqual(
          storage.scanPositions(last.position, ringSize, 10).map(({ entry: held }) => held.key),
          expectedIn(last.position, ringSize).map(({ key }) => key),
        );
      });
    });

    describe('leaf hashes', () => {
      test('an empty store has no non-empty leaves', (storage) => {
        assert.deepEqual(allLeaves(storage), []);
      });

      test('a leaf is the XOR of its items, tombstones included, and returns to empty', (storage) => {
        const [a, b] = sameLeafKeys as [string, string];
        assert.equal(leafOf(ringPosition(a)), leafOf(ringPosition(b)));
        storage.apply(entry(a, version(1), 'x'));
        storage.apply(entry(b, version(1), null));
        assert.deepEqual(allLeaves(storage), naiveLeaves([entry(a, version(1), 'x'), entry(b, version(1), null)]));
        storage.apply(entry(b, version(2), null));
        assert.deepEqual(allLeaves(storage), naiveLeaves([entry(a, version(1), 'x'), entry(b, version(2), null)]));
        storage.purgeTombstone(b, version(2), 1000);
        assert.deepEqual(allLeaves(storage), naiveLeaves([entry(a, version(1), 'x')]));
        storage.apply(entry(a, version(3), null));
        storage.purgeTombstone(a, version(3), 1000);
        assert.deepEqual(allLeaves(storage), []);
      });

      test('dropEntry removes a live or dead entry of exactly that version, its leaf item, and leaves no floor', (storage) => {
        const [a, b] = sameLeafKeys as [string, string];
        storage.apply(entry(a, version(1), 'x'));
        storage.apply(entry(b, version(2), 'y'));
        assert.equal(storage.dropEntry(a, version(9)), false, 'another version is not dropped');
        assert.equal(storage.dropEntry(a, version(1)), true);
        assert.equal(storage.get(a), undefined);
        assert.equal(storage.purgeFloor(a), undefined);
        assert.deepEqual(allLeaves(storage), naiveLeaves([entry(b, version(2), 'y')]));
        assert.equal(storage.apply(entry(a, version(1), 'x')).applied, true, 'the same version may arrive again');
        assert.equal(storage.dropEntry('absent', version(1)), false);
      });

      test('hashPositions XORs the item hashes of exactly the entries positioned in [start, end)', (storage) => {
        const entries = [...samePositionKeys, ...sameLeafKeys, 'a', 'b', 'c'].map((key, i) => entry(key, version(i + 1), i % 3 === 0 ? null : 'v'));
        for (const e of entries) storage.apply(e);
        const naive = (start: number, end: number) => {
          let h1 = 0;
          let h2 = 0;
          for (const e of entries) {
            const position = ringPosition(e.key);
            if (position < start || position >= end) continue;
            const [x, y] = itemHash(e.key, e.version);
            h1 = (h1 ^ x) >>> 0;
            h2 = (h2 ^ y) >>> 0;
          }
          return { h1, h2 };
        };
        const positions = entries.map((e) => ringPosition(e.key));
        const bounds = [0, ringSize, ...positions, ...positions.map((p) => p + 1)].filter((p) => p <= ringSize);
        for (const start of bounds) for (const end of bounds) if (start <= end) assert.deepEqual(storage.hashPositions(start, end), naive(start, end), `[${start}, ${end})`);
      });

      test('a range returns only the leaves in it', (storage) => {
        for (let i = 0; i < 200; i++) storage.apply(entry(`r${i}`, version(i + 1), 'v'));
        const all = allLeaves(storage);
        assert.deepEqual(all, naiveLeaves(allEntries(storage)));
        const middle = (all[100] as LeafHash).leaf;
        for (const [first, last] of [
          [0, middle],
          [middle, middle],
          [middle + 1, leafCount - 1],
          [middle, middle - 1],
        ] as const) {
          assert.deepEqual(
            storage.leafHashes(first, last),
            all.filter(({ leaf }) => leaf >= first && leaf <= last),
          );
        }
      });

      test('a run of leaves hashes as the XOR of its leaves, through writes and purges', (storage) => {
        assert.deepEqual(storage.leafRangeHash(0, leafCount - 1), { h1: 0, h2: 0 });
        for (let i = 0; i < 300; i++) storage.apply(entry(`x${i}`, version(i + 1), i % 7 === 0 ? null : 'v'));
        for (let i = 0; i < 300; i += 3) storage.apply(entry(`x${i}`, version(1000 + i), 'newer'));
        for (let i = 0; i < 300; i += 7) storage.purgeTombstone(`x${i}`, version(i + 1), 10);
        // The leaves recomputed from the stored entries, not read back from the store.
        const naive = naiveLeaves(allEntries(storage));
        const xorOf = (first: number, last: number) =>
          naive
            .filter(({ leaf }) => leaf >= first && leaf <= last)
            .reduce((x, leaf) => ({ h1: (x.h1 ^ leaf.h1) >>> 0, h2: (x.h2 ^ leaf.h2) >>> 0 }), { h1: 0, h2: 0 });
        const leaves = allLeaves(storage).map(({ leaf }) => leaf);
        const runs: [number, number][] = [[0, leafCount - 1], [0, 0], [leafCount - 1, leafCount - 1]];
        for (let i = 0; i + 5 < leaves.length; i += 5) {
          const a = leaves[i] as number;
          const b = leaves[i + 5] as number;
          runs.push([a, b], [a + 1, b - 1], [a, a], [Math.max(0, a - 1000), Math.min(leafCount - 1, b + 3000)]);
        }
        for (const [first, last] of runs) assert.deepEqual(storage.leafRangeHash(first, last), xorOf(first, last), `leaves ${first}..${last}`);
      });

      it('agree with a model and a naive recomputation after random applies and purges (property)', () => {
        const keyPool = [...sameLeafKeys, ...unicodeKeys.slice(0, 5)];
        const operation = fc.oneof(
          fc.record({
            kind: fc.constant('apply' as const),
            key: fc.constantFrom(...keyPool),
            wallMs: fc.integer({ min: 1, max: 30 }),
            nodeId: fc.constantFrom('n1', 'n2'),
            value: fc.option(fc.uint8Array({ maxLength: 4 }), { freq: 3 }),
          }),
          fc.record({ kind: fc.constant('purge' as const), key: fc.constantFrom(...keyPool), exact: fc.boolean() }),
          fc.record({ kind: fc.constant('expireFloors' as const), beforeMs: fc.integer({ min: 0, max: 200 }) }),
        );
        fc.assert(
          fc.property(fc.array(operation, { maxLength: 60 }), (operations) =>
            withStore((storage) => {
              const model = new Map<string, Entry>();
              const floors = new Map<string, { version: Version; purgedMs: number }>();
              operations.forEach((op, step) => {
                if (op.kind === 'apply') {
                  const next = entry(op.key, version(op.wallMs, 0, op.nodeId), op.value);
                  const held = model.get(op.key)?.version;
                  const floor = floors.get(op.key)?.version;
                  const expected =
                    held !== undefined && held >= next.version
                      ? { applied: false, current: held }
                      : floor !== undefined && floor >= next.version
                        ? { applied: false, current: floor }
                        : { applied: true };
                  if (expected.applied) model.set(op.key, next);
                  assert.deepEqual(storage.apply(next), expected);
                } else if (op.kind === 'purge') {
                  const held = model.get(op.key);
                  const purgeVersion = op.exact && held !== undefined ? held.version : version(7);
                  const expected = held !== undefined && held.value === null && held.version === purgeVersion;
                  if (expected) {
                    model.delete(op.key);
                    floors.set(op.key, { version: purgeVersion, purgedMs: step });
                  }
                  assert.equal(storage.purgeTombstone(op.key, purgeVersion, step), expected);
                } else {
                  const expired = [...floors].filter(([, floor]) => floor.purgedMs < op.beforeMs);
                  for (const [key] of expired) floors.delete(key);
                  assert.equal(storage.expirePurgeFloors(op.beforeMs), expired.length);
                }
              });
              const expectedEntries = [...model.values()].sort((a, b) => utf8Order(a.key, b.key));
              assert.deepEqual(allEntries(storage), expectedEntries);
              assert.deepEqual(allLeaves(storage), naiveLeaves(expectedEntries));
              for (const key of keyPool) assert.equal(storage.purgeFloor(key), floors.get(key)?.version);
            }),
          ),
          { numRuns: 40, seed: 7 },
        );
      });

      it('converge: the same entries applied in any order give identical stores (property)', () => {
        const write = fc.record({
          key: fc.constantFrom(...sameLeafKeys, ...unicodeKeys),
          wallMs: fc.integer({ min: 1, max: 20 }),
          counter: fc.integer({ min: 0, max: 3 }),
          nodeId: fc.constantFrom('n1', 'n2', 'n3'),
        });
        // A version names one write, so a (key, version) pair always carries the same value.
        const toEntry = (w: { key: string; wallMs: number; counter: number; nodeId: string }): Entry => {
          const writeVersion = version(w.wallMs, w.counter, w.nodeId);
          return entry(w.key, writeVersion, (w.wallMs + w.counter) % 4 === 0 ? null : `${w.key}@${writeVersion}`);
        };
        const orders = fc
          .uniqueArray(write, { maxLength: 40, selector: (w) => JSON.stringify(w) })
          .chain((writes) =>
            fc.tuple(
              fc.constant(writes),
              fc.shuffledSubarray(writes, { minLength: writes.length, maxLength: writes.length }),
            ),
          );
        fc.assert(
          fc.property(orders, ([inOrder, shuffled]) => {
            const observed = [inOrder, shuffled].map((writes) =>
              withStore((storage) => {
                for (const w of writes) storage.apply(toEntry(w));
                return { entries: allEntries(storage), leaves: allLeaves(storage), counts: storage.counts() };
              }),
            );
            assert.deepEqual(observed[0], observed[1]);
            assert.deepEqual(observed[0]?.leaves, naiveLeaves(observed[0]?.entries ?? []));
          }),
          { numRuns: 30, seed: 11 },
        );
      });
    });

    describe('transactions', () => {
      const keys = ['a', 'b', 'c', 'gone'];
      const targets = ['t1', 't2'];
      const metaNames = ['m1', 'm2'];

      function seeded(storage: Storage): void {
        storage.apply(entry('a', version(1), 'a1'));
        storage.apply(entry('b', version(1), null));
        storage.apply(entry('gone', version(1), null));
        storage.purgeTombstone('gone', version(1), 100);
        storage.addHint('t1', entry('a', version(1), 'a1'), 100);
        storage.addHint('t1', entry('b', version(1), null), 101);
        storage.setMeta('m1', 'one');
      }

      test('return the value of fn and commit its writes', (storage) => {
        const result = storage.transaction(() => {
          storage.apply(entry('a', version(1), 'v'));
          storage.setMeta('m1', 'x');
          return 42;
        });
        assert.equal(result, 42);
        assert.equal(text(storage.get('a')?.value), 'v');
        assert.equal(storage.getMeta('m1'), 'x');
      });

      test('roll back entries, leaves, floors, hints and meta when fn throws', (storage) => {
        seeded(storage);
        const before = observe(storage, keys, targets, metaNames);
        const failure = new Error('boom');
        assert.throws(
          () =>
            storage.transaction(() => {
              storage.apply(entry('a', version(2), 'a2'));
              storage.apply(entry('c', version(2), 'c2'));
              storage.purgeTombstone('b', version(1), 200);
              storage.apply(entry('gone', version(5), 'back'));
              storage.expirePurgeFloors(1000);
              const [oldest] = storage.hintsFor('t1', 1);
              storage.removeHint((oldest as { id: number }).id);
              storage.addHint('t2', entry('c', version(2), 'c2'), 200);
              storage.trimHints('t1', 0);
              storage.expireHints(1000);
              storage.setMeta('m1', 'changed');
              storage.setMeta('m2', 'new');
              assert.notDeepEqual(observe(storage, keys, targets, metaNames), before);
              throw failure;
            }),
          (error) => error === failure,
        );
        assert.deepEqual(observe(storage, keys, targets, metaNames), before);
      });

      test('the store stays usable after a rollback', (storage) => {
        seeded(storage);
        assert.throws(() =>
          storage.transaction(() => {
            storage.addHint('t1', entry('c', version(3), 'c3'), 300);
            throw new Error('boom');
          }),
        );
        storage.addHint('t1', entry('c', version(4), 'c4'), 400);
        const hints = storage.hintsFor('t1', 10);
        assert.deepEqual(
          hints.map((hint) => hint.entry.version),
          [version(1), version(1), version(4)],
        );
        assert.ok((hints[2] as { id: number }).id > (hints[1] as { id: number }).id);
        assert.deepEqual(storage.apply(entry('a', version(9), 'a9')), { applied: true });
      });

      test('nested calls join the outer transaction and commit with it', (storage) => {
        const result = storage.transaction(() => {
          storage.apply(entry('a', version(1), 'outer'));
          const inner = storage.transaction(() => {
            storage.apply(entry('b', version(1), 'inner'));
            return 'inner result';
          });
          return `${inner}!`;
        });
        assert.equal(result, 'inner result!');
        assert.equal(text(storage.get('a')?.value), 'outer');
        assert.equal(text(storage.get('b')?.value), 'inner');
      });

      test('an outer throw rolls back what nested calls wrote', (storage) => {
        seeded(storage);
        const before = observe(storage, keys, targets, metaNames);
        assert.throws(() =>
          storage.transaction(() => {
            storage.transaction(() => {
              storage.apply(entry('c', version(1), 'inner'));
              storage.setMeta('m2', 'inner');
            });
            throw new Error('outer fails');
          }),
        );
        assert.deepEqual(observe(storage, keys, targets, metaNames), before);
      });

      test('an inner throw caught by the outer fn does not undo the inner writes (no savepoints)', (storage) => {
        storage.transaction(() => {
          try {
            storage.transaction(() => {
              storage.apply(entry('a', version(1), 'inner'));
              throw new Error('inner fails');
            });
          } catch {
            // the outer fn decides to carry on
          }
          storage.apply(entry('b', version(1), 'outer'));
        });
        assert.equal(text(storage.get('a')?.value), 'inner');
        assert.equal(text(storage.get('b')?.value), 'outer');
      });

      test('an asynchronous fn is refused and its synchronous writes rolled back', (storage) => {
        assert.throws(() =>
          storage.transaction(async () => {
            storage.apply(entry('a', version(1), 'v'));
          }),
        );
        assert.equal(storage.get('a'), undefined);
        assert.deepEqual(allLeaves(storage), []);
      });
    });

    describe('tombstone purging and purge floors', () => {
      test('purges a tombstone whose version still matches', (storage) => {
        storage.apply(entry('k', version(5), null));
        storage.apply(entry('other', version(5), 'v'));
        assert.equal(storage.purgeTombstone('k', version(5), 1000), true);
        assert.equal(storage.get('k'), undefined);
        assert.equal(storage.purgeFloor('k'), version(5));
        assert.deepEqual(storage.counts(), { live: 1, tombstones: 0 });
        assert.deepEqual(allLeaves(storage), naiveLeaves([entry('other', version(5), 'v')]));
      });

      test('does not purge a missing key, a live value, or a different version', (storage) => {
        assert.equal(storage.purgeTombstone('missing', version(1), 1000), false);
        storage.apply(entry('live', version(1), 'v'));
        assert.equal(storage.purgeTombstone('live', version(1), 1000), false);
        storage.apply(entry('k', version(5), null));
        assert.equal(storage.purgeTombstone('k', version(4), 1000), false);
        storage.apply(entry('k', version(6), null));
        assert.equal(storage.purgeTombstone('k', version(5), 1000), false);
        assert.deepEqual(storage.get('k'), entry('k', version(6), null));
        for (const key of ['missing', 'live', 'k']) assert.equal(storage.purgeFloor(key), undefined);
        assert.deepEqual(storage.counts(), { live: 1, tombstones: 1 });
      });

      test('a purge floor refuses older and equal versions, with the floor as current', (storage) => {
        storage.apply(entry('k', version(5), null));
        storage.purgeTombstone('k', version(5), 1000);
        assert.deepEqual(storage.apply(entry('k', version(4), 'stale')), { applied: false, current: version(5) });
        assert.deepEqual(storage.apply(entry('k', version(5), null)), { applied: false, current: version(5) });
        assert.equal(storage.get('k'), undefined);
        assert.deepEqual(allLeaves(storage), []);
        assert.deepEqual(storage.apply(entry('k', version(6), 'fresh')), { applied: true });
        assert.equal(text(storage.get('k')?.value), 'fresh');
      });

      test('after a newer write over a floor, older writes are refused with the held version', (storage) => {
        storage.apply(entry('k', version(5), null));
        storage.purgeTombstone('k', version(5), 1000);
        storage.apply(entry('k', version(8), 'v'));
        assert.deepEqual(storage.apply(entry('k', version(3), 'stale')), { applied: false, current: version(8) });
      });

      test('a later purge of the same key raises its floor', (storage) => {
        storage.apply(entry('k', version(5), null));
        storage.purgeTombstone('k', version(5), 1000);
        storage.apply(entry('k', version(9), null));
        assert.equal(storage.purgeTombstone('k', version(9), 2000), true);
        assert.equal(storage.purgeFloor('k'), version(9));
        assert.equal(storage.expirePurgeFloors(1500), 0);
        assert.equal(storage.expirePurgeFloors(2001), 1);
      });

      test('expirePurgeFloors forgets floors recorded strictly before the bound', (storage) => {
        for (const [key, purgedMs] of [
          ['a', 100],
          ['b', 200],
          ['c', 300],
        ] as const) {
          storage.apply(entry(key, version(5), null));
          storage.purgeTombstone(key, version(5), purgedMs);
        }
        assert.equal(storage.expirePurgeFloors(200), 1);
        assert.equal(storage.purgeFloor('a'), undefined);
        assert.equal(storage.purgeFloor('b'), version(5));
        assert.equal(storage.expirePurgeFloors(200), 0);
        assert.equal(storage.expirePurgeFloors(10_000), 2);
        assert.equal(storage.purgeFloor('c'), undefined);
        // Forgotten floors no longer refuse stale copies: the caller chose the expiry horizon.
        assert.deepEqual(storage.apply(entry('a', version(4), 'stale')), { applied: true });
      });

      test('tombstonesBefore lists old tombstones in key order, after a cursor, up to a limit', (storage) => {
        storage.apply(entry('d', version(10), null));
        storage.apply(entry('b', version(20), null));
        storage.apply(entry('a', version(30), null));
        storage.apply(entry('c', version(10), 'live'));
        storage.apply(entry('\u{1F600}', version(5), null));
        storage.apply(entry('\uE000', version(5), null));
        assert.deepEqual(
          storage.tombstonesBefore(30, 100).map((held) => held.key),
          ['b', 'd', '\uE000', '\u{1F600}'],
        );
        assert.deepEqual(
          storage.tombstonesBefore(31, 2).map((held) => held.key),
          ['a', 'b'],
        );
        assert.deepEqual(
          storage.tombstonesBefore(31, 2, 'b').map((held) => held.key),
          ['d', '\uE000'],
        );
        assert.deepEqual(
          storage.tombstonesBefore(31, 10, '\uE000').map((held) => held.key),
          ['\u{1F600}'],
        );
        assert.deepEqual(storage.tombstonesBefore(5, 10), []);
        assert.deepEqual(storage.tombstonesBefore(0, 10), []);
        assert.deepEqual(storage.tombstonesBefore(31, 0), []);
        assert.deepEqual(storage.tombstonesBefore(11, 10)[0], entry('d', version(10), null));
      });

      test('tombstonesBefore compares whole wall-clock milliseconds', (storage) => {
        const wallMs = 1_700_000_000_123;
        storage.apply(entry('k', version(wallMs, 0xffffffff, 'zz'), null));
        assert.deepEqual(storage.tombstonesBefore(wallMs, 10), []);
        assert.equal(storage.tombstonesBefore(wallMs + 1, 10).length, 1);
        assert.equal(storage.tombstonesBefore(Number.MAX_SAFE_INTEGER, 10).length, 1);
        assert.equal(wallMsOf(storage.tombstonesBefore(wallMs + 1, 10)[0]?.version as Version), wallMs);
      });
    });

    describe('expiring values', () => {
      const expiring = (key: string, entryVersion: Version, value: string, expiresMs: number): Entry => ({
        ...entry(key, entryVersion, value),
        expiresMs,
      });

      test('an expiry is kept with its value, read back by get, scan, scanPositions and hints', (storage) => {
        const written = expiring('k', version(1), 'v', 5000);
        storage.apply(written);
        storage.apply(entry('plain', version(1), 'p'));
        storage.addHint('t', written, 10);
        assert.deepEqual(storage.get('k'), written);
        assert.deepEqual(allEntries(storage), [entry('plain', version(1), 'p'), written].sort((a, b) => utf8Order(a.key, b.key)));
        assert.deepEqual(storage.scanPositions(ringPosition('k'), ringPosition('k') + 1, 10)[0]?.entry, written);
        assert.deepEqual(storage.hintsFor('t', 1)[0]?.entry, written);
        // A value without an expiry has no expiresMs property at all (not even undefined).
        assert.equal('expiresMs' in (storage.get('plain') as Entry), false);
        // The expiry is part of the write, not of the item hash: leaves are those of (key, version).
        assert.deepEqual(allLeaves(storage), naiveLeaves([written, entry('plain', version(1), 'p')]));
      });

      test('a newer write replaces the expiry with its own, or with none', (storage) => {
        storage.apply(expiring('k', version(1), 'v', 5000));
        storage.apply(expiring('k', version(2), 'v', 9000));
        assert.equal(storage.get('k')?.expiresMs, 9000);
        storage.apply(entry('k', version(3), 'w'));
        assert.deepEqual(storage.get('k'), entry('k', version(3), 'w'));
        assert.deepEqual(storage.apply(expiring('k', version(2), 'old', 1)), { applied: false, current: version(3) });
      });

      test('tombstonesBefore lists values that expired before the bound, merged with tombstones in key order', (storage) => {
        storage.apply(expiring('a', version(1), 'v', 100));
        storage.apply(entry('b', version(50), null));
        storage.apply(expiring('c', version(1), 'v', 300));
        storage.apply(entry('d', version(500), null));
        storage.apply(expiring('e', version(1), 'v', 99));
        storage.apply(entry('f', version(1), 'never'));
        const keys = (bound: number, limit = 10, after?: string) => storage.tombstonesBefore(bound, limit, after).map((e) => e.key);
        assert.deepEqual(keys(100), ['b', 'e']);
        assert.deepEqual(keys(101), ['a', 'b', 'e']);
        assert.deepEqual(keys(1000), ['a', 'b', 'c', 'd', 'e']);
        assert.deepEqual(keys(1000, 2), ['a', 'b']);
        assert.deepEqual(keys(1000, 2, 'b'), ['c', 'd']);
        assert.deepEqual(storage.tombstonesBefore(101, 10)[0], expiring('a', version(1), 'v', 100));
      });

      test('a value written after its expiry counts as deleted when written, not at its expiry', (storage) => {
        storage.apply(expiring('late', version(500), 'v', 5));
        assert.deepEqual(storage.tombstonesBefore(100, 10), []);
        assert.deepEqual(storage.tombstonesBefore(501, 10).map((e) => e.key), ['late']);
      });

      test('purgeTombstone purges a value only once it has expired, and leaves a floor', (storage) => {
        storage.apply(expiring('k', version(5), 'v', 1000));
        assert.equal(storage.purgeTombstone('k', version(5), 999), false);
        assert.equal(storage.purgeTombstone('k', version(4), 2000), false);
        assert.equal(storage.purgeTombstone('k', version(5), 1000), true);
        assert.equal(storage.get('k'), undefined);
        assert.equal(storage.purgeFloor('k'), version(5));
        assert.deepEqual(allLeaves(storage), []);
        assert.deepEqual(storage.apply(expiring('k', version(5), 'v', 1000)), { applied: false, current: version(5) });
        assert.deepEqual(storage.apply(entry('k', version(6), 'again')), { applied: true });
      });

      test('counts count an expiring value as live until it is purged; countExpiring counts them', (storage) => {
        storage.apply(expiring('k', version(1), 'v', 10));
        storage.apply(expiring('j', version(1), 'v', 10));
        storage.apply(entry('plain', version(1), 'v'));
        assert.deepEqual(storage.counts(), { live: 3, tombstones: 0 });
        assert.equal(storage.countExpiring(), 2);
        storage.apply(entry('j', version(2), 'for good'));
        assert.equal(storage.countExpiring(), 1);
        storage.purgeTombstone('k', version(1), 20);
        assert.equal(storage.countExpiring(), 0);
      });
    });

    describe('counts', () => {
      test('count live entries and tombstones as they change', (storage) => {
        assert.deepEqual(storage.counts(), { live: 0, tombstones: 0 });
        storage.apply(entry('a', version(1), 'v'));
        storage.apply(entry('b', version(1), 'v'));
        storage.apply(entry('c', version(1), null));
        assert.deepEqual(storage.counts(), { live: 2, tombstones: 1 });
        storage.apply(entry('a', version(2), null));
        assert.deepEqual(storage.counts(), { live: 1, tombstones: 2 });
        storage.apply(entry('c', version(2), 'back'));
        assert.deepEqual(storage.counts(), { live: 2, tombstones: 1 });
        storage.purgeTombstone('a', version(2), 1);
        assert.deepEqual(storage.counts(), { live: 2, tombstones: 0 });
      });
    });

    describe('hints', () => {
      test("hintsFor returns a target's hints oldest first, up to a limit, with increasing ids", (storage) => {
        storage.addHint('t1', entry('a', version(1), 'a'), 300);
        storage.addHint('t2', entry('b', version(1), null), 100);
        storage.addHint('t1', entry('c', version(1), new Uint8Array(0)), 200);
        storage.addHint('t1', entry('\u{1F600}', version(2), new Uint8Array([0, 255])), 100);
        const hints = storage.hintsFor('t1', 10);
        assert.deepEqual(
          hints.map(({ target, entry: hinted, createdMs }) => ({ target, entry: hinted, createdMs })),
          [
            { target: 't1', entry: entry('a', version(1), 'a'), createdMs: 300 },
            { target: 't1', entry: entry('c', version(1), new Uint8Array(0)), createdMs: 200 },
            { target: 't1', entry: entry('\u{1F600}', version(2), new Uint8Array([0, 255])), createdMs: 100 },
          ],
        );
        const ids = hints.map((hint) => hint.id);
        assert.ok(ids.every((id, i) => Number.isInteger(id) && (i === 0 || id > (ids[i - 1] as number))));
        assert.deepEqual(
          storage.hintsFor('t1', 2).map((hint) => hint.id),
          ids.slice(0, 2),
        );
        assert.deepEqual(storage.hintsFor('t2', 10)[0]?.entry, entry('b', version(1), null));
        assert.deepEqual(storage.hintsFor('nobody', 10), []);
        assert.deepEqual(storage.hintsFor('t1', 0), []);
      });

      test('hints hold their own copy of the entry, independent of the entries table', (storage) => {
        storage.apply(entry('a', version(5), 'stored'));
        storage.addHint('t1', entry('a', version(1), 'hinted'), 1);
        assert.equal(text(storage.hintsFor('t1', 1)[0]?.entry.value), 'hinted');
        assert.equal(text(storage.get('a')?.value), 'stored');
        assert.deepEqual(allLeaves(storage), naiveLeaves([entry('a', version(5), 'stored')]));
      });

      test('removeHint removes one hint; unknown ids are ignored', (storage) => {
        storage.addHint('t1', entry('a', version(1), 'a'), 1);
        storage.addHint('t1', entry('b', version(1), 'b'), 2);
        const [first, second] = storage.hintsFor('t1', 10).map((hint) => hint.id);
        assert.ok(first !== undefined && second !== undefined);
        storage.removeHint(first);
        storage.removeHint(first);
        storage.removeHint(123_456);
        assert.deepEqual(
          storage.hintsFor('t1', 10).map((hint) => hint.id),
          [second],
        );
      });

      test('expireHints removes hints created strictly before the bound, across targets', (storage) => {
        storage.addHint('t1', entry('a', version(1), 'a'), 100);
        storage.addHint('t2', entry('b', version(1), 'b'), 50);
        storage.addHint('t1', entry('c', version(1), 'c'), 200);
        assert.equal(storage.expireHints(100), 1);
        assert.equal(storage.expireHints(100), 0);
        assert.deepEqual([...storage.hintCounts()].sort(), [['t1', 2]]);
        assert.equal(storage.expireHints(201), 2);
        assert.deepEqual(storage.hintCounts(), new Map());
      });

      test('trimHints keeps the newest `keep` hints of one target', (storage) => {
        for (let i = 0; i < 5; i++) storage.addHint('t1', entry(`k${i}`, version(1), 'v'), 1000 - i);
        storage.addHint('t2', entry('x', version(1), 'v'), 1);
        assert.equal(storage.trimHints('t1', 10), 0);
        assert.equal(storage.trimHints('t1', 5), 0);
        assert.equal(storage.trimHints('t1', 2), 3);
        assert.deepEqual(
          storage.hintsFor('t1', 10).map((hint) => hint.entry.key),
          ['k3', 'k4'],
        );
        assert.equal(storage.trimHints('t1', 0), 2);
        assert.equal(storage.trimHints('nobody', 0), 0);
        assert.deepEqual([...storage.hintCounts()], [['t2', 1]]);
      });

      test('hintCounts counts hints per target', (storage) => {
        assert.deepEqual(storage.hintCounts(), new Map());
        storage.addHint('t1', entry('a', version(1), 'a'), 1);
        storage.addHint('t2', entry('a', version(1), 'a'), 1);
        storage.addHint('t1', entry('b', version(1), 'b'), 1);
        storage.addHint('\u{1F600}', entry('b', version(1), 'b'), 1);
        storage.addHint('\uE000', entry('b', version(1), 'b'), 1);
        const counts = storage.hintCounts();
        assert.ok(counts instanceof Map);
        // Iteration follows target order (UTF-8), the same in every implementation.
        assert.deepEqual([...counts], [
          ['t1', 2],
          ['t2', 1],
          ['\uE000', 1],
          ['\u{1F600}', 1],
        ]);
      });
    });

    describe('meta', () => {
      test('getMeta of an unknown name is undefined; setMeta sets and overwrites', (storage) => {
        assert.equal(storage.getMeta('ring'), undefined);
        storage.setMeta('ring', '{"v":1}');
        storage.setMeta('other', '');
        assert.equal(storage.getMeta('ring'), '{"v":1}');
        assert.equal(storage.getMeta('other'), '');
        storage.setMeta('ring', '\u{1F600}');
        assert.equal(storage.getMeta('ring'), '\u{1F600}');
      });
    });

    describe('paxos state', () => {
      const ballot = (ms: number, node = 'n1'): Version => formatVersion({ wallMs: ms, counter: 0, nodeId: node });
      test('is undefined until set; a promise, an accepted value or tombstone, and a commit round-trip', (storage) => {
        assert.equal(storage.paxosState('k'), undefined);
        storage.setPaxosState('k', { promised: ballot(5) });
        assert.deepEqual(storage.paxosState('k'), { promised: ballot(5) });
        const value = new Uint8Array([0, 255, 7]);
        storage.setPaxosState('k', { promised: ballot(6), accepted: { ballot: ballot(6), entry: { key: 'k', version: ballot(6, 'n2'), value, expiresMs: 99 } } });
        const held = storage.paxosState('k');
        assert.deepEqual(held, { promised: ballot(6), accepted: { ballot: ballot(6), entry: { key: 'k', version: ballot(6, 'n2'), value: new Uint8Array([0, 255, 7]), expiresMs: 99 } } });
        value[0] = 1; // the store kept its own copy
        assert.equal(storage.paxosState('k')?.accepted?.entry.value?.[0], 0);
        storage.setPaxosState('k', { promised: ballot(8), accepted: { ballot: ballot(7), entry: { key: 'k', version: ballot(7), value: null } }, committed: ballot(6) });
        assert.deepEqual(storage.paxosState('k'), { promised: ballot(8), accepted: { ballot: ballot(7), entry: { key: 'k', version: ballot(7), value: null } }, committed: ballot(6) });
        storage.setPaxosState('k', undefined);
        assert.equal(storage.paxosState('k'), undefined);
      });

      test('rolls back with its transaction', (storage) => {
        storage.setPaxosState('k', { promised: ballot(1) });
        assert.throws(() =>
          storage.transaction(() => {
            storage.setPaxosState('k', { promised: ballot(2) });
            throw new Error('undo');
          }),
        );
        assert.deepEqual(storage.paxosState('k'), { promised: ballot(1) });
      });

      test('expirePaxosStates walks the keys in order, a batch at a time, and forgets those promised below a ballot', (storage) => {
        for (const [key, ms] of [['d', 40], ['a', 10], ['c', 30], ['b', 20], ['e', 50]] as const) storage.setPaxosState(key, { promised: ballot(ms), committed: ballot(ms - 1) });
        storage.setPaxosState('f', { promised: ballot(60), accepted: { ballot: ballot(60), entry: { key: 'f', version: ballot(60), value: null } } });
        // a and b, both expired, then c and d (c expired), then e and f (neither), then the end.
        assert.deepEqual(storage.expirePaxosStates(ballot(35), '', 2), { forgotten: 2, next: 'b' });
        assert.deepEqual(storage.expirePaxosStates(ballot(35), 'b', 2), { forgotten: 1, next: 'd' });
        assert.deepEqual(storage.expirePaxosStates(ballot(35), 'd', 2), { forgotten: 0, next: 'f' });
        assert.deepEqual(storage.expirePaxosStates(ballot(35), 'f', 2), { forgotten: 0, next: undefined });
        assert.deepEqual(['a', 'b', 'c', 'd'].map((key) => storage.paxosState(key) !== undefined), [false, false, false, true]);
        assert.deepEqual(storage.expirePaxosStates(ballot(50), '', 10), { forgotten: 1, next: undefined }, 'strictly below: d only');
        assert.deepEqual(storage.paxosState('e'), { promised: ballot(50), committed: ballot(49) });
        assert.throws(() =>
          storage.transaction(() => {
            assert.deepEqual(storage.expirePaxosStates(ballot(100), '', 10), { forgotten: 2, next: undefined });
            throw new Error('undo');
          }),
        );
        assert.ok(storage.paxosState('e') !== undefined && storage.paxosState('f') !== undefined, 'rolled back');
        assert.throws(() => storage.expirePaxosStates('not a version' as Version, '', 10));
        assert.throws(() => storage.expirePaxosStates(ballot(100), '', -1));
      });
    });
  });
}
