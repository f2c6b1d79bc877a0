// The ports through which the deterministic core reaches the world. The runtime supplies real ones
// (system clock, crypto-seeded random); the simulator supplies virtual time and one seeded generator.
// Nothing under src/core reads the clock, draws randomness, sets a timer or does IO any other way.

export interface Clock {
  /** Milliseconds since the Unix epoch as this node believes it (may be skewed). */
  nowMs(): number;
}

export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

export function randomInt(random: Random, maxExclusive: number): number {
  return Math.floor(random.next() * maxExclusive);
}

export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const held = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = held;
  }
  return copy;
}
