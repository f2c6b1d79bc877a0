// Against real processes: a node whose process dies right after its decommission was asked for. The
// change completes without it, but until the node says farewell every member keeps it as departed
// (asking it before any tombstone purge) for `departedKeepMs`, 10 days. The local cluster's front used
// to forget such a node at once, so it could not even be recovered by hand (a topology soak left three
// of them). Now the front starts it again on its data, it hands over what it holds and says farewell,
// and the front stops it. A node removed while it was down is left down: that is a removal of a lost node.
// And a node removed right after it was killed waits, in the front, until the members see it dead.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectStatus, http, waitFor, withCluster } from './harness.js';
import { assertReadCheck, changeReplication, checkAcknowledgedReadable, departedOf, slowStreamSettings, topologyOf, WriteLoad } from './topologyHarness.js';

describe('topology: a node that dies while it leaves', () => {
  it('is started again by the front to say farewell, so no member keeps waiting for it; one removed while down stays down', async () => {
    await withCluster({ nodes: 5, strategy: 'consistent', rf: 2, vnodes: 32, settings: slowStreamSettings }, async (cluster) => {
      const target = () => cluster.front;
      const load = new WriteLoad(target, { writers: 0, maxKeysPerWriter: 0, prefix: '' });
      await load.preload(500);
      const [survivorA, survivorB] = [cluster.url('0'), cluster.url('1')];

      expectStatus(await http('DELETE', `${cluster.front}/v1/admin/nodes/4`, { timeoutMs: 15_000 }), 202, 'decommission of node 4');
      await cluster.kill('4');
      await waitFor(
        async () => {
          const departed = [...(await departedOf(survivorA)), ...(await departedOf(survivorB))];
          const known = cluster.started.supervisor.ids().includes('4');
          return departed.length === 0 && !known;
        },
        90_000,
        { what: 'node 4 to say farewell (no member lists it as departed) and the front to forget it', intervalMs: 250 },
      );
      assert.equal(cluster.pid('4'), undefined, 'its process is stopped again');

      // During an RF change, node 3 is killed and removed at once (`fail`, then `remove-node`). The
      // front waits until the members see it dead, so the removal joins the change (it was a 409 while
      // they did not yet), and a node removed while down is lost, as far as the user said: not started again.
      const change = await changeReplication(cluster, 'consistent', 3);
      assert.equal(change.status, 200, JSON.stringify(change.body));
      await cluster.kill('3');
      const removal = await http('DELETE', `${cluster.front}/v1/admin/nodes/3`, { timeoutMs: 15_000 });
      expectStatus(removal, 202, 'removal of node 3, killed a moment before');
      await waitFor(
        async () => {
          const view = await topologyOf(survivorA);
          return !view.inTransition && view.layout.members.map((m) => m.id).join() === '0,1,2' && view.layout.rf === 3;
        },
        90_000,
        { what: 'the RF change to complete without node 3' },
      );
      await waitFor(async () => !cluster.started.supervisor.ids().includes('3'), 60_000, { what: 'the front to forget node 3' });
      assert.equal(cluster.pid('3'), undefined, 'a node removed while down is not started again');
      assertReadCheck(await checkAcknowledgedReadable(load.acked, target), 'after both removals');
    });
  });
});
