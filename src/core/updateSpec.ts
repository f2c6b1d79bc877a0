// A conditional write as data: what it requires of the key's current value, and what it then writes.
// Every conditional write a client can ask for (HTTP If-Match / If-None-Match, the prototype's
// create-only POST /write, Redis's SET NX/XX/GET/KEEPTTL, SETNX, GETDEL, APPEND, INCR and friends,
// EXPIRE and friends, PERSIST, GETEX) is one of these. Being data, not a function, it can be sent to
// the node that coordinates the key's conditional writes (updateRouting.ts), so that updates of one
// key from every node go through one queue instead of racing one another's consensus rounds.
//
// `decideOf` turns one into the `Decide` of a round (keyPaxos.ts): it depends on nothing but the
// spec and the current entry, as a round requires.

import { int64Max, int64Min, parseInt64 } from './int64.js';
import type { Decide, UpdateRefusal, UpdateWrite } from './keyPaxos.js';
import { isVersion, type Entry, type Version } from './version.js';

/** What the key's current value must be for the update to write. Every condition given must hold. */
export interface UpdateCondition {
  /** true: only over a live value; false: only when the key is absent (no entry, a tombstone, or expired). */
  readonly live?: boolean;
  /** Only when the key's entry (a tombstone's too) has one of these versions; null stands for no entry at all. */
  readonly versions?: readonly (Version | null)[];
  /** Only when the live value has an expiry (true) or has none (false): Redis's EXPIRE XX and NX. */
  readonly hasExpiry?: boolean;
  /**
   * Only when the new expiry (an `expire` action's) is later (Redis's GT) or earlier (LT) than the
   * live value's. A value without an expiry expires never: nothing is later, everything earlier.
   */
  readonly expiryIs?: 'later' | 'earlier';
}

/** A value and its expiry; `keepExpiry` keeps the live value's instead (SET KEEPTTL). null: a delete. */
export interface SetAction {
  readonly op: 'set';
  readonly value: Uint8Array | null;
  readonly expiresMs?: number;
  readonly keepExpiry?: boolean;
}

/** Appends to the live value (or writes `tail` when there is none), keeping its expiry. */
export interface AppendAction {
  readonly op: 'append';
  readonly tail: Uint8Array;
}

/** Adds `by` (a signed 64-bit integer in decimal) to the live value read as one (0 when absent), keeping its expiry. */
export interface AddAction {
  readonly op: 'add';
  readonly by: string;
}

/**
 * Writes the live value back with a new expiry, or none (null). An expiry at or before `nowMs` (the
 * wall clock of the node the client asked) deletes the key, as in Redis. Nothing when the key is absent.
 */
export interface ExpireAction {
  readonly op: 'expire';
  readonly expiresMs: number | null;
  readonly nowMs: number;
}

/** Refuses, with `reason`, when the condition holds (GETEX's amount, which Redis checks only once the key is found). */
export interface RefuseAction {
  readonly op: 'refuse';
  readonly reason: string;
}

export type UpdateAction = SetAction | AppendAction | AddAction | ExpireAction | RefuseAction;

export interface UpdateSpec {
  readonly when?: UpdateCondition;
  readonly then: UpdateAction;
}

/** The reasons an `add` refuses, in Redis's words. */
export const notAnInteger = 'value is not an integer or out of range';
export const wouldOverflow = 'increment or decrement would overflow';

type LiveEntry = Entry & { readonly value: Uint8Array };

function liveOf(current: Entry | undefined): LiveEntry | undefined {
  return current === undefined || current.value === null ? undefined : (current as LiveEntry);
}

function holds(when: UpdateCondition | undefined, then: UpdateAction, current: Entry | undefined, live: LiveEntry | undefined): boolean {
  if (when === undefined) return true;
  if (when.live !== undefined && when.live !== (live !== undefined)) return false;
  if (when.versions !== undefined && !when.versions.includes(current?.version ?? null)) return false;
  const expiresMs = live?.expiresMs;
  if (when.hasExpiry !== undefined && (live === undefined || when.hasExpiry !== (expiresMs !== undefined))) return false;
  if (when.expiryIs !== undefined) {
    const next = then.op === 'expire' ? then.expiresMs : null;
    if (live === undefined || next === null) return false;
    if (when.expiryIs === 'later') return expiresMs !== undefined && next > expiresMs;
    return expiresMs === undefined || next < expiresMs;
  }
  return true;
}

function withExpiry(value: Uint8Array, expiresMs: number | undefined): UpdateWrite {
  return expiresMs === undefined ? { value } : { value, expiresMs };
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head, 0);
  joined.set(tail, head.length);
  return joined;
}

const asciiEncoder = new TextEncoder();

/** What `spec` writes over `current` (undefined: nothing, its condition failed), or why it refuses. */
export function decideUpdate(spec: UpdateSpec, current: Entry | undefined): UpdateWrite | UpdateRefusal | undefined {
  const live = liveOf(current);
  const { then } = spec;
  if (!holds(spec.when, then, current, live)) return undefined;
  switch (then.op) {
    case 'set':
      if (then.value === null) return { value: null };
      return withExpiry(then.value, then.keepExpiry ? live?.expiresMs : then.expiresMs);
    case 'append':
      return live === undefined ? { value: then.tail } : withExpiry(concat(live.value, then.tail), live.expiresMs);
    case 'add': {
      const by = BigInt(then.by);
      const was = live === undefined ? 0n : parseInt64(live.value);
      if (was === undefined) return { refused: notAnInteger };
      const next = was + by;
      if (next > int64Max || next < int64Min) return { refused: wouldOverflow };
      return withExpiry(asciiEncoder.encode(next.toString()), live?.expiresMs);
    }
    case 'expire':
      if (live === undefined) return undefined;
      if (then.expiresMs !== null && then.expiresMs <= then.nowMs) return { value: null };
      return withExpiry(live.value, then.expiresMs ?? undefined);
    case 'refuse':
      return { refused: then.reason };
  }
}

/** The round's `decide` for `spec`. */
export function decideOf(spec: UpdateSpec): Decide {
  return (current) => decideUpdate(spec, current);
}

// ---- checks on a spec that came from another node (validate.ts's habit) ------------------------------

/** Bounds a spec's lists and texts: a condition names a few versions, a reason is a sentence. */
const versionsMax = 64;
const reasonCharsMax = 512;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isOptional<T>(value: unknown, check: (value: unknown) => value is T): boolean {
  return value === undefined || check(value);
}

const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);

export function isUpdateCondition(value: unknown): value is UpdateCondition {
  if (!isObject(value)) return false;
  const { live, versions, hasExpiry, expiryIs } = value;
  return (
    isOptional(live, isBoolean) &&
    isOptional(hasExpiry, isBoolean) &&
    (expiryIs === undefined || expiryIs === 'later' || expiryIs === 'earlier') &&
    (versions === undefined ||
      (Array.isArray(versions) && versions.length <= versionsMax && versions.every((v) => v === null || isVersion(v))))
  );
}

export function isUpdateAction(value: unknown): value is UpdateAction {
  if (!isObject(value)) return false;
  switch (value.op) {
    case 'set':
      return (
        (value.value === null || value.value instanceof Uint8Array) && isOptional(value.expiresMs, isTime) && isOptional(value.keepExpiry, isBoolean)
      );
    case 'append':
      return value.tail instanceof Uint8Array;
    case 'add':
      return typeof value.by === 'string' && parseInt64(asciiEncoder.encode(value.by)) !== undefined;
    case 'expire':
      return (value.expiresMs === null || isTime(value.expiresMs)) && isTime(value.nowMs);
    case 'refuse':
      return typeof value.reason === 'string' && value.reason.length <= reasonCharsMax;
    default:
      return false;
  }
}

export function isUpdateSpec(value: unknown): value is UpdateSpec {
  return isObject(value) && isOptional(value.when, isUpdateCondition) && isUpdateAction(value.then);
}
