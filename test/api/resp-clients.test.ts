// Goal: the Redis clients people already use work unchanged against a real 3-node cluster (every
// node replicates every key): ioredis over RESP2 and RESP3, node-redis with its default RESP3 HELLO
// handshake, each running the string and key commands through different nodes; pipelines answer in
// order and keep per-key order; INCR, SET NX and APPEND racing through every node are atomic; the
// per-connection consistency level really changes what a write needs; and the HTTP listing and batch
// routes agree with SCAN.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startRespCluster, type RespCluster } from './resp-harness.js';

let cluster: RespCluster;
const opened: { disconnect(): void }[] = [];

function ioredis(node: number, options: Record<string, unknown> = {}): Redis {
  const client = new Redis({ host: '127.0.0.1', port: cluster.respPorts[node] as number, maxRetriesPerRequest: 1, ...options });
  opened.push(client);
  return client;
}

/** Conditional writes the nodes sent on to their key's coordinator, summed over the nodes (from /metrics). */
async function updatesForwarded(): Promise<number> {
  let sum = 0;
  for (const url of cluster.httpUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    sum += Number(/^quorumkv_updates_forwarded(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1] ?? NaN);
  }
  return sum;
}

before(async () => {
  cluster = await startRespCluster({ nodes: 3, rf: 3 });
}, { timeout: 90_000 });

after(async () => {
  for (const client of opened) client.disconnect();
  await cluster?.stop();
}, { timeout: 30_000 });

describe('ioredis (RESP2)', { timeout: 60_000 }, () => {
  test('a value written through one node is read through the others, bytes intact', async () => {
    const [a, b, c] = [ioredis(0), ioredis(1), ioredis(2)];
    const bytes = Buffer.from([0, 255, 13, 10, 36, 42, 0xc3]);
    assert.equal(await a.set('io:bin', bytes), 'OK');
    assert.deepEqual(await b.getBuffer('io:bin'), bytes);
    assert.equal(await c.strlen('io:bin'), bytes.length);
    assert.equal(await c.get('io:missing'), null);
    assert.equal(await c.type('io:bin'), 'string');
    assert.equal(await c.type('io:missing'), 'none');
  });

  test('SET options, SETNX, GETDEL, MSET, MSETNX, MGET, EXISTS, DEL, UNLINK', async () => {
    const io = ioredis(1);
    assert.equal(await io.set('io:s', '1', 'NX'), 'OK');
    assert.equal(await io.set('io:s', '2', 'NX'), null);
    assert.equal(await io.set('io:s', '3', 'XX', 'GET'), '1');
    assert.equal(await io.set('io:none', '3', 'XX'), null);
    assert.equal(await io.set('io:s', '4', 'KEEPTTL'), 'OK');
    await assert.rejects(io.call('set', 'io:s', '5', 'NX', 'XX'), /ERR syntax error/);
    assert.equal(await io.setnx('io:s', 'x'), 0);
    assert.equal(await io.setnx('io:n', 'x'), 1);
    assert.equal(await io.getdel('io:n'), 'x');
    assert.equal(await io.getdel('io:n'), null);
    assert.equal(await io.mset('io:m1', 'a', 'io:m2', 'b', 'io:m1', 'c'), 'OK');
    assert.deepEqual(await io.mget('io:m1', 'io:missing', 'io:m2'), ['c', null, 'b']);
    assert.equal(await io.msetnx('io:m2', 'z', 'io:m3', 'z'), 0);
    assert.equal(await io.msetnx('io:m3', 'z', 'io:m4', 'z'), 1);
    assert.equal(await io.exists('io:m1', 'io:m1', 'io:missing', 'io:m3'), 3);
    assert.equal(await io.del('io:m1', 'io:missing', 'io:m1'), 1);
    assert.equal(await io.unlink('io:m2', 'io:m3'), 2);
    assert.deepEqual(await io.mget('io:m1', 'io:m2', 'io:m3', 'io:m4'), [null, null, null, 'z']);
  });

  test('key expiry: SET EX/PX/EXAT/PXAT/KEEPTTL, EXPIRE and friends, TTL and friends, PERSIST, GETEX, SETEX', async () => {
    const [io, other] = [ioredis(0), ioredis(2)];
    const nowS = Math.floor(Date.now() / 1000);
    assert.equal(await io.set('ex:a', 'v', 'EX', 100), 'OK');
    const ttl = await other.ttl('ex:a');
    assert.ok(ttl >= 98 && ttl <= 100, `TTL through another node: ${ttl}`);
    assert.match(await other.info('keyspace'), /db0:keys=\d+,expires=[1-9]\d*,/, 'INFO keyspace counts the expiring key');
    const pttl = await other.pttl('ex:a');
    assert.ok(pttl > 95_000 && pttl <= 100_000, `PTTL ${pttl}`);
    assert.equal(await io.ttl('ex:missing'), -2);
    await io.set('ex:plain', 'v');
    assert.equal(await io.ttl('ex:plain'), -1);
    assert.equal(await io.pexpiretime('ex:plain'), -1);

    // KEEPTTL keeps it, a plain SET ends it; INCR and APPEND keep it.
    assert.equal(await io.set('ex:a', 'w', 'KEEPTTL'), 'OK');
    assert.ok((await other.ttl('ex:a')) > 90);
    await io.set('ex:n', '1', 'PX', 100_000);
    assert.equal(await io.incr('ex:n'), 2);
    assert.equal(await io.append('ex:n', '0'), 2);
    assert.ok((await other.pttl('ex:n')) > 90_000, 'INCR and APPEND kept the expiry');
    assert.equal(await io.get('ex:n'), '20');
    await io.set('ex:a', 'x');
    assert.equal(await other.ttl('ex:a'), -1);

    // EXAT and PXAT are absolute; EXPIRETIME reads them back.
    await io.set('ex:at', 'v', 'EXAT', nowS + 1000);
    assert.equal(await other.expiretime('ex:at'), nowS + 1000);
    await io.set('ex:at', 'v', 'PXAT', (nowS + 2000) * 1000 + 123);
    assert.equal(await other.pexpiretime('ex:at'), (nowS + 2000) * 1000 + 123);

    // EXPIRE with NX/XX/GT/LT, PERSIST.
    assert.equal(await io.expire('ex:plain', 500, 'XX'), 0);
    assert.equal(await io.expire('ex:plain', 500, 'NX'), 1);
    assert.equal(await io.expire('ex:plain', 400, 'GT'), 0);
    assert.equal(await io.expire('ex:plain', 600, 'GT'), 1);
    assert.equal(await io.pexpire('ex:plain', 300_000, 'LT'), 1);
    assert.ok((await other.ttl('ex:plain')) <= 300);
    assert.equal(await io.expireat('ex:plain', nowS + 700), 1);
    assert.equal(await other.expiretime('ex:plain'), nowS + 700);
    assert.equal(await io.persist('ex:plain'), 1);
    assert.equal(await io.persist('ex:plain'), 0);
    assert.equal(await other.ttl('ex:plain'), -1);
    assert.equal(await io.expire('ex:missing', 10), 0);
    assert.equal(await io.persist('ex:missing'), 0);

    // GETEX, SETEX, PSETEX.
    assert.equal(await io.getex('ex:plain', 'EX', 50), 'v');
    assert.ok((await other.ttl('ex:plain')) <= 50);
    assert.equal(await io.getex('ex:plain', 'PERSIST'), 'v');
    assert.equal(await other.ttl('ex:plain'), -1);
    assert.equal(await io.getex('ex:missing'), null);
    assert.equal(await io.setex('ex:se', 30, 'v'), 'OK');
    assert.ok((await other.ttl('ex:se')) > 25);
    assert.equal(await io.psetex('ex:pse', 30_000, 'v'), 'OK');
    assert.ok((await other.pttl('ex:pse')) > 25_000);

    // An expiry in the past deletes; a short one runs out and the key is gone everywhere.
    assert.equal(await io.expire('ex:se', -1), 1);
    assert.equal(await other.exists('ex:se'), 0);
    assert.equal(await io.set('ex:short', 'v', 'PX', 300), 'OK');
    assert.equal(await other.get('ex:short'), 'v');
    const deadline = Date.now() + 10_000;
    while ((await other.exists('ex:short')) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await other.get('ex:short'), null);
    assert.equal(await io.ttl('ex:short'), -2);
    assert.equal(await io.type('ex:short'), 'none');
    assert.deepEqual(await io.keys('ex:short*'), []);

    // Redis's errors.
    await assert.rejects(io.set('ex:e', 'v', 'EX', 0), /ERR invalid expire time in 'set' command/);
    await assert.rejects(io.call('set', 'ex:e', 'v', 'PX', 'soon'), /ERR value is not an integer or out of range/);
    await assert.rejects(io.call('set', 'ex:e', 'v', 'EX', '10', 'KEEPTTL'), /ERR syntax error/);
    await assert.rejects(io.call('set', 'ex:e', 'v', 'EX', '10', 'PX', '10'), /ERR syntax error/);
    await assert.rejects(io.call('expire', 'ex:a', '10', 'NX', 'XX'), /ERR NX and XX, GT or LT options at the same time are not compatible/);
    await assert.rejects(io.call('expire', 'ex:a', '10', 'GT', 'LT'), /ERR GT and LT options at the same time are not compatible/);
    await assert.rejects(io.call('expire', 'ex:a', '10', 'SOON'), /ERR Unsupported option SOON/);
    await assert.rejects(io.call('expire', 'ex:a', '9223372036854775807'), /ERR invalid expire time in 'expire' command/);
    await assert.rejects(io.call('setex', 'ex:e', '0', 'v'), /ERR invalid expire time in 'setex' command/);
    await assert.rejects(io.call('getex', 'ex:a', 'EX'), /ERR syntax error/);
    await assert.rejects(io.call('getex', 'ex:a', 'PX', '-5'), /ERR invalid expire time in 'getex' command/);
    assert.equal(await io.exists('ex:e'), 0, 'a refused SET wrote nothing');
  });

  test('counters and APPEND, with Redis errors for what is not an integer', async () => {
    const io = ioredis(2);
    assert.equal(await io.incr('io:c'), 1);
    assert.equal(await io.incrby('io:c', 41), 42);
    assert.equal(await io.decr('io:c'), 41);
    assert.equal(await io.decrby('io:c', 50), -9);
    await io.set('io:big', '9223372036854775807');
    await assert.rejects(io.incr('io:big'), /ERR increment or decrement would overflow/);
    await assert.rejects(io.call('incrby', 'io:c', 'ten'), /ERR value is not an integer or out of range/);
    await io.set('io:text', 'abc');
    await assert.rejects(io.incr('io:text'), /ERR value is not an integer or out of range/);
    assert.equal(await io.append('io:text', 'def'), 6);
    assert.equal(await io.append('io:new', 'x'), 1);
    assert.equal(await io.get('io:text'), 'abcdef');
  });

  test('INCR, SET NX and APPEND from many clients through every node at once are atomic', async () => {
    const clients = [0, 1, 2, 0, 1, 2].map((node) => ioredis(node));
    // 6 clients x 10 INCRs each, all at once, through three nodes: every acknowledged one counts
    // once, each saw a different count, and only those whose outcome is unknown (an error that says
    // they may have taken effect) may count without an answer.
    const forwardedBefore = await updatesForwarded();
    const settled = await Promise.allSettled(clients.flatMap((io) => Array.from({ length: 10 }, () => io.incr('io:race'))));
    // Once their first rounds met another node's, two nodes of three send theirs on to the key's
    // coordinator (36 of their 40 INCRs on this machine), so that they go in its batches instead of
    // racing its rounds.
    const forwarded = (await updatesForwarded()) - forwardedBefore;
    assert.ok(forwarded >= 20 && forwarded <= 40, `${forwarded} INCRs sent on to the coordinator`);
    const answers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const unknown = settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    for (const reason of unknown) assert.match(reason, /may (still )?(have )?take?n? effect/, reason);
    const count = Number(await clients[0]?.get('io:race'));
    assert.ok(count >= answers.length && count <= answers.length + unknown.length, `${count} counted, ${answers.length} acknowledged, ${unknown.length} unknown`);
    assert.equal(new Set(answers).size, answers.length, 'each INCR saw a different count');
    assert.ok(answers.length >= 30, `${answers.length} of 60 acknowledged`);
    // Of racing SET NX, at most one succeeds, and a winner's value is the one stored.
    const sets = await Promise.allSettled(clients.map((io, i) => io.set('io:once', `by-${i}`, 'NX')));
    const winners = sets.flatMap((answer, i) => (answer.status === 'fulfilled' && answer.value === 'OK' ? [i] : []));
    assert.ok(winners.length <= 1, JSON.stringify(sets));
    const stored = await clients[1]?.get('io:once');
    if (winners.length === 1) assert.equal(stored, `by-${winners[0]}`);
    else assert.ok(sets.some((r) => r.status === 'rejected'), 'no winner only when some outcome is unknown');
    // Racing APPENDs keep every acknowledged piece, once.
    const appends = await Promise.allSettled(clients.map((io, i) => io.append('io:log', String(i))));
    const log = (await clients[2]?.get('io:log')) ?? '';
    assert.equal(new Set(log).size, log.length, 'no piece twice');
    appends.forEach((r, i) => r.status === 'fulfilled' && assert.ok(log.includes(String(i)), `piece ${i} acknowledged`));
  });

  test('a pipeline answers in request order and keeps per-key order', async () => {
    const io = ioredis(0);
    const pipeline = io.pipeline();
    for (let i = 1; i <= 50; i++) pipeline.set('io:order', String(i));
    pipeline.get('io:order');
    for (let i = 0; i < 30; i++) pipeline.incr('io:pipecount');
    pipeline.get('io:pipecount');
    for (let i = 0; i < 20; i++) pipeline.echo(`e${i}`);
    const results = (await pipeline.exec()) as [Error | null, unknown][];
    assert.ok(results.every(([error]) => error === null));
    const values = results.map(([, value]) => value);
    assert.equal(values[50], '50', 'the read after 50 pipelined writes of one key sees the last');
    assert.deepEqual(values.slice(51, 81), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(values[81], '30');
    assert.deepEqual(values.slice(82), Array.from({ length: 20 }, (_, i) => `e${i}`));
  });

  test('SCAN (scanStream), KEYS and DBSIZE list the whole cluster', async () => {
    const io = ioredis(1);
    const keys = Array.from({ length: 37 }, (_, i) => `scan:${String(i).padStart(2, '0')}`);
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    await io.del('scan:05');
    const expected = keys.filter((k) => k !== 'scan:05');
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      io.scanStream({ match: 'scan:*', count: 7 })
        .on('data', (batch: string[]) => seen.push(...batch))
        .on('end', resolve)
        .on('error', reject);
    });
    assert.deepEqual(seen.sort(), expected);
    assert.deepEqual((await io.keys('scan:*')).sort(), expected);
    assert.deepEqual(await io.keys('scan:1?'), expected.filter((k) => /^scan:1\d$/.test(k)));
    assert.ok((await io.dbsize()) >= expected.length);
    await assert.rejects(io.scan('not-a-cursor'), /ERR invalid cursor/);
  });

  test('connection commands and INFO', async () => {
    const io = ioredis(0, { connectionName: 'tester' });
    assert.equal(await io.ping(), 'PONG');
    assert.equal(await io.echo('hi'), 'hi');
    assert.equal(await io.client('GETNAME'), 'tester');
    assert.equal(typeof (await io.client('ID')), 'number');
    assert.match((await io.client('INFO')) as string, /name=tester .*lib-name=ioredis/);
    assert.equal(await io.select(0), 'OK');
    await assert.rejects(io.select(1), /ERR DB index is out of range/);
    const info = await io.info();
    assert.match(info, /# Server\r\nredis_version:7\.2\.0\r\n/);
    assert.match(info, /\r\nloading:0\r\n/);
    assert.match(info, /\r\nnode_id:0\r\n/);
    assert.match(await io.info('keyspace'), /^# Keyspace\r\n(db0:keys=\d+,expires=\d+,avg_ttl=0\r\n)?$/);
    await assert.rejects(io.call('foo', 'a', 'b'), /^ReplyError: ERR unknown command 'foo', with args beginning with: 'a' 'b' $/);
    await assert.rejects(io.call('get'), /^ReplyError: ERR wrong number of arguments for 'get' command$/);
    await assert.rejects(io.call('lpush', 'l', 'x'), /ERR unknown command 'lpush'/);
  });

  test('ioredis over RESP3', async () => {
    const io = ioredis(2, { protocol: 3 });
    await io.set('io3:k', 'v');
    assert.equal(await io.get('io3:k'), 'v');
    assert.equal(await io.get('io3:missing'), null);
    assert.deepEqual(await io.mget('io3:k', 'io3:missing'), ['v', null]);
    const hello = await io.call('HELLO', '3');
    assert.ok(hello instanceof Map || Array.isArray(hello) || typeof hello === 'object');
  });
});

describe('node-redis (default RESP3 HELLO)', { timeout: 60_000 }, () => {
  test('connects with HELLO 3, SETINFO and MAINT_NOTIFICATIONS, then runs commands', async () => {
    const client = createClient({ url: `redis://127.0.0.1:${cluster.respPorts[1]}`, name: 'nr' });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    await client.connect();
    try {
      const hello = (await client.sendCommand(['HELLO'])) as Record<string, unknown>;
      assert.equal(hello.proto, 3);
      assert.equal(hello.server, 'redis');
      assert.equal(await client.clientGetName(), 'nr');
      assert.equal(await client.set('nr:k', 'v'), 'OK');
      assert.equal(await client.get('nr:k'), 'v');
      assert.equal(await client.get('nr:missing'), null);
      assert.equal(await client.incrBy('nr:c', 5), 5);
      assert.deepEqual(await client.mGet(['nr:k', 'nr:missing']), ['v', null]);
      assert.equal(await client.exists(['nr:k', 'nr:missing']), 1);
      assert.equal(await client.del('nr:k'), 1);
      const [, second] = await Promise.all([client.set('nr:p', '1'), client.get('nr:p')]);
      assert.equal(second, '1', 'node-redis pipelines; the GET sees the SET sent before it');
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: 'nr:*', COUNT: 2 })) keys.push(...batch);
      assert.deepEqual(keys.sort(), ['nr:c', 'nr:p']);
      assert.match(await client.info('server'), /redis_version:7\.2\.0/);
      assert.deepEqual(errors, []);
    } finally {
      await client.close();
    }
  });

  test('node-redis over RESP2', async () => {
    const client = createClient({ url: `redis://127.0.0.1:${cluster.respPorts[2]}`, RESP: 2 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      assert.equal(await client.set('nr2:k', 'v'), 'OK');
      assert.equal(await client.get('nr2:k'), 'v');
    } finally {
      await client.close();
    }
  });
});

describe('HTTP listing and batch routes', { timeout: 60_000 }, () => {
  test('POST /v1/batch runs puts, gets and deletes, one key in order', async () => {
    const response = await fetch(`${cluster.httpUrls[0]}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        consistency: 'quorum',
        ops: [
          { op: 'put', key: 'batch:a', value: 'héllo' },
          { op: 'put', key: 'batch:b', valueBase64: Buffer.from([0, 255]).toString('base64') },
          { op: 'get', key: 'batch:a' },
          { op: 'get', key: 'batch:b' },
          { op: 'delete', key: 'batch:a' },
          { op: 'get', key: 'batch:a' },
          { op: 'put', key: 'x'.repeat(2000), value: 'too long a key' },
        ],
      }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; failed: number; results: Record<string, unknown>[] };
    assert.equal(body.status, 'partial');
    assert.equal(body.failed, 1);
    const [putA, putB, getA, getB, delA, getAAgain, tooLong] = body.results as Record<string, unknown>[];
    assert.equal(putA?.status, 'success');
    assert.equal(putB?.status, 'success');
    assert.equal(getA?.value, 'héllo');
    assert.equal(getB?.value, undefined);
    assert.equal(getB?.valueBase64, 'AP8=');
    assert.equal(delA?.deleted, true);
    assert.equal(getAAgain?.found, false);
    assert.equal(tooLong?.code, 'KEY_TOO_LARGE');
    const bad = await fetch(`${cluster.httpUrls[0]}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ops":[{"op":"nope","key":"k"}]}' });
    assert.equal(bad.status, 400);
  });

  test('GET /v1/keys pages through a prefix; SCAN over RESP sees the same keys', async () => {
    const io = ioredis(2);
    const keys = Array.from({ length: 25 }, (_, i) => `list:${String(i).padStart(2, '0')}`);
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    const listed: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const url = new URL(`${cluster.httpUrls[1]}/v1/keys`);
      url.searchParams.set('prefix', 'list:');
      url.searchParams.set('limit', '10');
      if (cursor) url.searchParams.set('cursor', cursor);
      const body = (await (await fetch(url)).json()) as { keys: string[]; next: string | null };
      assert.ok(body.keys.length <= 10);
      listed.push(...body.keys);
      cursor = body.next;
      if (cursor === null) break;
    }
    assert.deepEqual(listed, keys);
    const matched = (await (await fetch(`${cluster.httpUrls[0]}/v1/keys?match=list:1*`)).json()) as { keys: string[] };
    assert.deepEqual(matched.keys, keys.filter((k) => k.startsWith('list:1')));
    assert.deepEqual((await io.keys('list:*')).sort(), keys);
  });
});

describe('consistency per connection, with one node failed', { timeout: 60_000 }, () => {
  test('QUORUMKV CONSISTENCY all cannot write with a node down; one and quorum still can', async () => {
    const io = ioredis(0);
    assert.equal(await io.call('QUORUMKV', 'CONSISTENCY'), 'quorum');
    await fetch(`${cluster.httpUrls[2]}/v1/admin/pause`, { method: 'POST' });
    try {
      const onFailed = ioredis(2);
      await assert.rejects(onFailed.get('io:bin'), /^ReplyError: UNAVAILABLE node 2 is failed/);
      assert.equal(await io.call('QUORUMKV', 'CONSISTENCY', 'all'), 'OK');
      await assert.rejects(io.set('cl:k', 'v'), /^ReplyError: UNAVAILABLE write failed/);
      assert.equal(await io.call('QUORUMKV', 'CONSISTENCY', 'one'), 'OK');
      assert.equal(await io.set('cl:k', 'v'), 'OK');
      assert.equal(await io.call('QUORUMKV', 'CONSISTENCY', 'default'), 'OK');
      assert.equal(await io.get('cl:k'), 'v');
      await assert.rejects(io.call('QUORUMKV', 'CONSISTENCY', 'some'), /ERR consistency must be one, quorum, all or default/);
      // Listing tolerates one member that cannot answer (every key has two other replicas).
      assert.ok((await io.keys('cl:*')).includes('cl:k'));
    } finally {
      await fetch(`${cluster.httpUrls[2]}/v1/admin/resume`, { method: 'POST' });
    }
  });
});
