// Repair without hints (issue 3): with hinted handoff effectively off (hints expire 1 ms after they are
// kept), a replica whose process was down while the others took writes and a delete is brought back in
// line by anti-entropy alone, with no read touching the keys; and a key deleted while that replica was
// away never comes back, also once the tombstones are purged.

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
  sleep,
  versionOf,
  waitFor,
  withCluster,
  type LocalEntry,
  type TestCluster,
} from './harness.js';

/** Scheduled anti-entropy every half second, besides the rounds the tests ask for (POST /v1/admin/anti-entropy). */
const repairSettings = [...fastSettings, hintsOff, 'antiEntropyIntervalMs=500'];

/** Kills `victim`, waits until the others see it dead, runs `whileDown`, waits until no hint is left, restarts it. */
async function whileReplicaIsDown(cluster: TestCluster, victim: string, whileDown: () => Promise<void>): Promise<void> {
  await cluster.kill(victim);
  await cluster.waitForState(victim, 'dead', 5000);
  await whileDown();
  // Hints are off: whatever was kept for the victim has expired before it comes back.
  await waitFor(async () => (await cluster.hintsPending(cluster.others(victim))) === 0, 3000, { what: 'no hint left for the victim' });
  await cluster.start(victim);
  await cluster.waitForState(victim, 'alive', 5000);
}

/** Triggers anti-entropy on every node (when the route exists) until `condition` holds. */
async function repairUntil(cluster: TestCluster, condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  let offered: boolean | undefined;
  await waitFor(
    async () => {
      if (offered !== false) offered = await cluster.antiEntropyEverywhere();
      return condition();
    },
    timeoutMs,
    { what, intervalMs: 250 },
  );
}

describe('repair without hints', () => {
  it('with hints off, anti-entropy alone brings a replica that missed writes, updates and a delete back in line', async () => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, settings: repairSettings }, async (cluster) => {
      const victim = '2';
      const coordinator = cluster.url('0');
      for (let i = 0; i < 10; i++) expectStatus(await put(coordinator, `old-${i}`, `before ${i}`, 'all'), 200, 'write at all');

      await whileReplicaIsDown(cluster, victim, async () => {
        for (let i = 0; i < 30; i++) expectStatus(await put(coordinator, `new-${i}`, `while down ${i}`, 'quorum'), 200, 'new key');
        for (let i = 0; i < 5; i++) expectStatus(await put(coordinator, `old-${i}`, `updated ${i}`, 'quorum'), 200, 'update');
        expectStatus(await del(coordinator, 'old-9', 'quorum'), 200, 'delete');
      });
      const expected = await localEntryMap(cluster.url('0'));
      assert.deepEqual(await localEntryMap(cluster.url('1')), expected, 'the replicas that stayed up agree');
      let differences: string[] = [];
      await repairUntil(
        cluster,
        async () => {
          const held = await localEntryMap(cluster.url(victim));
          differences = [...expected.keys()].filter((key) => !sameEntry(held.get(key), expected.get(key)));
          return differences.length === 0;
        },
        'anti-entropy to bring the restarted replica in line',
      ).catch((error: Error) => {
        error.message += ` (still different: ${differences.slice(0, 10).join(', ')}${differences.length > 10 ? ', ...' : ''})`;
        throw error;
      });
      // No hint carried anything (none was left when it came back): anti-entropy did the repair.
      assert.ok((await keysRepaired(cluster)) > 0, 'anti-entropy reports keys repaired');
      const read = expectStatus(await get(cluster.url(victim), 'old-3', 'all'), 200, 'read after repair');
      assert.equal(read.text(), 'updated 3');
    });
  });

  it('a key deleted while a replica was down does not come back after it returns and the tombstones are purged', async () => {
    const settings = [...repairSettings, 'tombstoneGraceMs=500', 'tombstonePurgeIntervalMs=200'];
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, settings }, async (cluster) => {
      const victim = '2';
      const coordinator = cluster.url('0');
      const written = versionOf(expectStatus(await put(coordinator, 'ghost', 'boo', 'all'), 200, 'write ghost at all'));
      expectStatus(await put(coordinator, 'witness', 'stays', 'all'), 200, 'write witness at all');

      let deleted = '';
      await whileReplicaIsDown(cluster, victim, async () => {
        deleted = versionOf(expectStatus(await del(coordinator, 'ghost', 'quorum'), 200, 'delete ghost while the replica is down'));
        // Past the grace period, several purge rounds: a purge that did not wait for every replica
        // would have forgotten the tombstone by now.
        await sleep(1200);
        for (const node of cluster.others(victim)) {
          const held = (await localEntryMap(node.url)).get('ghost');
          assert.equal(held?.version, deleted, `node ${node.id} keeps the tombstone while a replica lacks it, grace period or not`);
          assert.equal(held?.tombstone, true);
        }
      });
      assert.ok(deleted > written);

      // No read touches `ghost` until anti-entropy has run: the tombstone must reach the returning
      // replica (or the old value be refused), never the old value spread back.
      await repairUntil(
        cluster,
        async () => {
          for (const node of cluster.nodes) {
            const held = (await localEntryMap(node.url)).get('ghost');
            if (held && !held.tombstone) {
              if (node.id !== victim) throw new Error(`node ${node.id} took the deleted value back: ${JSON.stringify(held)}`);
              return false;
            }
          }
          return true;
        },
        'the returning replica to drop the deleted value',
      );
      // Once every replica holds the tombstone, it is purged everywhere after the grace period.
      await repairUntil(
        cluster,
        async () => {
          const listings = await Promise.all(cluster.nodes.map((n) => localEntryMap(n.url)));
          const resurrected = listings.find((listing) => listing.get('ghost') && !listing.get('ghost')!.tombstone);
          if (resurrected) throw new Error(`ghost came back: ${JSON.stringify(resurrected.get('ghost'))}`);
          return listings.every((listing) => !listing.has('ghost'));
        },
        'the tombstone of ghost to be purged on every replica',
      );
      // More repair rounds, then every node at every level: still absent; the witness is untouched.
      await cluster.antiEntropyEverywhere();
      await sleep(700);
      for (const node of cluster.nodes) {
        for (const level of ['quorum', 'all']) {
          assert.equal((await get(node.url, 'ghost', level)).status, 404, `ghost reads absent on node ${node.id} at ${level}`);
        }
        assert.equal(expectStatus(await get(node.url, 'witness', 'all'), 200, 'witness').text(), 'stays');
      }
      for (const node of cluster.nodes) {
        assert.equal((await localEntryMap(node.url)).has('ghost'), false, `node ${node.id} holds no trace of ghost`);
      }
    });
  });
});

/** Keys repaired by anti-entropy, summed over every node's /v1/status. */
async function keysRepaired(cluster: TestCluster): Promise<number> {
  let total = 0;
  for (const node of cluster.nodes) {
    const status = expectStatus(await http('GET', `${node.url}/v1/status`), 200, 'status').json();
    total += Number(status.antiEntropy?.keysRepaired ?? 0);
  }
  return total;
}

function sameEntry(a: LocalEntry | undefined, b: LocalEntry | undefined): boolean {
  return a !== undefined && b !== undefined && a.version === b.version && a.tombstone === b.tombstone;
}
