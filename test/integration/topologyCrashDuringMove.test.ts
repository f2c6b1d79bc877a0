// Issue 4, against real processes: a joining node is SIGKILLed while ranges stream to it. The change
// cannot complete without it and must not be half-applied; once the node is restarted on its data, its
// fill resumes, the move completes, and every key is readable at quorum and on exactly its preference
// list. Streaming is slowed down (small steps, a low key rate) so that the kill lands mid-stream.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep, waitFor, withCluster } from './harness.js';
import {
  addNodeRetrying,
  assertReadCheck,
  checkAcknowledgedReadable,
  topologyOf,
  topologySettings,
  waitForExactPlacement,
  waitForSettled,
  withSettings,
  WriteLoad,
  type TopologyView,
} from './topologyHarness.js';

describe('topology: a node crashes while receiving a range', () => {
  it('a joining node SIGKILLed mid-stream resumes its fill after restart; the join completes with every key readable at quorum and on exactly its preference list', async () => {
    const settings = withSettings(topologySettings, 'antiEntropyKeysMax=100', 'antiEntropyKeysPerSecondMax=400');
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, vnodes: 32, settings }, async (cluster) => {
      const started = Date.now();
      const timings: string[] = [];
      const mark = (what: string) => timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const target = () => cluster.front;
      const load = new WriteLoad(target, { writers: 0, maxKeysPerWriter: 0, prefix: '' });
      await load.preload(3000);
      mark('3000 keys written');

      const added = await addNodeRetrying(cluster);
      assert.equal(added.status, 201, `the join is accepted: ${JSON.stringify(added.body)}`);
      const joiner = { id: String(added.body.node.id), url: `http://${added.body.node.http}` };
      // Kill it as soon as it reports keys received while its fill is not done.
      const midStream = await waitFor(
        async () => {
          const view = await topologyOf(joiner.url);
          return view.fill && !view.fill.done && view.fill.keysReceived > 0 ? view : undefined;
        },
        30_000,
        { what: 'the joining node to be receiving keys', intervalMs: 10 },
      );
      await cluster.kill(joiner.id);
      const received = midStream.fill?.keysReceived ?? 0;
      mark(`node ${joiner.id} killed after ${received} keys received`);
      assert.ok(received < 3000, 'killed before it received everything');

      // While it is down the change stays under way (the joiner holds ranges no one else will get).
      await sleep(1500);
      const stuck = await topologyOf(cluster.url('0'));
      assert.ok(stuck.inTransition, `layout v${stuck.layoutVersion} is still in transition with node ${joiner.id} down`);
      assert.equal(stuck.layout.members.find((m) => m.id === joiner.id)?.role, 'joining');
      // Writes keep being acknowledged at quorum meanwhile (the next replica sets have 2 of 3 alive).
      const whileDown = new WriteLoad(target, { writers: 0, maxKeysPerWriter: 0, prefix: 'down-' });
      await whileDown.preload(300);
      mark('300 keys written while it was down');

      await cluster.start(joiner.id);
      mark(`node ${joiner.id} restarted`);
      // It resumes filling the same change (unless it already finished by the time it is asked).
      const resumed = await waitFor(
        async () => {
          const view: TopologyView = await topologyOf(joiner.url);
          return (view.layoutVersion === stuck.layoutVersion && view.fill) || view.layoutVersion > stuck.layoutVersion ? view : undefined;
        },
        10_000,
        { what: 'the restarted node to resume its fill', intervalMs: 20 },
      );
      if (resumed.layoutVersion === stuck.layoutVersion) mark(`fill resumed (${resumed.fill?.keysReceived ?? 0} keys received since the restart)`);
      await waitForSettled(cluster, ['0', '1', '2', joiner.id], 60_000, `the join of node ${joiner.id} to complete`);
      mark('join complete');

      const acked = new Map([...load.acked, ...whileDown.acked]);
      assertReadCheck(await checkAcknowledgedReadable(acked, target), 'after the join completed');
      const placement = await waitForExactPlacement(cluster, acked, 30_000);
      assert.ok(placement.keys >= 3300, `every key is held somewhere (${placement.keys})`);
      mark(`${placement.keys} keys on exactly their preference lists`);
      process.stderr.write(`crash during move: ${timings.join(', ')}\n`);
    });
  });
});
