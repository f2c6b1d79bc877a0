// Issue 4, against real processes: a node dies for good while it is joining (SIGKILLed before its
// ranges are filled, never restarted). Its join can never complete, so an admin must be able to remove
// it (DELETE /v1/admin/nodes/{id}, as for any dead node): the join is cancelled, the cluster goes back
// to its members, keeps every key, and accepts the next change.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor, withCluster } from './harness.js';
import {
  addNodeRetrying,
  assertReadCheck,
  checkAcknowledgedReadable,
  removeNode,
  retryChange,
  slowStreamSettings,
  topologyOf,
  waitForExactPlacement,
  waitForSettled,
  WriteLoad,
} from './topologyHarness.js';

describe('topology: a joining node that dies for good', () => {
  it('a joining node SIGKILLed before its fill completes can be removed: the join is cancelled, every key stays readable, and the next join succeeds', async () => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, vnodes: 32, settings: slowStreamSettings }, async (cluster) => {
      const target = () => cluster.front;
      const load = new WriteLoad(target, { writers: 0, maxKeysPerWriter: 0, prefix: '' });
      await load.preload(1000);

      const added = await addNodeRetrying(cluster);
      assert.equal(added.status, 201, `the join is accepted: ${JSON.stringify(added.body)}`);
      const joiner = String(added.body.node.id);
      await cluster.kill(joiner);
      const stuck = await topologyOf(cluster.url('0'));
      assert.equal(stuck.layout.members.find((m) => m.id === joiner)?.role, 'joining', 'killed while still joining');

      // Removing the dead joiner is a change like any other: accepted (not refused as a conflict with
      // the join it cancels), and the cluster settles back on its three members.
      const removal = await retryChange(() => removeNode(cluster, joiner), 20_000, 'the layout coordinator to answer', { conflictIsAnswer: true });
      assert.equal(removal.status, 202, `removal of dead joining node ${joiner}: ${JSON.stringify(removal.body)}`);
      await waitForSettled(cluster, ['0', '1', '2'], 60_000, `the join of node ${joiner} to be cancelled`);
      // The front forgets the process once no member lists it any more (it polls every 250 ms).
      await waitFor(() => (cluster.nodes.some((n) => n.id === joiner) ? undefined : true), 10_000, { what: `the front to forget node ${joiner}` });
      assertReadCheck(await checkAcknowledgedReadable(load.acked, target), 'after the cancelled join');
      await waitForExactPlacement(cluster, load.acked, 30_000);

      // The cluster is not stuck: the next join completes.
      const next = await addNodeRetrying(cluster);
      assert.equal(next.status, 201, `the next join is accepted: ${JSON.stringify(next.body)}`);
      // A new id: the removed node's directory holds its old layout, on which a new node would never join.
      assert.notEqual(String(next.body.node.id), joiner, 'the removed node id is not reused');
      await waitForSettled(cluster, ['0', '1', '2', String(next.body.node.id)], 60_000, 'the next join to complete');
      assertReadCheck(await checkAcknowledgedReadable(load.acked, target), 'after the next join');
    });
  });
});
