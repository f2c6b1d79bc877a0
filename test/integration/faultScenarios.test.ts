// The prototype's three fault-tolerance scenarios (issue 3, its test_performance.py), over HTTP against
// real node processes and through the prototype's routes on the front: failing a node kills its
// process; recovering it restarts the process on the same data, and it catches up.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  expectStatus,
  http,
  localEntryMap,
  replicasOf,
  restartTimeoutMs,
  sharedCluster,
  waitFor,
  withCluster,
  type LocalEntry,
  type TestCluster,
} from './harness.js';

const writeKey = (base: string, key: string, value: string) => http('POST', `${base}/write`, { body: { key, value } });
const readKey = (base: string, key: string, query = '') => http('GET', `${base}/read/${encodeURIComponent(key)}${query}`);

async function writeAll(cluster: TestCluster, entries: [string, string][]): Promise<void> {
  for (const [key, value] of entries) expectStatus(await writeKey(cluster.front, key, value), 200, `POST /write ${key}`);
}

async function fail(cluster: TestCluster, id: string): Promise<void> {
  const answer = expectStatus(await http('POST', `${cluster.front}/fail/${id}`), 200, `POST /fail/${id}`);
  assert.equal(answer.json().message, `Node ${id} failed`);
}

const numbered = (prefix: string, from: number, count: number): [string, string][] =>
  Array.from({ length: count }, (_, i) => [`${prefix}-${from + i}`, `value of ${prefix}-${from + i}`]);

describe("the prototype's fault scenarios (3 nodes, RF 2)", () => {
  // Scenarios (1) and (3) share one cluster; (1) recovers its failed node before (3) starts.
  const shared = sharedCluster({ nodes: 3, strategy: 'consistent', rf: 2 });

  it('(1) 3 nodes, RF 2: write 10 keys, fail 1 node, every key still reads back', async () => {
    const cluster = shared();
    const entries = numbered('one', 0, 10);
    await writeAll(cluster, entries);
    await fail(cluster, '1');
    const reads = await Promise.all(entries.map(([key]) => readKey(cluster.front, key)));
    for (const [i, [key, value]] of entries.entries()) {
      const read = expectStatus(reads[i]!, 200, `read ${key} with node 1 failed`);
      assert.equal(read.json().value, value);
      assert.match(read.json().message, /^Read from replica (0|2)$/, 'answered by a live replica');
    }
    expectStatus(await http('POST', `${cluster.front}/recover/1`, { timeoutMs: restartTimeoutMs }), 200, 'POST /recover/1');
    await cluster.waitForAllAlive();
  });

  it('(3) 3 nodes, RF 2: write 10, fail 1, write 10 more, recover it; it holds every key it owns at the newest version', async () => {
    const cluster = shared();
    const before = numbered('three', 0, 10);
    await writeAll(cluster, before);
    await fail(cluster, '1');
    // Writes to keys whose replicas include node 1 land on a fallback node (sloppy quorum) once the
    // others see it dead; until then each waits for it up to the request timeout, and may fail.
    await cluster.waitForState('1', 'dead', 5000);
    const after = numbered('three', 10, 10);
    await writeAll(cluster, after);

    const keys = [...before, ...after].map(([key]) => key);
    const owners = new Map(await Promise.all(keys.map(async (key) => [key, await replicasOf(cluster.front, key)] as const)));
    const owned = keys.filter((key) => owners.get(key)!.includes('1'));
    assert.ok(owned.length > 0, 'node 1 owns some of the keys');
    // The newest version of each key is what the nodes that stayed up hold.
    const newest = new Map<string, LocalEntry>();
    for (const node of cluster.others('1')) {
      for (const [key, entry] of await localEntryMap(node.url)) {
        if (!newest.has(key) || entry.version > newest.get(key)!.version) newest.set(key, entry);
      }
    }
    for (const key of keys) assert.ok(newest.has(key), `${key} is held by a live node`);

    const recovered = expectStatus(await http('POST', `${cluster.front}/recover/1`, { timeoutMs: restartTimeoutMs }), 200, 'POST /recover/1');
    assert.equal(recovered.json().message, 'Node 1 recovered');
    // Hinted handoff brings it up to date; no read touches these keys meanwhile.
    await waitFor(
      async () => {
        const held = await localEntryMap(cluster.url('1'));
        const missing = owned.filter((key) => held.get(key)?.version !== newest.get(key)!.version || held.get(key)?.tombstone);
        return missing.length === 0;
      },
      10_000,
      { what: `node 1 to hold the newest version of the ${owned.length} keys it owns`, intervalMs: 200 },
    );
    const held = await localEntryMap(cluster.url('1'));
    for (const [key, entry] of held) {
      const replicas = owners.get(key) ?? (await replicasOf(cluster.front, key));
      assert.ok(replicas.includes('1'), `node 1 holds only keys it owns (${key}@${entry.version}, owners ${replicas})`);
    }
    for (const [key, value] of [...before, ...after]) {
      assert.equal(expectStatus(await readKey(cluster.front, key), 200, `read ${key}`).json().value, value);
    }
  });
});

describe("the prototype's fault scenarios (5 nodes, RF 3)", () => {
  it('(2) 5 nodes, RF 3: write 20, fail 2; all read at `one`; at `quorum` each reads its value or a clear 503, never a wrong value', async () => {
    await withCluster({ nodes: 5, strategy: 'consistent', rf: 3 }, async (cluster) => {
      const entries = numbered('two', 0, 20);
      await writeAll(cluster, entries);
      const placements = new Map(await Promise.all(entries.map(async ([key]) => [key, await replicasOf(cluster.front, key)] as const)));
      const failed = ['1', '3'];
      for (const id of failed) await fail(cluster, id);

      const atOne = await Promise.all(entries.map(([key]) => readKey(cluster.front, key, '?consistency=one')));
      for (const [i, [key, value]] of entries.entries()) {
        assert.equal(expectStatus(atOne[i]!, 200, `read ${key} at one`).json().value, value);
      }

      const atQuorum = await Promise.all(entries.map(([key]) => readKey(cluster.front, key, '?consistency=quorum')));
      let unavailable = 0;
      for (const [i, [key, value]] of entries.entries()) {
        const read = atQuorum[i]!;
        const live = placements.get(key)!.filter((id) => !failed.includes(id)).length;
        if (read.status === 200) {
          assert.equal(read.json().value, value, `${key} never reads a wrong value`);
          assert.ok(live >= 2, `${key} read at quorum with only ${live} live replica`);
          continue;
        }
        assert.equal(read.status, 503, `${key}: 200 or 503, got ${read.status} ${read.text()}`);
        unavailable += 1;
        const body = read.json();
        assert.equal(body.code, 'UNAVAILABLE');
        assert.equal(body.needed, 2, 'the body says 2 replicas were needed');
        assert.equal(body.replicas, 3, 'of 3');
        assert.ok(body.answered < 2, `and how many answered (${body.answered})`);
        assert.match(body.message, /replicas answered/);
        assert.equal(live, 1, `${key} has ${live} live replicas of 3 (${placements.get(key)}) and still failed at quorum`);
      }
      const expectedUnavailable = [...placements.values()].filter((replicas) => failed.every((id) => replicas.includes(id))).length;
      assert.equal(unavailable, expectedUnavailable, 'exactly the keys with both failed nodes among their replicas are unavailable');
    });
  });
});
