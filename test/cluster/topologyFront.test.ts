// The local cluster's front after a decommission: it stops the node's process once no member lists
// it and the node says it has handed everything over (found in review: on a cluster with a client
// token, its polls of GET /v1/cluster were 401s, read as "still listed", and the node was never stopped),
// and refuses a second add-node at once; a forced removal's ?force=true reaches the node.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { sendError } from '../../src/api/errors.js';
import { QuorumError } from '../../src/core/errors.js';
import type { LocalCluster } from '../../src/cluster/clusterFile.js';
import type { Front } from '../../src/cluster/front.js';
import type { Supervisor } from '../../src/cluster/supervisor.js';
import { registerTopologyFrontRoutes } from '../../src/cluster/topologyFront.js';

const host = '127.0.0.1';
const token = 'client-secret';

/** A stand-in node's GET /v1/cluster: 401 without the client token, as a node started with one answers. */
async function standIn(body: object): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    response.setHeader('content-type', 'application/json');
    if (request.headers.authorization !== `Bearer ${token}`) {
      response.statusCode = 401;
      response.end(JSON.stringify({ error: 'Unauthorized', message: 'Missing API token' }));
      return;
    }
    response.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return server;
}

/** Nodes 0 and 1 over two stand-ins, run by a supervisor that records the nodes it stops. */
function twoNodes(zero: Server, one: Server) {
  const http = (server: Server) => `${host}:${(server.address() as AddressInfo).port}`;
  const members = new Map([
    ['0', { id: '0', http: http(zero) }],
    ['1', { id: '1', http: http(one) }],
  ]);
  const stopped: string[] = [];
  const supervisor = {
    member: (id: string) => members.get(id),
    runningIds: () => [...members.keys()],
    stop: async (id: string) => void stopped.push(id),
    remove: (id: string) => void members.delete(id),
  } as unknown as Supervisor;
  const cluster = { members: [...members.values()], host, frontPort: 0 } as unknown as LocalCluster;
  /** Waits (up to `ms`) until a node was stopped. */
  const untilStopped = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (stopped.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  return { members, stopped, supervisor, cluster, untilStopped };
}

describe('the front\'s decommission', () => {
  const servers: Server[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'qkv-topofront-'));
  after(() => {
    for (const server of servers) server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops the node once it is out of the layout and done, on a cluster with a client token', async () => {
    // Node 0 stays (its layout no longer lists node 1); node 1 left and has handed everything over.
    // As a real node answers: the node that left says it is removed, and done (cleanupPending false).
    const stays = await standIn({ members: [{ id: '0' }], removed: false, cleanupPending: false });
    const leaves = await standIn({ members: [{ id: '0' }], removed: true, cleanupPending: false });
    servers.push(stays, leaves);
    const { stopped, supervisor, cluster, untilStopped } = twoNodes(stays, leaves);
    const front = {
      forward: async () => ({ status: 202, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"status":"success"}') }),
    } as unknown as Front;
    const app = Fastify();
    registerTopologyFrontRoutes(app, { supervisor, front: () => front, cluster, dataDir, auth: { token }, log: () => undefined });
    const answer = await app.inject({ method: 'DELETE', url: '/v1/admin/nodes/1', headers: { authorization: `Bearer ${token}` } });
    assert.equal(answer.statusCode, 202);
    await untilStopped(5000);
    assert.deepEqual(stopped, ['1'], 'the decommissioned node was stopped');
    await app.close();
  });

  it('stops a node whose own layout no longer lists it, removed by a change the front did not see succeed', async () => {
    // Node 1 was removed while the local cluster was stopped, or by a removal answered 503 that went
    // ahead later: no DELETE through the front waits for it. Its own /v1/cluster says it is out.
    const stays = await standIn({ node: '0', members: [{ id: '0' }], removed: false, cleanupPending: false });
    const removed = await standIn({ node: '1', members: [{ id: '0' }], removed: true, cleanupPending: false });
    servers.push(stays, removed);
    const { members, stopped, supervisor, cluster, untilStopped } = twoNodes(stays, removed);
    const logged: string[] = [];
    const app = Fastify();
    registerTopologyFrontRoutes(app, { supervisor, front: () => ({}) as Front, cluster, dataDir, auth: { token }, log: (line) => void logged.push(line) });
    await untilStopped(8000);
    assert.deepEqual(stopped, ['1'], 'the removed node was stopped; the member was not');
    assert.deepEqual([...members.keys()], ['0'], 'and forgotten');
    assert.deepEqual(logged, ['node 1 left the cluster and was stopped']);
    await app.close();
  });

  it('refuses a second add-node while the first is starting its node: it would wait inside its join, then fail', async () => {
    const members = new Map([['0', { id: '0', http: '127.0.0.1:1' }]]);
    let release: () => void = () => undefined;
    const starting = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const supervisor = {
      member: (id: string) => members.get(id),
      runningIds: () => ['0'],
      ids: () => [...members.keys()],
      add: (member: { id: string; http: string }) => void members.set(member.id, member),
      start: async (id: string) => {
        started.push(id);
        await starting;
      },
    } as unknown as Supervisor;
    // No change under way yet: every node says so.
    const front = { askEach: async () => [Buffer.from('{"inTransition":false,"layoutVersion":1}')] } as unknown as Front;
    const cluster = { members: [...members.values()], host, frontPort: 7000 } as unknown as LocalCluster;
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => (error instanceof QuorumError ? sendError(reply, error) : reply.code(500).send(error)));
    registerTopologyFrontRoutes(app, { supervisor, front: () => front, cluster, dataDir, auth: {}, log: () => undefined });
    const first = app.inject({ method: 'POST', url: '/v1/admin/nodes' });
    while (started.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const second = await Promise.race([
      app.inject({ method: 'POST', url: '/v1/admin/nodes' }),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000)),
    ]);
    assert.ok(second !== undefined, 'the second add-node is answered at once');
    assert.equal(second.statusCode, 409, second.body);
    assert.equal(JSON.parse(second.body).code, 'LAYOUT_CONFLICT');
    assert.deepEqual(started, ['1'], 'no second node was started');
    release();
    assert.equal((await first).statusCode, 201);
    await app.close();
  });
  it('refuses add-node while a node is down, before starting a process; a node that cannot join is a 503', async () => {
    // The join would wait for the dead node to fill its ranges: it waited 30 s inside the new node's
    // start, then failed with a 500, and left the new node's directory behind (a README walk).
    const members = new Map([
      ['0', { id: '0', http: '127.0.0.1:1' }],
      ['1', { id: '1', http: '127.0.0.1:2' }],
    ]);
    let running = ['0'];
    const started: string[] = [];
    const supervisor = {
      member: (id: string) => members.get(id),
      runningIds: () => running,
      ids: () => [...members.keys()],
      add: (member: { id: string; http: string }) => void members.set(member.id, member),
      remove: (id: string) => void members.delete(id),
      stop: async () => undefined,
      start: async (id: string) => {
        started.push(id);
        throw new Error(`node ${id} exited while starting: could not join through 127.0.0.1:1: 503 the layout coordinator does not see a majority`);
      },
    } as unknown as Supervisor;
    const front = {
      askEach: async () => [Buffer.from('{"inTransition":false,"layoutVersion":1}')],
      forward: async () => ({ status: 404, headers: {}, body: Buffer.from('{}') }),
    } as unknown as Front;
    const cluster = { members: [...members.values()], host, frontPort: 7000 } as unknown as LocalCluster;
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => (error instanceof QuorumError ? sendError(reply, error) : reply.code(500).send(error)));
    registerTopologyFrontRoutes(app, { supervisor, front: () => front, cluster, dataDir, auth: {}, log: () => undefined });
    const down = await app.inject({ method: 'POST', url: '/v1/admin/nodes' });
    assert.equal(down.statusCode, 503, down.body);
    assert.match(JSON.parse(down.body).message, /^node 1 is down, and the join would wait for it: recover it first, or remove it \(remove-node 1\)/);
    assert.deepEqual(started, [], 'no process started');

    running = ['0', '1'];
    const refused = await app.inject({ method: 'POST', url: '/v1/admin/nodes' });
    assert.equal(refused.statusCode, 503, refused.body);
    assert.match(JSON.parse(refused.body).message, /could not join .* does not see a majority/);
    assert.deepEqual([...members.keys()], ['0', '1'], 'the node that could not join is forgotten');
    await app.close();
  });

  it('passes ?force=true on to the node, and answers a bad force value with a 400 without asking any node', async () => {
    const members = new Map([
      ['0', { id: '0', http: '127.0.0.1:1' }],
      ['1', { id: '1', http: '127.0.0.1:1' }],
    ]);
    const supervisor = { member: (id: string) => members.get(id), runningIds: () => [] } as unknown as Supervisor;
    const forwarded: string[] = [];
    const front = {
      forward: async (_request: unknown, method: string, path: string) => {
        forwarded.push(`${method} ${path}`);
        return { status: 202, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"status":"success"}') };
      },
    } as unknown as Front;
    const cluster = { members: [...members.values()], host, frontPort: 0 } as unknown as LocalCluster;
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => (error instanceof QuorumError ? sendError(reply, error) : reply.code(500).send(error)));
    registerTopologyFrontRoutes(app, { supervisor, front: () => front, cluster, dataDir, auth: {}, log: () => undefined });
    const bad = await app.inject({ method: 'DELETE', url: '/v1/admin/nodes/1?force=maybe' });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.match(JSON.parse(bad.body).message, /force must be true or false/);
    assert.deepEqual(forwarded, [], 'no node was asked');
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/nodes/1?force=true' })).statusCode, 202);
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/nodes/1' })).statusCode, 202);
    assert.deepEqual(forwarded, ['DELETE /v1/admin/nodes/1?force=true', 'DELETE /v1/admin/nodes/1']);
    await app.close();
  });
});
