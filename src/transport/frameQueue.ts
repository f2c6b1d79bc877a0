// The encoded frames waiting for one peer's connection, oldest first, with when each was queued and
// how many bytes they hold together: what the transport bounds (by count and bytes), ages out (frames
// nobody waits for any more) and writes to the socket in batches.

export class FrameQueue {
  private frames: Buffer[] = [];
  /** When each frame was queued, on the caller's clock. */
  private queuedAt: number[] = [];
  private byteCount = 0;

  get length(): number {
    return this.frames.length;
  }

  get bytes(): number {
    return this.byteCount;
  }

  push(frame: Buffer, now: number): void {
    this.frames.push(frame);
    this.queuedAt.push(now);
    this.byteCount += frame.length;
  }

  /** Drops the frames queued before `time` (they are at the front); returns how many. */
  dropQueuedBefore(time: number): number {
    let count = 0;
    while (count < this.queuedAt.length && (this.queuedAt[count] as number) < time) count += 1;
    if (count > 0) this.removeFront(count);
    return count;
  }

  /** Takes frames from the front, together at most `bytesMax` bytes but at least one frame. */
  take(bytesMax: number): { frames: Buffer[]; bytes: number } {
    if (this.byteCount <= bytesMax) {
      const taken = { frames: this.frames, bytes: this.byteCount };
      this.clear();
      return taken;
    }
    let count = 0;
    let bytes = 0;
    for (const frame of this.frames) {
      if (count > 0 && bytes + frame.length > bytesMax) break;
      bytes += frame.length;
      count += 1;
    }
    return { frames: this.removeFront(count), bytes };
  }

  /** Empties the queue; returns how many frames it held. */
  clear(): number {
    const count = this.frames.length;
    this.frames = [];
    this.queuedAt = [];
    this.byteCount = 0;
    return count;
  }

  private removeFront(count: number): Buffer[] {
    const removed = this.frames.splice(0, count);
    this.queuedAt.splice(0, count);
    for (const frame of removed) this.byteCount -= frame.length;
    return removed;
  }
}
