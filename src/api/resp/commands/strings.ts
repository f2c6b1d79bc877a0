// String commands: GET, SET, SETNX, GETDEL, MGET, MSET, MSETNX, STRLEN, APPEND, INCR, DECR, INCRBY,
// DECRBY. Every one goes through the coordinator at the connection's level.
//
// GET and plain SET are one coordinator operation each. The others read, then write: a read at the
// connection's level, then a write at that level. Nothing locks the key in between, so two clients
// that do this to one key at once can interleave: two INCRs can both read 5 and both write 6, two
// `SET NX` can both find the key absent and both succeed (the later version wins). On one connection,
// commands on a key run one after the other, so a pipeline of INCRs from one client counts right.

import { encodeBulk, encodeInteger, encodeNull, encodeReply, replyOk, replyOne, replyZero } from '../codec.js';
import {
  allSettledOrThrow,
  errors,
  int64Max,
  int64Min,
  keyOf,
  parseInt64,
  readValue,
  removeKey,
  replyWithError,
  runAsync,
  word,
  wrongArity,
  writeValue,
} from './common.js';
import { defineCommand } from './define.js';
import type { Call } from './types.js';

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
}

/** Parses SET's options like Redis; returns an error reply for bad or unsupported ones. */
function parseSetOptions(args: readonly Buffer[]): SetOptions | Buffer {
  const options: SetOptions = { onlyIfAbsent: false, onlyIfPresent: false, returnOld: false };
  let expiry = false;
  let keepTtl = false;
  for (let i = 3; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'NX' && !options.onlyIfPresent) options.onlyIfAbsent = true;
    else if (option === 'XX' && !options.onlyIfAbsent) options.onlyIfPresent = true;
    else if (option === 'GET') options.returnOld = true;
    else if (option === 'KEEPTTL' && !expiry) keepTtl = true;
    else if ((option === 'EX' || option === 'PX' || option === 'EXAT' || option === 'PXAT') && !expiry && !keepTtl && i + 1 < args.length) {
      const amount = parseInt64(args[i + 1] as Buffer);
      if (amount === undefined) return errors.notInteger;
      expiry = true;
      i += 1;
    } else return errors.syntax;
  }
  // KEEPTTL is accepted as a no-op: no key has a time to live to keep.
  return expiry ? errors.expiry : options;
}

export const set = defineCommand({
  name: 'set',
  arity: -3,
  flags: ['write', 'denyoom'],
  access: 'write',
  keys: [1, 1, 1],
  docs: {
    summary: 'Sets the string value of a key. NX/XX/GET read the key first (not atomic); EX/PX/EXAT/PXAT are refused.',
    since: '1.0.0',
    group: 'string',
    synopsis: 'key value [NX | XX] [GET] [KEEPTTL]',
  },
  run(call) {
    const key = keyOf(call.args[1] as Buffer);
    const value = call.args[2] as Buffer;
    if (call.args.length === 3) {
      call.server.store.put(key, value, call.consistency, (result) => (result.ok ? call.reply(replyOk) : replyWithError(call, result.error)));
      return;
    }
    const options = parseSetOptions(call.args);
    if (Buffer.isBuffer(options)) return call.reply(options);
    if (!options.onlyIfAbsent && !options.onlyIfPresent && !options.returnOld) {
      call.server.store.put(key, value, call.consistency, (result) => (result.ok ? call.reply(replyOk) : replyWithError(call, result.error)));
      return;
    }
    runAsync(call, async () => {
      const { store } = call.server;
      const old = await readValue(store, key, call.consistency);
      const skip = (options.onlyIfAbsent && old !== null) || (options.onlyIfPresent && old === null);
      if (!skip) await writeValue(store, key, value, call.consistency);
      if (options.returnOld) replyWithValue(call, old);
      else call.reply(skip ? encodeNull(call.protocol) : replyOk);
    });
  },
});

export const setnx = defineCommand({
  name: 'setnx',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: { summary: 'Sets the value of a key only when the key does not exist (read, then write: not atomic).', since: '1.0.0', group: 'string', synopsis: 'key value' },
  run(call) {
    runAsync(call, async () => {
      const { store } = call.server;
      const key = keyOf(call.args[1] as Buffer);
      if ((await readValue(store, key, call.consistency)) !== null) return call.reply(replyZero);
      await writeValue(store, key, call.args[2] as Buffer, call.consistency);
      call.reply(replyOne);
    });
  },
});

export const getdel = defineCommand({
  name: 'getdel',
  arity: 2,
  flags: ['write', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: { summary: 'Returns the value of a key and deletes it (read, then delete: not atomic).', since: '6.2.0', group: 'string', synopsis: 'key' },
  run(call) {
    runAsync(call, async () => {
      const { store } = call.server;
      const key = keyOf(call.args[1] as Buffer);
      const old = await readValue(store, key, call.consistency);
      if (old !== null) await removeKey(store, key, call.consistency);
      replyWithValue(call, old);
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
      const writes = [...pairsOf(call)].map(([key, value]) => writeValue(store, key, value, call.consistency));
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
  docs: { summary: 'Sets keys only when none exists (reads, then writes: not atomic).', since: '1.0.1', group: 'string', synopsis: 'key value [key value ...]' },
  run(call) {
    if (call.args.length % 2 === 0) return call.reply(wrongArity('msetnx'));
    runAsync(call, async () => {
      const { store } = call.server;
      const pairs = pairsOf(call);
      const current = await allSettledOrThrow([...pairs.keys()].map((key) => readValue(store, key, call.consistency)));
      if (current.some((value) => value !== null)) return call.reply(replyZero);
      await allSettledOrThrow([...pairs].map(([key, value]) => writeValue(store, key, value, call.consistency)));
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
  docs: { summary: 'Appends to a string value (read, then write: not atomic).', since: '2.0.0', group: 'string', synopsis: 'key value' },
  run(call) {
    runAsync(call, async () => {
      const { store } = call.server;
      const key = keyOf(call.args[1] as Buffer);
      const old = await readValue(store, key, call.consistency);
      const tail = call.args[2] as Buffer;
      const value = old === null ? tail : Buffer.concat([old, tail]);
      await writeValue(store, key, value, call.consistency);
      call.reply(encodeInteger(value.length));
    });
  },
});

/** INCR and friends: read, add in signed 64 bits, write the decimal text back. */
function incrementBy(call: Call, delta: bigint): void {
  runAsync(call, async () => {
    const { store } = call.server;
    const key = keyOf(call.args[1] as Buffer);
    const old = await readValue(store, key, call.consistency);
    const current = old === null ? 0n : parseInt64(old);
    if (current === undefined) return call.reply(errors.notInteger);
    const next = current + delta;
    if (next > int64Max || next < int64Min) return call.reply(errors.overflow);
    await writeValue(store, key, Buffer.from(next.toString(), 'latin1'), call.consistency);
    call.reply(encodeInteger(next));
  });
}

const counterDocs = (summary: string, synopsis: string) => ({
  summary: `${summary} (read, then write: not atomic across clients).`,
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
