// Issue 4, against real processes: streaming to a new node is throttled by settings "so that client
// traffic keeps its latency". A fill session moves at most antiEntropyKeysMax keys per exchange and
// then waits as long as antiEntropyKeysPerSecondMax says, so the keys a joining node has received can
// grow by at most (keys per exchange + rate x time) per source session. A fresh node holds nothing in
// the ranges it fills, and must not receive a whole chunk of ranges in one exchange (it once received
// more than a thousand keys in one, applied in one go while its event loop answered nothing else).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectStatus, http, withCluster } from './harness.js';
import { addNodeRetrying, topologySettings, waitForSettled, withSettings, WriteLoad, type TopologyView } from './topologyHarness.js';

const keysPerExchange = 100;
const keysPerSecond = 500;

describe('topology: streaming is throttled', () => {
  it('a joining node receives its ranges a bounded number of keys at a time, at the configured pace', async () => {
    const settings = withSettings(topologySettings, `antiEntropyKeysMax=${keysPerExchange}`, `antiEntropyKeysPerSecondMax=${keysPerSecond}`);
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, vnodes: 32, settings }, async (cluster) => {
      const load = new WriteLoad(() => cluster.front, { writers: 0, maxKeysPerWriter: 0, prefix: '' });
      await load.preload(3000);
      const added = await addNodeRetrying(cluster);
      assert.equal(added.status, 201, `the join is accepted: ${JSON.stringify(added.body)}`);
      const joiner = { id: String(added.body.node.id), url: `http://${added.body.node.http}` };

      // Sample the joiner's fill until it is done; each sample is bracketed by when it was asked and
      // answered, so the window it covers since the previous one is at most answered - asked before.
      const samples: { askedMs: number; answeredMs: number; keys: number; sources: number }[] = [];
      let slowest = 0;
      for (;;) {
        const askedMs = Date.now();
        const view: TopologyView = expectStatus(await http('GET', `${joiner.url}/v1/admin/topology`, { timeoutMs: 20_000 }), 200, 'topology').json();
        const answeredMs = Date.now();
        slowest = Math.max(slowest, answeredMs - askedMs);
        if (!view.fill || view.fill.done || !view.inTransition) break;
        samples.push({ askedMs, answeredMs, keys: view.fill.keysReceived, sources: view.fill.sources.length });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const steps: string[] = [];
      let worst = 0;
      for (let i = 1; i < samples.length; i++) {
        const before = samples[i - 1]!;
        const after = samples[i]!;
        const windowS = (after.answeredMs - before.askedMs) / 1000;
        // Per source session: one exchange right away, then the pace.
        const allowed = after.sources * (keysPerExchange + keysPerSecond * windowS);
        const grew = after.keys - before.keys;
        worst = Math.max(worst, grew / allowed);
        if (grew > allowed) steps.push(`+${grew} keys in ${windowS.toFixed(2)} s (at most ${Math.round(allowed)})`);
      }
      const first = samples.find((s) => s.keys > 0);
      assert.ok(samples.length > 0, 'the fill was watched while it ran');
      assert.deepEqual(steps.slice(0, 5), [], `the fill moved more keys at once than its pace allows (first nonzero sample: ${first?.keys} keys; the joiner took up to ${slowest} ms to answer)`);
      await waitForSettled(cluster, ['0', '1', '2', joiner.id], 60_000, 'the join to complete');
      process.stderr.write(`stream pacing: ${samples.length} samples, worst step at ${(worst * 100).toFixed(0)} % of the bound, slowest answer ${slowest} ms\n`);
    });
  });
});
