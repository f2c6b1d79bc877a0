// Key commands: DEL, UNLINK, EXISTS, TYPE, SCAN, KEYS, DBSIZE.
//
// DEL reads each key (to count the ones that existed, as Redis answers) and then writes a tombstone
// for it, whatever the read found, so a delete at level `one` cannot miss a value that a stale
// replica hid. SCAN, KEYS and DBSIZE list the keys the replicas hold (runtime/clusterScan.ts): what
// they return is not a quorum read. Every key holds a string, so TYPE answers "string" or "none" and
// WRONGTYPE never happens.

import { encodeError, encodeInteger, encodeReply, SimpleString } from '../replies.js';
import { allSettledOrThrow, errors, keyOf, parseSmallInteger, readValue, removeKey, runAsync, word } from './common.js';
import { defineCommand } from './define.js';
import type { Call } from './types.js';

/** DEL and UNLINK: read then tombstone every distinct key; answer how many existed. */
function deleteKeys(call: Call): void {
  runAsync(call, async () => {
    const { store } = call.server;
    const keys = [...new Set(call.args.slice(1).map(keyOf))];
    const existed = await allSettledOrThrow(
      keys.map(async (key) => {
        const value = await readValue(store, key, call.consistency);
        await removeKey(store, key, call.consistency);
        return value !== null;
      }),
    );
    call.reply(encodeInteger(existed.filter(Boolean).length));
  });
}

export const del = defineCommand({
  name: 'del',
  arity: -2,
  flags: ['write'],
  access: 'write',
  keys: [1, -1, 1],
  docs: { summary: 'Deletes keys; answers how many existed (each key is read, then deleted).', since: '1.0.0', group: 'generic', synopsis: 'key [key ...]' },
  run: deleteKeys,
});

export const unlink = defineCommand({
  name: 'unlink',
  arity: -2,
  flags: ['write', 'fast'],
  access: 'write',
  keys: [1, -1, 1],
  docs: { summary: 'Deletes keys (the same as DEL in quorumkv).', since: '4.0.0', group: 'generic', synopsis: 'key [key ...]' },
  run: deleteKeys,
});

export const exists = defineCommand({
  name: 'exists',
  arity: -2,
  flags: ['readonly', 'fast'],
  access: 'read',
  keys: [1, -1, 1],
  docs: { summary: 'Counts the given keys that exist (a key named twice counts twice).', since: '1.0.0', group: 'generic', synopsis: 'key [key ...]' },
  run(call) {
    runAsync(call, async () => {
      const { store } = call.server;
      const keys = call.args.slice(1).map(keyOf);
      const distinct = [...new Set(keys)];
      const values = await allSettledOrThrow(distinct.map((key) => readValue(store, key, call.consistency)));
      const present = new Set(distinct.filter((_, i) => values[i] !== null));
      call.reply(encodeInteger(keys.filter((key) => present.has(key)).length));
    });
  },
});

const typeString = encodeReply(new SimpleString('string'), 2);
const typeNone = encodeReply(new SimpleString('none'), 2);

export const type = defineCommand({
  name: 'type',
  arity: 2,
  flags: ['readonly', 'fast'],
  access: 'read',
  keys: [1, 1, 1],
  docs: { summary: 'Returns the type of a key: "string", or "none" when absent.', since: '1.0.0', group: 'generic', synopsis: 'key' },
  run(call) {
    runAsync(call, async () => {
      const value = await readValue(call.server.store, keyOf(call.args[1] as Buffer), call.consistency);
      call.reply(value === null ? typeNone : typeString);
    });
  },
});

// ---- listing --------------------------------------------------------------------------------------

const scanCountDefault = 10;

export const scan = defineCommand({
  name: 'scan',
  arity: -2,
  flags: ['readonly'],
  access: 'keyspace',
  docs: {
    summary: 'Iterates over the keys of the whole cluster, in key order (cursors are remembered by the node that issued them).',
    since: '2.8.0',
    group: 'generic',
    synopsis: 'cursor [MATCH pattern] [COUNT count] [TYPE type]',
  },
  run(call) {
    const cursor = call.server.cursors.resolve((call.args[1] as Buffer).toString('latin1'));
    if (cursor === undefined) return call.reply(errors.invalidCursor);
    let match: string | undefined;
    let count = scanCountDefault;
    let onlyStrings = true;
    for (let i = 2; i < call.args.length; i += 2) {
      const option = word(call.args[i]);
      const value = call.args[i + 1];
      if (value === undefined) return call.reply(errors.syntax);
      if (option === 'MATCH') match = value.toString('utf8');
      else if (option === 'COUNT') {
        const parsed = parseSmallInteger(value);
        if (parsed === undefined) return call.reply(errors.notInteger);
        if (parsed < 1) return call.reply(errors.syntax);
        count = parsed;
      } else if (option === 'TYPE') {
        // Every key is a string; any other name, known to Redis or not, matches nothing (Redis too
        // answers an unknown type name with no keys rather than an error).
        onlyStrings = value.toString('latin1').toLowerCase() === 'string';
      } else return call.reply(errors.syntax);
    }
    if (!onlyStrings) return call.reply(encodeReply(['0', []], call.protocol));
    runAsync(call, async () => {
      const page = await call.server.scan.scan({ cursor, count, ...(match !== undefined ? { match } : {}) });
      call.reply(encodeReply([call.server.cursors.issue(page.next), page.keys], call.protocol));
    });
  },
});

/** KEYS answers at most this many keys; beyond it, SCAN is the way. */
export const keysReplyMax = 1_000_000;

export const keys = defineCommand({
  name: 'keys',
  arity: 2,
  flags: ['readonly'],
  access: 'keyspace',
  docs: { summary: 'Returns every key of the cluster matching a pattern (lists the whole keyspace).', since: '1.0.0', group: 'generic', synopsis: 'pattern' },
  run(call) {
    runAsync(call, async () => {
      const pattern = (call.args[1] as Buffer).toString('utf8');
      const page = await call.server.scan.list({ match: pattern, limit: keysReplyMax + 1 });
      if (page.keys.length > keysReplyMax) {
        return call.reply(encodeError(`ERR KEYS would return more than ${keysReplyMax} keys; use SCAN`));
      }
      call.reply(encodeReply(page.keys, call.protocol));
    });
  },
});

export const dbsize = defineCommand({
  name: 'dbsize',
  arity: 1,
  flags: ['readonly'],
  access: 'keyspace',
  docs: { summary: 'Counts the live keys of the whole cluster (lists the whole keyspace).', since: '1.0.0', group: 'server' },
  run(call) {
    runAsync(call, async () => call.reply(encodeInteger(await call.server.scan.count())));
  },
});

export const keyCommands = [del, unlink, exists, type, scan, keys, dbsize];
