// Hybrid logical clock (Kulkarni et al.): versions follow wall-clock time when clocks agree, and never
// go backwards when they do not. Every message carries the sender's clock reading and the receiver
// `observe`s it, so causally later events get higher versions even across skewed clocks.

import type { Clock } from './ports.js';
import { counterMax, formatVersion, parseVersion, type Version } from './version.js';

export interface ClockReading {
  readonly wallMs: number;
  readonly counter: number;
}

export class HybridClock {
  private wallMs = 0;
  private counter = 0;

  constructor(
    private readonly physical: Clock,
    private readonly nodeId: string,
  ) {}

  /** A fresh version, strictly greater than every version this clock issued or observed. */
  now(): Version {
    this.tick();
    return formatVersion({ wallMs: this.wallMs, counter: this.counter, nodeId: this.nodeId });
  }

  /** A fresh version strictly greater than `version` (used to re-stamp a write that met a newer one). */
  stampAbove(version: Version): Version {
    this.observeVersion(version);
    return this.now();
  }

  reading(): ClockReading {
    return { wallMs: this.wallMs, counter: this.counter };
  }

  observe(remote: ClockReading): void {
    if (remote.wallMs > this.wallMs || (remote.wallMs === this.wallMs && remote.counter > this.counter)) {
      this.wallMs = remote.wallMs;
      this.counter = remote.counter;
    }
  }

  observeVersion(version: Version): void {
    const parts = parseVersion(version);
    this.observe(parts);
  }

  private tick(): void {
    const physicalMs = Math.floor(this.physical.nowMs());
    if (physicalMs > this.wallMs) {
      this.wallMs = physicalMs;
      this.counter = 0;
    } else if (this.counter < counterMax) {
      this.counter += 1;
    } else {
      // The counter is exhausted within one millisecond: borrow the next millisecond.
      this.wallMs += 1;
      this.counter = 0;
    }
  }
}
