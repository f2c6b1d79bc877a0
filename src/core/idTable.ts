// Values kept under integer ids for as long as they are in flight: the coordinator's operations, the
// hints being delivered, the node runtime's unanswered requests. An open-addressed table over two
// arrays (linear probing, and deletion that shifts the entries after it back, so no tombstones),
// doubled when half full.
//
// Why not a Map: such a table lives as long as the node, so V8 moves it to the old generation, while
// its entries are young and short-lived. A Map rehashes as entries come and go, and each of these
// tables was followed by a young collection that kept every entry in flight at a rehash, with all it
// reached (callbacks, the request, the value), and copied it to the old generation. Measured on a node
// under quorum inserts at 4,700/s: each young collection kept about 1 MB (a twelfth of what was
// allocated since the one before) and paused the node for 3-5 ms; with this table and the runtime's,
// some 50 KB and 1.4-2.4 ms (docs/benchmarks.md, sixteenth session). V8 allocates a Map's new table in
// the old generation when the one it replaces is there, and the table left behind still points at the
// entries it held: the young collection takes such pointers as roots. Here an emptied slot is
// overwritten, so nothing that left the table is kept alive by it.

import { assert } from './assert.js';

const emptyId = -1;

export class IdTable<T> {
  private ids: Float64Array;
  private entries: (T | undefined)[];
  private mask: number;
  private count = 0;

  constructor(capacity = 64) {
    assert(capacity >= 2 && (capacity & (capacity - 1)) === 0, 'capacity is a power of two');
    this.ids = new Float64Array(capacity).fill(emptyId);
    this.entries = new Array<T | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    const slot = this.slotOf(id);
    return this.ids[slot] === id ? this.entries[slot] : undefined;
  }

  has(id: number): boolean {
    return this.ids[this.slotOf(id)] === id;
  }

  /** Keeps `value` under `id` (a whole number, at least 0), replacing what was there. */
  set(id: number, value: T): void {
    assert(Number.isSafeInteger(id) && id >= 0, 'ids are whole numbers');
    let slot = this.slotOf(id);
    if (this.ids[slot] !== id) {
      if ((this.count + 1) * 2 > this.ids.length) {
        this.grow();
        slot = this.slotOf(id);
      }
      this.ids[slot] = id;
      this.count += 1;
    }
    this.entries[slot] = value;
  }

  delete(id: number): boolean {
    const { ids, entries, mask } = this;
    let hole = this.slotOf(id);
    if (ids[hole] !== id) return false;
    // Entries after the hole that probed past it move back into it; the probe ends at an empty slot.
    for (let next = (hole + 1) & mask; ids[next] !== emptyId; next = (next + 1) & mask) {
      const home = (ids[next] as number) & mask;
      const homeBetween = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (homeBetween) continue; // it sits at or after its home: the hole is not on its probe
      ids[hole] = ids[next] as number;
      entries[hole] = entries[next];
      hole = next;
    }
    ids[hole] = emptyId;
    entries[hole] = undefined;
    this.count -= 1;
    return true;
  }

  /** The values held, in no particular order (a copy: the caller may change the table meanwhile). */
  values(): T[] {
    const found: T[] = [];
    for (let slot = 0; slot < this.ids.length; slot++) {
      if (this.ids[slot] !== emptyId) found.push(this.entries[slot] as T);
    }
    return found;
  }

  /** Where `id` is, or the empty slot where it would go. */
  private slotOf(id: number): number {
    let slot = id & this.mask; // the low 32 bits: ids above 2^31 spread as well
    for (;;) {
      const held = this.ids[slot];
      if (held === id || held === emptyId) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    const { ids, entries } = this;
    this.ids = new Float64Array(ids.length * 2).fill(emptyId);
    this.entries = new Array<T | undefined>(ids.length * 2).fill(undefined);
    this.mask = ids.length * 2 - 1;
    for (let slot = 0; slot < ids.length; slot++) {
      const id = ids[slot] as number;
      if (id === emptyId) continue;
      const to = this.slotOf(id);
      this.ids[to] = id;
      this.entries[to] = entries[slot];
    }
    entries.fill(undefined); // the old array is garbage: it must not keep anything alive until collected
  }
}
