// Issue 4, against real processes: a 3-node cluster (consistent, RF 3) grows to 5 and shrinks to 4
// (one decommissioned, one SIGKILLed and removed for good) while writers keep writing (new keys,
// overwrites, deletes) at quorum through the front. All along, every acknowledged key is read back at
// quorum pass after pass, so a key unreadable at any moment of a move is caught; at the end every key
// sits on exactly its preference list.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectStatus, http, waitFor, withCluster } from './harness.js';
import {
  addNode,
  addNodeRetrying,
  assertReadCheck,
  ChangeLog,
  changeReplication,
  checkAcknowledgedReadable,
  ContinuousReadCheck,
  copiesOf,
  departedOf,
  removeNodeRetrying,
  retryChange,
  topologyOf,
  topologySettings,
  waitForExactPlacement,
  waitForSettled,
  WriteLoad,
} from './topologyHarness.js';

/** Bound on one change, from the request to every member settled (generous: CI machines are shared). */
const changeTimeoutMs = 60_000;

describe('topology: grow and shrink under write load', () => {
  it('grows 3 -> 5 nodes one join at a time (a concurrent change gets 409), decommissions one and removes a SIGKILLed one; every acknowledged key stays readable at quorum and ends on exactly its preference list', async () => {
    // Streaming is slowed down (150 keys per second per session) so that a change surely lasts long
    // enough for the test to try a second one meanwhile: otherwise a join can complete in a few
    // hundred milliseconds, before the second request arrives.
    const settings = [...topologySettings, 'antiEntropyKeysPerSecondMax=150'];
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, vnodes: 32, settings }, async (cluster) => {
      const target = () => cluster.front;
      const load = new WriteLoad(target, { writers: 3, maxKeysPerWriter: 200, prefix: '' });
      const reads = new ContinuousReadCheck(load, target, 200, copiesOf(cluster, target));
      const log = new ChangeLog(load, reads);
      await load.preload(1000);
      log.mark('1000 keys preloaded');
      load.start();
      reads.start();
      try {
        // Join a node. As soon as the cluster has taken it in (while the new process may still be
        // starting, and ranges stream to it), a second join is refused with 409 LAYOUT_CONFLICT.
        log.requested('first join');
        const firstJoin = addNode(cluster);
        const during = await waitFor(
          async () => {
            const view = await topologyOf(cluster.url('0'));
            return view.inTransition && view.layout.members.some((m) => m.role === 'joining') ? view : undefined;
          },
          60_000,
          { what: 'the first join to be under way', intervalMs: 20 },
        );
        const refused = await addNode(cluster);
        assert.equal(refused.status, 409, `a second join while the first runs (layout v${during.layoutVersion}) is refused: ${JSON.stringify(refused.body)}`);
        assert.equal(refused.code, 'LAYOUT_CONFLICT');
        // The layout coordinator itself refuses too (the front only asks the cluster whether a change runs).
        const alsoRefused = await retryChange(() => changeReplication(cluster, 'consistent', 2), 10_000, 'the layout coordinator to answer', {
          conflictIsAnswer: true,
        });
        assert.equal(alsoRefused.status, 409, `an RF change while the join runs is refused: ${JSON.stringify(alsoRefused.body)}`);
        assert.equal(alsoRefused.code, 'LAYOUT_CONFLICT');
        let first = await firstJoin;
        // Its process may fail to start if another program took one of its ports: the front cancels
        // that join, and the next try uses the next index.
        if (first.status === 500) first = await addNodeRetrying(cluster);
        assert.equal(first.status, 201, `the first join is accepted: ${JSON.stringify(first.body)}`);
        const joined3 = String(first.body.node.id);
        log.mark(`node ${joined3} started`);
        await waitForSettled(cluster, ['0', '1', '2', joined3], changeTimeoutMs, `node ${joined3} to be active`);
        log.completed(`node ${joined3} active`);
        reads.assertClean(`joining node ${joined3}`);

        // Join another node, retried until the cluster accepts it.
        log.requested('second join');
        const second = await addNodeRetrying(cluster);
        assert.equal(second.status, 201, `the second join is accepted: ${JSON.stringify(second.body)}`);
        const joined4 = String(second.body.node.id);
        log.mark(`node ${joined4} started`);
        const five = ['0', '1', '2', joined3, joined4];
        await waitForSettled(cluster, five, changeTimeoutMs, `node ${joined4} to be active`);
        log.completed(`node ${joined4} active`);
        reads.assertClean(`joining node ${joined4}`);

        // Decommission node 2: its ranges stream to their new owners, then the front stops its process.
        log.requested('decommission of node 2');
        const leave = await removeNodeRetrying(cluster, '2');
        assert.equal(leave.status, 202, `decommission of node 2: ${JSON.stringify(leave.body)}`);
        const four = five.filter((id) => id !== '2');
        await waitForSettled(cluster, four, changeTimeoutMs, 'node 2 to be gone');
        assert.ok(!cluster.nodes.some((n) => n.id === '2'), 'the front stopped and forgot node 2');
        // The front stops a removed node only once the members have heard its farewell: none waits for
        // it. (A joining node that failed to start and was taken out again may still be waited for.)
        for (const id of four) assert.ok(!(await departedOf(cluster.url(id))).includes('2'), `node ${id} no longer waits for node 2`);
        log.completed('node 2 gone');
        reads.assertClean('decommissioning node 2');

        // SIGKILL node 0 (the layout coordinator), then remove it for good while it is dead.
        await cluster.kill('0');
        log.mark('node 0 killed');
        log.requested('removal of dead node 0');
        // Until the others see node 0 dead, the change may be sent to it and time out (503): again.
        const removal = await removeNodeRetrying(cluster, '0');
        assert.equal(removal.status, 202, `removal of dead node 0: ${JSON.stringify(removal.body)}`);
        const survivors = four.filter((id) => id !== '0');
        const final = await waitForSettled(cluster, survivors, changeTimeoutMs, 'node 0 to be removed');
        log.completed(`node 0 removed (layout v${final.layoutVersion})`);
        // Node 0 is dead and cannot say farewell: the survivors keep asking it before purging.
        for (const id of survivors) assert.ok((await departedOf(cluster.url(id))).includes('0'), `node ${id} waits for node 0`);
        reads.assertClean('removing dead node 0');
      } finally {
        await load.stop();
        await reads.stop();
        process.stderr.write(`grow/shrink: ${load.describe()}; ${reads.describe()}\n  ${log.describe()}\n`);
      }
      reads.assertClean('the whole run');
      log.assertUnderLoad();
      load.assertFailuresUnavailableOnly();
      assertReadCheck(await checkAcknowledgedReadable(load.acked, target), 'after the last change');
      const placement = await waitForExactPlacement(cluster, load.acked, 30_000);
      process.stderr.write(`grow/shrink: ${placement.keys} keys on exactly their preference lists (${placement.askedRoute} also asked of a node)\n`);
    });
  });
});
