// The client's failover rules, against small fake nodes (node:http) whose answers we choose: which
// failures send a request to the next node and which come back to the caller, that a create-only
// write is never sent twice once it may have arrived, and that batch() falls back to single requests
// in order when a server has no POST /v1/batch.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { connect, QuorumKvError } from '../../src/client/index.js';
import { rendezvousOrder } from '../../src/client/nodes.js';

type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse) => void;

interface FakeNode {
  readonly url: string;
  readonly seen: string[];
  close(): Promise<void>;
}

const nodes: FakeNode[] = [];
after(async () => Promise.all(nodes.map((n) => n.close())));

async function fakeNode(handler: Handler): Promise<FakeNode> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push(`${request.method} ${request.url}`);
      handler(request, Buffer.concat(chunks), response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const node: FakeNode = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  nodes.push(node);
  return node;
}

const sendJson = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

/** A node that stores keys in memory: just enough of /v1/kv for the client. No batch route. */
function memoryNode(store: Map<string, string>, log: string[]): Handler {
  let clock = 0;
  return (request, body, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/v1/kv/')) {
      return sendJson(response, 404, { status: 'error', error: 'Not Found', message: `no route ${request.method} ${url.pathname}`, code: 'NO_ROUTE' });
    }
    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
    const version = `${(++clock).toString(16).padStart(12, '0')}-00000000-0`;
    log.push(`${request.method} ${key}`);
    if (request.method === 'PUT') {
      store.set(key, body.toString());
      return sendJson(response, 200, { status: 'success', key, version, replicasAcked: 1, hintsAcked: 0 });
    }
    if (request.method === 'DELETE') {
      store.delete(key);
      return sendJson(response, 200, { status: 'success', key, deleted: true, version, replicasAcked: 1, hintsAcked: 0 });
    }
    const value = store.get(key);
    if (value === undefined) return sendJson(response, 404, { status: 'error', error: 'Key not found', message: `Key ${key} not found`, code: 'NOT_FOUND' });
    response.writeHead(200, { 'x-quorumkv-version': version, 'content-type': 'application/octet-stream' }).end(value);
  };
}

/** A key whose conditional writes a client with `urls` sends to `url` first. */
function keyPicking(url: string, urls: readonly string[]): string {
  for (let i = 0; ; i++) if (rendezvousOrder(`key${i}`, urls, (u) => u)[0] === url) return `key${i}`;
}

const paused: Handler = (_request, _body, response) =>
  sendJson(response, 503, { status: 'error', error: 'Unavailable', message: 'node 1 is failed (simulated crash)', code: 'UNAVAILABLE', paused: true });

describe('client failover rules', { timeout: 60_000 }, () => {
  it('a failed (paused) node sends the request on to the next node', async () => {
    const store = new Map([['k', 'v']]);
    const first = await fakeNode(paused);
    const second = await fakeNode(memoryNode(store, []));
    const kv = connect({ urls: [first.url, second.url] });
    assert.equal(await kv.getText('k'), 'v');
    assert.deepEqual(first.seen, ['GET /v1/kv/k']);
    // The paused node now cools down: the next requests go to the other node first.
    assert.equal(await kv.getText('k'), 'v');
    assert.equal(await kv.getText('k'), 'v');
    assert.equal(first.seen.length, 1);
    await kv.close();
  });

  it('too few replicas is the cluster\'s answer, not the node\'s: no failover', async () => {
    const unavailable: Handler = (_request, _body, response) =>
      sendJson(response, 503, { status: 'error', error: 'Unavailable', message: 'read failed: 1 of 3 replicas answered, 2 needed', code: 'UNAVAILABLE', answered: 1, needed: 2, replicas: 3 });
    const first = await fakeNode(unavailable);
    const second = await fakeNode(unavailable);
    const kv = connect({ urls: [first.url, second.url] });
    const error = await kv.get('k').catch((e: unknown) => e);
    assert.ok(error instanceof QuorumKvError);
    assert.deepEqual([error.code, error.status, error.details.answered, error.details.needed], ['UNAVAILABLE', 503, 1, 2]);
    assert.equal(first.seen.length + second.seen.length, 1, 'asked one node only');
    await kv.close();
  });

  it('conditional writes of a key go to the node the key picks, the same for every client; other requests go in turn', async () => {
    const store = new Map<string, string>();
    const logs: string[][] = [[], [], []];
    const three = await Promise.all(logs.map((log) => fakeNode(memoryNode(store, log))));
    const urls = three.map((n) => n.url);
    const clients = [connect({ urls }), connect({ urls: [...urls].reverse() }), connect({ urls: [urls[1] as string, urls[2] as string, urls[0] as string] })];
    const keys = Array.from({ length: 30 }, (_, i) => `key${i}`);
    const chosen = new Map<string, number>();
    for (const key of keys) {
      for (const kv of clients) {
        for (const log of logs) log.length = 0;
        await kv.putIf(key, 'v', { ifAbsent: true });
        await kv.deleteIf(key, { ifPresent: true });
        const took = logs.findIndex((log) => log.length > 0);
        assert.deepEqual(logs[took], [`PUT ${key}`, `DELETE ${key}`], 'both to one node');
        if (!chosen.has(key)) chosen.set(key, took);
        assert.equal(took, chosen.get(key), `every client sends ${key}'s conditional writes to one node`);
      }
    }
    assert.equal(new Set(chosen.values()).size, 3, 'the keys spread over every node');
    // A plain write still goes round.
    for (const log of logs) log.length = 0;
    for (let i = 0; i < 3; i++) await clients[0]?.put('plain', 'v');
    assert.deepEqual(logs.map((log) => log.length), [1, 1, 1]);
    // The key's node failed: its conditional writes go on to the key's next node.
    const failed = await fakeNode(paused);
    const withFailed = [failed.url, urls[1] as string, urls[2] as string];
    const key = keyPicking(failed.url, withFailed);
    const next = rendezvousOrder(key, withFailed, (url) => url)[1];
    const pausedFirst = connect({ urls: withFailed });
    for (const log of logs) log.length = 0;
    await pausedFirst.putIf(key, 'v', { ifAbsent: true });
    assert.deepEqual(failed.seen, [`PUT /v1/kv/${key}`]);
    assert.deepEqual(logs.map((log) => log.length), urls.map((url) => (url === next ? 1 : 0)));
    await Promise.all([...clients, pausedFirst].map((kv) => kv.close()));
  });

  it('a create-only write that may have arrived is not sent again', async () => {
    const silent = await fakeNode(() => undefined); // takes the request, never answers
    const other = await fakeNode((_request, _body, response) => sendJson(response, 200, { status: 'success', message: 'Key k written successfully' }));
    const kv = connect({ urls: [silent.url, other.url], timeoutMs: 200 });
    // A key whose conditional writes go to the silent node first.
    const error = await kv.create(keyPicking(silent.url, [silent.url, other.url]), 'v').catch((e: unknown) => e);
    assert.ok(error instanceof QuorumKvError && error.code === 'TIMEOUT', String(error));
    assert.equal(other.seen.length, 0, 'not retried on another node');
    // Nor is a strategy change: a second one meets the first under way and is refused (409).
    const kv3 = connect({ urls: [silent.url, other.url], timeoutMs: 200 }); // silent first again
    const strategy = await kv3.admin.setStrategy('full').catch((e: unknown) => e);
    assert.ok(strategy instanceof QuorumKvError && strategy.code === 'TIMEOUT', JSON.stringify(strategy));
    assert.equal(other.seen.length, 0, 'the strategy change is not sent again');
    await kv3.close();
    // A PUT, though, is: a repeated PUT is harmless under last-writer-wins.
    const store = new Map<string, string>();
    const memory = await fakeNode(memoryNode(store, []));
    const kv2 = connect({ urls: [silent.url, memory.url], timeoutMs: 200 });
    await kv2.put('k', 'v');
    assert.equal(store.get('k'), 'v');
    await Promise.all([kv.close(), kv2.close()]);
  });

  it('every attempt carries its deadline, so a node that wakes after it does not apply the write', async () => {
    // A node stalled past the client's timeout still held the first attempt; woken after the retry
    // and the client's next write, it stamped it newer and undid them (found in review). The node
    // refuses to start a write after the deadline the attempt carries (coordinator.ts).
    const deadlines: number[] = [];
    const recorder = await fakeNode((request, _body, response) => {
      deadlines.push(Number(request.headers['x-quorumkv-deadline']));
      sendJson(response, 200, { status: 'success', key: 'k', version: '000000000001-00000000-0', replicasAcked: 3, hintsAcked: 0 });
    });
    const kv = connect({ urls: [recorder.url], timeoutMs: 700 });
    const before = Date.now();
    await kv.put('k', 'v');
    await kv.delete('k');
    for (const deadline of deadlines) assert.ok(deadline >= before + 700 && deadline <= Date.now() + 700, `deadline ${deadline}`);
    assert.equal(deadlines.length, 2);
    // A key that is not text is the caller's mistake, typed like every other (it threw a URIError).
    for (const call of [() => kv.get('\ud800'), () => kv.put('\ud800', 'v'), () => kv.replicas('a\udc00')]) {
      const error = await call().catch((e: unknown) => e);
      assert.ok(error instanceof QuorumKvError && error.code === 'BAD_REQUEST', String(error));
    }
    // A timeout no timer can wait for fired at once, and the write went ahead anyway (found in review).
    const tooLong = await kv.put('k', 'v', { timeoutMs: 3e9 }).catch((e: unknown) => e);
    assert.ok(tooLong instanceof QuorumKvError && tooLong.code === 'BAD_REQUEST', String(tooLong));
    assert.equal(deadlines.length, 2, 'nothing sent');
    await kv.close();
  });

  it('a call waiting for the node discovery another started still answers to its own signal', async () => {
    // It waited for the whole discovery (the client's timeout) whatever its signal said (found in review).
    const silent = await fakeNode(() => undefined);
    const kv = connect({ urls: [silent.url], timeoutMs: 3000, discover: true });
    const first = kv.get('a').catch((e: unknown) => e); // starts the discovery
    const started = Date.now();
    const second = await kv.get('b', { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    assert.ok(second instanceof QuorumKvError && second.code === 'TIMEOUT', String(second));
    assert.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const third = await kv.get('c', { signal: controller.signal }).catch((e: unknown) => e);
    assert.ok(third instanceof QuorumKvError && third.code === 'ABORTED', String(third));
    await kv.close();
    await first;
  });

  it('batch() without the batch route: single requests, one key\'s in order', async () => {
    const store = new Map<string, string>();
    const log: string[] = [];
    const node = await fakeNode(memoryNode(store, log));
    const kv = connect({ url: node.url });
    const ops = [
      { op: 'put', key: 'a', value: '1' },
      { op: 'get', key: 'a' },
      { op: 'put', key: 'b', value: '2' },
      { op: 'delete', key: 'a' },
      { op: 'get', key: 'a' },
    ] as const;
    const results = await kv.batch(ops);
    assert.deepEqual(
      results.map((r) => (r.op === 'get' && r.ok ? (r.value?.text() ?? null) : r.ok)),
      [true, '1', true, true, null],
    );
    assert.deepEqual(log.filter((entry) => entry.endsWith(' a')), ['PUT a', 'GET a', 'DELETE a', 'GET a']);
    assert.ok(node.seen.some((line) => line.startsWith('POST /v1/batch')), 'tried the batch route first');
    // Known now: the second batch goes straight to single requests.
    const before = node.seen.length;
    await kv.batch([{ op: 'get', key: 'b' }]);
    assert.deepEqual(node.seen.slice(before), ['GET /v1/kv/b']);
    await kv.close();
  });
});
