// Key choice of the benchmark: the seeded generator replays, YCSB's zipfian gives its head keys the
// frequencies the formula promises, the scrambled zipfian keeps that skew but scatters the hot keys,
// and the limb arithmetic of FNV-1a 64 agrees with a naive BigInt version.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../src/bench/random.js';
import {
  fnvHash64Mod,
  ScrambledZipfianGenerator,
  scrambledZetan,
  UniformChooser,
  zeta,
  ZipfianGenerator,
  zipfianThetaDefault,
} from '../../src/bench/zipfian.js';

function counts(draw: () => number, items: number, samples: number): number[] {
  const seen = new Array<number>(items).fill(0);
  for (let i = 0; i < samples; i++) {
    const value = draw();
    assert.ok(Number.isInteger(value) && value >= 0 && value < items, `draw ${value} out of [0, ${items})`);
    seen[value] = (seen[value] as number) + 1;
  }
  return seen;
}

/** YCSB's Utils.fnvhash64 with BigInt, as written in Java (signed longs, Math.abs at the end). */
function naiveFnvHash64(value: number): bigint {
  const mask = (1n << 64n) - 1n;
  let hash = 0xcbf29ce484222325n;
  let rest = BigInt(value);
  for (let i = 0; i < 8; i++) {
    hash ^= rest & 0xffn;
    rest >>= 8n;
    hash = (hash * 1099511628211n) & mask;
  }
  const signed = hash >= 1n << 63n ? hash - (1n << 64n) : hash;
  return signed < 0n ? -signed : signed;
}

describe('seeded random', () => {
  it('replays the same sequence from the same seed, and another from another seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const first = Array.from({ length: 20 }, () => a.nextUint32());
    assert.deepEqual(Array.from({ length: 20 }, () => b.nextUint32()), first);
    assert.notDeepEqual(Array.from({ length: 20 }, () => c.nextUint32()), first);
  });

  it('draws doubles in [0, 1) with a mean near one half', () => {
    const random = new SeededRandom(7);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const value = random.nextDouble();
      assert.ok(value >= 0 && value < 1);
      sum += value;
    }
    assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.01);
  });
});

describe("YCSB's zipfian", () => {
  const items = 1000;
  const samples = 400_000;

  it('draws the top key with probability 1/zeta(n) and the second with 0.5^theta/zeta(n)', () => {
    const generator = new ZipfianGenerator(items);
    const random = new SeededRandom(1);
    const seen = counts(() => generator.next(random), items, samples);
    const zetan = zeta(items, zipfianThetaDefault);
    const top = (seen[0] as number) / samples;
    const second = (seen[1] as number) / samples;
    assert.ok(Math.abs(top / (1 / zetan) - 1) < 0.03, `top key frequency ${top}, expected ${1 / zetan}`);
    const expectedSecond = Math.pow(0.5, zipfianThetaDefault) / zetan;
    assert.ok(Math.abs(second / expectedSecond - 1) < 0.05, `second key frequency ${second}, expected ${expectedSecond}`);
    // The head dominates the tail: the first ten keys take far more than their 1% share.
    const head = seen.slice(0, 10).reduce((a, b) => a + b, 0) / samples;
    assert.ok(head > 0.35, `first ten keys drew ${head}`);
    assert.ok((seen[0] as number) > (seen[9] as number) && (seen[9] as number) > (seen[99] as number));
  });

  it('is reproducible from its seed', () => {
    const generator = new ZipfianGenerator(items);
    const run = (seed: number) => {
      const random = new SeededRandom(seed);
      return Array.from({ length: 50 }, () => generator.next(random));
    };
    assert.deepEqual(run(9), run(9));
  });

  it('scrambled: keeps the skew (hottest key near 1/26.47 of the draws) but the hot keys are not the first ones', () => {
    const generator = new ScrambledZipfianGenerator(items);
    const random = new SeededRandom(3);
    const seen = counts(() => generator.next(random), items, samples);
    const hottest = Math.max(...seen);
    const hottestKey = seen.indexOf(hottest);
    assert.ok(hottest / samples >= (1 / scrambledZetan) * 0.95, `hottest key frequency ${hottest / samples}`);
    assert.ok(hottest / samples < 0.1);
    const ranked = seen.map((count, key) => ({ count, key })).sort((a, b) => b.count - a.count);
    const topTen = ranked.slice(0, 10).map((r) => r.key);
    assert.ok(topTen.some((key) => key >= 10), `hot keys are scattered: ${topTen.join(',')} (hottest ${hottestKey})`);
  });

  it('uniform: every key near its fair share', () => {
    const chooser = new UniformChooser(100);
    const random = new SeededRandom(5);
    const seen = counts(() => chooser.next(random), 100, 200_000);
    for (const count of seen) assert.ok(Math.abs(count / 2000 - 1) < 0.15, `count ${count}`);
  });
});

describe('FNV-1a 64 (limbs vs BigInt)', () => {
  it('agrees with the naive BigInt version for many values and moduli', () => {
    const random = new SeededRandom(11);
    const values = [0, 1, 2, 255, 256, 65_535, 2 ** 32, 10_000_000_000, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 300; i++) values.push(Math.floor(random.nextDouble() * 10_000_000_001));
    for (const modulus of [1, 7, 1000, 1_000_000, 2 ** 31 - 1, 2 ** 36 + 3]) {
      for (const value of values) {
        assert.equal(BigInt(fnvHash64Mod(value, modulus)), naiveFnvHash64(value) % BigInt(modulus), `value ${value} mod ${modulus}`);
      }
    }
  });
});
