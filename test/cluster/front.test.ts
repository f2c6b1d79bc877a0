// The local cluster's front on its own, over stand-in nodes: which node it tries, and which requests it
// sends to another node after one failed (found in review: it retried the same node, and it sent
// create-only writes again after they may have been applied).

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Front } from '../../src/cluster/front.js';
import type { Supervisor } from '../../src/cluster/supervisor.js';
import { rendezvousOrder } from '../../src/client/nodes.js';

const host = '127.0.0.1';

/** A stand-in node: answers 200 with its name, or takes the request in and drops the connection. */
async function standIn(name: string, behaviour: 'answer' | 'drop', seen: string[]): Promise<Server> {
  const server = createServer((request: IncomingMessage, response) => {
    request.resume();
    request.on('end', () => {
      seen.push(`${name} ${request.method} ${request.url}`);
      if (behaviour === 'drop') request.socket.destroy();
      else response.setHeader('content-type', 'application/json').end(JSON.stringify({ status: 'success', node: name }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return server;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function frontOver(addresses: Record<string, string>): Promise<{ url: string; front: Front }> {
  const ids = Object.keys(addresses);
  const supervisor = {
    runningIds: () => ids,
    member: (id: string) => (addresses[id] ? { id, http: addresses[id] } : undefined),
    stateOf: () => 'running',
  } as unknown as Supervisor;
  const front = new Front({ supervisor, auth: {}, bodyLimitBytes: 1 << 20, requestTimeoutMs: 2_000, layout: { strategy: 'consistent', rf: 3 } });
  await front.listen(host, 0);
  const { port } = front.app.server.address() as AddressInfo;
  return { url: `http://${host}:${port}`, front };
}

const address = (server: Server) => `${host}:${(server.address() as AddressInfo).port}`;

/** A key whose conditional writes the front sends to node `id` first, of `ids`. */
function keyPicking(id: string, ids: readonly string[]): string {
  for (let i = 0; ; i++) if (rendezvousOrder(`key ${i}`, ids, (x) => x)[0] === id) return `key ${i}`;
}

describe('the front over stand-in nodes', () => {
  const servers: Server[] = [];
  const fronts: Front[] = [];
  after(async () => {
    for (const front of fronts) await front.close();
    for (const server of servers) server.close();
  });

  it('answers a method it does not forward (PROPFIND) in the API\'s error shape', async () => {
    const { url, front } = await frontOver({});
    fronts.push(front);
    const response = await fetch(`${url}/v1/kv/k`, { method: 'PROPFIND' });
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { status: 'error', error: 'Not Found', message: 'no route PROPFIND /v1/kv/k', code: 'NO_ROUTE' });
  });

  it('tries every running node once before giving up', async () => {
    const seen: string[] = [];
    const [one, three] = [await standIn('1', 'answer', seen), await standIn('3', 'answer', seen)];
    servers.push(one, three);
    const down = `${host}:${await closedPort()}`;
    const { url, front } = await frontOver({ '0': down, '1': address(one), '2': down, '3': address(three) });
    fronts.push(front);
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${url}/v1/kv/k`);
      assert.equal(response.status, 200, await response.text());
    }
    assert.equal(seen.length, 4);
  });

  it('sends a create-only write again only if it surely never arrived; blind writes go to the next node', async () => {
    const seen: string[] = [];
    const [dropping, answering] = [await standIn('0', 'drop', seen), await standIn('1', 'answer', seen)];
    servers.push(dropping, answering);
    const { url, front } = await frontOver({ '0': address(dropping), '1': address(answering) });
    fronts.push(front);

    // Conditional writes go to the node their key picks: this key picks node 0.
    const key = keyPicking('0', ['0', '1']);
    const create = await fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value: 'v' }) });
    assert.equal(create.status, 503);
    assert.match((await create.json()).message, /may have been applied there: not sent again/);
    assert.deepEqual(seen, ['0 POST /write'], 'node 1 never got it');

    // Node 0 is now tried last (until it answers a health check); a new front starts its turn there.
    const fresh = await frontOver({ '0': address(dropping), '1': address(answering) });
    fronts.push(fresh.front);
    const put = await fetch(`${fresh.url}/v1/kv/k`, { method: 'PUT', body: 'v' });
    assert.equal(put.status, 200, 'a blind write is sent to the next node');
    assert.deepEqual(seen.slice(1).filter((line) => !line.endsWith('/v1/health')), ['0 PUT /v1/kv/k', '1 PUT /v1/kv/k']);

    // A conditional write is not blind: applied by node 0, it would find its own value on node 1.
    const third = await frontOver({ '0': address(dropping), '1': address(answering) });
    fronts.push(third.front);
    const conditional = await fetch(`${third.url}/v1/kv/${key}`, { method: 'PUT', body: 'v', headers: { 'if-none-match': '*' } });
    assert.equal(conditional.status, 503);
    assert.match((await conditional.json()).message, /may have been applied there: not sent again/);
    assert.equal(seen.filter((line) => line.startsWith('1 PUT')).length, 1, 'node 1 got only the blind write');
  });

  it('sends the conditional writes of a key to the node the key picks, as the client library does; the rest in turn', async () => {
    const seen: string[] = [];
    const standIns = await Promise.all(['0', '1', '2'].map((id) => standIn(id, 'answer', seen)));
    servers.push(...standIns);
    const { url, front } = await frontOver(Object.fromEntries(standIns.map((server, i) => [String(i), address(server)])));
    fronts.push(front);
    for (const id of ['0', '1', '2']) {
      const key = keyPicking(id, ['0', '1', '2']);
      seen.length = 0;
      const encoded = encodeURIComponent(key);
      for (const headers of [{ 'if-none-match': '*' }, { 'if-match': '*' }] as Record<string, string>[]) {
        assert.equal((await fetch(`${url}/v1/kv/${encoded}`, { method: 'PUT', body: 'v', headers })).status, 200);
      }
      assert.equal((await fetch(`${url}/v1/kv/${encoded}`, { method: 'DELETE', headers: { 'if-match': '*' } })).status, 200);
      assert.equal((await fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value: 'v' }) })).status, 200);
      assert.deepEqual(seen.map((line) => line.split(' ')[0]), [id, id, id, id], `${key}: ${seen.join(', ')}`);
    }
    seen.length = 0;
    for (let i = 0; i < 3; i++) await fetch(`${url}/v1/kv/plain`, { method: 'PUT', body: 'v' });
    assert.deepEqual(seen.map((line) => line.split(' ')[0]).sort(), ['0', '1', '2'], 'blind writes go in turn');
  });

  it('sends a create-only write on when the first node refused the connection: it never arrived', async () => {
    const seen: string[] = [];
    const answering = await standIn('1', 'answer', seen);
    servers.push(answering);
    const { url, front } = await frontOver({ '0': `${host}:${await closedPort()}`, '1': address(answering) });
    fronts.push(front);
    for (let i = 0; i < 2; i++) {
      const create = await fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"k","value":"v"}' });
      assert.equal(create.status, 200, await create.text());
    }
    assert.deepEqual(seen, ['1 POST /write', '1 POST /write']);
  });
  it('gives up on a hung node after the request\'s timeout, with a deadline that node will not start the write after', async () => {
    // A paused node (SIGSTOP) answers nothing, then applies what it had queued when it resumes: without
    // a deadline, a write the front had already sent to another node, over any newer one. It held the
    // request 30 s, too, and every third request after it.
    const deadlines: { node: string; deadline: number; sentAt: number }[] = [];
    let hanging = true;
    const node = (name: string, hangs: boolean) =>
      createServer((request, response) => {
        request.resume();
        const answer = () => response.setHeader('content-type', 'application/json').end(JSON.stringify({ status: 'success', node: name }));
        if (request.url === '/v1/health') {
          // The front's checks of a node that failed to answer.
          if (!(hangs && hanging)) answer();
          return;
        }
        deadlines.push({ node: name, deadline: Number(request.headers['x-quorumkv-deadline']), sentAt: Date.now() });
        if (!(hangs && hanging)) answer();
      });
    const [hung, fine] = [node('0', true), node('1', false)];
    for (const server of [hung, fine]) await new Promise<void>((resolve) => server.listen(0, host, resolve));
    servers.push(hung, fine);
    const { url, front } = await frontOver({ '0': address(hung), '1': address(fine) });
    fronts.push(front);

    const started = Date.now();
    const put = await fetch(`${url}/v1/kv/k?timeout=200`, { method: 'PUT', body: 'v' });
    const tookMs = Date.now() - started;
    assert.equal(put.status, 200);
    assert.equal((await put.json()).node, '1');
    assert.ok(tookMs >= 3_000 && tookMs < 6_000, `waited the timeout and a margin on node 0, not 30 s: ${tookMs} ms`);
    const [first, second] = deadlines;
    assert.equal(first?.node, '0');
    assert.ok(Math.abs((first?.deadline ?? 0) - (first!.sentAt + 200 + 3_000 - 1_000)) < 500, 'the deadline: before the front gives up, by the skew a node allows');
    assert.equal(second?.node, '1');
    assert.ok(Math.abs((second?.deadline ?? 0) - (second!.sentAt + 200 + 3_000 - 1_000)) < 500, 'a deadline of its own: the first one has passed');

    // Meanwhile node 0 is tried last: the next requests do not wait on it.
    deadlines.length = 0;
    const quick = Date.now();
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/v1/kv/k`)).status, 200);
    assert.ok(Date.now() - quick < 2_000, 'answered by node 1 without waiting on node 0');
    assert.deepEqual(deadlines.map((d) => d.node), ['1', '1', '1']);
    // Still so seconds later: it is tried again only once it answers a health check (a cool-down let
    // one request in every few seconds wait on it, long after the cluster saw it dead).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/v1/kv/k`)).status, 200);
    assert.deepEqual(deadlines.map((d) => d.node), ['1', '1', '1', '1', '1', '1']);
    hanging = false;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    deadlines.length = 0;
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${url}/v1/kv/k`)).status, 200);
    assert.deepEqual(deadlines.map((d) => d.node).sort(), ['0', '1'], 'back in turn once it answers');

    // A deadline the caller gave is passed on as it is.
    const own = String(Date.now() + 60_000);
    await fetch(`${url}/v1/kv/k`, { method: 'PUT', body: 'v', headers: { 'x-quorumkv-deadline': own } });
    assert.equal(String(deadlines.at(-1)?.deadline), own);
  });

  it('answers /v1/cluster from a member, not from a removed node that still runs', async () => {
    const view = (node: string) => ({ node, strategy: 'consistent', rf: 3, members: [{ id: '0', state: 'alive' }, { id: '2', state: 'alive' }] });
    const node = (body: object) => {
      const server = createServer((request, response) => {
        request.resume();
        response.setHeader('content-type', 'application/json').end(JSON.stringify(body));
      });
      servers.push(server);
      return new Promise<Server>((resolve) => server.listen(0, host, () => resolve(server)));
    };
    // Node 1 was removed: its layout (an old one) no longer lists it.
    const nodes = { '0': await node(view('0')), '1': await node(view('1')), '2': await node(view('2')) };
    const { url, front } = await frontOver(Object.fromEntries(Object.entries(nodes).map(([id, server]) => [id, address(server)])));
    fronts.push(front);
    const answeredBy = new Set<string>();
    for (let i = 0; i < 6; i++) answeredBy.add(((await (await fetch(`${url}/v1/cluster`)).json()) as { node: string }).node);
    assert.deepEqual([...answeredBy].sort(), ['0', '2']);
  });

  it('answers /nodes itself when every node is down, from the processes it runs', async () => {
    // No node can describe the cluster then, but "node status" and "recover all" need the members.
    // The layout shown is the last one a node reported through the front.
    const node = createServer((request, response) => {
      request.resume();
      response.setHeader('content-type', 'application/json').end(JSON.stringify({ strategy: 'full', rf: 2, members: [] }));
    });
    await new Promise<void>((resolve) => node.listen(0, host, resolve));
    servers.push(node);
    let running = ['0'];
    const supervisor = {
      ids: () => ['0', '1'],
      runningIds: () => running,
      member: (id: string) => ({ id, http: id === '0' ? address(node) : `${host}:7002` }),
      stateOf: (id: string) => (running.includes(id) ? 'running' : 'stopped'),
    } as unknown as Supervisor;
    const front = new Front({ supervisor, auth: {}, bodyLimitBytes: 1 << 20, requestTimeoutMs: 2_000, layout: { strategy: 'consistent', rf: 3 } });
    fronts.push(front);
    await front.listen(host, 0);
    const url = `http://${host}:${(front.app.server.address() as AddressInfo).port}`;
    assert.equal((await fetch(`${url}/v1/cluster`)).status, 200);

    running = [];
    const response = await fetch(`${url}/nodes`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      status: 'success',
      strategy: 'full',
      replication_factor: 2,
      nodes: [
        { node_id: 0, status: 'dead', port: (node.address() as AddressInfo).port, address: address(node), process: 'stopped' },
        { node_id: 1, status: 'dead', port: 7002, address: `${host}:7002`, process: 'stopped' },
      ],
    });
    // Requests that need a node still say that none runs.
    const read = await fetch(`${url}/v1/kv/k`);
    assert.equal(read.status, 503);
    assert.match(await read.text(), /no node of the local cluster is running/);
  });
});
