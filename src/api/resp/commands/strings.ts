// String commands: GET, SET, SETNX, GETDEL, MGET, MSET, MSETNX, STRLEN, APPEND, INCR, DECR, INCRBY,
// DECRBY. Every one goes through the coordinator.
//
// GET and plain SET (with or without EX/PX/EXAT/PXAT) are one coordinator operation each, at the
// connection's level. The commands that read a key to decide what to write (SET with NX, XX, GET or
// KEEPTTL, SETNX, GETDEL, APPEND, INCR and friends) are conditional writes through a consensus round
// on the key's replicas (keyPaxos.ts): atomic per key, as in Redis, whatever the connection's level.
// Two INCRs from two clients both count; of two `SET NX`, one succeeds. MSETNX spans keys and is not
// atomic across them: it reads every key, then writes them all if none existed.
// As in Redis, APPEND and INCR keep the key's expiry; SET, MSET and GETDEL end it.

import { encodeBulk, encodeInteger, encodeNull, encodeReply, replyOk, replyOne, replyZero } from '../replies.js';
import {
  allSettledOrThrow,
  errors,
  int64Min,
  keyOf,
  parseInt64,
  previousValue,
  readValue,
  refusalOf,
  replyWithError,
  runAsync,
  updateKey,
  word,
  wrongArity,
  writeValue,
} from './common.js';
import { defineCommand } from './define.js';
import { isExpiryUnit, positiveExpiry } from './expiry.js';
import type { WriteOutcome } from '../../../core/coordinator.js';
import type { Call, StoreResult, StoreWrite } from './types.js';

function replyWithValue(call: Call, value: Uint8Array | null | undefined): void {
  call.reply(value === null || value === undefined ? encodeNull(call.protocol) : encodeBulk(value));
}

export const get = defineCommand({
  name: 'get',
  arity: 2,
  flags: ['readonly', 'fast'],
  access: 'read',
  keys: [1, 1, 1],
  docs: { summary: 'Returns the string value of a key.', since: '1.0.0', group: 'string', synopsis: 'key' },
  run(call) {
    call.server.store.get(keyOf(call.args[1] as Buffer), call.consistency, (result) => {
      if (result.ok) replyWithValue(call, result.value.entry?.value);
      else replyWithError(call, result.error);
    });
  },
});

interface SetOptions {
  onlyIfAbsent: boolean;
  onlyIfPresent: boolean;
  returnOld: boolean;
  keepTtl: boolean;
  /** The new value's expiry (wall-clock ms); undefined: none (or the old one, with KEEPTTL). */
  expiresMs: number | undefined;
}

/** Parses SET's options like Redis (syntax first, then the expiry's amount); returns an error reply for bad ones. */
function parseSetOptions(args: readonly Buffer[], nowMs: number): SetOptions | Buffer {
  const options: SetOptions = { onlyIfAbsent: false, onlyIfPresent: false, returnOld: false, keepTtl: false, expiresMs: undefined };
  let expiry: { unit: 'EX' | 'PX' | 'EXAT' | 'PXAT'; amount: Buffer } | undefined;
  for (let i = 3; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'NX' && !options.onlyIfPresent) options.onlyIfAbsent = true;
    else if (option === 'XX' && !options.onlyIfAbsent) options.onlyIfPresent = true;
    else if (option === 'GET') options.returnOld = true;
    else if (option === 'KEEPTTL' && !expiry) options.keepTtl = true;
    // As in Redis, the same expiry option may be repeated (the last one counts), but not mixed with
    // another unit or KEEPTTL; its amount is only checked once every option parsed.
    else if (isExpiryUnit(option) && (!expiry || expiry.unit === option) && !options.keepTtl && i + 1 < args.length) {
      expiry = { unit: option, amount: args[i + 1] as Buffer };
      i += 1;
    } else return errors.syntax;
  }
  if (expiry) {
    const expiresMs = positiveExpiry('set', expiry.unit, expiry.amount, nowMs);
    if (Buffer.isBuffer(expiresMs)) return expiresMs;
    options.expiresMs = expiresMs;
  }
  return options;
}

export const set = defineCommand({
  name: 'set',
  arity: -3,
  flags: ['write', 'denyoom'],
  access: 'write',
  keys: [1, 1, 1],
  docs: {
    summary: 'Sets the string value of a key, with an expiry or not. With NX/XX/GET/KEEPTTL, atomic through a consensus round.',
    since: '1.0.0',
    group: 'string',
    synopsis: 'key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]',
  },
  run(call) {
    const key = keyOf(call.args[1] as Buffer);
    const value = call.args[2] as Buffer;
    const answer = (result: StoreResult<WriteOutcome>) => (result.ok ? call.reply(replyOk) : replyWithError(call, result.error));
    if (call.args.length === 3) return call.server.store.put(key, value, { consistency: call.consistency }, answer);
    const options = parseSetOptions(call.args, call.server.nowMs());
    if (Buffer.isBuffer(options)) return call.reply(options);
    const expiry = options.expiresMs === undefined ? {} : { expiresMs: options.expiresMs };
    if (!options.onlyIfAbsent && !options.onlyIfPresent && !options.returnOld && !options.keepTtl) {
      return call.server.store.put(key, value, { consistency: call.consistency, ...expiry }, answer);
    }
    const when = options.onlyIfAbsent ? { live: false } : options.onlyIfPresent ? { live: true } : undefined;
    const then = { op: 'set', value, ...(options.keepTtl ? { keepExpiry: true } : expiry) } as const;
    runAsync(call, async () => {
      const outcome = await updateKey(call.server.store, key, when === undefined ? { then } : { when, then });
      if (options.returnOld) replyWithValue(call, previousValue(outcome));
      else call.reply(outcome.applied ? replyOk : encodeNull(call.protocol));
    });
  },
});

export const setnx = defineCommand({
  name: 'setnx',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: { summary: 'Sets the value of a key only when the key does not exist (atomic).', since: '1.0.0', group: 'string', synopsis: 'key value' },
  run(call) {
    runAsync(call, async () => {
      const value = call.args[2] as Buffer;
      const outcome = await updateKey(call.server.store, keyOf(call.args[1] as Buffer), { when: { live: false }, then: { op: 'set', value } });
      call.reply(outcome.applied ? replyOne : replyZero);
    });
  },
});

export const getdel = defineCommand({
  name: 'getdel',
  arity: 2,
  flags: ['write', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: { summary: 'Returns the value of a key and deletes it (atomic).', since: '6.2.0', group: 'string', synopsis: 'key' },
  run(call) {
    runAsync(call, async () => {
      const outcome = await updateKey(call.server.store, keyOf(call.args[1] as Buffer), { when: { live: true }, then: { op: 'set', value: null } });
      replyWithValue(call, previousValue(outcome));
    });
  },
});

export const mget = defineCommand({
  name: 'mget',
  arity: -2,
  flags: ['readonly', 'fast'],
  access: 'read',
  keys: [1, -1, 1],
  docs: { summary: 'Returns the values of keys (read concurrently; fails whole if one read fails).', since: '1.0.0', group: 'string', synopsis: 'key [key ...]' },
  run(call) {
    runAsync(call, async () => {
      const { store } = call.server;
      const reads = call.args.slice(1).map((bytes) => readValue(store, keyOf(bytes), call.consistency));
      call.reply(encodeReply(await allSettledOrThrow(reads), call.protocol));
    });
  },
});

/** key -> value of MSET-style arguments; a repeated key keeps its last value, as in Redis. */
function pairsOf(call: Call): Map<string, Buffer> {
  const pairs = new Map<string, Buffer>();
  for (let i = 1; i + 1 < call.args.length; i += 2) pairs.set(keyOf(call.args[i] as Buffer), call.args[i + 1] as Buffer);
  return pairs;
}

export const mset = defineCommand({
  name: 'mset',
  arity: -3,
  flags: ['write', 'denyoom'],
  access: 'write',
  keys: [1, -1, 2],
  docs: { summary: 'Sets the values of keys (written concurrently; not atomic across keys).', since: '1.0.1', group: 'string', synopsis: 'key value [key value ...]' },
  run(call) {
    if (call.args.length % 2 === 0) return call.reply(wrongArity('mset'));
    runAsync(call, async () => {
      const { store } = call.server;
      const writes = [...pairsOf(call)].map(([key, value]) => writeValue(store, key, value, { consistency: call.consistency }));
      await allSettledOrThrow(writes);
      call.reply(replyOk);
    });
  },
});

export const msetnx = defineCommand({
  name: 'msetnx',
  arity: -3,
  flags: ['write', 'denyoom'],
  access: 'write',
  keys: [1, -1, 2],
  docs: { summary: 'Sets keys only when none exists (reads, then writes: not atomic across keys).', since: '1.0.1', group: 'string', synopsis: 'key value [key value ...]' },
  run(call) {
    if (call.args.length % 2 === 0) return call.reply(wrongArity('msetnx'));
    runAsync(call, async () => {
      const { store } = call.server;
      const pairs = pairsOf(call);
      const current = await allSettledOrThrow([...pairs.keys()].map((key) => readValue(store, key, call.consistency)));
      if (current.some((value) => value !== null)) return call.reply(replyZero);
      await allSettledOrThrow([...pairs].map(([key, value]) => writeValue(store, key, value, { consistency: call.consistency })));
      call.reply(replyOne);
    });
  },
});

export const strlen = defineCommand({
  name: 'strlen',
  arity: 2,
  flags: ['readonly', 'fast'],
  access: 'read',
  keys: [1, 1, 1],
  docs: { summary: 'Returns the length of a string value (0 when absent).', since: '2.2.0', group: 'string', synopsis: 'key' },
  run(call) {
    call.server.store.get(keyOf(call.args[1] as Buffer), call.consistency, (result) => {
      if (!result.ok) return replyWithError(call, result.error);
      call.reply(encodeInteger(result.value.entry?.value?.length ?? 0));
    });
  },
});

export const append = defineCommand({
  name: 'append',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: { summary: 'Appends to a string value (atomic).', since: '2.0.0', group: 'string', synopsis: 'key value' },
  run(call) {
    runAsync(call, async () => {
      const tail = call.args[2] as Buffer;
      const outcome = await updateKey(call.server.store, keyOf(call.args[1] as Buffer), { then: { op: 'append', tail } });
      call.reply(encodeInteger(outcome.written?.value?.length ?? 0));
    });
  },
});

/** INCR and friends: add in signed 64 bits to the value, and write the decimal text back, atomically. */
function incrementBy(call: Call, delta: bigint): void {
  runAsync(call, async () => {
    const outcome = await updateKey(call.server.store, keyOf(call.args[1] as Buffer), { then: { op: 'add', by: delta.toString() } });
    const refusal = refusalOf(outcome);
    if (refusal !== undefined || !outcome.written?.value) return call.reply(refusal ?? errors.notInteger);
    call.reply(encodeInteger(BigInt(Buffer.from(outcome.written.value).toString('latin1'))));
  });
}

const counterDocs = (summary: string, synopsis: string) => ({
  summary: `${summary} (atomic).`,
  since: '1.0.0',
  group: 'string',
  synopsis,
});

export const incr = defineCommand({
  name: 'incr',
  arity: 2,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: counterDocs('Increments the integer value of a key by one', 'key'),
  run: (call) => incrementBy(call, 1n),
});

export const decr = defineCommand({
  name: 'decr',
  arity: 2,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: counterDocs('Decrements the integer value of a key by one', 'key'),
  run: (call) => incrementBy(call, -1n),
});

export const incrby = defineCommand({
  name: 'incrby',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: counterDocs('Increments the integer value of a key by a number', 'key increment'),
  run(call) {
    const delta = parseInt64(call.args[2] as Buffer);
    if (delta === undefined) return call.reply(errors.notInteger);
    incrementBy(call, delta);
  },
});

export const decrby = defineCommand({
  name: 'decrby',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: counterDocs('Decrements the integer value of a key by a number', 'key decrement'),
  run(call) {
    const delta = parseInt64(call.args[2] as Buffer);
    if (delta === undefined) return call.reply(errors.notInteger);
    if (delta === int64Min) return call.reply(errors.decrementOverflow);
    incrementBy(call, -delta);
  },
});

export const stringCommands = [get, set, setnx, getdel, mget, mset, msetnx, strlen, append, incr, decr, incrby, decrby];
