// The read cache (readCache.ts): bounded by its byte estimate, least recently used first, and never
// holding a key's string alive beyond the key itself. The store's use of it is tested against a
// MemoryStorage in sqlite.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { formatVersion, type Entry } from '../../src/core/version.js';
import { ReadCache, readCacheEntryBytesMax } from '../../src/storage/readCache.js';

function entry(key: string, valueBytes: number): Entry {
  return { key, version: formatVersion({ wallMs: 1, counter: 0, nodeId: 'n1' }), value: new Uint8Array(valueBytes) };
}

describe('ReadCache', () => {
  it('gives back what it remembered until it forgets it', () => {
    const cache = new ReadCache(1 << 20);
    const a = entry('a', 10);
    cache.remember(a);
    cache.remember({ key: 'tomb', version: a.version, value: null });
    assert.deepEqual(cache.get('a'), a);
    (cache.get('a')?.value as Uint8Array)[0] = 1;
    assert.deepEqual(cache.get('a'), a, 'a caller changes its own copy of the value');
    assert.equal(cache.get('tomb')?.value, null, 'tombstones are kept too');
    assert.equal(cache.get('b'), undefined);
    cache.forget('a');
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 1);
    assert.deepEqual({ ...cache.stats(), bytes: 0 }, { entries: 1, bytes: 0, hits: 4, misses: 2 });
  });

  it('keeps within its bytes, dropping the least recently used first', () => {
    const cache = new ReadCache(10_000);
    for (let i = 0; i < 100; i++) {
      cache.remember(entry(`key-${i}`, 100));
      cache.get('key-0'); // read all along: the most recently used
    }
    assert.ok(cache.bytes <= 10_000, `holds ${cache.bytes} bytes`);
    assert.ok(cache.size > 10 && cache.size < 100, `holds ${cache.size} entries`);
    assert.ok(cache.get('key-0'), 'the entry read all along stays');
    assert.equal(cache.get('key-1'), undefined, 'an old one went');
    assert.ok(cache.get('key-99'), 'the newest stays');
  });

  it('keeps no value over its entry bound, and nothing at 0 bytes', () => {
    const cache = new ReadCache(1 << 30);
    cache.remember(entry('big', readCacheEntryBytesMax));
    assert.equal(cache.get('big'), undefined);
    const none = new ReadCache(0);
    none.remember(entry('a', 1));
    assert.equal(none.get('a'), undefined);
    assert.equal(none.size, 0);
  });

  it('holds no longer string alive through a key sliced from it', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const cache = new ReadCache(1 << 30);
    const heldBefore = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heldBefore();
    for (let i = 0; i < 500; i++) {
      // A frame of 100 KB decoded at once, and a key sliced out of it, as a decoder does.
      const frame = `${String(i).padStart(6, '0')}${'x'.repeat(100_000)}`;
      cache.remember(entry(frame.slice(0, 30), 1));
    }
    const grown = heldBefore() - before;
    assert.equal(cache.size, 500);
    assert.ok(grown < 10_000_000, `the cache holds ${grown} bytes of heap for 500 small entries`);
    assert.equal(cache.get(`000007${'x'.repeat(24)}`)?.key, `000007${'x'.repeat(24)}`);
  });

  it('skips a key no store can hold', () => {
    const cache = new ReadCache(1 << 20);
    const lone = 'a-key-with-a-lone-\uD800';
    cache.remember(entry(lone, 1));
    assert.equal(cache.get(lone), undefined);
    assert.equal(cache.get('a-key-with-a-lone-\uFFFD'), undefined);
  });
});
