// The prototype's routes against a real local cluster (issue 2, shared/seed/SEED-BEHAVIOUR.md): the
// same status codes and JSON shapes its users and its interactive client rely on, on the front
// (127.0.0.1:5000 in `npm start`) and on every node; its Bearer token; and malformed input answered
// with a clear 4xx while the nodes keep working.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expectStatus, get, headersOnly, http, put, restartTimeoutMs, sharedCluster, waitFor, withCluster, type HttpResponse } from './harness.js';

const post = (url: string, body?: unknown, token?: string) =>
  http('POST', url, { ...(body !== undefined ? { body: body as object } : {}), ...(token ? { token } : {}) });

function jsonOf(response: HttpResponse): any {
  assert.match(String(response.headers['content-type']), /application\/json/, 'answers JSON');
  return response.json();
}

describe("the prototype's routes", () => {
  // One cluster for the tests below; they run in order.
  const shared = sharedCluster({ nodes: 3, strategy: 'consistent', rf: 2 });

  it('write, read and delete answer with the prototype status codes and shapes, on the front and on a node', async () => {
    const cluster = shared();
    for (const base of [cluster.front, cluster.nodes[1]!.url]) {
      const key = `fruit@${base.slice(base.lastIndexOf(':') + 1)}`;
      const written = await post(`${base}/write`, { key, value: 'apple' });
      assert.equal(written.status, 200);
      assert.deepEqual(
        { status: jsonOf(written).status, message: jsonOf(written).message },
        { status: 'success', message: `Key ${key} written successfully` },
      );

      const missingKey = await post(`${base}/write`, { value: 'apple' });
      assert.equal(missingKey.status, 400, 'a write without key is 400');
      assert.equal(typeof jsonOf(missingKey).error, 'string');
      assert.equal(typeof jsonOf(missingKey).message, 'string');
      assert.equal((await post(`${base}/write`, { key: 'no-value' })).status, 400, 'a write without value is 400');
      const existing = await post(`${base}/write`, { key, value: 'pear' });
      assert.equal(existing.status, 409, 'the prototype write is create-only');
      assert.equal(jsonOf(existing).error, 'Key already exists');

      const read = await http('GET', `${base}/read/${encodeURIComponent(key)}`);
      assert.equal(read.status, 200);
      const body = jsonOf(read);
      assert.equal(body.key, key);
      assert.equal(body.value, 'apple', 'the 409 did not overwrite the value');
      assert.equal(body.status, 'success');
      assert.match(body.message, /^Read from replica \d+$/);
      const absent = await http('GET', `${base}/read/never-written`);
      assert.equal(absent.status, 404);
      assert.equal(jsonOf(absent).error, 'Key not found');

      const deleted = await http('DELETE', `${base}/delete/${encodeURIComponent(key)}`);
      assert.equal(deleted.status, 200);
      assert.equal(jsonOf(deleted).status, 'success');
      assert.equal(jsonOf(deleted).message, `Key ${key} deleted successfully`);
      assert.equal((await http('DELETE', `${base}/delete/${encodeURIComponent(key)}`)).status, 404, 'deleting again is 404');
      assert.equal((await http('GET', `${base}/read/${encodeURIComponent(key)}`)).status, 404, 'a deleted key reads 404');
      const rewritten = await post(`${base}/write`, { key, value: 'cherry' });
      assert.equal(rewritten.status, 200, 'a deleted key can be written again');
    }
  });

  it('malformed input gets a clear 4xx (bad consistency, oversized key and value, invalid JSON) and the nodes keep working', async () => {
    const cluster = shared();
    const node = cluster.nodes[0]!.url;
    const badLevel = await http('GET', `${node}/v1/kv/k?consistency=most`);
    assert.equal(badLevel.status, 400, 'an unknown consistency level is 400');
    assert.match(jsonOf(badLevel).message, /consistency/);
    assert.equal((await put(node, 'k', 'v', 'two')).status, 400);
    assert.equal((await http('GET', `${node}/read/k?consistency=sometimes`)).status, 400);

    const longKey = 'k'.repeat(1025);
    const keyTooLarge = await put(node, longKey, 'v');
    assert.equal(keyTooLarge.status, 413, 'a key over 1 KiB is 413');
    assert.match(jsonOf(keyTooLarge).message, /key/i);
    assert.equal((await get(node, longKey)).status, 413);
    // Multi-byte characters count in bytes: 342 three-byte characters are 1026 bytes.
    assert.equal((await put(node, '€'.repeat(342), 'v')).status, 413, 'the key limit counts UTF-8 bytes');
    expectStatus(await put(node, 'k'.repeat(1024), 'v'), 200, 'a key of exactly 1 KiB is fine');

    const valueTooLarge = await put(node, 'big', new Uint8Array(1024 * 1024 + 1));
    assert.equal(valueTooLarge.status, 413, 'a value over 1 MiB is 413');
    assert.match(jsonOf(valueTooLarge).message, /value|body/i);
    // A body far over the limit is refused from its Content-Length alone, before it is sent.
    for (const base of [node, cluster.front]) {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(64 * 1024 * 1024) };
      const wayTooLarge = await headersOnly('PUT', `${base}/v1/kv/bigger`, headers);
      assert.equal(wayTooLarge.status, 413, 'a body far over the limit is 413 too');
    }
    expectStatus(await put(node, 'big', new Uint8Array(1024 * 1024)), 200, 'a value of exactly 1 MiB is fine');
    // curl sends `Expect: 100-continue` with a body over 1 MiB: the front passed the header on, and its
    // HTTP client refused the request (503 "expect header not supported") instead of a 200 or a 413.
    for (const base of [node, cluster.front]) {
      const headers = { 'content-type': 'application/octet-stream', expect: '100-continue' };
      expectStatus(await http('PUT', `${base}/v1/kv/expecting`, { body: 'fine', headers }), 200, `Expect on ${base}`);
      const over = await http('PUT', `${base}/v1/kv/expecting`, { body: new Uint8Array(1024 * 1024 + 1), headers });
      assert.equal(over.status, 413, `a value over 1 MiB with Expect on ${base}: ${over.text()}`);
    }

    for (const base of [node, cluster.front]) {
      const invalid = await http('POST', `${base}/write`, { body: '{"key": "k", "value": ', headers: { 'content-type': 'application/json' } });
      assert.equal(invalid.status, 400, 'invalid JSON to /write is 400');
      assert.equal(typeof jsonOf(invalid).message, 'string');
      assert.equal((await http('POST', `${base}/write`, { body: '[1, 2]', headers: { 'content-type': 'application/json' } })).status, 400);
      assert.equal((await http('POST', `${base}/write`, { body: 'key=k&value=v', headers: { 'content-type': 'text/plain' } })).status, 400);
      assert.equal((await http('POST', `${base}/set_replication_strategy`, { body: '{nope', headers: { 'content-type': 'application/json' } })).status, 400);
      // JSON nested thousands deep parses, but overflowed the stack of what walked it later: a 500.
      const json = { 'content-type': 'application/json' };
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      for (const [path, body] of [
        ['/write', `{"key":"deep","value":${deep}}`],
        ['/v1/batch', `{"ops":[{"op":"get","key":"k"}],"consistency":${deep}}`],
        ['/set_replication_strategy', `{"strategy":${deep}}`],
      ] as const) {
        const nested = await http('POST', `${base}${path}`, { body, headers: json });
        assert.equal(nested.status, 400, `${path} on ${base}: ${nested.text()}`);
        assert.match(jsonOf(nested).message, /nests deeper than 64 levels/);
      }
      const nestedValue = `${'['.repeat(63)}"ok"${']'.repeat(63)}`;
      const deepKey = `deep@${base.slice(base.lastIndexOf(':') + 1)}`;
      expectStatus(await http('POST', `${base}/write`, { body: `{"key":"${deepKey}","value":${nestedValue}}`, headers: json }), 200, '64 levels with the body are fine');
      assert.equal((await get(base, deepKey)).text(), nestedValue, 'stored as its JSON text');
      const huge = await http('POST', `${base}/write`, { body: `{"key":"${deepKey}-huge","value":[1,1e400]}`, headers: json });
      assert.equal(huge.status, 400, 'a number JSON.stringify would make null');
      assert.match(jsonOf(huge).message, /out of range/);
      // Headers over node:http's limit: the API's error shape, not fastify's (which had no `code`).
      const hugeHeaders = await http('GET', `${base}/v1/kv/k`, { headers: { 'x-filler': 'x'.repeat(20_000) } });
      assert.equal(hugeHeaders.status, 431);
      assert.equal(jsonOf(hugeHeaders).code, 'HEADERS_TOO_LARGE');
    }

    // A write whose client gave up on it (its deadline header is past) is not applied by a node that
    // gets to it late; a deadline that is not a time is a 400.
    const late = await http('PUT', `${node}/v1/kv/late`, { body: 'v', headers: { 'x-quorumkv-deadline': String(Date.now() - 5000) } });
    assert.equal(late.status, 503, late.text());
    assert.match(jsonOf(late).message, /after its deadline/);
    assert.equal((await get(node, 'late', 'all')).status, 404, 'not written');
    const soon = await http('PUT', `${node}/v1/kv/late`, { body: 'v', headers: { 'x-quorumkv-deadline': 'soon' } });
    assert.equal(soon.status, 400);
    expectStatus(await http('PUT', `${node}/v1/kv/late`, { body: 'v', headers: { 'x-quorumkv-deadline': String(Date.now() + 5000) } }), 200, 'in time');

    // URLs fastify cannot route answer in the API's shape: bad percent-encoding is a 400, a key too
    // long for a path parameter a 413 KEY_TOO_LARGE (it was fastify's own 414).
    for (const base of [node, cluster.front]) {
      const badUrl = await http('PUT', `${base}/v1/kv/%C3`, { body: 'v' });
      assert.equal(badUrl.status, 400);
      assert.deepEqual([jsonOf(badUrl).status, jsonOf(badUrl).code], ['error', 'BAD_REQUEST']);
      const longKey = await http('GET', `${base}/read/${'k'.repeat(5000)}`);
      assert.equal(longKey.status, 413, longKey.text());
      assert.equal(jsonOf(longKey).code, 'KEY_TOO_LARGE');
    }

    // A listing parameter given twice is a 400, not a 500.
    for (const path of ['/v1/keys?prefix=a&prefix=b', '/v1/keys?cursor=a&cursor=b', '/v1/admin/local-entries?cursor=a&cursor=b']) {
      const twice = await http('GET', `${node}${path}`);
      assert.equal(twice.status, 400, `${path}: ${twice.text()}`);
      assert.match(jsonOf(twice).message, /must be given once/);
    }

    // A join whose addresses no node could dial is refused before the vote. Voted in, it broke every
    // member's layout handling: applying it threw, and each node's save of the layout rolled back.
    const versionBefore = jsonOf(await http('GET', `${node}/v1/cluster`)).layoutVersion;
    for (const peer of ['10.0.0.5', '127.0.0.1:0', '127.0.0.1:70000', 'host name:5001']) {
      const join = await http('POST', `${node}/v1/admin/join`, { body: { id: 'x', peer, http: '127.0.0.1:6999' } });
      assert.equal(join.status, 400, `a join with peer ${peer}: ${join.text()}`);
      assert.match(jsonOf(join).message, /not host:port/);
    }
    assert.equal(jsonOf(await http('GET', `${node}/v1/cluster`)).layoutVersion, versionBefore, 'no layout change');

    // Every node still answers and still replicates.
    for (const each of cluster.nodes) expectStatus(await http('GET', `${each.url}/v1/health`), 200, `node ${each.id} is healthy`);
    expectStatus(await put(cluster.nodes[1]!.url, 'after', 'still fine', 'all'), 200, 'write at all after the bad input');
    for (const each of cluster.nodes) {
      const read = expectStatus(await get(each.url, 'after', 'quorum'), 200, `read on node ${each.id}`);
      assert.equal(read.text(), 'still fine');
    }
    assert.equal(cluster.started.supervisor.runningIds().length, 3, 'no node process crashed');
  });

  it('requests pipelined on one connection run one after another, in order, and are answered after the client shuts down its side', async () => {
    // node:http hands each pipelined request over as soon as it is parsed: they ran at once, and the
    // GET after a PUT on the same connection answered 404.
    const cluster = shared();
    for (const base of [cluster.nodes[0]!.url, cluster.front]) {
      const { port } = new URL(base);
      const key = `piped@${port}`;
      const request = (method: string, body = '') =>
        `${method} /v1/kv/${key} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const pipeline = [request('PUT', 'one'), request('GET'), request('PUT', 'two'), request('GET'), request('DELETE'), request('GET')].join('');
      const answers = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(pipeline));
        let text = '';
        const timer = setTimeout(() => (socket.destroy(), reject(new Error(`answers so far: ${text}`))), 10_000);
        socket.on('data', (data: Buffer) => {
          text += data.toString('latin1');
          if ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length === 6 && /\r\n\r\n[^]*$/.test(text) && text.endsWith('}')) {
            clearTimeout(timer);
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
      });
      const statuses = [...answers.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 404], `${base}: ${answers}`);
      const bodies = [...answers.matchAll(/\r\n\r\n(one|two)(?=HTTP|$)/g)].map((m) => m[1]);
      assert.deepEqual(bodies, ['one', 'two'], 'each GET saw the PUT before it');

      // A client that shuts down its side after its requests (`printf ... | nc -N`) gets the answers;
      // node:http aborted them and closed, after the PUT was applied.
      const halfClosed = await new Promise<string>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request('PUT', 'three') + request('GET')));
        let text = '';
        socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
        socket.on('close', () => resolve(text));
        socket.on('error', () => undefined);
        setTimeout(() => socket.destroy(), 10_000);
      });
      assert.deepEqual([...halfClosed.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])), [200, 200], `${base}: ${halfClosed}`);
      assert.ok(halfClosed.endsWith('three'), 'the GET answered the PUT before it');
    }
  });

  it('nodes, nodes_for_key and set_replication_strategy answer as the prototype did', async () => {
    const cluster = shared();
    const nodes = jsonOf(expectStatus(await http('GET', `${cluster.front}/nodes`), 200, 'GET /nodes'));
    assert.equal(nodes.status, 'success');
    assert.equal(nodes.nodes.length, 3);
    for (const [index, node] of nodes.nodes.entries()) {
      assert.equal(node.node_id, index, 'node ids are the prototype integers 0, 1, 2');
      assert.equal(node.status, 'alive');
      assert.equal(typeof node.port, 'number');
      assert.equal(`http://127.0.0.1:${node.port}`, cluster.url(String(index)), "the port is the node's own HTTP port");
    }

    const forKey = jsonOf(expectStatus(await http('GET', `${cluster.front}/nodes_for_key/some-key`), 200, 'nodes_for_key'));
    assert.equal(forKey.status, 'success');
    assert.equal(forKey.nodes.length, 2, 'RF 2: two nodes are responsible');
    for (const id of forKey.nodes) assert.ok(Number.isInteger(id) && id >= 0 && id < 3, `node id ${id} is an integer`);
    // A key no route would store is a 413 here too (both answered 200).
    for (const path of [`/nodes_for_key/${'k'.repeat(1100)}`, `/v1/keys/${'k'.repeat(1100)}/replicas`]) {
      const tooLong = await http('GET', `${cluster.front}${path}`);
      assert.equal(tooLong.status, 413, path.slice(0, 20));
      assert.equal(jsonOf(tooLong).code, 'KEY_TOO_LARGE');
    }

    const missing = await post(`${cluster.front}/set_replication_strategy`, { replication_factor: 2 });
    assert.equal(missing.status, 400, 'a strategy is required');
    const tooLarge = await post(`${cluster.front}/set_replication_strategy`, { strategy: 'consistent', replication_factor: 4 });
    assert.equal(tooLarge.status, 400, 'a replication factor above the node count is refused');
    assert.equal(typeof jsonOf(tooLarge).message, 'string');
    const toFull = await post(`${cluster.front}/set_replication_strategy`, { strategy: 'full' });
    assert.equal(toFull.status, 200);
    assert.equal(jsonOf(toFull).status, 'success');
    assert.equal(jsonOf(toFull).replication_factor, 3, 'full: every node is a replica');

    // The data moves to the new replicas and the new layout spreads; then every node says
    // consistent hashing is off.
    for (const node of cluster.nodes) {
      const answer = await waitFor(
        async () => {
          const response = await http('GET', `${node.url}/nodes_for_key/some-key`);
          return response.status === 400 ? response : false;
        },
        15_000,
        { what: `node ${node.id} to answer 400 to nodes_for_key under full` },
      );
      assert.equal(typeof jsonOf(answer).message, 'string');
    }
    // A change asked for while the last one is still finishing is refused (409): ask until accepted.
    const back = await waitFor(
      async () => {
        const answer = await post(`${cluster.front}/set_replication_strategy`, { strategy: 'consistent', replication_factor: 2 });
        if (answer.status === 409) return false;
        return answer;
      },
      15_000,
      { what: 'the change back to consistent hashing to be accepted', intervalMs: 200 },
    );
    assert.equal(back.status, 200, back.text());
    assert.equal(jsonOf(back).replication_factor, 2);
    // Back to where it started, on every node, before the next test.
    for (const node of cluster.nodes) {
      await waitFor(
        async () => {
          const view = (await http('GET', `${node.url}/v1/cluster`)).json();
          return view.strategy === 'consistent' && view.rf === 2 && view.pending === null;
        },
        15_000,
        { what: `node ${node.id} to be back on consistent hashing with RF 2` },
      );
    }
  });

  it("recover on the front resumes a node paused through a node's own fail route", async () => {
    const cluster = shared();
    const pid = cluster.pid('2');
    expectStatus(await post(`${cluster.nodes[0]!.url}/fail/2`), 200, 'node 0 pauses node 2');
    const health = async () => (await http('GET', `${cluster.url('2')}/v1/health`)).json() as { paused: boolean };
    await waitFor(async () => (await health()).paused, 10_000);
    // It said "recovered" and left the node paused: the process runs, so there was nothing to restart.
    expectStatus(await post(`${cluster.front}/recover/2`), 200, 'recover on the front');
    assert.equal(cluster.pid('2'), pid, 'the same process');
    assert.equal((await health()).paused, false, 'node 2 is resumed');
  });

  it('fail and recover on the front kill and restart the node process (last: it restarts a node)', async () => {
    const cluster = shared();
    const pid = cluster.pid('2');
    const failed = await post(`${cluster.front}/fail/2`);
    assert.equal(failed.status, 200);
    assert.deepEqual({ status: jsonOf(failed).status, message: jsonOf(failed).message }, { status: 'success', message: 'Node 2 failed' });
    assert.equal(cluster.pid('2'), undefined, 'the process is gone');
    const nodes = jsonOf(await http('GET', `${cluster.front}/nodes`));
    assert.equal(nodes.nodes.find((n: { node_id: number }) => n.node_id === 2).status, 'dead', 'the front reports the failed node dead at once');

    // The front answers once the new process serves HTTP.
    const recovered = await http('POST', `${cluster.front}/recover/2`, { timeoutMs: restartTimeoutMs });
    assert.equal(recovered.status, 200, `${recovered.text()}\n${cluster.stderrTail()}`);
    assert.deepEqual(
      { status: jsonOf(recovered).status, message: jsonOf(recovered).message },
      { status: 'success', message: 'Node 2 recovered' },
    );
    assert.notEqual(cluster.pid('2'), undefined);
    assert.notEqual(cluster.pid('2'), pid, 'a new process');
    expectStatus(await http('GET', `${cluster.url('2')}/v1/health`), 200, 'the recovered node answers');
  });
});

describe("the prototype's API token", () => {
  it('with a token, a missing one is 401 and a wrong one 403 Invalid API token, on the front and on a node', async () => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 2, token: 'secret' }, async (cluster) => {
      for (const base of [cluster.front, cluster.nodes[0]!.url]) {
        const missing = await post(`${base}/write`, { key: 'k', value: 'v' });
        assert.equal(missing.status, 401, 'no token: 401');
        const wrong = await http('GET', `${base}/read/k`, { token: 'guess' });
        assert.equal(wrong.status, 403, 'wrong token: 403');
        const body = jsonOf(wrong);
        assert.equal(body.error, 'Unauthorized');
        assert.equal(body.message, 'Invalid API token');
        assert.equal((await http('GET', `${base}/nodes`, { token: 'guess' })).status, 403);
        assert.equal((await post(`${base}/fail/1`, undefined, 'guess')).status, 403, 'fail needs the token too');
        assert.equal((await http('GET', `${base}/v1/kv/k`)).status, 401, 'the v1 API needs the token too');

        const key = `k-${base.slice(base.lastIndexOf(':') + 1)}`;
        expectStatus(await post(`${base}/write`, { key, value: 'v' }, 'secret'), 200, 'write with the token');
        const read = expectStatus(await http('GET', `${base}/read/${key}`, { token: 'secret' }), 200, 'read with the token');
        assert.equal(jsonOf(read).value, 'v');
      }

      // Secrets reach the node processes in their environment: a command line is readable by every
      // user of the machine (ps), and the cluster file only by its owner.
      const { clusterSecret } = cluster.started.cluster;
      for (const node of cluster.nodes) {
        const commandLine = readFileSync(`/proc/${cluster.pid(node.id)}/cmdline`, 'utf8').replaceAll('\0', ' ');
        assert.match(commandLine, / node --id /);
        assert.doesNotMatch(commandLine, /secret/, `node ${node.id}: ${commandLine}`);
        assert.ok(!commandLine.includes(clusterSecret), `node ${node.id}'s command line holds the cluster secret`);
      }
      assert.equal(statSync(join(cluster.dataDir, 'cluster.json')).mode & 0o777, 0o600);
    });
  });
});
