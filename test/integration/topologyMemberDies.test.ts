// Against real processes: a member dies for good in the middle of a topology change (an RF change
// it has ranges to fill in). The change waits for it; removing it (DELETE /v1/admin/nodes/{id}, as for
// any dead node) joins its removal to the change, which then completes on the other members with every
// acknowledged key readable and in place. Before, the removal was a 409 for as long as the change ran,
// and the change ran until the dead node came back.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../cli/runCli.js';
import { waitFor, withCluster } from './harness.js';
import {
  assertReadCheck,
  changeReplication,
  checkAcknowledgedReadable,
  removeNodeRetrying,
  retryChange,
  slowStreamSettings,
  topologyOf,
  waitForExactPlacement,
  waitForSettled,
  WriteLoad,
} from './topologyHarness.js';

describe('topology: a member that dies during a change', () => {
  it('a member SIGKILLed while an RF change waits for its fill is removed into the change, which completes without it', async () => {
    await withCluster({ nodes: 4, strategy: 'consistent', rf: 2, vnodes: 32, settings: slowStreamSettings }, async (cluster) => {
      const target = () => cluster.front;
      const load = new WriteLoad(target, { writers: 0, maxKeysPerWriter: 0, prefix: '' });
      await load.preload(2000);

      const change = await retryChange(() => changeReplication(cluster, 'consistent', 3), 20_000, 'RF 2 -> 3 to be accepted');
      assert.equal(change.status, 200, `RF 2 -> 3 is accepted: ${JSON.stringify(change.body)}`);
      // At RF 3 on four nodes every node gains ranges: node 3's fill is one the change waits for.
      await cluster.kill('3');
      const running = await topologyOf(cluster.url('0'));
      assert.ok(running.inTransition, 'node 3 was killed while the change ran');
      // Through the front, the topology carries every running node's fill, not the coordinator's alone.
      await waitFor(
        async () => {
          const view = (await (await fetch(`${cluster.front}/v1/admin/topology`)).json()) as { fills?: Record<string, { rangesTotal: number }> };
          const ids = Object.keys(view.fills ?? {}).sort();
          return ids.join(',') === '0,1,2' && Object.values(view.fills ?? {}).every((fill) => fill.rangesTotal > 0);
        },
        10_000,
        { what: 'the front\'s topology to give the fills of nodes 0, 1 and 2' },
      );

      // `quorumkv topology` says what holds the change, and what ends the wait.
      await waitFor(
        async () => {
          const topology = await runCli(['topology', '--url', cluster.front]);
          return /node 3 is dead and the change waits for it: recover it, or `quorumkv remove-node 3`, which joins that removal to this change/.test(topology.stdout);
        },
        30_000,
        { what: '`quorumkv topology` to say that the change waits for node 3, dead', intervalMs: 500 },
      );
      // Refused (409) while node 3 is only suspect, then accepted once the coordinator sees it dead.
      const removal = await removeNodeRetrying(cluster, '3', 30_000);
      assert.equal(removal.status, 202, `removal of node 3 during the change: ${JSON.stringify(removal.body)}`);
      await waitForSettled(cluster, ['0', '1', '2'], 90_000, 'the RF change to complete without node 3', { strategy: 'consistent', rf: 3 });
      assertReadCheck(await checkAcknowledgedReadable(load.acked, target), 'after the change');
      await waitForExactPlacement(cluster, load.acked, 30_000);
    });
  });
});
