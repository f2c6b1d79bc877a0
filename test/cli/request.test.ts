// The CLI's raw requests: a cluster that takes the request in and does not answer in time is said to
// be slow, not unreachable ("cannot reach the cluster ... is it running?" made a topology probe think
// the front had stopped, while it was adding a node with a member hung).

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { CliError, exitCodes, request } from '../../src/cli/clientCommands.js';

test('a request the cluster does not answer in time says so, and that it may still be carried out', async () => {
  const held: net.Socket[] = [];
  const server = net.createServer((socket) => void held.push(socket.resume()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    await assert.rejects(request({ url, token: undefined }, 'POST', '/v1/admin/nodes', undefined, 300), (error) => {
      assert.ok(error instanceof CliError, String(error));
      assert.equal(error.message, `${url} did not answer POST /v1/admin/nodes within 0.3 s; it may still be carrying it out`);
      assert.equal(error.exitCode, exitCodes.unreachable);
      return true;
    });
  } finally {
    for (const socket of held) socket.destroy();
    server.close();
  }
});
