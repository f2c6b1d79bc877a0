// The one seeded generator of a simulation run. Every random choice of a run (its parameters, the
// network's delays and drops, the faults, the workload, each node's `Random` port) draws from a
// generator forked from the run's root by a label, so a seed replays the whole run, and adding a new
// consumer of randomness does not shift the draws of the others (forking reads the root's seed, not
// its state).
//
// The generator is sfc32 (Chris Doty-Humphrey's small fast chaotic PRNG, 128 bits of state, passes
// PractRand), seeded through splitmix32 so that nearby seeds (1, 2, 3, ...) give unrelated streams.

import type { Random } from '../core/ports.js';

/** Seeds are 32-bit unsigned integers (what `--seed` accepts). */
export const seedMax = 2 ** 32 - 1;

export function isSeed(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= seedMax;
}

export class Prng implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let state = seed >>> 0;
    const mix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = 1; // sfc32's counter
    // Discard the first outputs: sfc32's state needs a few rounds to mix (as its author recommends).
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** An independent generator for one consumer, named by `label`; the same label gives the same stream. */
  fork(label: string): Prng {
    return new Prng((hashLabel(label) ^ Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d)) >>> 0);
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1) (the core's `Random` port). */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  /** An integer in [min, max], both included. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** A name chosen with probability proportional to its weight (weights >= 0, not all 0). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const names = Object.keys(weights) as K[];
    const total = names.reduce((sum, name) => sum + weights[name], 0);
    if (!(total > 0)) throw new Error('weighted pick needs a positive total weight');
    let point = this.next() * total;
    for (const name of names) {
      point -= weights[name];
      if (point < 0) return name;
    }
    return names[names.length - 1] as K;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = items.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const held = copy[i] as T;
      copy[i] = copy[j] as T;
      copy[j] = held;
    }
    return copy;
  }
}

/** FNV-1a over UTF-16 code units, finished with a murmur-style avalanche. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
