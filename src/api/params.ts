// Query parameters shared by the routes, validated once with clear 400s.

import { isConsistencyLevel, type ConsistencyLevel } from '../core/quorum.js';
import type { UpdateCondition } from '../core/updateSpec.js';
import { isVersion, wallMsMax, type Version } from '../core/version.js';
import { badRequest } from './errors.js';

export type Query = Record<string, string | undefined>;

export function consistencyParam(query: Query, fallback?: ConsistencyLevel): ConsistencyLevel | undefined {
  const value = query.consistency;
  if (value === undefined || value === '') return fallback;
  if (!isConsistencyLevel(value)) throw badRequest(`consistency must be one, quorum or all, got "${value}"`);
  return value;
}

export function booleanParam(query: Query, name: string, fallback: boolean): boolean {
  const value = query[name];
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badRequest(`${name} must be true or false, got "${value}"`);
}

export function integerParam(query: Query, name: string, fallback: number, min: number, max: number): number {
  const value = query[name];
  if (value === undefined || value === '') return fallback;
  // Digits only: Number() also reads "0x10", "1e3" and "+5".
  const number = typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw badRequest(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return number;
}

/** Request timeout from `?timeout=` in milliseconds. */
export function timeoutParam(query: Query): number | undefined {
  const value = query.timeout;
  if (value === undefined || value === '') return undefined;
  return integerParam(query, 'timeout', 0, 1, 60_000);
}

/** The header a client sends its request's deadline in: a wall-clock millisecond (client.ts). */
export const deadlineHeader = 'x-quorumkv-deadline';

/** `startBy` from the deadline header, when the request has one (a write is not started after it). */
export function deadlineOf(headers: Record<string, string | string[] | undefined>): { startBy?: number } {
  const value = headers[deadlineHeader];
  if (value === undefined) return {};
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) {
    throw badRequest(`${deadlineHeader} must be a wall-clock time in milliseconds since 1970, got ${JSON.stringify(value)}`);
  }
  return { startBy: Number(value) };
}

/** A text parameter given at most once (`?prefix=a&prefix=b` is a 400, not two values). */
export function textParam(query: Query, name: string): string | undefined {
  const value = (query as Record<string, unknown>)[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} must be given once`);
  return value;
}

export function keyParam(params: unknown): string {
  const key = (params as Record<string, string | undefined>)['*'] ?? (params as Record<string, string | undefined>).key;
  if (key === undefined || key === '') throw badRequest('key must not be empty');
  return key;
}

/** Seconds as typed: digits, and a fraction (`30`, `0.5`); not `0x10`, `1e3` or `+5`, which Number() reads. */
export const decimalSeconds = /^\d{1,15}(\.\d{1,9})?$/;

/**
 * A time to live in seconds (`30`, `0.5`; etcd v2's `ttl=`) as the wall-clock millisecond the value
 * expires at, or a 400 naming `what`. Fractions are kept to the millisecond, rounded up.
 */
export function expiryFromTtl(ttl: unknown, nowMs: number, what: string): number {
  const seconds = typeof ttl === 'string' ? (decimalSeconds.test(ttl) ? Number(ttl) : NaN) : ttl;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw badRequest(`${what} must be a positive number of seconds, got ${JSON.stringify(ttl)}`);
  }
  const expiresMs = nowMs + Math.ceil(seconds * 1000);
  if (expiresMs > wallMsMax) throw badRequest(`${what} is too far in the future, got ${JSON.stringify(ttl)}`);
  return expiresMs;
}

/** `?ttl=` (seconds) as an expiry for a write, or nothing when absent. */
export function ttlParam(query: Query, nowMs: number): { expiresMs: number } | Record<string, never> {
  const value = query.ttl;
  if (value === undefined || value === '') return {};
  return { expiresMs: expiryFromTtl(value, nowMs, 'ttl') };
}

/**
 * The precondition of a conditional PUT or DELETE, from the standard headers: `If-None-Match: *`
 * (only if the key is absent), `If-Match: *` (only if present), `If-Match: <version>[, <version>]`
 * (only if the key's current version is one of those; quoted or not). Undefined without either
 * header. The versions are those `x-quorumkv-version` gives.
 */
export function preconditionOf(headers: Record<string, string | string[] | undefined>): UpdateCondition | undefined {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (Array.isArray(ifMatch) || Array.isArray(ifNoneMatch)) throw badRequest('If-Match and If-None-Match must be given once');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw badRequest(`If-None-Match takes only "*" (write only if the key is absent), got ${JSON.stringify(ifNoneMatch)}`);
  }
  if (ifMatch === undefined) return { live: false };
  let versions: Version[] | undefined;
  if (ifMatch.trim() !== '*') {
    const listed = ifMatch.split(',').map((item) => item.trim().replace(/^"(.*)"$/, '$1'));
    const bad = listed.find((item) => !isVersion(item));
    if (bad !== undefined) throw badRequest(`If-Match takes "*" or versions as x-quorumkv-version gives them, got ${JSON.stringify(bad)}`);
    versions = listed as Version[];
  }
  // Both headers: present and absent at once, a condition that never holds (an empty list of versions).
  if (ifNoneMatch !== undefined) return { versions: [] };
  return versions === undefined ? { live: true } : { live: true, versions };
}
