// Goal: the pure parts of the Redis protocol layer do what Redis does, without a cluster. The request
// decoder turns any split of a byte stream into the same commands and stops on malformed or oversized
// frames; replies are encoded byte-exact in RESP2 and RESP3; integers parse like Redis's string2ll;
// globs match like a naive regular expression would; the cluster listing merges members' pages into
// the same keys a naive merge of everything finds.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DoubleReply,
  encodeBulk,
  encodeInteger,
  encodeNull,
  encodeReply,
  ErrorReply,
  MapReply,
  SetReply,
  SimpleString,
  VerbatimReply,
} from '../../src/api/resp/replies.js';
import { RequestDecoder, splitInlineArguments, type DecoderLimits } from '../../src/api/resp/requests.js';
import { parseInt64, unknownCommand } from '../../src/api/resp/commands/common.js';
import { parseSynopsis } from '../../src/api/resp/commands/arguments.js';
import { ScanCursors } from '../../src/api/resp/commands/cursors.js';
import { commandTable } from '../../src/api/resp/commands/index.js';
import {
  ClusterScan,
  compileGlob,
  globLiteralPrefix,
  justBefore,
  parseMemberPage,
  type ListedEntry,
  type MemberPage,
  type ScanMember,
} from '../../src/runtime/clusterScan.js';
import { compareUtf8 } from '../../src/storage/keyOrder.js';

const limits: DecoderLimits = { bulkBytesMax: 1024, argumentCountMax: 1024 * 1024, inlineBytesMax: 64 * 1024, commandBytesMax: 128 * 1024 };

interface Decoded {
  commands: string[][];
  error: string | undefined;
}

function decode(chunks: readonly Buffer[], decoderLimits: DecoderLimits = limits): Decoded {
  const decoded: Decoded = { commands: [], error: undefined };
  const decoder = new RequestDecoder(
    {
      command: (args) => decoded.commands.push(args.map((a) => a.toString('latin1'))),
      protocolError: (message) => {
        decoded.error = message;
      },
    },
    decoderLimits,
  );
  for (const chunk of chunks) decoder.push(chunk);
  return decoded;
}

function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`;
}

/** Every way of cutting `bytes` in two, plus one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const ways: Buffer[][] = [[bytes], [...bytes].map((b) => Buffer.from([b]))];
  for (let i = 1; i < bytes.length; i++) ways.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return ways;
}

describe('request decoder', () => {
  const stream = Buffer.from(
    resp('SET', 'k', 'v\r\nwith crlf') + 'PING\r\n' + resp('GET', 'k') + 'set "a b" \'c d\' "\\x41\\n"\r\n' + resp('MGET', 'a', '', 'b'),
    'latin1',
  );
  const expected = [['SET', 'k', 'v\r\nwith crlf'], ['PING'], ['GET', 'k'], ['set', 'a b', 'c d', 'A\n'], ['MGET', 'a', '', 'b']];

  test('a pipeline of RESP and inline commands decodes the same however it is split', () => {
    for (const chunks of splits(stream)) {
      const decoded = decode(chunks);
      assert.equal(decoded.error, undefined);
      assert.deepEqual(decoded.commands, expected);
    }
  });

  test('empty inline lines, "*0" and "*-1" are ignored, as in Redis', () => {
    assert.deepEqual(decode([Buffer.from('\r\n\n*0\r\n*-1\r\nPING\r\n')]).commands, [['PING']]);
  });

  const malformed: [string, string, string][] = [
    ['a non-bulk element', '*2\r\n$3\r\nGET\r\n:1\r\n', "expected '$', got ':'"],
    ['a nested array', '*2\r\n$3\r\nGET\r\n*1\r\n$1\r\na\r\n', "expected '$', got '*'"],
    ['a null bulk', '*1\r\n$-1\r\n', 'invalid bulk length'],
    ['an unknown type byte', '*2\r\n$3\r\nGET\r\n!x\r\n', "expected '$', got '!'"],
    ['letters in a count', '*1x\r\n', 'invalid multibulk length'],
    ['letters in a bulk length', '*1\r\n$abc\r\n', 'invalid bulk length'],
    ['too many arguments', '*1048577\r\n', 'invalid multibulk length'],
    ['a bulk over the limit', '*1\r\n$1025\r\n', 'invalid bulk length: 1025 bytes, the limit is 1024'],
    ['unbalanced quotes', 'set a "b\r\n', 'unbalanced quotes in request'],
  ];
  test('a command that grows past commandBytesMax unfinished is a protocol error; complete ones reset the count', () => {
    // Each argument is bounded, but a million of them were not: one unfinished command held 100 MiB
    // of a node's memory (found in review).
    const bulk = `$1000\r\n${'x'.repeat(1000)}\r\n`;
    const unfinished = Buffer.from(`*1000\r\n$3\r\nSET\r\n${bulk.repeat(140)}`, 'latin1');
    const decoded = decode([Buffer.from(resp('PING'), 'latin1'), unfinished]);
    assert.equal(decoded.error, 'command over 131072 bytes');
    assert.deepEqual(decoded.commands, [['PING']]);
    // Many complete commands in a row, together far over the bound, are fine.
    const many = Array.from({ length: 200 }, () => Buffer.from(`*2\r\n$4\r\nECHO\r\n${bulk}`, 'latin1'));
    const fine = decode(many);
    assert.equal(fine.error, undefined);
    assert.equal(fine.commands.length, 200);
  });

  for (const [name, input, message] of malformed) {
    test(`${name} is a protocol error, however it is split`, () => {
      for (const chunks of splits(Buffer.from(input, 'latin1'))) {
        const decoded = decode([Buffer.from(resp('PING'), 'latin1'), ...chunks, Buffer.from(resp('PING'), 'latin1')]);
        assert.equal(decoded.error, message, `split ${chunks.map((c) => JSON.stringify(c.toString('latin1'))).join(' | ')}`);
        assert.deepEqual(decoded.commands, [['PING']], 'nothing after the error is decoded');
      }
    });
  }

  test('an inline line over the limit stops the decoder before it buffers more', () => {
    const decoded = decode([Buffer.alloc(70 * 1024, 0x61)]);
    assert.equal(decoded.error, 'too big inline request');
  });

  test('a bulk string that arrives in many chunks is put together', () => {
    const value = 'x'.repeat(1000);
    const bytes = Buffer.from(resp('SET', 'k', value), 'latin1');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    assert.deepEqual(decode(chunks).commands, [['SET', 'k', value]]);
  });

  test('inline arguments follow sdssplitargs', () => {
    const split = (text: string) => splitInlineArguments(Buffer.from(text, 'latin1'))?.map((b) => b.toString('latin1'));
    assert.deepEqual(split('  set  a\t"b c"  \r'), ['set', 'a', 'b c']);
    assert.deepEqual(split(`"\\x41\\t\\"" 'it\\'s'`), ['A\t"', "it's"]);
    assert.equal(split('"abc'), undefined);
    assert.equal(split('"abc"def'), undefined);
  });
});

describe('reply encoding', () => {
  test('the hot replies', () => {
    assert.equal(encodeNull(2).toString(), '$-1\r\n');
    assert.equal(encodeNull(3).toString(), '_\r\n');
    assert.equal(encodeInteger(7).toString(), ':7\r\n');
    assert.equal(encodeInteger(-9223372036854775808n).toString(), ':-9223372036854775808\r\n');
    assert.equal(encodeBulk(Buffer.from('héllo')).toString(), '$6\r\nhéllo\r\n');
    assert.equal(encodeBulk(new Uint8Array(0)).toString(), '$0\r\n\r\n');
  });

  test('a map, set, verbatim string, double and boolean in RESP2 and RESP3', () => {
    const value = [
      new MapReply([['proto', 3], ['modules', []]]),
      new SetReply([new SimpleString('write')]),
      new VerbatimReply('a:1\r\n'),
      new DoubleReply(1.5),
      true,
      null,
      new ErrorReply('ERR x\r\ny'),
    ];
    assert.equal(
      encodeReply(value, 2).toString(),
      '*7\r\n*4\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n*1\r\n+write\r\n$5\r\na:1\r\n\r\n$3\r\n1.5\r\n:1\r\n$-1\r\n-ERR x  y\r\n',
    );
    assert.equal(
      encodeReply(value, 3).toString(),
      '*7\r\n%2\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n~1\r\n+write\r\n=9\r\ntxt:a:1\r\n\r\n,1.5\r\n#t\r\n_\r\n-ERR x  y\r\n',
    );
  });

  test('unknown command text matches Redis 7', () => {
    const args = ['FOO', 'a', 'b'].map((s) => Buffer.from(s));
    assert.equal(unknownCommand(args).toString(), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
    assert.equal(unknownCommand([Buffer.from('x\r\ny')]).toString(), "-ERR unknown command 'x  y', with args beginning with: \r\n");
  });
});

describe('integers like string2ll', () => {
  const parse = (text: string) => parseInt64(Buffer.from(text, 'latin1'));
  test('accepts canonical signed 64-bit decimals only', () => {
    assert.equal(parse('0'), 0n);
    assert.equal(parse('-12'), -12n);
    assert.equal(parse('9223372036854775807'), 9223372036854775807n);
    assert.equal(parse('-9223372036854775808'), -9223372036854775808n);
    for (const bad of ['', '-', '+1', ' 1', '1 ', '01', '-0', '1.0', '9223372036854775808', '-9223372036854775809', 'abc', '1e3']) {
      assert.equal(parse(bad), undefined, bad);
    }
  });

  test('agrees with BigInt on every canonical integer', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => parse(n.toString()) === n),
    );
  });
});

describe('COMMAND DOCS arguments', () => {
  test('every synopsis in the command table parses', () => {
    for (const spec of commandTable().values()) {
      for (const command of [spec, ...(spec.subcommands ?? [])]) {
        if (command.docs.synopsis) assert.doesNotThrow(() => parseSynopsis(command.docs.synopsis as string), command.name);
      }
    }
  });

  test('arguments take the shapes Redis gives them', () => {
    assert.deepEqual(parseSynopsis('key [key ...]'), [{ name: 'key', type: 'key', multiple: true }]);
    assert.deepEqual(parseSynopsis('key value [key value ...]'), [
      { name: 'key-value', type: 'block', arguments: [{ name: 'key', type: 'key' }, { name: 'value', type: 'string' }], multiple: true },
    ]);
    assert.deepEqual(parseSynopsis('cursor [MATCH pattern] [NX | XX] [GET]'), [
      { name: 'cursor', type: 'integer' },
      { name: 'pattern', type: 'pattern', token: 'MATCH', optional: true },
      { name: 'nx-xx', type: 'oneof', arguments: [{ name: 'nx', type: 'pure-token', token: 'NX' }, { name: 'xx', type: 'pure-token', token: 'XX' }], optional: true },
      { name: 'get', type: 'pure-token', token: 'GET', optional: true },
    ]);
    assert.throws(() => parseSynopsis('key [value'));
  });
});

describe('SCAN cursors', () => {
  test('decimal numbers (redis-cli parses them with strtoull); "0" starts and ends; any key round-trips', () => {
    const cursors = new ScanCursors(10, 1);
    assert.equal(cursors.issue(null), '0');
    assert.equal(cursors.resolve('0'), null);
    for (const key of ['a', 'user:42', 'ключ', '😀/x', '0']) {
      const cursor = cursors.issue(key);
      assert.match(cursor, /^[1-9][0-9]*$/);
      assert.equal(cursors.resolve(cursor), key);
    }
    for (const bad of ['', 'abc', '-1', '01', '99999', '18446744073709551615']) assert.equal(cursors.resolve(bad), undefined, bad);
  });

  test('the least recently used cursors are forgotten beyond the capacity', () => {
    const cursors = new ScanCursors(3, 1);
    const [a, b, c] = [cursors.issue('a'), cursors.issue('b'), cursors.issue('c')];
    assert.equal(cursors.resolve(a), 'a'); // a is now the most recently used
    const d = cursors.issue('d');
    assert.equal(cursors.resolve(b), undefined);
    assert.deepEqual([cursors.resolve(a), cursors.resolve(c), cursors.resolve(d)], ['a', 'c', 'd']);
    assert.equal(cursors.size, 3);
  });
});

describe('Redis globs', () => {
  /** The naive reference: the pattern as a regular expression. */
  function naive(pattern: string): RegExp {
    let source = '^';
    const chars = Array.from(pattern);
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (c === '*') source += '[\\s\\S]*';
      else if (c === '?') source += '[\\s\\S]';
      else if (c === '\\' && i + 1 < chars.length) source += escape(chars[++i] as string);
      else source += escape(c);
    }
    return new RegExp(source + '$', 'u');
  }
  const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

  test('*, ? and escapes match like the naive regular expression', () => {
    const alphabet = fc.constantFrom('a', 'b', ':', '*', '?', '\\', 'é');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(fc.constantFrom('a', 'b', ':', '*', '?', 'é'), { maxLength: 10 }), (p, k) => {
        const pattern = p.join('');
        const key = k.join('');
        return compileGlob(pattern)(key) === naive(pattern).test(key);
      }),
      { numRuns: 3000 },
    );
  });

  test('character classes', () => {
    const match = (pattern: string, key: string) => compileGlob(pattern)(key);
    assert.ok(match('h[ae]llo', 'hello') && match('h[ae]llo', 'hallo') && !match('h[ae]llo', 'hillo'));
    assert.ok(match('h[^e]llo', 'hallo') && !match('h[^e]llo', 'hello'));
    assert.ok(match('h[a-b]llo', 'hbllo') && match('h[b-a]llo', 'hallo') && !match('h[a-b]llo', 'hcllo'));
    assert.ok(match('a[\\]]', 'a]') && match('a[', 'a') === false);
  });

  test('literal prefixes', () => {
    assert.equal(globLiteralPrefix('user:*'), 'user:');
    assert.equal(globLiteralPrefix('a?b'), 'a');
    assert.equal(globLiteralPrefix('*'), '');
    assert.equal(globLiteralPrefix('plain'), 'plain');
  });

  test('justBefore(p) sorts below p and above every key below p', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }), fc.string({ maxLength: 6, unit: 'grapheme' }), (prefix, key) => {
        const before = justBefore(prefix) as string | null;
        if (before !== null) assert.ok(compareUtf8(before, prefix) < 0);
        // Every key starting with the prefix is after `before`.
        if (before !== null) assert.ok(compareUtf8(prefix + key, before) > 0);
        return true;
      }),
    );
  });
});

describe('cluster listing merge', () => {
  type Store = Map<string, ListedEntry>;

  /** A fake cluster: each member's store, listed like local-entries; `down` members fail. */
  function fakeScan(stores: Store[], replicas: number, down: Set<number> = new Set()) {
    const members: ScanMember[] = stores.map((_, i) => ({ id: String(i), http: `m${i}` }));
    let requests = 0;
    const scan = new ClusterScan({
      members: () => members,
      replicaCount: () => replicas,
      async listMember(member, after, limit) {
        requests += 1;
        const index = Number(member.id);
        if (down.has(index)) throw new Error('connection refused');
        const sorted = [...(stores[index] as Store).values()].sort((a, b) => compareUtf8(a.key, b.key));
        const rest = sorted.filter((e) => after === null || compareUtf8(e.key, after) > 0);
        const page = rest.slice(0, limit);
        return { entries: page, next: rest.length > limit ? (page[page.length - 1] as ListedEntry).key : null } satisfies MemberPage;
      },
    });
    return { scan, requests: () => requests };
  }

  /** The naive answer: the newest entry of every key over all stores, live ones, in key order. */
  function naiveKeys(stores: Store[]): string[] {
    const newest = new Map<string, ListedEntry>();
    for (const store of stores) {
      for (const entry of store.values()) {
        const held = newest.get(entry.key);
        if (!held || entry.version > held.version) newest.set(entry.key, entry);
      }
    }
    return [...newest.values()].filter((e) => !e.tombstone).map((e) => e.key).sort(compareUtf8);
  }

  const entryArbitrary = fc.record({
    key: fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', 'b', 'c', ':', 'é', '😀') }),
    version: fc.constantFrom('v1', 'v2', 'v3'),
    tombstone: fc.boolean(),
  });
  const storesArbitrary = fc.array(fc.array(entryArbitrary, { maxLength: 30 }), { minLength: 1, maxLength: 4 }).map((lists) =>
    lists.map((list) => new Map(list.map((e) => [e.key, e]))),
  );

  test('SCAN rounds of any COUNT visit exactly the naive keys, in order, once each', async () => {
    await fc.assert(
      fc.asyncProperty(storesArbitrary, fc.integer({ min: 1, max: 7 }), async (stores, count) => {
        const { scan } = fakeScan(stores, stores.length);
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let round = 0; round < 1000; round++) {
          const page = await scan.scan({ cursor, count });
          seen.push(...page.keys);
          cursor = page.next;
          if (cursor === null) break;
        }
        assert.equal(cursor, null, 'the scan ends');
        assert.deepEqual(seen, naiveKeys(stores));
      }),
      { numRuns: 300 },
    );
  });

  test('list() with a limit, a prefix and a pattern pages through the naive answer', async () => {
    await fc.assert(
      fc.asyncProperty(
        storesArbitrary,
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom('', 'a', 'b:', 'é'),
        fc.constantFrom(undefined, '*', 'a*', '*:*', '?'),
        async (stores, limit, prefix, match) => {
          const { scan } = fakeScan(stores, stores.length);
          const expected = naiveKeys(stores).filter((k) => k.startsWith(prefix) && (match === undefined || compileGlob(match)(k)));
          const seen: string[] = [];
          let cursor: string | null = null;
          for (let round = 0; round < 1000; round++) {
            const page = await scan.list({ cursor, limit, prefix, ...(match !== undefined ? { match } : {}) });
            assert.ok(page.keys.length <= limit);
            seen.push(...page.keys);
            cursor = page.next;
            if (cursor === null) break;
          }
          assert.deepEqual(seen, expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('count() counts live keys once however many replicas hold them', async () => {
    const store = (entries: [string, string, boolean][]): Store => new Map(entries.map(([key, version, tombstone]) => [key, { key, version, tombstone }]));
    const stores = [
      store([['a', 'v1', false], ['b', 'v2', true], ['c', 'v1', false]]),
      store([['a', 'v2', false], ['b', 'v1', false], ['d', 'v1', false]]),
      store([['c', 'v2', true], ['d', 'v1', false]]),
    ];
    const { scan } = fakeScan(stores, 3);
    assert.equal(await scan.count(), 2); // a and d; b and c were deleted last
  });

  test('up to replicas - 1 members may be down; more fail with UNAVAILABLE', async () => {
    const stores = [0, 1, 2].map(() => new Map([['k', { key: 'k', version: 'v1', tombstone: false }]]));
    assert.deepEqual((await fakeScan(stores, 3, new Set([0, 1])).scan.scan({ cursor: null, count: 10 })).keys, ['k']);
    await assert.rejects(fakeScan(stores, 2, new Set([0, 1])).scan.scan({ cursor: null, count: 10 }), { code: 'UNAVAILABLE' });
  });

  test('a member page is checked on its way in', () => {
    assert.deepEqual(parseMemberPage({ entries: [{ key: 'a', version: 'v', tombstone: false }], next: null }).entries.length, 1);
    assert.throws(() => parseMemberPage({ entries: [{ key: 'b', version: 'v', tombstone: false }, { key: 'a', version: 'v', tombstone: false }], next: null }));
    assert.throws(() => parseMemberPage({ entries: [{ key: 1 }], next: null }));
    assert.throws(() => parseMemberPage({ next: null }));
  });
});
