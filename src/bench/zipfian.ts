// Key choice for the benchmark: uniform, or YCSB's zipfian (Gray et al., "Quickly generating
// billion-record synthetic databases", as in YCSB's ZipfianGenerator and ScrambledZipfianGenerator).
// Randomness comes from a SeededRandom passed in, so one seed replays the same key sequence.
//
// ZipfianGenerator draws item i (0-based rank) with probability proportional to 1 / (i + 1)^theta:
// item 0 exactly 1 / zeta(n, theta), item 1 exactly 0.5^theta / zeta(n, theta), the tail by Gray's
// closed-form approximation. ScrambledZipfianGenerator is what YCSB's `requestdistribution=zipfian`
// uses: a zipfian over 10^10 items (its zeta precomputed) hashed with FNV-1a 64 onto the key space,
// so that the popular keys are scattered instead of being the first ones.

import { assert } from '../core/assert.js';
import type { SeededRandom } from './random.js';

/** YCSB's default skew. */
export const zipfianThetaDefault = 0.99;

export type DistributionName = 'uniform' | 'zipfian';
export const distributionNames: readonly DistributionName[] = ['uniform', 'zipfian'];

/** Picks a key index in [0, items). */
export interface KeyChooser {
  readonly items: number;
  next(random: SeededRandom): number;
}

/** zeta(n, theta) = sum over i = 1..n of 1 / i^theta. */
export function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / Math.pow(i, theta);
  return sum;
}

export class UniformChooser implements KeyChooser {
  constructor(readonly items: number) {
    assert(Number.isInteger(items) && items >= 1, 'a key space holds at least one key');
  }

  next(random: SeededRandom): number {
    return random.nextInt(this.items);
  }
}

export class ZipfianGenerator implements KeyChooser {
  readonly zetan: number;
  private readonly alpha: number;
  private readonly eta: number;
  private readonly secondThreshold: number;

  /** `zetan` may be given when precomputed (it takes O(items) to compute). */
  constructor(
    readonly items: number,
    readonly theta: number = zipfianThetaDefault,
    zetan?: number,
  ) {
    assert(Number.isInteger(items) && items >= 2, 'a zipfian needs at least two items');
    assert(theta > 0 && theta < 1, 'zipfian theta must be in (0, 1)');
    this.zetan = zetan ?? zeta(items, theta);
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / items, 1 - theta)) / (1 - zeta(2, theta) / this.zetan);
    this.secondThreshold = 1 + Math.pow(0.5, theta);
  }

  next(random: SeededRandom): number {
    const u = random.nextDouble();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < this.secondThreshold) return 1;
    const value = Math.floor(this.items * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return Math.min(value, this.items - 1);
  }
}

/** YCSB's constants for the scrambled zipfian: 10^10 items (+1, as YCSB's max is inclusive). */
export const scrambledItemCount = 10_000_000_001;
export const scrambledZetan = 26.46902820178302;

export class ScrambledZipfianGenerator implements KeyChooser {
  private readonly inner: ZipfianGenerator;

  constructor(readonly items: number) {
    assert(Number.isInteger(items) && items >= 1 && items < 2 ** 37, 'scrambled zipfian key space out of range');
    this.inner = new ZipfianGenerator(scrambledItemCount, zipfianThetaDefault, scrambledZetan);
  }

  next(random: SeededRandom): number {
    return fnvHash64Mod(this.inner.next(random), this.items);
  }
}

export function keyChooser(distribution: DistributionName, items: number): KeyChooser {
  if (distribution === 'uniform' || items < 2) return new UniformChooser(items);
  return new ScrambledZipfianGenerator(items);
}

// ---- FNV-1a 64 on four 16-bit limbs (exact, no BigInt on the hot path) -------------------------

const fnvOffsetLimbs = [0x2325, 0x8422, 0x9ce4, 0xcbf2]; // 0xcbf29ce484222325, little-endian limbs
const fnvPrimeLimbs = [0x01b3, 0x0000, 0x0100, 0x0000]; // 0x00000100000001b3

/**
 * YCSB's `Utils.fnvhash64(value)` (FNV-1a over the 8 little-endian bytes of a non-negative long,
 * then `Math.abs`), reduced modulo `modulus`. `value` must be a non-negative integer below 2^53.
 */
export function fnvHash64Mod(value: number, modulus: number): number {
  assert(Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER, 'fnv input must be a safe non-negative integer');
  const hash = fnvOffsetLimbs.slice();
  let rest = value;
  for (let i = 0; i < 8; i++) {
    const octet = rest % 256;
    rest = Math.floor(rest / 256);
    hash[0] = (hash[0] as number) ^ octet;
    multiplyLimbs(hash, fnvPrimeLimbs);
  }
  if (((hash[3] as number) & 0x8000) !== 0) negateLimbs(hash); // Math.abs of a signed long
  let remainder = 0;
  for (let i = 3; i >= 0; i--) remainder = (remainder * 65536 + (hash[i] as number)) % modulus;
  return remainder;
}

/** hash = hash * factor mod 2^64, both as little-endian 16-bit limbs. */
function multiplyLimbs(hash: number[], factor: readonly number[]): void {
  const product = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; i + j < 4; j++) product[i + j] = (product[i + j] as number) + (hash[i] as number) * (factor[j] as number);
  }
  let carry = 0;
  for (let k = 0; k < 4; k++) {
    const sum = (product[k] as number) + carry;
    hash[k] = sum % 65536;
    carry = Math.floor(sum / 65536);
  }
}

/** Two's complement negation of a 64-bit value in limbs. */
function negateLimbs(hash: number[]): void {
  let carry = 1;
  for (let k = 0; k < 4; k++) {
    const sum = (~(hash[k] as number) & 0xffff) + carry;
    hash[k] = sum & 0xffff;
    carry = sum >>> 16;
  }
}
