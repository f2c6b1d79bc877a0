// Goal: a request that never finishes arriving (headers sent, the body cut short, or the headers
// themselves unfinished) is answered 408 REQUEST_TIMEOUT and its connection closed, by a node and by
// the local cluster's front alike, about 30 s after it started (docs/api.md). The front had no such
// limit: a client that sent part of a body held a connection open for good. The test waits those
// 30 s, once for all four connections.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { host, startLocalCluster, type LocalCluster } from '../client/localCluster.js';

let cluster: LocalCluster;

before(async () => {
  cluster = await startLocalCluster({ nodes: 1 });
}, { timeout: 60_000 });

after(async () => {
  await cluster?.stop();
}, { timeout: 30_000 });

/** Sends `text` and resolves with everything answered once the server closes (or after `waitMs`). */
function sendAndWait(url: string, text: string, waitMs: number): Promise<{ answer: string; closed: boolean; ms: number }> {
  const { port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), host, () => socket.write(text));
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closed: false, ms: Date.now() - started });
    }, waitMs);
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closed: true, ms: Date.now() - started });
    });
  });
}

describe('requests that never finish arriving', { timeout: 120_000 }, () => {
  it('get 408 REQUEST_TIMEOUT from a node and from the front, then the connection closes', { timeout: 90_000 }, async () => {
    const node = cluster.nodeUrls.get('0') as string;
    const shortBody = 'PUT /v1/kv/slow HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nhello';
    const shortHeaders = 'GET /v1/kv/slow HTTP/1.1\r\nHost: a\r\nX-Unfinished: ';
    const results = await Promise.all(
      [node, cluster.front].flatMap((url) => [shortBody, shortHeaders].map((text) => sendAndWait(url, text, 60_000).then((r) => ({ url, text, ...r })))),
    );
    for (const result of results) {
      const what = `${result.text.slice(0, 3)} to ${result.url}`;
      assert.ok(result.closed, `${what}: closed`);
      assert.match(result.answer, /^HTTP\/1\.1 408 Request Timeout\r\n/, `${what}: ${result.answer}`);
      assert.match(result.answer, /"code":"REQUEST_TIMEOUT"/, what);
      assert.ok(result.ms >= 29_000 && result.ms < 40_000, `${what}: after ${result.ms} ms`);
    }
  });
});
