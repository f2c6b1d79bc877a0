// A node removed from the layout that still runs (until whoever runs it stops it) serves nothing, and
// says so in a way clients act on: 503 with `removed` over HTTP, an error over RESP, and the client
// library sends the request on to a member. It answered 404 UNKNOWN_NODE, which a GET read as "no such
// key" (the CLI exited 1, "not found"), the client library did not try its next node, and RESP served
// as if nothing had changed (found by a topology probe).

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { buildServer } from '../../src/api/server.js';
import { startRespServer } from '../../src/api/resp/server.js';
import { connect } from '../../src/client/index.js';
import { startNodes } from './inProcessNodes.js';

const noControl = { fail: async () => undefined, recover: async () => undefined };

/** One RESP command on a fresh connection; the raw reply. */
async function resp(port: number, ...args: string[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    const [chunk] = (await Promise.race([
      new Promise((resolve) => socket.once('data', (data) => resolve([data]))),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no RESP reply')), 5000)),
    ])) as [Buffer];
    return chunk.toString('utf8');
  } finally {
    socket.destroy();
  }
}

test('a removed node answers 503 `removed` over HTTP and an error over RESP, and the client library goes on to a member', { timeout: 60_000 }, async () => {
  const nodes = await startNodes(['a', 'b'], { requestTimeoutMs: 2000 });
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const apps = [a, b].map((node) => buildServer({ runtime: node.runtime, auth: {}, control: noControl }));
  const respServer = await startRespServer(b.runtime, { host: '127.0.0.1', port: 0 }, {});
  try {
    const [urlA, urlB] = await Promise.all(apps.map((app) => app.listen({ host: '127.0.0.1', port: 0 })));
    await a.runtime.put('k', new TextEncoder().encode('kept'), { consistency: 'all' });
    await b.runtime.proposeChange({ type: 'leave', id: 'b' });
    const deadline = Date.now() + 30_000;
    while (b.runtime.node.isMember || a.runtime.node.layout.members.some((m) => m.id === 'b')) {
      assert.ok(Date.now() < deadline, 'b left the layout');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const answer = await fetch(`${urlB}/v1/kv/k`);
    assert.equal(answer.status, 503);
    const body = (await answer.json()) as { code: string; message: string; removed?: boolean };
    assert.equal(body.code, 'UNAVAILABLE');
    assert.equal(body.removed, true);
    assert.equal(body.message, 'node b was removed from the cluster; it serves nothing');
    // Its /v1/cluster still answers, and says it was removed: whoever runs it waits there for its
    // clean-up to end.
    const view = await fetch(`${urlB}/v1/cluster`);
    assert.equal(view.status, 200);
    assert.equal(((await view.json()) as { removed: boolean }).removed, true);
    assert.equal(((await (await fetch(`${urlA}/v1/cluster`)).json()) as { removed: boolean }).removed, false);
    // Its health too, still 200 (the process is alive), for a load balancer that reads the body.
    const health = await fetch(`${urlB}/v1/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { removed: boolean }).removed, true);
    assert.equal(((await (await fetch(`${urlA}/v1/health`)).json()) as { removed: boolean }).removed, false);

    assert.match(await resp(respServer.address.port, 'GET', 'k'), /^-\S+ node b was removed from the cluster; it serves nothing\r\n$/);
    assert.match(await resp(respServer.address.port, 'SET', 'k', 'x'), /^-\S+ node b was removed/);
    assert.equal(await resp(respServer.address.port, 'PING'), '+PONG\r\n', 'commands that need no store still answer');

    const kv = connect({ urls: [urlB as string, urlA as string] });
    try {
      assert.equal(await kv.getText('k'), 'kept', 'read through a, after b said it was removed');
    } finally {
      await kv.close();
    }
  } finally {
    await respServer.close();
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
