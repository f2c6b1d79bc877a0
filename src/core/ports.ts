// The ports through which the deterministic core reaches the world. The runtime supplies real ones
// (system clock, crypto-seeded random); the simulator supplies virtual time and one seeded generator.
// Nothing under src/core reads the clock, draws randomness, sets a timer or does IO any other way.

/** The wall clock: what versions, expiry times and stored timestamps are read on. */
export interface WallClock {
  /** Milliseconds since the Unix epoch as this node believes it (may be skewed, and may step). */
  nowMs(): number;
}

export interface Clock extends WallClock {
  /**
   * Milliseconds from an arbitrary origin on a clock that moves only forward, at the rate of real
   * time, whatever is done to the wall clock (NTP steps, an operator's `date`). For the timeouts of
   * requests in flight: never compared with `nowMs`, never stored.
   */
  monotonicMs(): number;
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
