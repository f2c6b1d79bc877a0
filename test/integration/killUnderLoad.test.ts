// kill -9 under load (issue 3, DESIGN.md §5 properties 1 and 2 against real processes): writers keep
// writing at quorum while a replica's process is SIGKILLed and later restarted. Afterwards every
// acknowledged write reads back at quorum (its value, or a newer one of the same key), and once repair
// has run every replica of every key holds the same version.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectStatus, get, localEntryMap, put, replicasOf, sleep, waitFor, withCluster, type LocalEntry } from './harness.js';

interface WriterLog {
  /** key -> sequence number of the last acknowledged write. */
  readonly acked: Map<string, number>;
  attempts: number;
  acks: number;
  /** Acknowledged while the victim's process was down. */
  acksWhileDown: number;
  failures: number;
}

const keysPerWriter = 6;
const valueOf = (key: string, seq: number) => `${key}#${seq}`;

describe('kill -9 under load', () => {
  it('writers at quorum keep going while a node is SIGKILLed and restarted; nothing acknowledged is lost and replicas converge', async (t) => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3 }, async (cluster) => {
      const victim = '2';
      let victimDown = false;
      let stopping = false;
      // Two writers through node 0, one through node 1, one through the front (which routes around
      // the dead process): distinct keys per writer, each key overwritten many times.
      const coordinators = [cluster.url('0'), cluster.url('0'), cluster.url('1'), cluster.front];
      const logs: WriterLog[] = coordinators.map(() => ({ acked: new Map(), attempts: 0, acks: 0, acksWhileDown: 0, failures: 0 }));
      let writerError: unknown;
      const writers = coordinators.map(async (coordinator, w) => {
        const log = logs[w]!;
        for (let seq = 0; !stopping; seq++) {
          const key = `w${w}-k${seq % keysPerWriter}`;
          log.attempts += 1;
          const downAtStart = victimDown;
          try {
            const answer = await put(coordinator, key, valueOf(key, seq), 'quorum');
            if (answer.status === 200) {
              log.acked.set(key, seq);
              log.acks += 1;
              if (downAtStart && victimDown) log.acksWhileDown += 1;
            } else {
              assert.equal(answer.status, 503, `a write is acknowledged or refused as unavailable, got ${answer.status} ${answer.text()}`);
              log.failures += 1;
            }
          } catch (error) {
            if (error instanceof assert.AssertionError) throw error;
            log.failures += 1; // no answer: not acknowledged
            await sleep(20);
          }
        }
      }).map((writer) => writer.catch((error: unknown) => {
        writerError ??= error;
        stopping = true;
      }));

      await sleep(700);
      await cluster.kill(victim);
      victimDown = true;
      await sleep(2000);
      victimDown = false;
      await cluster.start(victim);
      await sleep(1000);
      stopping = true;
      await Promise.all(writers);
      if (writerError) throw writerError;

      const acks = logs.reduce((sum, log) => sum + log.acks, 0);
      const acksWhileDown = logs.reduce((sum, log) => sum + log.acksWhileDown, 0);
      assert.ok(acks > 50, `the writers made progress (${acks} acknowledged writes)`);
      assert.ok(acksWhileDown >= 5, `writes were acknowledged while node ${victim} was down (${acksWhileDown})`);
      const failures = logs.reduce((sum, log) => sum + log.failures, 0);
      t.diagnostic(`${acks} writes acknowledged (${acksWhileDown} while node ${victim} was down), ${failures} not`);

      // Every acknowledged write reads back at quorum: the last acknowledged value or a newer one.
      await cluster.waitForState(victim, 'alive', 5000);
      for (const [w, log] of logs.entries()) {
        for (const [key, seq] of log.acked) {
          const read = expectStatus(await get(cluster.url(String(w % 2)), key, 'quorum'), 200, `read ${key} at quorum`);
          const [readKey, readSeq] = read.text().split('#');
          assert.equal(readKey, key, `${key} reads a value of its own`);
          assert.ok(Number(readSeq) >= seq, `${key} reads write #${readSeq}, older than the acknowledged #${seq}`);
        }
      }

      // After repair every replica of every key holds the same version.
      const keys = logs.flatMap((log) => [...log.acked.keys()]);
      const placements = new Map(await Promise.all(keys.map(async (key) => [key, await replicasOf(cluster.url('0'), key)] as const)));
      let antiEntropy: boolean | undefined;
      let diverged: string[] = [];
      await waitFor(
        async () => {
          antiEntropy ??= await cluster.antiEntropyEverywhere();
          if (antiEntropy) await cluster.antiEntropyEverywhere();
          const listings = new Map<string, Map<string, LocalEntry>>();
          for (const node of cluster.nodes) listings.set(node.id, await localEntryMap(node.url));
          diverged = keys.filter((key) => {
            const versions = placements.get(key)!.map((id) => listings.get(id)!.get(key)?.version);
            return versions.some((version) => version === undefined || version !== versions[0]);
          });
          return diverged.length === 0;
        },
        10_000,
        { what: 'every replica of every key to hold the same version', intervalMs: 300 },
      ).catch((error: Error) => {
        error.message += ` diverged: ${diverged.join(', ')}`;
        throw error;
      });
    });
  });
});
