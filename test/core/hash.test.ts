import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { itemHash, murmur3 } from '../../src/core/hash.js';

// Every node must place keys and hash items identically, across versions of this code: these are
// MurmurHash3 x86_32 of the UTF-8 bytes (the first three are the algorithm's published vectors).
describe('murmur3', () => {
  it('matches the published MurmurHash3 x86_32 vectors', () => {
    assert.equal(murmur3('', 1), 0x514e28b7);
    assert.equal(murmur3('hello', 0), 0x248bfa47);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c), 0x2fa826cd);
  });

  it('hashes the UTF-8 bytes of non-ASCII and long keys', () => {
    assert.equal(murmur3('ключ'), 0x9a592042);
    assert.equal(murmur3('鍵🔑'), 0x2f958b80);
    assert.equal(murmur3('é'.repeat(342)), 0x354b9532); // 684 bytes
    assert.equal(murmur3('x'.repeat(1025)), 0xcbef8242); // longer than the reused buffer
  });

  it('gives an item hash of (key, version) that does not depend on what was hashed before', () => {
    const expected: Record<string, [number, number]> = {
      'ключ': [0x29de6b5c, 0x87cb3dda],
      '鍵🔑': [0x23754750, 0x0d389ec4],
      ['x'.repeat(1025)]: [0x4fde2555, 0xb036aab1],
    };
    for (const [key, hash] of Object.entries(expected)) {
      murmur3('a different, longer string than the key');
      assert.deepEqual(itemHash(key, 'v1'), hash, key.slice(0, 8));
    }
  });
});
