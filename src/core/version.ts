// Versions are hybrid logical clock timestamps: wall-clock milliseconds, a logical counter, and the id
// of the node that issued them. They are encoded as fixed-width strings so that plain string comparison
// is version order: wall (12 hex digits) "-" counter (8 hex digits) "-" node id. Every comparison in
// the system (replica apply, read merge, repair, hint replay, anti-entropy) goes through `compare`.
//
// Merge is last-writer-wins by version. Laws (property-tested in test/core/version.test.ts):
//   merge(a, b) = merge(b, a)                       commutative
//   merge(a, merge(b, c)) = merge(merge(a, b), c)   associative
//   merge(a, a) = a                                 idempotent
// so replicas converge to the same state whatever order updates arrive in.

import { assert } from './assert.js';

export type Version = string & { readonly __brand: 'Version' };

export interface VersionParts {
  readonly wallMs: number;
  readonly counter: number;
  readonly nodeId: string;
}

const wallDigits = 12;
const counterDigits = 8;
export const wallMsMax = 16 ** wallDigits - 1;
export const counterMax = 16 ** counterDigits - 1;
const versionPattern = /^[0-9a-f]{12}-[0-9a-f]{8}-[^\s]{1,64}$/;

export function formatVersion(parts: VersionParts): Version {
  assert(Number.isInteger(parts.wallMs) && parts.wallMs >= 0 && parts.wallMs <= wallMsMax, 'wallMs out of range');
  assert(Number.isInteger(parts.counter) && parts.counter >= 0 && parts.counter <= counterMax, 'counter out of range');
  assert(parts.nodeId.length > 0, 'version needs a node id');
  return `${parts.wallMs.toString(16).padStart(wallDigits, '0')}-${parts.counter
    .toString(16)
    .padStart(counterDigits, '0')}-${parts.nodeId}` as Version;
}

export function parseVersion(version: string): VersionParts {
  if (!isVersion(version)) throw new Error(`not a version: ${JSON.stringify(version)}`);
  return {
    wallMs: parseInt(version.slice(0, wallDigits), 16),
    counter: parseInt(version.slice(wallDigits + 1, wallDigits + 1 + counterDigits), 16),
    nodeId: version.slice(wallDigits + counterDigits + 2),
  };
}

export function isVersion(value: unknown): value is Version {
  return typeof value === 'string' && versionPattern.test(value);
}

/** Total order on versions: -1, 0 or 1. */
export function compare(a: Version, b: Version): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function newest(a: Version, b: Version): Version {
  return a >= b ? a : b;
}

export function wallMsOf(version: Version): number {
  return parseInt(version.slice(0, wallDigits), 16);
}

/**
 * A stored entry: a value, or a tombstone (value null) left by a delete. A value may carry an expiry:
 * the wall-clock millisecond from which it reads as deleted (Redis's EX/PX, `?ttl=` over HTTP). The
 * expiry belongs to the write, like its value: changing it is a new write with a new version.
 */
export interface Entry {
  readonly key: string;
  readonly version: Version;
  readonly value: Uint8Array | null;
  /** Absent when the value never expires; never present on a tombstone. */
  readonly expiresMs?: number;
}

/** Builds an entry, leaving `expiresMs` out (not undefined) when the value does not expire. */
export function makeEntry(key: string, version: Version, value: Uint8Array | null, expiresMs?: number): Entry {
  return value === null || expiresMs === undefined ? { key, version, value } : { key, version, value, expiresMs };
}

export function isTombstone(entry: Entry): boolean {
  return entry.value === null;
}

/** Whether the entry's value has expired at `nowMs` (a tombstone never "expires": it is deleted). */
export function isExpired(entry: Entry, nowMs: number): boolean {
  return entry.expiresMs !== undefined && nowMs >= entry.expiresMs;
}

/**
 * What readers see at `nowMs`: an expired value reads as the tombstone of a delete made at its expiry
 * (same version, no value). Replicas keep the entry itself until it is purged like a tombstone.
 */
export function visibleEntry(entry: Entry, nowMs: number): Entry {
  return isExpired(entry, nowMs) ? { key: entry.key, version: entry.version, value: null } : entry;
}

/**
 * Last-writer-wins merge of two entries of one key. Two entries with one version are one write
 * (a version names its issuing node and is never reused), so either may be returned.
 */
export function mergeEntries(a: Entry | undefined, b: Entry | undefined): Entry | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  assert(a.key === b.key, 'merging entries of different keys');
  return a.version >= b.version ? a : b;
}
