// Query parameters shared by the routes, validated once with clear 400s.

import { isConsistencyLevel, type ConsistencyLevel } from '../core/quorum.js';
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
  const number = Number(value);
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

export function keyParam(params: unknown): string {
  const key = (params as Record<string, string | undefined>)['*'] ?? (params as Record<string, string | undefined>).key;
  if (key === undefined || key === '') throw badRequest('key must not be empty');
  return key;
}
