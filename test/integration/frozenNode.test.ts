// Goal: a write that a client sent to a frozen node (SIGSTOP) and gave up on is not applied when the
// node resumes, over a newer write the client then had acknowledged through another node. A fault
// probe found the abandoned value winning 10 times of 10 over RESP, and over HTTP without the
// x-quorumkv-deadline header: the node read the request after it resumed and gave it a new version.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { expectStatus, get, put, waitFor, withCluster } from './harness.js';

/** Sends `bytes` to host:port and gives up (closes) after `waitMs` without waiting for an answer. */
function sendAndGiveUp(address: string, bytes: string, waitMs: number): Promise<void> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), host, () => socket.write(bytes));
    socket.on('error', () => undefined);
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, waitMs);
  });
}

describe('a node that stood still', () => {
  it('does not apply, once resumed, the writes its clients gave up on meanwhile', { timeout: 120_000 }, async () => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3 }, async (cluster) => {
      const frozen = cluster.started.cluster.members.find((m) => m.id === '1');
      const pid = cluster.pid('1');
      assert.ok(frozen?.resp && pid, 'node 1 runs, with a Redis port');
      const other = cluster.url('0');
      process.kill(pid, 'SIGSTOP');
      try {
        // The clients give up after a second (the nodes' requestTimeoutMs here) and write again
        // through node 0, which acknowledges at quorum without node 1.
        await Promise.all([
          sendAndGiveUp(frozen.resp, '*3\r\n$3\r\nSET\r\n$6\r\nk-resp\r\n$3\r\nOLD\r\n', 1000),
          sendAndGiveUp(frozen.http, 'PUT /v1/kv/k-http HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nOLD', 1000),
        ]);
        await delay(300);
        for (const key of ['k-resp', 'k-http']) expectStatus(await put(other, key, 'NEW', 'quorum'), 200, `${key} through node 0`);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // Node 1 now refuses the writes it would coordinate, for a request timeout; the front and the
      // client send them on to another node rather than answer its 503.
      const { connect } = await import('../../src/client/index.js');
      const client = connect({ urls: [frozen.http, other], timeoutMs: 5000 });
      try {
        for (let i = 0; i < 3; i++) expectStatus(await put(cluster.front, `after-${i}`, 'v'), 200, `write ${i} through the front`);
        const viaClient = await client.put('after-client', 'v');
        assert.ok(viaClient.version);
      } finally {
        await client.close();
      }
      await delay(2000);
      for (const key of ['k-resp', 'k-http']) {
        // At `all` node 1 must answer too: once the others see it alive again.
        await waitFor(async () => (await get(other, key, 'all')).status === 200, 15_000, { what: `${key} readable at all` });
        const read = expectStatus(await get(other, key, 'all'), 200, `${key} at all`);
        assert.equal(read.text(), 'NEW', `${key}: the acknowledged write, not the one its client gave up on`);
      }
    });
  });
});
