// Pieces every command file uses: Redis's standard error replies, keys from argument bytes, strict
// integer parsing (Redis's string2ll), QuorumError -> error reply, and promise forms of the data path
// for the commands that take several steps (read-modify-write, multi-key).

import type { ReadOutcome, WriteOutcome } from '../../../core/coordinator.js';
import { QuorumError } from '../../../core/errors.js';
import type { UpdateOutcome } from '../../../core/keyPaxos.js';
import type { UpdateSpec } from '../../../core/updateSpec.js';
import type { ConsistencyLevel } from '../../../core/quorum.js';
import { encodeError } from '../replies.js';
import type { Entry } from '../../../core/version.js';
import type { Call, CommandSpec, KvStore, StoreResult, StoreWrite } from './types.js';

/** An entry that holds a value. */
export type LiveEntry = Entry & { readonly value: Uint8Array };

// ---- standard errors ------------------------------------------------------------------------------

export const errors = {
  syntax: encodeError('ERR syntax error'),
  notInteger: encodeError('ERR value is not an integer or out of range'),
  overflow: encodeError('ERR increment or decrement would overflow'),
  decrementOverflow: encodeError('ERR decrement would overflow'),
  noAuth: encodeError('NOAUTH Authentication required.'),
  wrongPass: encodeError('WRONGPASS invalid username-password pair or user is disabled.'),
  invalidCursor: encodeError('ERR invalid cursor'),
} as const;

export function wrongArity(name: string): Buffer {
  return encodeError(`ERR wrong number of arguments for '${name}' command`);
}

/**
 * A client's bytes as Redis's `%s` / `%.Ns` put them in a message: up to the first NUL byte, at most
 * `max` bytes, unchanged (one latin1 character per byte: encode the message with `encodeError(text,
 * 'latin1')`, so that non-ASCII and invalid UTF-8 bytes come back exactly as sent).
 */
export function echoed(bytes: Buffer, max = Infinity): string {
  const nul = bytes.indexOf(0);
  const end = Math.min(nul < 0 ? bytes.length : nul, max);
  return bytes.toString('latin1', 0, end);
}

/** Redis 7's text: the command as sent and up to 128 bytes of its arguments, each quoted. */
export function unknownCommand(args: readonly Buffer[]): Buffer {
  let listed = '';
  for (let i = 1; i < args.length && listed.length < 128; i++) {
    listed += `'${echoed(args[i] as Buffer, 128 - listed.length)}' `;
  }
  const name = echoed(args[0] as Buffer, 128);
  return encodeError(`ERR unknown command '${name}', with args beginning with: ${listed}`, 'latin1');
}

export function unknownSubcommand(sub: Buffer, parent: string): Buffer {
  return encodeError(`ERR unknown subcommand '${echoed(sub, 128)}'. Try ${parent.toUpperCase()} HELP.`, 'latin1');
}

/**
 * QuorumErrors keep their stable code as the reply's error code (`-UNAVAILABLE read failed: ...`),
 * except a bad request, which is Redis's generic ERR. Anything else is an internal error.
 */
export function errorReplyFor(error: unknown): Buffer {
  if (error instanceof QuorumError) {
    return encodeError(error.code === 'BAD_REQUEST' ? `ERR ${error.message}` : `${error.code} ${error.message}`);
  }
  return encodeError(`ERR internal error: ${error instanceof Error ? error.message : String(error)}`);
}

/** Answers with the error and logs it when it is not a QuorumError (a bug, not a client mistake). */
export function replyWithError(call: Call, error: unknown): void {
  if (!(error instanceof QuorumError)) call.server.logError(error, (call.args[0] as Buffer).toString('latin1'));
  call.reply(errorReplyFor(error));
}

/** Runs a multi-step command; whatever it throws becomes its error reply. */
export function runAsync(call: Call, body: (call: Call) => Promise<void>): void {
  body(call).catch((error: unknown) => replyWithError(call, error));
}

// ---- arguments ------------------------------------------------------------------------------------

/**
 * quorumkv keys are strings: key bytes are decoded as UTF-8, so bytes that are not valid UTF-8 are
 * replaced by U+FFFD and not preserved.
 */
export function keyOf(bytes: Buffer): string {
  return bytes.toString('utf8');
}

/** Upper-cased ASCII word of an option or subcommand. */
export function word(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : bytes.toString('latin1').toUpperCase();
}

// Redis's 64-bit integers live in the core: an update's `add` (updateSpec.ts) parses them too.
import { int64Max, int64Min, parseInt64 } from '../../../core/int64.js';
export { int64Max, int64Min, parseInt64 };

/** A small non-negative or positive integer argument (counts, db numbers), or undefined. */
export function parseSmallInteger(bytes: Buffer | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  const value = parseInt64(bytes);
  if (value === undefined || value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
  return Number(value);
}

/** The keys of a call per the command's key positions (first, last, step). */
export function keysOf(spec: CommandSpec, args: readonly Buffer[]): Buffer[] {
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? args.length + spec.lastKey : spec.lastKey;
  const keys: Buffer[] = [];
  for (let i = spec.firstKey; i <= last && i < args.length; i += spec.keyStep) keys.push(args[i] as Buffer);
  return keys;
}

// ---- the data path as promises --------------------------------------------------------------------

/** The live entry of a key at the level (with its expiry, if any), or undefined when absent, deleted or expired. */
export function readEntry(store: KvStore, key: string, consistency: ConsistencyLevel | undefined): Promise<LiveEntry | undefined> {
  return new Promise((resolve, reject) => {
    store.get(key, consistency, (result: StoreResult<ReadOutcome>) => {
      if (!result.ok) return reject(result.error);
      const entry = result.value.entry;
      resolve(entry === undefined || entry.value === null ? undefined : (entry as LiveEntry));
    });
  });
}

/** The live value of a key at the level, or null when absent, deleted or expired. */
export async function readValue(store: KvStore, key: string, consistency: ConsistencyLevel | undefined): Promise<Uint8Array | null> {
  return (await readEntry(store, key, consistency))?.value ?? null;
}

export function writeValue(store: KvStore, key: string, value: Uint8Array, write: StoreWrite): Promise<WriteOutcome> {
  return new Promise((resolve, reject) => {
    store.put(key, value, write, (result) => (result.ok ? resolve(result.value) : reject(result.error)));
  });
}

export function removeKey(store: KvStore, key: string, consistency: ConsistencyLevel | undefined): Promise<WriteOutcome> {
  return new Promise((resolve, reject) => {
    store.remove(key, consistency, (result) => (result.ok ? resolve(result.value) : reject(result.error)));
  });
}

/**
 * A conditional write of one key (keyPaxos.ts), as `spec` describes it (updateSpec.ts). Atomic per
 * key, whatever the connection's level.
 */
export function updateKey(store: KvStore, key: string, spec: UpdateSpec): Promise<UpdateOutcome> {
  return new Promise((resolve, reject) => {
    store.update(key, spec, (result) => (result.ok ? resolve(result.value) : reject(result.error)));
  });
}

/** The live value an update saw (undefined when the key was absent, deleted or expired). */
export function previousValue(outcome: UpdateOutcome): Uint8Array | undefined {
  return outcome.previous?.value ?? undefined;
}

/** The error reply of an update that refused (INCR of a value that is not an integer), if it did. */
export function refusalOf(outcome: UpdateOutcome): Buffer | undefined {
  return outcome.refused === undefined ? undefined : encodeError(`ERR ${outcome.refused}`);
}

/** Rejects with the first failure after every promise settled (so none is left running unseen). */
export async function allSettledOrThrow<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
