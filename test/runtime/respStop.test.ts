// A RESP server that stops answers the commands under way before it closes their connections, as the
// HTTP server does: it dropped them, and each client of a node stopped in a rolling restart was left
// with writes of unknown outcome (a probe of hand-run clusters).

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRespServer } from '../../src/api/resp/server.js';
import { startOneNode } from './inProcessNodes.js';

test('a stopping RESP server answers the command under way, then ends the connection', { timeout: 30_000 }, async () => {
  const node = await startOneNode({ requestTimeoutMs: 5000 });
  const resp = await startRespServer(node.runtime, { host: '127.0.0.1', port: 0 }, {});
  try {
    const socket = net.connect(resp.address.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // The SET's acknowledgement waits for an fdatasync that hangs: the command is under way.
    node.hang();
    socket.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(received, '', 'the SET waits for its fdatasync');
    const closing = resp.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    node.release();
    await ended;
    await closing;
    assert.equal(received, '+OK\r\n', 'the SET was answered before the connection ended');
    socket.destroy();
  } finally {
    await node.stop();
  }
});
