// Checks every store makes on the records it is handed (TIGER_STYLE's pair assertions): a record is
// checked on its way into a store and again when read back. A failed check is a bug in quorumkv.

import { assert } from '../core/assert.js';
import { leafCount, ringSize } from '../core/hash.js';
import { isExpiry } from '../core/validate.js';
import { isVersion, type Entry } from '../core/version.js';

/** With the `u` flag, a surrogate matches only when it is unpaired. */
const loneSurrogate = /[\ud800-\udfff]/u;

export function checkKey(key: string): void {
  assert(typeof key === 'string' && key.length > 0, 'key must be a non-empty string');
  // A lone surrogate has no UTF-8 form, so SQLite would store a mangled key.
  assert(!loneSurrogate.test(key), 'key must be well-formed UTF-16');
}

export function checkVersion(version: string): void {
  assert(isVersion(version), `not a version: ${JSON.stringify(version)}`);
}

export function checkEntry(entry: Entry): void {
  checkKey(entry.key);
  checkVersion(entry.version);
  assert(entry.value === null || entry.value instanceof Uint8Array, 'value must be a Uint8Array or null');
  assert(entry.expiresMs === undefined || (entry.value !== null && isExpiry(entry.expiresMs)), 'expiresMs must be a wall-clock ms on a value');
}

export function checkMs(ms: number): void {
  assert(Number.isSafeInteger(ms), 'milliseconds must be an integer');
}

export function checkLimit(limit: number): void {
  assert(Number.isSafeInteger(limit) && limit >= 0, 'limit must be a non-negative integer');
}

export function checkRange(start: number, end: number): void {
  assert(Number.isInteger(start) && Number.isInteger(end), 'ring range bounds must be integers');
  assert(start >= 0 && end <= ringSize, 'ring range out of bounds');
}

export function checkLeafRange(first: number, last: number): void {
  assert(Number.isInteger(first) && Number.isInteger(last), 'leaf bounds must be integers');
  assert(first >= 0 && last < leafCount, 'leaf range out of bounds');
}
