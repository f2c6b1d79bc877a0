import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatVersion, type Entry } from '../../src/core/version.js';
import { compareUtf8 } from '../../src/storage/keyOrder.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { storageContract } from './contract.js';

storageContract('MemoryStorage', () => ({ storage: new MemoryStorage(), cleanup: () => {} }));

function entry(key: string, wallMs: number, value: string | null): Entry {
  return {
    key,
    version: formatVersion({ wallMs, counter: 0, nodeId: 'n1' }),
    value: value === null ? null : new TextEncoder().encode(value),
  };
}

describe('MemoryStorage', () => {
  it('compareUtf8 agrees with comparing UTF-8 bytes', () => {
    const samples = ['', 'a', 'ab', '\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1F600}', '\u{10FFFF}', 'a\u{1F600}', 'a\uffff'];
    for (const a of samples) {
      for (const b of samples) {
        const expected = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.equal(Math.sign(compareUtf8(a, b)), expected, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
  });

  it('clone copies the committed state and is independent of the original', () => {
    const storage = new MemoryStorage();
    storage.apply(entry('a', 1, 'one'));
    storage.addHint('t', entry('a', 1, 'one'), 5);
    storage.setMeta('m', 'x');
    const copy = storage.clone();
    storage.apply(entry('a', 2, 'two'));
    storage.apply(entry('b', 1, 'b'));
    storage.trimHints('t', 0);
    storage.setMeta('m', 'y');
    assert.deepEqual(copy.get('a'), entry('a', 1, 'one'));
    assert.equal(copy.get('b'), undefined);
    assert.equal(copy.hintsFor('t', 10).length, 1);
    assert.equal(copy.getMeta('m'), 'x');
    copy.apply(entry('c', 1, 'c'));
    assert.equal(storage.get('c'), undefined);
    assert.deepEqual(copy.leafHashes(0, 65535).length, 2);
  });

  it('clone inside a transaction leaves out the uncommitted writes', () => {
    const storage = new MemoryStorage();
    storage.apply(entry('a', 1, 'committed'));
    const before = storage.leafHashes(0, 65535);
    const copy = storage.transaction(() => {
      storage.apply(entry('a', 2, 'pending'));
      storage.apply(entry('b', 1, 'pending'));
      storage.addHint('t', entry('b', 1, 'pending'), 1);
      storage.setMeta('m', 'pending');
      return storage.clone();
    });
    assert.deepEqual(copy.get('a'), entry('a', 1, 'committed'));
    assert.equal(copy.get('b'), undefined);
    assert.deepEqual(copy.hintCounts(), new Map());
    assert.equal(copy.getMeta('m'), undefined);
    assert.deepEqual(copy.leafHashes(0, 65535), before);
    assert.equal(storage.getMeta('m'), 'pending');
  });

  it('refuses use after close', () => {
    const storage = new MemoryStorage();
    storage.close();
    assert.throws(() => storage.get('a'));
  });
});
