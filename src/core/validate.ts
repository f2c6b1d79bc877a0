// Checks on what arrives from other nodes before the core acts on it (TIGER_STYLE's pair assertions:
// a record is checked on its way out and again on its way in). A malformed message is dropped, never
// allowed to throw inside a storage transaction.

import { isErrorCode } from './errors.js';
import type { ClockReading } from './hlc.js';
import type { Message } from './messages.js';
import { ringSize } from './hash.js';
import { isStrategy, parseLayout } from './layout.js';
import type { LayoutChange } from './layoutChange.js';
import { isSegment } from './segments.js';
import { isUpdateSpec } from './updateSpec.js';
import { counterMax, isVersion, wallMsMax, type Entry } from './version.js';

function isUpdateOutcome(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  return (
    typeof o.applied === 'boolean' && (o.previous === undefined || isEntry(o.previous)) && (o.written === undefined || isEntry(o.written)) &&
    (o.refused === undefined || typeof o.refused === 'string')
  );
}

function isReportedError(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return isErrorCode(e.code) && typeof e.message === 'string' && typeof e.details === 'object' && e.details !== null && !Array.isArray(e.details);
}

/** A UTF-16 surrogate without its pair: such a key has no UTF-8 form and no store accepts it. */
export const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Entry;
  return (
    typeof entry.key === 'string' &&
    entry.key.length > 0 &&
    !loneSurrogate.test(entry.key) &&
    isVersion(entry.version) &&
    (entry.value === null || entry.value instanceof Uint8Array) &&
    (entry.expiresMs === undefined || (entry.value !== null && isExpiry(entry.expiresMs)))
  );
}

/** A wall-clock millisecond a value can expire at: one a version's wall clock can hold. */
export function isExpiry(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= wallMsMax;
}

/**
 * A peer's clock reading: whole numbers within what a version holds. Anything else (a fraction, NaN,
 * a counter past its maximum) would end in a version that cannot be formatted, once observed.
 */
export function isClockReading(value: unknown): value is ClockReading {
  if (typeof value !== 'object' || value === null) return false;
  const { wallMs, counter } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(wallMs) &&
    (wallMs as number) >= 0 &&
    (wallMs as number) <= wallMsMax &&
    Number.isSafeInteger(counter) &&
    (counter as number) >= 0 &&
    (counter as number) <= counterMax
  );
}

const isOp = (value: unknown): boolean => Number.isSafeInteger(value);
const isSession = isOp;
const isStep = isOp;
const isKey = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
const isUint32 = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 0 && (value as number) < ringSize;
/** Bound on the items of one array field (a named limit on what a peer can make us process). */
const arrayItemsMax = 100_000;

function isArrayOf(value: unknown, check: (item: unknown) => boolean): boolean {
  return Array.isArray(value) && value.length <= arrayItemsMax && value.every(check);
}

/** Checks a layout change from a peer or an admin request. */
export function isLayoutChange(value: unknown): value is LayoutChange {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  switch (c.type) {
    case 'join': {
      const m = c.member as Record<string, unknown> | undefined;
      return (
        typeof m === 'object' && m !== null && isKey(m.id) && typeof m.peer === 'string' && typeof m.http === 'string' &&
        (m.resp === undefined || typeof m.resp === 'string') && isMemberId(m.id as string)
      );
    }
    case 'leave':
      return isKey(c.id) && (c.force === undefined || typeof c.force === 'boolean');
    case 'replication':
      return isStrategy(c.strategy) && (c.rf === undefined || (Number.isInteger(c.rf) && (c.rf as number) >= 1));
    default:
      return false;
  }
}

function isDepartedNode(value: unknown): boolean {
  const d = value as Record<string, unknown>;
  return (
    typeof d === 'object' &&
    d !== null &&
    isKey(d.id) &&
    typeof d.peer === 'string' &&
    isLayoutVersion(d.removedIn) &&
    (d.ageMs === undefined || isLayoutVersion(d.ageMs)) // a whole, non-negative number of ms
  );
}

function isRange(value: unknown): boolean {
  const r = value as Record<string, unknown>;
  return typeof r === 'object' && r !== null && isUint32(r.start) && isUint32(r.end);
}

function isHashedRange(value: unknown): boolean {
  const r = value as Record<string, unknown>;
  return typeof r === 'object' && r !== null && isUint32(r.start) && isUint32(r.end) && isUint32(r.h1) && isUint32(r.h2);
}

function isHashedSegment(value: unknown): boolean {
  const s = value as Record<string, unknown>;
  return isSegment(value) && isUint32(s.h1) && isUint32(s.h2);
}

function isKeyVersion(value: unknown): boolean {
  return Array.isArray(value) && value.length === 2 && isKey(value[0]) && isVersion(value[1]);
}
const isSeq = (value: unknown): boolean => Number.isInteger(value);
const isLayoutVersion = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
const isBallot = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  Number.isSafeInteger((value as { round?: unknown }).round) &&
  typeof (value as { node?: unknown }).node === 'string';

const isProposal = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && isVersion((value as { ballot?: unknown }).ballot) && isEntry((value as { entry?: unknown }).entry);

/** Whether `message` has the fields its kind requires (extra fields are ignored). */
export function isWellFormed(message: Message): boolean {
  const m = message as unknown as Record<string, unknown>;
  switch (message.kind) {
    case 'write':
      return (
        isOp(m.op) && isEntry(m.entry) && (m.hintFor === undefined || typeof m.hintFor === 'string') && isLayoutVersion(m.layout) &&
        (m.ballot === undefined || isVersion(m.ballot))
      );
    case 'write-reply':
      return (
        isOp(m.op) && typeof m.applied === 'boolean' && (m.current === undefined || isVersion(m.current)) &&
        (m.layout === undefined || isLayoutVersion(m.layout))
      );
    case 'read':
      return isOp(m.op) && typeof m.key === 'string' && m.key.length > 0 && isLayoutVersion(m.layout);
    case 'read-reply':
      return (
        isOp(m.op) && (m.entry === null || isEntry(m.entry)) && (m.layout === undefined || isLayoutVersion(m.layout)) &&
        (m.purged === undefined || isVersion(m.purged))
      );
    case 'paxos-prepare':
      return isOp(m.op) && isKey(m.key) && isVersion(m.ballot) && isLayoutVersion(m.layout);
    case 'paxos-promise':
      return (
        isOp(m.op) && typeof m.ok === 'boolean' && (m.entry === undefined || m.entry === null || isEntry(m.entry)) &&
        (m.purged === undefined || isVersion(m.purged)) && (m.accepted === undefined || isProposal(m.accepted)) &&
        (m.committed === undefined || isVersion(m.committed)) &&
        (m.promised === undefined || isVersion(m.promised)) && (m.layout === undefined || isLayoutVersion(m.layout))
      );
    case 'paxos-accept':
      return isOp(m.op) && isVersion(m.ballot) && isEntry(m.entry) && isLayoutVersion(m.layout);
    case 'paxos-accepted':
      return (
        isOp(m.op) && typeof m.ok === 'boolean' && (m.promised === undefined || isVersion(m.promised)) &&
        (m.accepted === undefined || isVersion(m.accepted)) && (m.committed === undefined || isVersion(m.committed)) &&
        (m.neverAccepted === undefined || m.neverAccepted === true) && (m.layout === undefined || isLayoutVersion(m.layout))
      );
    case 'update-committed':
      return isKey(m.key) && isVersion(m.version);
    case 'update-forward':
      return isOp(m.op) && isKey(m.key) && isUpdateSpec(m.spec) && Number.isSafeInteger(m.timeoutMs) && (m.timeoutMs as number) > 0 &&
        Number.isSafeInteger(m.sentAtMs) && (m.sentAtMs as number) >= 0 && (m.sentAtMs as number) <= wallMsMax;
    case 'update-reply':
      return isOp(m.op) && (m.outcome === undefined ? isReportedError(m.error) : m.error === undefined && isUpdateOutcome(m.outcome));
    case 'ping':
    case 'ack':
      return isSeq(m.seq) && Array.isArray(m.updates) && Number.isInteger(m.layoutVersion) && (m.layoutDigest === undefined || Number.isInteger(m.layoutDigest));
    case 'ping-req':
      return isSeq(m.seq) && typeof m.target === 'string';
    case 'layout':
      return typeof m.layout === 'object' && m.layout !== null && (m.departed === undefined || isArrayOf(m.departed, isDepartedNode));
    case 'layout-pull':
      return true;
    case 'ae-ranges':
      return isSession(m.session) && isStep(m.step) && isLayoutVersion(m.layout) && isArrayOf(m.ranges, isHashedRange);
    case 'ae-diff':
      return isSession(m.session) && isStep(m.step) && isArrayOf(m.ranges, isRange) && isArrayOf(m.segments, isHashedSegment);
    case 'ae-keys':
      return (
        isSession(m.session) &&
        isStep(m.step) &&
        isLayoutVersion(m.layout) &&
        isArrayOf(m.segments, isSegment) &&
        isArrayOf(m.items, isKeyVersion)
      );
    case 'ae-sync':
      return (
        isSession(m.session) &&
        isStep(m.step) &&
        isArrayOf(m.entries, isEntry) &&
        isArrayOf(m.want, isKey) &&
        typeof m.truncated === 'boolean'
      );
    case 'ae-behind':
      return isSession(m.session) && isStep(m.step);
    case 'ae-push':
      return isArrayOf(m.entries, isEntry);
    case 'purge-check':
      return (
        isOp(m.op) &&
        isKey(m.key) &&
        isVersion(m.version) &&
        (m.orNothing === undefined || typeof m.orNothing === 'boolean') &&
        (m.handOver === undefined || typeof m.handOver === 'boolean')
      );
    case 'purge-check-reply':
      return isOp(m.op) && typeof m.holds === 'boolean' && (m.settled === undefined || isLayoutVersion(m.settled));
    case 'layout-change':
      return isOp(m.op) && isLayoutChange(m.change);
    case 'layout-change-reply':
      return isOp(m.op) && (m.layout === undefined || parseLayout(m.layout) !== undefined) && (m.error === undefined || typeof m.error === 'object');
    case 'layout-prepare':
      return isOp(m.op) && isLayoutVersion(m.version) && isBallot(m.ballot);
    case 'layout-promise':
      return (
        isOp(m.op) &&
        typeof m.ok === 'boolean' &&
        (m.accepted === undefined || (typeof m.accepted === 'object' && m.accepted !== null && isBallot((m.accepted as { ballot?: unknown }).ballot))) &&
        (m.promised === undefined || isBallot(m.promised))
      );
    case 'layout-accept':
      return isOp(m.op) && isBallot(m.ballot) && typeof m.layout === 'object' && m.layout !== null;
    case 'layout-accepted':
      return isOp(m.op) && typeof m.ok === 'boolean' && (m.promised === undefined || isBallot(m.promised));
    case 'move-done':
      return Number.isInteger(m.layoutVersion);
    case 'farewell':
    case 'farewell-ack':
      return isLayoutVersion(m.layout);
    default:
      return false; // an unknown kind (from a newer node, or garbage)
  }
}

/** A member id: what every node, the CLI and a URL path take as it is. */
export function isMemberId(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(id);
}
