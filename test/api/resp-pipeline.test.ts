// Per-key order in a pipeline when the first command was admitted alone: a connection takes no lock
// for a command while nothing else is outstanding (most clients wait for each answer), and locks its
// keys only once another command arrives behind it (commandOrder.ts, `admit`). The node is a NodeRuntime
// in this process, so the whole pipeline reaches it in one read.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRespServer, type RespServerHandle } from '../../src/api/resp/server.js';
import { startOneNode, type TestNode } from '../runtime/inProcessNodes.js';
import { exchange, resp } from './resp-harness.js';

describe('RESP pipelines on one connection', () => {
  let node: TestNode;
  let server: RespServerHandle;

  before(async () => {
    node = await startOneNode({ requestTimeoutMs: 2000 });
    server = await startRespServer(node.runtime, { host: '127.0.0.1', port: 0 }, {});
  });

  after(async () => {
    await server.close();
    await node.stop();
  });

  test('a read pipelined behind a write of its key waits for it, and so does the next write', async () => {
    for (let round = 0; round < 20; round++) {
      const key = `pipe:${round}`;
      const commands = [resp('SET', key, 'first'), resp('GET', key), resp('SET', key, 'second'), resp('GET', key)];
      const expected = '+OK\r\n$5\r\nfirst\r\n+OK\r\n$6\r\nsecond\r\n';
      const { text } = await exchange(server.address.port, [Buffer.concat(commands)], { until: (t) => t.length >= expected.length });
      assert.equal(text, expected, `round ${round}`);
    }
  });

  test('a connection that waits for each answer keeps working after a pipeline', async () => {
    const { text } = await exchange(server.address.port, [resp('SET', 'pipe:x', '1'), resp('GET', 'pipe:x')], {
      pauseMs: 50,
      until: (t) => t === '+OK\r\n$1\r\n1\r\n',
    });
    assert.equal(text, '+OK\r\n$1\r\n1\r\n');
  });
});
