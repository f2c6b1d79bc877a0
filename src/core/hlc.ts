// Hybrid logical clock (Kulkarni et al.): versions follow wall-clock time when clocks agree, and never
// go backwards when they do not. Every message carries the sender's clock reading and the receiver
// `observe`s it, so causally later events get higher versions even across skewed clocks.
//
// A restarted node must never issue a version it issued before its crash: its clock may have followed
// a faster peer's far ahead of its own, and would follow it to the very same versions again. So every
// version's wall clock stays below a ceiling that is made durable before it is used (raised ahead, a
// margin at a time), and a restarted clock starts at the ceiling it left.

import type { WallClock } from './ports.js';
import { counterMax, formatVersion, parseVersion, wallMsMax, type Version } from './version.js';

export interface ClockReading {
  readonly wallMs: number;
  readonly counter: number;
}

/** How far above the wall clock of the versions issued the durable ceiling is raised at a time. */
export const ceilingMarginMs = 10_000;

/**
 * The latest wall clock a reading may carry to be followed: beyond it the clock could not issue a
 * version (its ceiling would pass what a version holds), and every write would fail from then on,
 * on this node, on every peer its next messages reach, and after restarts (the ceiling is durable).
 * Only a broken peer sends such a reading (the year 10,000 and later); it is ignored.
 */
export const followableWallMsMax = wallMsMax - 2 * ceilingMarginMs;

export interface ClockCeiling {
  /** The ceiling the node left when it last ran (0 the first time). */
  readonly restoredMs: number;
  /** Stores a new ceiling durably: the clock issues no version above the old one until this returns. */
  readonly persist: (ceilingMs: number) => void;
}

export class HybridClock {
  private wallMs = 0;
  private counter = 0;
  private ceilingMs: number;

  constructor(
    private readonly physical: WallClock,
    private readonly nodeId: string,
    private readonly ceiling: ClockCeiling = { restoredMs: 0, persist: () => undefined },
  ) {
    // Every version issued before a restart had a wall clock below the ceiling it left.
    this.ceilingMs = ceiling.restoredMs;
    this.wallMs = ceiling.restoredMs;
  }

  /** A fresh version, strictly greater than every version this clock issued or observed. */
  now(): Version {
    this.tick();
    if (this.wallMs >= this.ceilingMs - ceilingMarginMs / 2) {
      const raised = this.wallMs + ceilingMarginMs;
      this.ceiling.persist(raised); // throws if it cannot be stored: then no version is issued
      this.ceilingMs = raised;
    }
    return formatVersion({ wallMs: this.wallMs, counter: this.counter, nodeId: this.nodeId });
  }

  /**
   * The store's transaction that raised the ceiling rolled back: the ceiling on disk is `storedMs`
   * again, and the next version raises (and stores) it anew. Versions issued meanwhile were part of
   * what rolled back, or stayed below the stored ceiling less half a margin.
   */
  ceilingRolledBack(storedMs: number): void {
    this.ceilingMs = Math.min(this.ceilingMs, storedMs);
  }

  /** A fresh version strictly greater than `version` (used to re-stamp a write that met a newer one). */
  stampAbove(version: Version): Version {
    this.observeVersion(version);
    return this.now();
  }

  /**
   * What this clock says now (sent with every message), without issuing a version: the physical clock
   * when it is ahead of every version seen, so that peers follow this node's time, not only the time
   * of its last write.
   */
  reading(): ClockReading {
    const physicalMs = Math.floor(this.physical.nowMs());
    if (physicalMs > this.wallMs) return { wallMs: physicalMs, counter: 0 };
    return { wallMs: this.wallMs, counter: this.counter };
  }

  observe(remote: ClockReading): void {
    if (remote.wallMs > followableWallMsMax) return;
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
