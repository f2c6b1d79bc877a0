// Committed entries by key, kept in memory for reads. A key's lookup in SQLite costs a statement and
// a read transaction: about a fifth of the CPU a node spends on a read at `one`, answered from its
// own copy (docs/benchmarks.md). Bounded in bytes, by an estimate of each entry's heap footprint;
// the least recently used go first.
//
// The store keeps it true (sqlite.ts): every method that changes a key's row forgets the key first,
// and a read remembers a row only if it is committed (read outside a transaction, or inside one that
// has not changed that key). A transaction that rolls back has therefore nothing to undo here.

import { LRUCache } from 'lru-cache';
import { makeEntry, type Entry, type Version } from '../core/version.js';

/** Larger values are not kept: one would push out hundreds of small ones, and its lookup is a small
 *  part of what reading and sending it costs anyway. */
export const readCacheEntryBytesMax = 64 * 1024;

/**
 * Heap bytes an entry takes beyond its key, version and value bytes: the strings' headers, the kept
 * record and the cache's own slots. Measured: 40,000 entries of 100-byte values and 16-character
 * keys took 336-340 bytes of heap each after a full collection, and the process 694-727 bytes of
 * resident memory (the heap grows ahead of what it holds).
 */
const entryOverheadBytes = 190;

/** What the cache keeps of an entry: its value's bytes as a one-byte string, which lives on the
 *  heap. An ArrayBuffer of its own per value took 1.4 times the resident memory. */
interface Kept {
  readonly version: Version;
  readonly bytes: string | null;
  readonly expiresMs: number | undefined;
}

/** What a node's metrics show of its read cache. */
export interface ReadCacheStats {
  readonly entries: number;
  /** The estimated bytes held (what `maxBytes` bounds). */
  readonly bytes: number;
  /** Lookups since the start that found their key, and those that did not. */
  readonly hits: number;
  readonly misses: number;
}

export class ReadCache {
  private readonly entries: LRUCache<string, Kept> | undefined;
  private hits = 0;
  private misses = 0;

  /** `maxBytes` 0: nothing is kept. */
  constructor(maxBytes: number) {
    this.entries =
      maxBytes > 0
        ? new LRUCache<string, Kept>({ maxSize: maxBytes, maxEntrySize: Math.min(maxBytes, readCacheEntryBytesMax), sizeCalculation: footprint })
        : undefined;
  }

  /** The entry kept for `key`. Its value is the caller's own (the Storage contract lets it change
   *  the bytes), a slice of Node's pool of small buffers. */
  get(key: string): Entry | undefined {
    const kept = this.entries?.get(key);
    if (kept === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    if (kept.bytes === null) return { key, version: kept.version, value: null };
    const bytes = Buffer.from(kept.bytes, 'latin1');
    return makeEntry(key, kept.version, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), kept.expiresMs);
  }

  /** Keeps what `entry` holds, which must be the key's committed row. */
  remember(entry: Entry): void {
    if (this.entries === undefined || (entry.value?.byteLength ?? 0) > readCacheEntryBytesMax) return;
    // A key can be a slice of a longer string (a peer's frame decoded at once, a request line): kept
    // as it is, it would hold all of that alive. V8 copies strings shorter than 13 characters.
    let key = entry.key;
    if (key.length >= 13) {
      key = Buffer.from(entry.key, 'utf8').toString('utf8');
      if (key !== entry.key) return; // a lone surrogate, which no stored key holds
    }
    const { value } = entry;
    const bytes = value === null ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
    this.entries.set(key, { version: entry.version, bytes, expiresMs: entry.expiresMs });
  }

  forget(key: string): void {
    this.entries?.delete(key);
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /** The estimated bytes held (what `maxBytes` bounds). */
  get bytes(): number {
    return this.entries?.calculatedSize ?? 0;
  }

  stats(): ReadCacheStats {
    return { entries: this.size, bytes: this.bytes, hits: this.hits, misses: this.misses };
  }
}

function footprint(kept: Kept, key: string): number {
  return 2 * key.length + kept.version.length + (kept.bytes?.length ?? 0) + entryOverheadBytes;
}

