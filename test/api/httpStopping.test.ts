// A request that reaches an HTTP server while it stops (pipelined behind one in progress, or on a
// keep-alive connection) is answered 503 with `stopping: true` in the API's shape, and its connection
// closed, so that the front and the client library ask another node. Fastify's own answer
// ({"error":"Service Unavailable",...}) had nothing to tell a stopping node from too few replicas.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import Fastify from 'fastify';
import { handleConnections, httpServerOptions } from '../../src/api/httpConnections.js';
import { saysNodeIsDown } from '../../src/client/transport.js';

test('a request pipelined behind one in progress when the server stops gets 503 stopping, and the connection closes', { timeout: 20_000 }, async () => {
  const app = Fastify({ ...httpServerOptions });
  handleConnections(app);
  let release: (() => void) | undefined;
  const started = new Promise<void>((resolve) => {
    app.get('/slow', async () => {
      resolve();
      await new Promise<void>((done) => (release = done));
      return { slow: 'done' };
    });
  });
  app.get('/fast', async () => ({ fast: 'done' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as net.AddressInfo;

  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('utf8')));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
  await started;
  const closing = app.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  release?.();
  await ended;
  await closing;

  const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
  assert.match(first ?? '', /^HTTP\/1\.1 200 /);
  assert.match(first ?? '', /"slow":"done"/, 'the request in progress is answered');
  assert.match(second ?? '', /^HTTP\/1\.1 503 /);
  assert.match(second ?? '', /\r\nconnection: close\r\n/i);
  const body = JSON.parse((second ?? '').split('\r\n\r\n')[1] ?? '') as Record<string, unknown>;
  assert.deepEqual(body, { status: 'error', error: 'Unavailable', message: 'this server is stopping: ask another node', code: 'UNAVAILABLE', stopping: true });
  assert.ok(saysNodeIsDown(JSON.stringify(body)), 'the front and the client library ask another node');
});
