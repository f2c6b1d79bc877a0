// The table of values in flight by id (coordinator operations, unanswered requests): it must agree
// with a Map through any sequence of sets and deletes, across collisions, wrap-around and growth.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdTable } from '../../src/core/idTable.js';

/** A small seeded generator (xorshift), so a failure replays. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function agree(table: IdTable<string>, model: Map<number, string>, probes: readonly number[]): void {
  assert.equal(table.size, model.size);
  for (const id of probes) {
    assert.equal(table.get(id), model.get(id), `get(${id})`);
    assert.equal(table.has(id), model.has(id), `has(${id})`);
  }
  assert.deepEqual([...table.values()].sort(), [...model.values()].sort());
}

describe('IdTable', () => {
  it('agrees with a Map under increasing ids that finish out of order', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const table = new IdTable<string>(4);
      const model = new Map<number, string>();
      let id = Math.floor(next() * 1000);
      for (let step = 0; step < 20_000; step++) {
        const live = [...model.keys()];
        if (live.length > 0 && next() < 0.48) {
          const victim = live[Math.floor(next() * live.length)] as number;
          assert.equal(table.delete(victim), true);
          model.delete(victim);
        } else {
          id += 1 + Math.floor(next() * 3);
          table.set(id, `v${id}`);
          model.set(id, `v${id}`);
        }
        if (step % 97 === 0) agree(table, model, [...live, id, id + 1, id - 1000]);
      }
      agree(table, model, [...model.keys()]);
    }
  });

  it('keeps ids that land in the same slot apart, and finds each after deletes around them', () => {
    const table = new IdTable<string>(8);
    // 3, 11 and 19 share a home slot (mod 8); 4 sits where 11 probed to.
    for (const id of [3, 11, 4, 19]) table.set(id, `v${id}`);
    assert.equal(table.delete(11), true);
    assert.equal(table.get(19), 'v19', 'moved back past the hole');
    assert.equal(table.get(4), 'v4');
    assert.equal(table.delete(11), false, 'gone already');
    assert.equal(table.delete(3), true);
    assert.equal(table.get(19), 'v19');
    assert.equal(table.size, 2);
  });

  it('wraps around the end of its arrays', () => {
    const table = new IdTable<string>(8);
    for (const id of [7, 15, 23]) table.set(id, `v${id}`); // home 7, then slots 0 and 1
    assert.equal(table.delete(7), true);
    assert.equal(table.get(15), 'v15');
    assert.equal(table.get(23), 'v23');
    assert.deepEqual(table.values().sort(), ['v15', 'v23']);
  });

  it('replaces the value of an id it holds, and takes ids past 2^32', () => {
    const table = new IdTable<string>();
    const big = 2 ** 32 + 5;
    table.set(big, 'a');
    table.set(big, 'b');
    table.set(5, 'c'); // the same low 32 bits as `big`
    assert.equal(table.size, 2);
    assert.equal(table.get(big), 'b');
    assert.equal(table.get(5), 'c');
    assert.equal(table.delete(big), true);
    assert.equal(table.get(5), 'c');
    assert.throws(() => table.set(-1, 'x'), /whole numbers/);
    assert.throws(() => table.set(1.5, 'x'), /whole numbers/);
  });
});
