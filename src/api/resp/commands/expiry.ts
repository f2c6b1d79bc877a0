// Key expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST,
// GETEX, SETEX, PSETEX, and the EX/PX/EXAT/PXAT arithmetic SET shares.
//
// An expiry is part of a write (core/version.ts): the value reads as deleted from that wall-clock
// millisecond on, by the clock of the node that coordinates the read. Setting or removing the expiry
// of a key that exists (EXPIRE, PERSIST, GETEX with an option) writes its value back with the new
// expiry, through a consensus round on the key's replicas like INCR (keyPaxos.ts): atomic, so a write
// by another client is never overwritten with the old value. An expiry at or before now deletes the
// key, as in Redis.

import { wallMsMax } from '../../../core/version.js';
import { encodeBulk, encodeError, encodeInteger, encodeNull, replyOk, replyOne, replyZero } from '../replies.js';
import { notAnInteger, type UpdateCondition, type UpdateSpec } from '../../../core/updateSpec.js';
import { echoed, errors, keyOf, parseInt64, previousValue, readEntry, refusalOf, replyWithError, runAsync, updateKey, word, writeValue } from './common.js';
import { defineCommand } from './define.js';
import type { Call } from './types.js';

export type ExpiryUnit = 'EX' | 'PX' | 'EXAT' | 'PXAT';

export function isExpiryUnit(option: string): option is ExpiryUnit {
  return option === 'EX' || option === 'PX' || option === 'EXAT' || option === 'PXAT';
}

/** Redis's words for an expiry out of range, without its "ERR ". */
function invalidExpireText(command: string): string {
  return `invalid expire time in '${command}' command`;
}

export function invalidExpireTime(command: string): Buffer {
  return encodeError(`ERR ${invalidExpireText(command)}`);
}

/** LLONG_MIN / 1000 in C (truncated): the smallest number of seconds Redis accepts. */
const secondsMin = -9_223_372_036_854_775n;

/**
 * The wall-clock millisecond an EX/PX/EXAT/PXAT amount means, or undefined when it lies beyond what a
 * version can hold (Redis answers "invalid expire time" for overflows; so do we, a little earlier).
 */
export function expiryMsOf(unit: ExpiryUnit, amount: bigint, nowMs: number): number | undefined {
  // Redis refuses seconds whose milliseconds would overflow 64 bits, negative ones too.
  if ((unit === 'EX' || unit === 'EXAT') && amount < secondsMin) return undefined;
  const ms =
    unit === 'EX' ? BigInt(nowMs) + amount * 1000n
    : unit === 'PX' ? BigInt(nowMs) + amount
    : unit === 'EXAT' ? amount * 1000n
    : amount;
  if (ms > BigInt(wallMsMax)) return undefined;
  // Far in the past is as expired as just now; keep it a safe integer.
  return ms < 0n ? 0 : Number(ms);
}

/** An expiry option of SET, GETEX, SETEX: a positive amount (Redis refuses zero and negatives). */
export function positiveExpiry(command: string, unit: ExpiryUnit, amountBytes: Buffer, nowMs: number): number | Buffer {
  const expiresMs = positiveExpiryOrReason(command, unit, amountBytes, nowMs);
  return typeof expiresMs === 'string' ? encodeError(`ERR ${expiresMs}`) : expiresMs;
}

/** `positiveExpiry`, with what is wrong with the amount as text (Redis's, without its "ERR "). */
function positiveExpiryOrReason(command: string, unit: ExpiryUnit, amountBytes: Buffer, nowMs: number): number | string {
  const amount = parseInt64(amountBytes);
  if (amount === undefined) return notAnInteger;
  const expiresMs = amount <= 0n ? undefined : expiryMsOf(unit, amount, nowMs);
  return expiresMs === undefined ? invalidExpireText(command) : expiresMs;
}

// ---- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT ---------------------------------------------------------

interface ExpireCondition {
  readonly nx: boolean;
  readonly xx: boolean;
  readonly gt: boolean;
  readonly lt: boolean;
}

function parseCondition(args: readonly Buffer[]): ExpireCondition | Buffer {
  const condition = { nx: false, xx: false, gt: false, lt: false };
  for (let i = 3; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'NX') condition.nx = true;
    else if (option === 'XX') condition.xx = true;
    else if (option === 'GT') condition.gt = true;
    else if (option === 'LT') condition.lt = true;
    else return encodeError(`ERR Unsupported option ${echoed(args[i] as Buffer)}`, 'latin1');
  }
  if (condition.nx && (condition.xx || condition.gt || condition.lt)) {
    return encodeError('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (condition.gt && condition.lt) return encodeError('ERR GT and LT options at the same time are not compatible');
  return condition;
}

/** Redis's rules as an update's condition (updateSpec.ts): on a key that exists, and NX, XX, GT or LT. */
function updateConditionOf(condition: ExpireCondition): UpdateCondition {
  return {
    live: true,
    ...(condition.nx ? { hasExpiry: false } : condition.xx ? { hasExpiry: true } : {}),
    ...(condition.gt ? { expiryIs: 'later' } : condition.lt ? { expiryIs: 'earlier' } : {}),
  };
}

function expireCommand(name: string, unit: ExpiryUnit, summary: string, since: string, argument: string) {
  return defineCommand({
    name,
    arity: -3,
    flags: ['write', 'fast'],
    access: 'write',
    keys: [1, 1, 1],
    docs: { summary: `${summary} (atomic).`, since, group: 'generic', synopsis: `key ${argument} [NX | XX | GT | LT]` },
    run(call) {
      // Redis checks the options before the amount.
      const condition = parseCondition(call.args);
      if (Buffer.isBuffer(condition)) return call.reply(condition);
      const amount = parseInt64(call.args[2] as Buffer);
      if (amount === undefined) return call.reply(errors.notInteger);
      const expiresMs = expiryMsOf(unit, amount, call.server.nowMs());
      if (expiresMs === undefined) return call.reply(invalidExpireTime(name));
      runAsync(call, async () => {
        const nowMs = call.server.nowMs();
        const outcome = await updateKey(call.server.store, keyOf(call.args[1] as Buffer), {
          when: updateConditionOf(condition),
          then: { op: 'expire', expiresMs, nowMs },
        });
        call.reply(outcome.applied ? replyOne : replyZero);
      });
    },
  });
}

export const expire = expireCommand('expire', 'EX', 'Sets the time to live of a key in seconds', '1.0.0', 'seconds');
export const pexpire = expireCommand('pexpire', 'PX', 'Sets the time to live of a key in milliseconds', '2.6.0', 'milliseconds');
export const expireat = expireCommand('expireat', 'EXAT', 'Sets the expiry of a key as a Unix time in seconds', '1.2.0', 'unix-time-seconds');
export const pexpireat = expireCommand('pexpireat', 'PXAT', 'Sets the expiry of a key as a Unix time in milliseconds', '2.6.0', 'unix-time-milliseconds');

// ---- TTL, PTTL, EXPIRETIME, PEXPIRETIME -----------------------------------------------------------

/** -2 when the key is absent, -1 when it never expires, else what `measure` makes of its expiry. */
function expiryQuery(name: string, summary: string, since: string, measure: (expiresMs: number, nowMs: number) => number) {
  return defineCommand({
    name,
    arity: 2,
    flags: ['readonly', 'fast'],
    access: 'read',
    keys: [1, 1, 1],
    docs: { summary, since, group: 'generic', synopsis: 'key' },
    run(call) {
      call.server.store.get(keyOf(call.args[1] as Buffer), call.consistency, (result) => {
        if (!result.ok) return replyWithError(call, result.error);
        const entry = result.value.entry;
        if (entry === undefined || entry.value === null) return call.reply(encodeInteger(-2));
        if (entry.expiresMs === undefined) return call.reply(encodeInteger(-1));
        call.reply(encodeInteger(measure(entry.expiresMs, call.server.nowMs())));
      });
    },
  });
}

const remainingMs = (expiresMs: number, nowMs: number) => Math.max(0, expiresMs - nowMs);

export const ttl = expiryQuery('ttl', 'Returns the time to live of a key in seconds (-1: none, -2: no key).', '1.0.0', (at, now) =>
  Math.floor((remainingMs(at, now) + 500) / 1000),
);
export const pttl = expiryQuery('pttl', 'Returns the time to live of a key in milliseconds (-1: none, -2: no key).', '2.6.0', remainingMs);
export const expiretime = expiryQuery('expiretime', 'Returns the expiry of a key as a Unix time in seconds (-1: none, -2: no key).', '7.0.0', (at) =>
  Math.floor(at / 1000),
);
export const pexpiretime = expiryQuery('pexpiretime', 'Returns the expiry of a key as a Unix time in milliseconds (-1: none, -2: no key).', '7.0.0', (at) => at);

// ---- PERSIST, GETEX, SETEX, PSETEX ----------------------------------------------------------------

/** Removes the expiry of a key that exists and has one. */
function persisting(nowMs: number): UpdateSpec {
  return { when: { live: true, hasExpiry: true }, then: { op: 'expire', expiresMs: null, nowMs } };
}

export const persist = defineCommand({
  name: 'persist',
  arity: 2,
  flags: ['write', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: { summary: 'Removes the expiry of a key (atomic).', since: '2.2.0', group: 'generic', synopsis: 'key' },
  run(call) {
    runAsync(call, async () => {
      const outcome = await updateKey(call.server.store, keyOf(call.args[1] as Buffer), persisting(call.server.nowMs()));
      call.reply(outcome.applied ? replyOne : replyZero);
    });
  },
});

/** GETEX's options: PERSIST, or an expiry whose amount is checked later, or neither (a plain GET). */
interface GetexOptions {
  readonly persist: boolean;
  readonly expiry: { readonly unit: ExpiryUnit; readonly amount: Buffer } | undefined;
}

/**
 * Redis's rules: an option may be repeated (the last expiry counts) but PERSIST and the expiry units
 * do not mix, and anything else is a syntax error. The amount is only checked once the key is found,
 * so a missing key answers nil even for `EX 0`.
 */
function parseGetexOptions(args: readonly Buffer[]): GetexOptions | Buffer {
  let persist = false;
  let expiry: GetexOptions['expiry'];
  for (let i = 2; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'PERSIST' && !expiry) persist = true;
    else if (isExpiryUnit(option) && !persist && (!expiry || expiry.unit === option) && i + 1 < args.length) {
      expiry = { unit: option, amount: args[i + 1] as Buffer };
      i += 1;
    } else return errors.syntax;
  }
  return { persist, expiry };
}

export const getex = defineCommand({
  name: 'getex',
  arity: -2,
  flags: ['write', 'fast'],
  access: 'write',
  keys: [1, 1, 1],
  docs: {
    summary: 'Returns the value of a key and optionally sets or removes its expiry (atomic).',
    since: '6.2.0',
    group: 'string',
    synopsis: 'key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]',
  },
  run(call) {
    const options = parseGetexOptions(call.args);
    if (Buffer.isBuffer(options)) return call.reply(options);
    runAsync(call, async () => {
      const key = keyOf(call.args[1] as Buffer);
      if (!options.expiry && !options.persist) {
        const entry = await readEntry(call.server.store, key, call.consistency);
        return call.reply(entry === undefined ? encodeNull(call.protocol) : encodeBulk(entry.value));
      }
      const nowMs = call.server.nowMs();
      // The amount is checked once the key is found: a refusal then, nothing when it is absent.
      const expiresMs = options.expiry && positiveExpiryOrReason('getex', options.expiry.unit, options.expiry.amount, nowMs);
      const spec: UpdateSpec =
        expiresMs === undefined ? persisting(nowMs)
        : typeof expiresMs === 'string' ? { when: { live: true }, then: { op: 'refuse', reason: expiresMs } }
        : { when: { live: true }, then: { op: 'expire', expiresMs, nowMs } };
      const outcome = await updateKey(call.server.store, key, spec);
      const value = previousValue(outcome);
      if (value === undefined) return call.reply(encodeNull(call.protocol));
      call.reply(refusalOf(outcome) ?? encodeBulk(value));
    });
  },
});

function setWithExpiry(name: string, unit: ExpiryUnit, argument: string, since: string) {
  return defineCommand({
    name,
    arity: 4,
    flags: ['write', 'denyoom'],
    access: 'write',
    keys: [1, 1, 1],
    docs: { summary: `Sets the value of a key with a time to live in ${argument} (SET key value ${unit} ${argument}).`, since, group: 'string', synopsis: `key ${argument} value` },
    run(call) {
      const expiresMs = positiveExpiry(name, unit, call.args[2] as Buffer, call.server.nowMs());
      if (Buffer.isBuffer(expiresMs)) return call.reply(expiresMs);
      runAsync(call, async () => {
        await writeValue(call.server.store, keyOf(call.args[1] as Buffer), call.args[3] as Buffer, { consistency: call.consistency, expiresMs });
        call.reply(replyOk);
      });
    },
  });
}

export const setex = setWithExpiry('setex', 'EX', 'seconds', '2.0.0');
export const psetex = setWithExpiry('psetex', 'PX', 'milliseconds', '2.6.0');

export const expiryCommands = [expire, pexpire, expireat, pexpireat, ttl, pttl, expiretime, pexpiretime, persist, getex, setex, psetex];
