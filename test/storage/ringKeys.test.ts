import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomInt } from '../../src/core/ports.js';
import { Prng } from '../../src/sim/random.js';
import { comparePositioned, type PositionedKey } from '../../src/storage/keyOrder.js';
import { RingKeys } from '../../src/storage/ringKeys.js';

const ringSize = 2 ** 32;

describe('RingKeys', () => {
  it('reads back what was added and not removed, by range, in (position, key) order, page by page', () => {
    const random = new Prng(14);
    const keys = new RingKeys();
    const held = new Map<string, PositionedKey>();
    // Positions crowd a few buckets (and some share a position) so that buckets grow, shrink and empty;
    // keys are of every width UTF-8 has, and some are long.
    const crowded = [0, 1, ringSize - 1, 0x8000_0000, 0x8000_0001, 0x0010_0000];
    const alphabet = ['a', 'z', 'é', '€', '😀', '\u0000', 'k'];
    const newKey = () => {
      let key = '';
      const length = random.next() < 0.05 ? 300 : 1 + randomInt(random, 12);
      for (let i = 0; i < length; i++) key += alphabet[randomInt(random, alphabet.length)];
      return key;
    };
    const naive = (start: number, end: number, after?: PositionedKey) =>
      [...held.values()]
        .filter((item) => item.position >= start && item.position < end && (after === undefined || comparePositioned(item, after) > 0))
        .sort(comparePositioned);

    for (let step = 0; step < 4000; step++) {
      if (held.size > 0 && random.next() < 0.4) {
        const all = [...held.values()];
        const gone = all[randomInt(random, all.length)] as PositionedKey;
        keys.remove(gone.position, gone.key);
        held.delete(gone.key);
      } else {
        const key = newKey();
        if (held.has(key)) continue;
        const position = random.next() < 0.5 ? (crowded[randomInt(random, crowded.length)] as number) : randomInt(random, ringSize);
        keys.add(position, key);
        held.set(key, { position, key });
      }
      if (step % 200 !== 0) continue;
      assert.deepEqual(keys.inRange(0, ringSize, Infinity), naive(0, ringSize), `step ${step}: the whole ring`);
      const start = randomInt(random, ringSize);
      const end = start + randomInt(random, ringSize - start + 1);
      const paged: PositionedKey[] = [];
      for (let page = keys.inRange(start, end, 7); ; ) {
        paged.push(...page);
        if (page.length < 7) break;
        page = keys.inRange(start, end, 7, page[page.length - 1]);
      }
      assert.deepEqual(paged, naive(start, end), `step ${step}: [${start}, ${end}) in pages of 7`);
    }
    assert.ok(held.size > 100, `the run kept ${held.size} keys`);
  });

  it('refuses to remove a key it does not hold, at that position', () => {
    const keys = new RingKeys();
    keys.add(5, 'a');
    assert.throws(() => keys.remove(6, 'a'), /does not hold/);
    assert.throws(() => keys.remove(5, 'b'), /does not hold/);
    keys.remove(5, 'a');
    assert.deepEqual(keys.inRange(0, ringSize, 10), []);
    assert.throws(() => keys.remove(5, 'a'), /does not hold/);
  });
});
