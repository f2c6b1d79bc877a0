// Failure detection with the default local settings (issue 3): no fast overrides here, the `local`
// preset as `npm start` uses it. Every live node sees a SIGKILLed node dead within 5 s, and a restarted
// one alive again within 3 s of its process answering.

import { describe, it } from 'node:test';
import { memberStates, waitFor, withCluster } from './harness.js';

describe('failure detection (local preset)', () => {
  it('a SIGKILLed node is dead in every live view within 5 s, and alive again within 3 s of its restart', async (t) => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3, settings: [] }, async (cluster) => {
      const victim = '1';
      const observers = cluster.others(victim);
      const seenBy = async (state: string) => {
        const views = await Promise.all(observers.map((o) => memberStates(o.url)));
        return views.every((view) => view.get(victim) === state);
      };

      const killedAt = Date.now();
      await cluster.kill(victim);
      await waitFor(() => seenBy('dead'), 5000, { what: `node ${victim} to be dead in every live view`, intervalMs: 50 });
      const deadAfterMs = Date.now() - killedAt;

      const restartedAt = Date.now();
      await cluster.start(victim); // resolves once the new process answers HTTP
      const upAt = Date.now();
      await waitFor(() => seenBy('alive'), 3000, { what: `node ${victim} to be alive in every live view`, intervalMs: 50 });
      const aliveAfterMs = Date.now() - upAt;

      // And the restarted node sees the others alive in the same time.
      await waitFor(
        async () => {
          const own = await memberStates(cluster.url(victim));
          return observers.every((observer) => own.get(observer.id) === 'alive');
        },
        3000,
        { what: `node ${victim} to see the others alive`, intervalMs: 50 },
      );
      t.diagnostic(`dead after ${deadAfterMs} ms; process up after ${upAt - restartedAt} ms, then alive after ${aliveAfterMs} ms`);
    });
  });
});
