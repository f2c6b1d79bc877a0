// The keys a store holds, by ring position, in memory and off the V8 heap: what the SQLite store
// reads a range of positions through, since no index orders its rows by position (leafTable.ts).
//
// The ring is cut into 4,096 buckets (16 anti-entropy leaves each). A bucket's keys are packed into one
// buffer, each as its position, its UTF-8 length and its bytes, in no order; the buffer has room to
// spare (its capacity doubles when full), so adding a key is a copy into it, and removing one moves
// the keys after it down (a buffer never shrinks: a bucket keeps the room of its largest size, and
// lets it go only once empty). A range read scans the buckets it covers (about 250 keys each at a
// million keys), decodes only the keys inside the range and sorts those.
//
// Why packed: kept as an array of strings per leaf, a million keys were some 45 MB of live heap, and
// V8 lets the garbage between two full collections grow with the live heap: loaded with a million keys,
// nodes reached 460-500 MB resident, against 141-154 MB without them. A buffer per leaf still left
// 65,536 buffer objects on the heap (240-262 MB resident).

import { assert } from '../core/assert.js';
import { comparePositioned, type PositionedKey } from './keyOrder.js';

const bucketBits = 12;
const bucketCount = 2 ** bucketBits;
/** Position, then the key's length in bytes, each a uint32. */
const headerBytes = 8;

function bucketOf(position: number): number {
  return position >>> (32 - bucketBits);
}

export class RingKeys {
  private readonly packed: (Buffer | undefined)[] = new Array<Buffer | undefined>(bucketCount).fill(undefined);
  /** The bytes of each bucket's buffer in use. */
  private readonly used = new Uint32Array(bucketCount);

  add(position: number, key: string): void {
    const bucket = bucketOf(position);
    const length = Buffer.byteLength(key, 'utf8');
    const at = this.used[bucket] as number;
    const end = at + headerBytes + length;
    let held = this.packed[bucket];
    if (held === undefined || held.length < end) {
      const grown = Buffer.allocUnsafeSlow(Math.max(256, 2 * end));
      held?.copy(grown, 0, 0, at);
      this.packed[bucket] = held = grown;
    }
    held.writeUInt32LE(position, at);
    held.writeUInt32LE(length, at + 4);
    held.write(key, at + headerBytes, 'utf8');
    this.used[bucket] = end;
  }

  remove(position: number, key: string): void {
    const bucket = bucketOf(position);
    const held = this.packed[bucket];
    const used = this.used[bucket] as number;
    const bytes = Buffer.from(key, 'utf8');
    for (let at = 0; held !== undefined && at < used; ) {
      const start = at + headerBytes;
      const end = start + held.readUInt32LE(at + 4);
      if (held.readUInt32LE(at) === position && end - start === bytes.length && held.compare(bytes, 0, bytes.length, start, end) === 0) {
        held.copy(held, at, end, used);
        this.used[bucket] = used - (end - at);
        if (this.used[bucket] === 0) this.packed[bucket] = undefined;
        return;
      }
      at = end;
    }
    assert(false, 'removing a key the ring does not hold');
  }

  /**
   * The keys positioned in [start, end), strictly after `after` when given, in (position, key) order,
   * at most `limit`. Buckets are intervals of positions, so each is sorted on its own.
   */
  inRange(start: number, end: number, limit: number, after?: PositionedKey): PositionedKey[] {
    const found: PositionedKey[] = [];
    if (start >= end) return found;
    const from = after === undefined ? start : Math.max(start, after.position);
    for (let bucket = bucketOf(from), last = bucketOf(end - 1); bucket <= last && found.length < limit; bucket++) {
      const held = this.packed[bucket];
      if (held === undefined) continue;
      const inBucket: PositionedKey[] = [];
      const used = this.used[bucket] as number;
      for (let at = 0; at < used; ) {
        const position = held.readUInt32LE(at);
        const keyStart = at + headerBytes;
        at = keyStart + held.readUInt32LE(at + 4);
        if (position < from || position >= end) continue;
        const item = { position, key: held.toString('utf8', keyStart, at) };
        if (after === undefined || comparePositioned(item, after) > 0) inBucket.push(item);
      }
      found.push(...inBucket.sort(comparePositioned));
    }
    if (found.length > limit) found.length = limit;
    return found;
  }
}
