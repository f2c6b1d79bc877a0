// Hashing for placement and anti-entropy: pure, synchronous and identical on every node.
// The ring is the 32-bit space [0, 2^32). Keys and virtual-node tokens are placed with one function;
// anti-entropy leaves are the top `leafBits` bits of a key's ring position.

const textEncoder = new TextEncoder();
/** Reused for the UTF-8 bytes of short strings: hashing runs several times per request. */
const scratch = new Uint8Array(1024);

/** The UTF-8 bytes of `text`: in `scratch` when they fit (valid until the next call), else a new array. */
function utf8Of(text: string): { readonly bytes: Uint8Array; readonly length: number } {
  const length = text.length;
  if (length <= scratch.length) {
    // ASCII, the common case, is its own UTF-8; anything else goes through the encoder.
    let i = 0;
    for (; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) break;
      scratch[i] = code;
    }
    if (i === length) return { bytes: scratch, length };
    if (length * 3 <= scratch.length) return { bytes: scratch, length: textEncoder.encodeInto(text, scratch).written };
  }
  const bytes = textEncoder.encode(text);
  return { bytes, length: bytes.length };
}

/** 32-bit MurmurHash3 (x86) of UTF-8 bytes. */
export function murmur3(text: string, seed = 0): number {
  const { bytes, length } = utf8Of(text);
  return murmur3Bytes(bytes, length, seed);
}

/** 32-bit MurmurHash3 (x86) of bytes[0..length). */
function murmur3Bytes(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blockEnd = length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    let k =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (length & 3) {
    case 3:
      k ^= (bytes[blockEnd + 2] as number) << 16;
    // falls through
    case 2:
      k ^= (bytes[blockEnd + 1] as number) << 8;
    // falls through
    case 1:
      k ^= bytes[blockEnd] as number;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const ringSize = 2 ** 32;

/** Where a key sits on the ring. */
export function ringPosition(key: string): number {
  return murmur3(key, 0);
}

/** Where virtual node `index` of `nodeId` sits on the ring. */
export function tokenPosition(nodeId: string, index: number): number {
  return murmur3(`${nodeId}#${index}`, 0x9747b28c);
}

/** Anti-entropy leaves: 2^16 buckets of the ring, each the XOR of its entries' item hashes. */
export const leafBits = 16;
export const leafCount = 2 ** leafBits;
/** Ring positions per leaf. */
export const leafSpan = 2 ** (32 - leafBits);

export function leafOf(position: number): number {
  return position >>> (32 - leafBits);
}

/** A 64-bit hash of (key, version) as two 32-bit halves; XOR-combined into leaves. */
export function itemHash(key: string, version: string): [number, number] {
  const { bytes, length } = utf8Of(`${key}\u0000${version}`);
  return [murmur3Bytes(bytes, length, 0x2c1b3c6d), murmur3Bytes(bytes, length, 0x297a2d39)];
}
