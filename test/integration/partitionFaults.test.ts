// More real network faults between node processes in network namespaces (netns.ts), beyond
// partition.test.ts: a link that flaps under a write load, and a node cut off in the middle of a
// decommission. Each checks DESIGN.md §5's properties against real processes: no acknowledged write
// lost (every quorum read through every node returns it or a later write of its writer; a deleted key
// stays deleted), every replica converged, every request answered within its timeout; and, for the
// flapping link, that no node is left holding a pile of connections or memory; for the decommission,
// that the change completes once the cut heals and leaves every key on exactly its replicas.
//
// Runs as root only (network namespaces); elsewhere it skips and says why.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it, type TestContext } from 'node:test';
import type { Layout } from '../../src/core/layout.js';
import { Placement } from '../../src/core/placement.js';
import { del, get, http, localEntries, localEntryMap, put, sleep, waitFor, type HttpResponse } from './harness.js';
import { destroyAll, netnsUnavailableReason, withNetnsCluster, type NetnsCluster } from './netns.js';

const skipReason = await netnsUnavailableReason();

const requestTimeoutMs = 2000;
/** What an answer may take beyond the request timeout on a busy two-core machine. */
const answerSlackMs = 1500;

// ---- a write load that remembers what was acknowledged ---------------------------------------------

interface KeyHistory {
  /** Sequence number of the last acknowledged operation (-1: none yet), and whether it was a delete. */
  ackedSeq: number;
  ackedDelete: boolean;
  /** Every write and delete ever sent (acknowledged or not: a refused one may still take effect). */
  readonly writes: Set<number>;
  readonly deletes: Set<number>;
}

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

async function timed(request: Promise<HttpResponse>): Promise<Answer> {
  const start = performance.now();
  const response = await request;
  return { status: response.status, ms: Math.round(performance.now() - start), body: response.text() };
}

/**
 * Writers at quorum, each owning `keysPerWriter` keys that it writes in turn (so the writes of a key
 * are sequential and numbered), about one in ten a delete, going round the nodes in `via`. A request
 * unanswered after 10 s throws (a hang); one answered after the request timeout plus slack is noted.
 */
class WriteLoad {
  readonly keys = new Map<string, KeyHistory>();
  readonly stats = { attempts: 0, acks: 0, refused: 0, slowest: 0, late: [] as string[], unexpected: [] as string[] };
  private stopping = false;
  private seq = 0;
  private runs: Promise<void>[] = [];

  constructor(
    private readonly c: NetnsCluster,
    private readonly options: { writers: number; keysPerWriter: number; via: readonly string[]; prefix: string; pauseMs?: number },
  ) {}

  start(): void {
    this.runs = Array.from({ length: this.options.writers }, (_, w) => this.writer(w));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.runs);
  }

  private async writer(w: number): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      const key = `${this.options.prefix}w${w}-k${i % this.options.keysPerWriter}`;
      const via = this.options.via[(i + w) % this.options.via.length] as string;
      let history = this.keys.get(key);
      if (!history) {
        history = { ackedSeq: -1, ackedDelete: false, writes: new Set(), deletes: new Set() };
        this.keys.set(key, history);
      }
      const seq = ++this.seq;
      const remove = history.ackedSeq >= 0 && !history.ackedDelete && Math.random() < 0.1;
      (remove ? history.deletes : history.writes).add(seq);
      this.stats.attempts += 1;
      const url = this.c.url(via);
      const answer = await timed(remove ? del(url, key, 'quorum', this.c.token) : put(url, key, `${key}#${seq}`, 'quorum', this.c.token));
      this.stats.slowest = Math.max(this.stats.slowest, answer.ms);
      if (answer.ms > requestTimeoutMs + answerSlackMs) this.stats.late.push(`${remove ? 'delete' : 'write'} of ${key} through node ${via}: ${answer.status} after ${answer.ms} ms`);
      if (answer.status === 200) {
        history.ackedSeq = seq;
        history.ackedDelete = remove;
        this.stats.acks += 1;
      } else {
        if (answer.status !== 503) this.stats.unexpected.push(`${key} through node ${via}: ${answer.status} ${answer.body.slice(0, 200)}`);
        this.stats.refused += 1;
        await sleep(20);
      }
      if (this.options.pauseMs) await sleep(this.options.pauseMs);
    }
  }

  /** Why a read of `key` answering `answer` loses an acknowledged write, or undefined when it does not. */
  judge(key: string, answer: Answer): string | undefined {
    const history = this.keys.get(key);
    if (!history) return `a key never written: ${key}`;
    if (answer.status === 404) {
      if (history.ackedSeq < 0 || history.ackedDelete) return undefined;
      // A delete sent after the last acknowledged write may have taken effect.
      return [...history.deletes].some((d) => d > history.ackedSeq) ? undefined : `absent, yet #${history.ackedSeq} was acknowledged`;
    }
    if (answer.status !== 200) return `answered ${answer.status} ${answer.body.slice(0, 200)}`;
    const seq = Number(/#(\d+)$/.exec(answer.body)?.[1] ?? NaN);
    if (!answer.body.startsWith(`${key}#`) || !history.writes.has(seq)) return `a value never written: ${answer.body}`;
    if (seq < history.ackedSeq) return `reads #${seq}, yet ${history.ackedDelete ? 'the delete' : 'the write'} #${history.ackedSeq} was acknowledged`;
    return undefined;
  }

  describe(): string {
    return `${this.stats.acks} of ${this.stats.attempts} writes acknowledged, ${this.stats.refused} refused, slowest answer ${this.stats.slowest} ms`;
  }
}

// ---- checks after the heal ----------------------------------------------------------------------

/** Every key of the load read at quorum through every node of `nodes`, then at one (each node's own copy). */
async function checkReads(c: NetnsCluster, load: WriteLoad, nodes: readonly string[]): Promise<void> {
  for (const key of load.keys.keys()) {
    let reference: Answer | undefined;
    for (const node of nodes) {
      // A 503 is tried again for a few seconds (a node that just came back may not see the others yet).
      const answer = await waitFor(
        async () => {
          const a = await timed(get(c.url(node), key, 'quorum', c.token));
          return a.status === 503 ? false : a;
        },
        5000,
        { what: `${key} readable at quorum through node ${node}`, intervalMs: 200 },
      );
      assert.equal(load.judge(key, answer), undefined, `quorum read of ${key} through node ${node}: ${load.judge(key, answer)}`);
      reference ??= answer;
      const own = await timed(get(c.url(node), key, 'one', c.token));
      assert.deepEqual([own.status, own.body], [reference.status, reference.body], `node ${node}'s own copy of ${key} (read at one) is what a quorum read answers`);
    }
  }
}

function assertTimely(load: WriteLoad): void {
  assert.deepEqual(load.stats.late.slice(0, 5), [], `requests answered after the request timeout (${requestTimeoutMs} ms) plus ${answerSlackMs} ms`);
  assert.deepEqual(load.stats.unexpected.slice(0, 5), [], 'writes are acknowledged or refused as unavailable (503)');
}

/** Files (sockets included) the node's process holds open. */
function fdCount(c: NetnsCluster, id: string): number {
  return readdirSync(`/proc/${c.pid(id)}/fd`).length;
}

/** Resident memory of the node's process, in MiB. */
function rssMiB(c: NetnsCluster, id: string): number {
  const status = readFileSync(`/proc/${c.pid(id)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

async function topologyOf(c: NetnsCluster, id: string): Promise<any> {
  const response = await http('GET', `${c.url(id)}/v1/admin/topology`, { token: c.token, timeoutMs: 3000 });
  assert.equal(response.status, 200, `topology of node ${id}`);
  return response.json();
}

async function clusterOf(c: NetnsCluster, id: string): Promise<any> {
  const response = await http('GET', `${c.url(id)}/v1/cluster`, { token: c.token, timeoutMs: 3000 });
  assert.equal(response.status, 200, `cluster view of node ${id}`);
  return response.json();
}

describe('real network faults: a flapping link, a cut during a decommission (network namespaces, tc)', { skip: skipReason ?? false }, () => {
  after(() => destroyAll());

  // Cuts of 0.5 to 2 s: each side suspects the other, sometimes declares it dead, writes through node 3
  // fail while it is cut off and succeed in between, and hints pile up and drain again, many times
  // over. What may break: a request left hanging on a peer that vanished mid-request, a hint or write
  // lost in a connection dropped mid-flight, connections dialled again and again and never closed.
  it('node 3 cut off and healed every 0.5-2 s for 20 s under writers through every node: nothing acknowledged is lost, replicas converge, every request answers in time, no connections or memory pile up', { timeout: 75_000 }, async (t: TestContext) => {
    await withNetnsCluster({ settings: [`requestTimeoutMs=${requestTimeoutMs}`] }, async (c) => {
      const rssBefore = c.ids.map((id) => rssMiB(c, id));
      const fdsBefore = c.ids.map((id) => fdCount(c, id));
      const load = new WriteLoad(c, { writers: 5, keysPerWriter: 5, via: c.ids, prefix: 'flap-' });
      load.start();
      await sleep(1000);
      const flaps: string[] = [];
      const end = Date.now() + 20_000;
      let acksWhileCut = 0;
      // In every cut, a write through node 1 or 2, which reach each other: the majority keeps serving.
      // Up to five tries, half a second apart. On two cores shared with other tests' clusters, node 1
      // and node 2 now and then suspect each other: with node 3 cut off, a direct probe answered late
      // has no other node to be probed through, and one write took its whole 2 s timeout, another was
      // refused at once (1 of 3 replicas answered) until the suspicion was refuted.
      const majorityWrites = new Map<string, string>();
      try {
        while (Date.now() < end) {
          await c.isolate('3');
          const cutAt = Date.now();
          const cutMs = 500 + Math.random() * 1500;
          const acksBefore = load.stats.acks;
          const key = `majority-${flaps.length}`;
          const via = String((flaps.length % 2) + 1);
          let answer = await timed(put(c.url(via), key, `cut ${flaps.length}`, 'quorum', c.token));
          for (let retry = 0; retry < 4 && answer.status !== 200; retry++) {
            t.diagnostic(`a quorum write through node ${via} while node 3 is cut off: ${answer.status} after ${answer.ms} ms; again`);
            await sleep(500);
            answer = await timed(put(c.url(via), key, `cut ${flaps.length}`, 'quorum', c.token));
          }
          assert.equal(answer.status, 200, `a quorum write through node ${via} while node 3 is cut off: ${answer.status} after ${answer.ms} ms ${answer.body.slice(0, 200)}`);
          majorityWrites.set(key, `cut ${flaps.length}`);
          await sleep(cutAt + cutMs - Date.now());
          acksWhileCut += load.stats.acks - acksBefore;
          await c.healAll();
          const healMs = 500 + Math.random() * 1500;
          flaps.push(`${Math.round(cutMs)}/${Math.round(healMs)}`);
          await sleep(healMs);
        }
      } finally {
        await c.healAll();
        await load.stop();
      }
      assertTimely(load);
      assert.ok((await c.droppedTowards('3')) > 0, 'the cuts dropped packets');
      const healedAt = Date.now();
      await c.waitForAllAlive(15_000);
      const alive = Date.now() - healedAt;
      const converged = (await c.waitForAgreement([...load.keys.keys()], 25_000)).tookMs;
      await checkReads(c, load, c.ids);
      for (const [key, value] of majorityWrites) {
        for (const node of c.ids) {
          const answer = await timed(get(c.url(node), key, 'quorum', c.token));
          assert.deepEqual([answer.status, answer.body], [200, value], `${key} at quorum through node ${node}`);
        }
      }
      // Connections: one out and one in per peer, a few more while those a cut left behind close
      // (their FIN or a keepalive probe gets through late), never dozens. TIME-WAIT is the kernel's
      // alone (no process holds it) and lasts a minute: not counted.
      const sockets = await waitFor(
        async () => {
          const sockets: string[] = [];
          const totals: number[] = [];
          for (const id of c.ids) {
            const states = await c.peerSocketStates(id);
            sockets.push(`node ${id}: ${JSON.stringify(states)}`);
            totals.push(Object.entries(states).reduce((sum, [state, count]) => (state === 'TIME-WAIT' ? sum : sum + count), 0));
          }
          // Thrown, the counts are what waitFor reports at its timeout.
          if (!totals.every((total) => total <= 4 * (c.ids.length - 1))) throw new Error(sockets.join('; '));
          return sockets;
        },
        15_000,
        { what: 'each node to hold at most 4 sockets per peer on the peer port', intervalMs: 500 },
      );
      const fdsAfter = c.ids.map((id) => fdCount(c, id));
      for (const [i, id] of c.ids.entries()) {
        assert.ok((fdsAfter[i] as number) <= (fdsBefore[i] as number) + 8, `node ${id}'s open files went from ${fdsBefore[i]} to ${fdsAfter[i]}`);
      }
      const rssAfter = c.ids.map((id) => rssMiB(c, id));
      for (const [i, id] of c.ids.entries()) {
        assert.ok((rssAfter[i] as number) < (rssBefore[i] as number) + 120, `node ${id}'s resident memory grew from ${rssBefore[i]?.toFixed(0)} to ${rssAfter[i]?.toFixed(0)} MiB`);
      }
      t.diagnostic(
        `${flaps.length} cuts (cut/heal ms: ${flaps.join(' ')}); ${load.describe()}, ${acksWhileCut} while cut; ` +
          `all alive ${alive} ms after the last heal, every copy in line ${converged} ms later; ` +
          `sockets: ${sockets.join('; ')}; open files before/after: ${c.ids.map((id, i) => `${fdsBefore[i]}/${fdsAfter[i]}`).join(', ')}; RSS MiB before/after: ${c.ids.map((id, i) => `${rssBefore[i]?.toFixed(0)}/${rssAfter[i]?.toFixed(0)}`).join(', ')}`,
      );
    });
  });

  // Node 4 leaves a 4-node cluster (RF 3): its ranges stream to nodes 1, 2 and 3, paced so that the
  // move lasts. Node 2, which gains ranges and is a source of others, is cut off mid-stream for 8 s,
  // while writers go on through every member and node 2 acknowledges writes at `one` alone. The move
  // cannot finish without node 2; once the cut heals it must, and node 4 must hand over and say
  // farewell, leaving every key on exactly its replicas.
  it('a member cut off for 8 s in the middle of a decommission: the change completes after the heal, nothing acknowledged is lost, every key ends on exactly its replicas', { timeout: 75_000 }, async (t: TestContext) => {
    const settings = [`requestTimeoutMs=${requestTimeoutMs}`, 'antiEntropyKeysPerSecondMax=300', 'antiEntropyKeysMax=100'];
    await withNetnsCluster({ nodes: 4, rf: 3, settings }, async (c) => {
      const members = ['1', '2', '3'];
      const preloaded = new Map<string, string>();
      for (let i = 0; i < 1500; i += 250) {
        const ops = Array.from({ length: 250 }, (_, j) => ({ op: 'put', key: `pre-${i + j}`, value: `pre-${i + j}` }));
        const response = await http('POST', `${c.url('1')}/v1/batch`, { token: c.token, body: { ops, consistency: 'quorum' }, timeoutMs: 30_000 });
        assert.equal(response.status, 200, `preload: ${response.text().slice(0, 200)}`);
        for (const result of response.json().results as { key: string; status: string }[]) {
          assert.equal(result.status, 'success', `preload of ${result.key}`);
          preloaded.set(result.key, result.key);
        }
      }
      const load = new WriteLoad(c, { writers: 4, keysPerWriter: 20, via: members, prefix: 'move-', pauseMs: 10 });
      load.start();
      const steps: string[] = [];
      const started = Date.now();
      const step = (what: string) => steps.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const solo = new Map<string, string>();
      try {
        await sleep(500);
        const asked = await http('DELETE', `${c.url('1')}/v1/admin/nodes/4`, { token: c.token, timeoutMs: 15_000 });
        assert.equal(asked.status, 202, `decommission of node 4: ${asked.text().slice(0, 300)}`);
        step('decommission asked');
        await waitFor(
          async () => {
            const views = await Promise.all(members.map((id) => topologyOf(c, id)));
            return views.some((v) => v.inTransition) && views.reduce((n, v) => n + (v.fill?.keysReceived ?? 0), 0) >= 100;
          },
          20_000,
          { what: 'the ranges of node 4 to be streaming', intervalMs: 50 },
        );
        step('streaming');
        await c.isolate('2');
        const cutAt = Date.now();
        step('node 2 cut off');
        // Writes at one that node 2 alone acknowledges: they must outlive the change too.
        for (let i = 0; i < 10; i++) {
          const answer = await timed(put(c.url('2'), `solo-${i}`, `solo-${i}`, 'one', c.token));
          if (answer.status === 200) solo.set(`solo-${i}`, `solo-${i}`);
        }
        await sleep(cutAt + 8000 - Date.now());
        const during = await topologyOf(c, '1');
        step(`node 1 sees layout v${during.layoutVersion}${during.inTransition ? ' in transition' : ''}, waiting for [${during.waitingFor}]`);
        await c.healAll();
        step('healed');
        const healedAt = Date.now();
        // Complete: the members run one layout without node 4, none in transition or with copies to drop,
        // and node 4 knows it is removed and has handed over what it held (README: stop it only then).
        await waitFor(
          async () => {
            const views = await Promise.all(members.map((id) => topologyOf(c, id)));
            const leaver = await clusterOf(c, '4');
            const state = JSON.stringify({
              members: views.map((v) => ({ node: v.node, version: v.layoutVersion, inTransition: v.inTransition, cleanupPending: v.cleanupPending, waitingFor: v.waitingFor })),
              node4: { removed: leaver.removed, cleanupPending: leaver.cleanupPending },
            });
            const version = views[0].layoutVersion;
            const complete =
              views.every((v) => v.layoutVersion === version && !v.inTransition && !v.cleanupPending && v.layout.members.map((m: { id: string }) => m.id).sort().join() === '1,2,3') &&
              leaver.removed === true &&
              leaver.cleanupPending === false;
            // Thrown, the state is what waitFor reports at its timeout.
            if (!complete) throw new Error(state);
            return true;
          },
          45_000,
          { what: 'the decommission to complete after the heal', intervalMs: 250 },
        );
        step(`complete ${Date.now() - healedAt} ms after the heal`);
      } finally {
        await c.healAll();
        await load.stop();
      }
      assertTimely(load);
      assert.ok(solo.size > 0, 'node 2 acknowledged writes at one while cut off');
      // A removed node answers only GET /v1/cluster (503 `removed` elsewhere): stopped now, as README says.
      await c.stopNode('4');

      const keys = [...preloaded.keys(), ...solo.keys(), ...load.keys.keys()];
      const converged = (await c.waitForAgreement(keys, 25_000, members)).tookMs;
      await checkReads(c, load, members);
      for (const node of members) {
        const written = [...preloaded, ...solo];
        for (let i = 0; i < written.length; i += 250) {
          const slice = written.slice(i, i + 250);
          const response = await http('POST', `${c.url(node)}/v1/batch`, { token: c.token, body: { ops: slice.map(([key]) => ({ op: 'get', key })), consistency: 'quorum' }, timeoutMs: 30_000 });
          assert.equal(response.status, 200);
          for (const [j, result] of (response.json().results as { key: string; found?: boolean; value?: string }[]).entries()) {
            const [key, value] = slice[j] as [string, string];
            assert.ok(result.found && result.value === value, `${key} at quorum through node ${node}: ${JSON.stringify(result)}`);
          }
        }
      }
      // Placement: every key some member holds sits on exactly its preference list under the final
      // layout, as the nodes compute it and as /v1/keys/{key}/replicas names it.
      const layout = (await topologyOf(c, '1')).layout as Layout;
      const placement = new Placement(layout);
      const holders = new Map<string, string[]>();
      for (const id of members) for (const entry of await localEntries(c.url(id), c.token)) holders.set(entry.key, [...(holders.get(entry.key) ?? []), id]);
      for (const key of [...preloaded.keys(), ...solo.keys()]) assert.ok(holders.has(key), `${key} is held by some member`);
      for (const [key, held] of holders) {
        assert.deepEqual([...held].sort(), placement.readReplicas(key).sort(), `${key} is held by exactly its replicas`);
      }
      for (const key of keys.filter((_, i) => i % 25 === 0)) {
        const response = await http('GET', `${c.url('3')}/v1/keys/${encodeURIComponent(key)}/replicas`, { token: c.token });
        assert.deepEqual([...response.json().replicas].sort(), placement.readReplicas(key).sort(), `node 3 names the replicas of ${key}`);
      }
      t.diagnostic(`${steps.join(', ')}; ${load.describe()}; ${solo.size} writes at one by node 2 alone; copies in line ${converged} ms after the change; ${holders.size} keys on exactly their replicas`);
    });
  });
});
