// Issue 4, against real processes: the strategy and replication factor change at runtime under write
// load, on 4 nodes: consistent RF 2 -> full (every node gains copies) -> consistent RF 3 (every node
// drops some). All along, every acknowledged key is read back at quorum pass after pass; after each
// change every key sits on exactly its preference list.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withCluster } from './harness.js';
import {
  assertReadCheck,
  ChangeLog,
  changeReplication,
  checkAcknowledgedReadable,
  ContinuousReadCheck,
  copiesOf,
  retryChange,
  setReplicationStrategy,
  topologySettings,
  waitForExactPlacement,
  waitForSettled,
  WriteLoad,
} from './topologyHarness.js';

const changeTimeoutMs = 60_000;

describe('topology: strategy and replication factor changes under write load', () => {
  it('moves consistent RF 2 -> full -> consistent RF 3 on 4 nodes; every acknowledged key stays readable at quorum and sits on exactly its preference list after each change', async () => {
    await withCluster({ nodes: 4, strategy: 'consistent', rf: 2, vnodes: 32, settings: topologySettings }, async (cluster) => {
      const members = ['0', '1', '2', '3'];
      const target = () => cluster.front;
      const load = new WriteLoad(target, { writers: 3, maxKeysPerWriter: 200, prefix: '' });
      const reads = new ContinuousReadCheck(load, target, 200, copiesOf(cluster, target));
      const log = new ChangeLog(load, reads);
      await load.preload(1000);
      log.mark('1000 keys preloaded');
      load.start();
      reads.start();
      /** With the writers paused (so that no write is half-way), every key on exactly its preference list. */
      const placementNow = async (when: string) => {
        await load.pause();
        try {
          const placement = await waitForExactPlacement(cluster, load.acked, 30_000);
          log.mark(`${when}: ${placement.keys} keys on exactly their preference lists (layout v${placement.layoutVersion})`);
        } finally {
          load.resume();
        }
      };
      try {
        // consistent RF 2 -> full, through the v1 admin route (forwarded by the front to a node).
        log.requested('consistent RF 2 -> full');
        const toFull = await retryChange(() => changeReplication(cluster, 'full'), 20_000, 'the move to full to be accepted');
        assert.equal(toFull.status, 200, `consistent RF 2 -> full is accepted: ${JSON.stringify(toFull.body)}`);
        if (!toFull.ambiguous) assert.deepEqual(toFull.body.layout.pending, { strategy: 'full', rf: 2 }, 'the layout names the pending settings');
        await waitForSettled(cluster, members, changeTimeoutMs, 'the move to full', { strategy: 'full' });
        log.completed('full in place');
        reads.assertClean('consistent RF 2 -> full');
        await placementNow('full');

        // full -> consistent RF 3, through the prototype's route.
        log.requested('full -> consistent RF 3');
        const toRf3 = await retryChange(() => setReplicationStrategy(cluster, 'consistent', 3), 20_000, 'the move to consistent RF 3 to be accepted');
        assert.equal(toRf3.status, 200, `full -> consistent RF 3 is accepted: ${JSON.stringify(toRf3.body)}`);
        assert.equal(toRf3.body.strategy, 'consistent');
        assert.equal(toRf3.body.replication_factor, 3);
        await waitForSettled(cluster, members, changeTimeoutMs, 'the move to consistent RF 3', { strategy: 'consistent', rf: 3 });
        log.completed('consistent RF 3 in place');
        reads.assertClean('full -> consistent RF 3');
      } finally {
        await load.stop();
        await reads.stop();
        process.stderr.write(`replication: ${load.describe()}; ${reads.describe()}\n  ${log.describe()}\n`);
      }
      reads.assertClean('the whole run');
      log.assertUnderLoad();
      load.assertFailuresUnavailableOnly();
      assertReadCheck(await checkAcknowledgedReadable(load.acked, target), 'after the last change');
      const placement = await waitForExactPlacement(cluster, load.acked, 30_000);
      process.stderr.write(`replication: consistent RF 3, ${placement.keys} keys on exactly their preference lists\n`);
    });
  });
});
