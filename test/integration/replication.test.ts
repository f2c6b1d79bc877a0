// Replication across real node processes (issue 2): a quorum write is visible at quorum from every
// node; updates and deletes reach exactly the key's replicas, under `consistent` and `full`; a replica
// that missed a write is brought up to date by the read that notices it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  del,
  expectStatus,
  fastSettings,
  get,
  hintsOff,
  http,
  localEntryMap,
  put,
  replicasOf,
  sharedCluster,
  versionOf,
  sleep,
  waitFor,
  withCluster,
  type TestCluster,
} from './harness.js';

/** PUT, PUT again, DELETE; after each, every replica lists the newest version and no other node holds the key. */
async function updateAndDeleteReachExactlyTheReplicas(cluster: TestCluster, keys: string[]): Promise<void> {
  const nodes = cluster.nodes;
  for (const [index, key] of keys.entries()) {
    const coordinator = nodes[index % nodes.length]!;
    const replicas = await replicasOf(coordinator.url, key);
    const steps: { action: string; run: () => ReturnType<typeof put> }[] = [
      { action: 'PUT', run: () => put(coordinator.url, key, `first value of ${key}`) },
      { action: 'PUT again', run: () => put(coordinator.url, key, `second value of ${key}`) },
      { action: 'DELETE', run: () => del(coordinator.url, key) },
    ];
    let previous = '';
    for (const step of steps) {
      const version = versionOf(expectStatus(await step.run(), 200, `${step.action} ${key}`));
      assert.ok(version > previous, `${step.action} of ${key} gets a newer version (${version} after ${previous})`);
      previous = version;
      const tombstone = step.action === 'DELETE';
      // Quorum answered; the remaining replicas get the same write moments later.
      await waitFor(
        async () => {
          for (const node of nodes) {
            const held = (await localEntryMap(node.url)).get(key);
            if (replicas.includes(node.id)) {
              if (held?.version !== version || held.tombstone !== tombstone) return false;
            } else if (held !== undefined) {
              throw new Error(`node ${node.id} is not a replica of ${key} (${replicas}) but holds ${JSON.stringify(held)}`);
            }
          }
          return true;
        },
        3000,
        { what: `every replica of ${key} (${replicas}) to hold the ${step.action} version ${version}` },
      );
    }
    const gone = await get(nodes[(index + 1) % nodes.length]!.url, key, 'quorum');
    assert.equal(gone.status, 404, `${key} reads as absent after the delete`);
  }
}

describe('replication across node processes (3 nodes, RF 2)', () => {
  // Each key has a node that is not its replica.
  const consistent = sharedCluster({ nodes: 3, strategy: 'consistent', rf: 2 });

  it('a write acknowledged at quorum reads back at quorum from every node, each coordinating (RF 2 of 3)', async () => {
    const cluster = consistent();
    const [first] = cluster.nodes;
    const written = expectStatus(await put(first!.url, 'greeting', 'hello, quorum', 'quorum'), 200, 'PUT at quorum');
    const version = versionOf(written);
    for (const node of cluster.nodes) {
      const read = expectStatus(await get(node.url, 'greeting', 'quorum'), 200, `GET at quorum on node ${node.id}`);
      assert.equal(read.text(), 'hello, quorum', `node ${node.id} reads the value`);
      assert.equal(versionOf(read), version, `node ${node.id} reads the acknowledged version`);
    }
    // Binary values come back byte for byte.
    const bytes = Uint8Array.from([0, 255, 10, 13, 0x80, 1]);
    expectStatus(await put(cluster.nodes[1]!.url, 'bytes', bytes, 'quorum'), 200, 'PUT binary');
    const read = expectStatus(await get(cluster.nodes[2]!.url, 'bytes', 'quorum'), 200, 'GET binary');
    assert.deepEqual(new Uint8Array(read.body), bytes);
  });

  it('under consistent hashing (3 nodes, RF 2) an update and a delete reach both replicas and no other node', async () => {
    const cluster = consistent();
    const keys = Array.from({ length: 6 }, (_, i) => `consistent-${i}`);
    // With RF 2 of 3, each key has a non-replica that must stay empty: check the keys cover that.
    const placements = await Promise.all(keys.map((key) => replicasOf(cluster.nodes[0]!.url, key)));
    for (const replicas of placements) assert.equal(replicas.length, 2, 'RF 2 gives two replicas');
    await updateAndDeleteReachExactlyTheReplicas(cluster, keys);
  });

  it("a node's /metrics times its fdatasyncs and shows none running, nothing held, once writes are acknowledged", async () => {
    const cluster = consistent();
    const node = cluster.nodes[0]!;
    for (let i = 0; i < 5; i++) expectStatus(await put(node.url, `synced-${i}`, 'v', 'all'), 200, `PUT synced-${i} at all`);
    const text = (await http('GET', `${node.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(value('quorumkv_wal_fsync_duration_seconds_count') >= 1, 'fsync commit: the replica synced before it acknowledged');
    assert.equal(value('quorumkv_wal_fsync_running_seconds'), 0);
    assert.equal(value('quorumkv_messages_held'), 0);
  });

});

describe('replication across node processes (full)', () => {
  it('under full replication (3 nodes) an update and a delete reach every node', async () => {
    await withCluster({ nodes: 3, strategy: 'full' }, async (cluster) => {
      const replicas = await replicasOf(cluster.nodes[0]!.url, 'full-0');
      assert.deepEqual([...replicas].sort(), ['0', '1', '2'], 'under full every node is a replica');
      await updateAndDeleteReachExactlyTheReplicas(cluster, ['full-0', 'full-1', 'full-2']);
    });
  });

});

describe('read repair', () => {
  it('a replica that missed writes while paused (hints off) is repaired by the reads at `all` that find it behind', async () => {
    // Hints expire at once and scheduled anti-entropy is off. The resumed node still runs its
    // recovery anti-entropy, so it is paced to a crawl here (one key per step, one key per second):
    // the keys that the reads touch are repaired at once, the others stay behind for a while.
    const settings = [...fastSettings, hintsOff, 'antiEntropyIntervalMs=0', 'antiEntropyKeysMax=1', 'antiEntropyKeysPerSecondMax=1'];
    await withCluster({ nodes: 3, rf: 3, settings }, async (cluster) => {
      const [coordinator, , stale] = cluster.nodes;
      const keys = Array.from({ length: 40 }, (_, i) => `repair-me-${i}`);
      for (const key of keys) expectStatus(await put(coordinator!.url, key, `old ${key}`, 'all'), 200, 'first write at all');
      expectStatus(await http('POST', `${stale!.url}/v1/admin/pause`), 200, 'pause a replica');

      const newest = new Map<string, string>();
      for (const key of keys) {
        newest.set(key, versionOf(expectStatus(await put(coordinator!.url, key, `new ${key}`, 'quorum'), 200, 'write at quorum while paused')));
      }
      const lastWriteAt = Date.now();
      // The coordinators give up on the paused replica; the hints they keep for it expire at once.
      await cluster.waitForState(stale!.id, 'dead', 5000);
      await waitFor(async () => (await cluster.hintsPending(cluster.others(stale!.id))) === 0, 3000, { what: 'no hint left' });
      await sleep(Math.max(0, lastWriteAt + 1200 - Date.now())); // past every write's deadline (requestTimeoutMs=1000)
      expectStatus(await http('POST', `${stale!.url}/v1/admin/resume`), 200, 'resume the replica');
      await cluster.waitForState(stale!.id, 'alive', 5000);

      const before = await localEntryMap(stale!.url);
      const behind = keys.filter((key) => before.get(key)?.version !== newest.get(key));
      assert.ok(behind.length >= 30, `the resumed replica is behind on most keys (${behind.length} of ${keys.length})`);
      const read = behind.slice(0, 10);
      for (const key of read) {
        const answer = expectStatus(await get(coordinator!.url, key, 'all'), 200, `read ${key} at all`);
        assert.equal(answer.text(), `new ${key}`);
        assert.equal(versionOf(answer), newest.get(key));
      }
      const after = await localEntryMap(stale!.url);
      for (const key of read) {
        assert.equal(after.get(key)?.version, newest.get(key), `the read of ${key} wrote the newest version back to the stale replica`);
        assert.equal(after.get(key)?.tombstone, false);
      }
      const unread = behind.slice(read.length);
      const stillBehind = unread.filter((key) => after.get(key)?.version !== newest.get(key));
      assert.ok(
        stillBehind.length >= unread.length / 2,
        `keys nobody read are mostly still behind (${stillBehind.length} of ${unread.length}): the reads did the repair`,
      );
    });
  });
});
