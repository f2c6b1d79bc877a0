// Conditional writes against real processes killed with SIGKILL (DESIGN.md §3 and §4): clients INCR a
// few counters through two nodes while a replica is killed and restarted, then while a coordinator is.
// A replica's promises and acceptances must survive its kill (they are durable before it answers), and
// a coordinator killed in the middle of a round leaves its updates' outcome unknown, never applied
// twice. Afterwards each counter, read at quorum, counts every acknowledged INCR once, and none but
// those and the ones whose outcome is unknown; and no two acknowledged INCRs of a counter saw the same
// count.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { get, sleep, withCluster } from './harness.js';

const counters = ['c0', 'c1', 'c2'];

interface CounterLog {
  acknowledged: number[];
  unknown: number;
}

describe('conditional writes under kill -9', () => {
  it('INCRs through two nodes while a replica, then a coordinator, is SIGKILLed: each acknowledged one counts once', async (t) => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 3 }, async (cluster) => {
      const members = cluster.started.cluster.members;
      const respOf = (id: string) => {
        const [host, port] = (members.find((m) => m.id === id)?.resp ?? '').split(':');
        return { host: host as string, port: Number(port) };
      };
      // No retries of its own: a command in flight when its connection breaks fails (outcome unknown).
      const open = (id: string) => new Redis({ ...respOf(id), maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, retryStrategy: () => 100 });
      const clients = [open('0'), open('0'), open('1'), open('1')];
      for (const client of clients) client.on('error', () => undefined);
      const logs = new Map<string, CounterLog>(counters.map((c) => [c, { acknowledged: [], unknown: 0 }]));
      let stopping = false;
      const workers = clients.map(async (client, w) => {
        for (let i = 0; !stopping; i++) {
          const counter = counters[(i + w) % counters.length] as string;
          const log = logs.get(counter) as CounterLog;
          try {
            log.acknowledged.push(await client.incr(counter));
          } catch {
            log.unknown += 1; // refused, timed out, or the connection broke: it may have taken effect
            await sleep(50);
          }
        }
      });
      try {
        await sleep(800);
        await cluster.kill('2'); // a replica of every counter
        await sleep(1500);
        await cluster.start('2');
        await sleep(1000);
        await cluster.kill('0'); // the coordinator of half the clients, mid-round
        await sleep(1500);
        await cluster.start('0');
        await sleep(1500);
      } finally {
        stopping = true;
        await Promise.all(workers);
        for (const client of clients) client.disconnect();
      }

      let acknowledged = 0;
      for (const [counter, log] of logs) {
        const answer = await get(cluster.url('1'), counter, 'quorum');
        assert.equal(answer.status, 200, `${counter} reads back`);
        const count = Number(answer.text());
        const acks = log.acknowledged.length;
        acknowledged += acks;
        assert.ok(count >= acks && count <= acks + log.unknown, `${counter}: ${count} counted for ${acks} acknowledged and ${log.unknown} unknown`);
        assert.equal(new Set(log.acknowledged).size, acks, `${counter}: no two acknowledged INCRs saw the same count`);
        assert.ok(Math.max(...log.acknowledged) <= count, `${counter}: no acknowledged count above the final one`);
      }
      assert.ok(acknowledged > 100, `the clients made progress (${acknowledged} acknowledged)`);
      t.diagnostic(`${acknowledged} INCRs acknowledged, ${[...logs.values()].reduce((sum, log) => sum + log.unknown, 0)} with an unknown outcome`);
    });
  });
});
