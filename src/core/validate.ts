// Checks on what arrives from other nodes before the core acts on it (TIGER_STYLE's pair assertions:
// a record is checked on its way out and again on its way in). A malformed message is dropped, never
// allowed to throw inside a storage transaction.

import type { Message } from './messages.js';
import { isVersion, type Entry } from './version.js';

export function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Entry;
  return (
    typeof entry.key === 'string' &&
    entry.key.length > 0 &&
    isVersion(entry.version) &&
    (entry.value === null || entry.value instanceof Uint8Array)
  );
}

const isOp = (value: unknown): boolean => Number.isSafeInteger(value);
const isSeq = (value: unknown): boolean => Number.isInteger(value);

/** Whether `message` has the fields its kind requires (extra fields are ignored). */
export function isWellFormed(message: Message): boolean {
  const m = message as unknown as Record<string, unknown>;
  switch (message.kind) {
    case 'write':
      return isOp(m.op) && isEntry(m.entry) && (m.hintFor === undefined || typeof m.hintFor === 'string');
    case 'write-reply':
      return isOp(m.op) && typeof m.applied === 'boolean' && (m.current === undefined || isVersion(m.current));
    case 'read':
      return isOp(m.op) && typeof m.key === 'string' && m.key.length > 0;
    case 'read-reply':
      return isOp(m.op) && (m.entry === null || isEntry(m.entry));
    case 'ping':
    case 'ack':
      return isSeq(m.seq) && Array.isArray(m.updates) && Number.isInteger(m.layoutVersion);
    case 'ping-req':
      return isSeq(m.seq) && typeof m.target === 'string';
    case 'layout':
      return typeof m.layout === 'object' && m.layout !== null;
    case 'layout-pull':
      return true;
    default:
      return false; // an unknown kind (from a newer node, or garbage)
  }
}
