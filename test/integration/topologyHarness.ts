// Helpers for the integration tests of topology changes (issue 4) against real node processes, on top
// of harness.ts: the topology status of a node, the members the cluster should be checked on, a writer
// loop that remembers what was acknowledged, a reader that checks every acknowledged key at quorum, and
// a placement check that compares every live node's local listing with each key's preference list.

import assert from 'node:assert/strict';
import type { Layout } from '../../src/core/layout.js';
import { Placement } from '../../src/core/placement.js';
import {
  del,
  expectStatus,
  fastSettings,
  http,
  localEntries,
  put,
  sleep,
  waitFor,
  type HttpResponse,
  type LocalEntry,
  type TestCluster,
  type TestNode,
} from './harness.js';

/**
 * Fast failure detection, scheduled anti-entropy every 2 s, and streaming paced to a thousand keys a
 * second per session so that a move lasts long enough to be watched while it runs.
 */
export const topologySettings: readonly string[] = [
  ...fastSettings,
  // A node is declared dead after 2 s of suspicion rather than 0.8 s: on a busy machine a node that
  // stalls for a second is not dead (with RF 2 a quorum needs both replicas).
  'suspicionMultiplier=10',
  'antiEntropyIntervalMs=2000',
  'antiEntropyKeysPerSecondMax=1000',
];

/** Streaming slower still (50 keys a step, 100 a second), so that a change lasts while a node is killed in it. */
export const slowStreamSettings: readonly string[] = withSettings(topologySettings, 'antiEntropyKeysMax=50', 'antiEntropyKeysPerSecondMax=100');

/** `settings` with some `name=value` replaced or added. */
export function withSettings(settings: readonly string[], ...overrides: string[]): string[] {
  const names = new Set(overrides.map((o) => o.split('=')[0]));
  return [...settings.filter((s) => !names.has(s.split('=')[0])), ...overrides];
}

// ---- what a node says about the change under way ------------------------------------------------

export interface FillView {
  readonly layoutVersion: number;
  readonly sources: { peer: string; ranges: number; done: boolean }[];
  readonly rangesTotal: number;
  readonly keysReceived: number;
  readonly bytesReceived: number;
  readonly done: boolean;
}

export interface TopologyView {
  readonly layout: Layout;
  readonly layoutVersion: number;
  readonly inTransition: boolean;
  readonly coordinator: string | undefined;
  readonly fill?: FillView;
  readonly waitingFor: string[];
  readonly entriesDropped: number;
  readonly cleanupPending: boolean;
}

/** The removed nodes a member still waits for (`departed` in GET /v1/cluster). */
export async function departedOf(nodeUrl: string): Promise<string[]> {
  const view = expectStatus(await http('GET', `${nodeUrl}/v1/cluster`), 200, `cluster view of ${nodeUrl}`).json<{ departed: { id: string }[] }>();
  return view.departed.map((d) => d.id);
}

export async function topologyOf(nodeUrl: string): Promise<TopologyView> {
  const response = await http('GET', `${nodeUrl}/v1/admin/topology`, { timeoutMs: 2000 });
  return expectStatus(response, 200, `topology of ${nodeUrl}`).json<TopologyView>();
}

/** Nodes whose process the supervisor runs. */
export function runningNodes(cluster: TestCluster): TestNode[] {
  const running = new Set(cluster.started.supervisor.runningIds());
  return cluster.nodes.filter((n) => running.has(n.id));
}

/**
 * The topology as every running node that is a member reports it, once they all agree on one layout
 * version; undefined while they do not (a layout is still spreading) or one does not answer.
 */
export async function agreedTopology(cluster: TestCluster): Promise<TopologyView | undefined> {
  const nodes = runningNodes(cluster);
  const views = await Promise.all(nodes.map((n) => topologyOf(n.url).catch(() => undefined)));
  const answered = views.filter((v): v is TopologyView => v !== undefined);
  if (answered.length === 0 || answered.length !== views.length) return undefined;
  // A removed node still running (its process is stopped a moment later) is no member of the newest
  // layout, and may hold an older one: only members must agree.
  const current = answered.reduce((a, b) => (b.layoutVersion > a.layoutVersion ? b : a));
  const inLayout = new Set(current.layout.members.map((m) => m.id));
  const agree = nodes.every((node, i) => !inLayout.has(node.id) || (views[i] as TopologyView).layoutVersion === current.layoutVersion);
  return agree ? current : undefined;
}

/**
 * The topology once a change is complete everywhere, or undefined while it is not: one layout version
 * on every member, no transition, exactly `members` (all active, all running, and no removed node's
 * process still running), no member with copies left to drop, and `replication` if given.
 */
export async function settledOn(
  cluster: TestCluster,
  members: readonly string[],
  replication?: { strategy: string; rf?: number },
): Promise<TopologyView | undefined> {
  const view = await agreedTopology(cluster);
  if (!view || view.inTransition) return undefined;
  const ids = view.layout.members.map((m) => m.id).sort().join(',');
  if (ids !== [...members].sort().join(',') || view.layout.members.some((m) => m.role !== 'active')) return undefined;
  if (replication && (view.layout.strategy !== replication.strategy || (replication.rf !== undefined && view.layout.rf !== replication.rf))) return undefined;
  const running = new Set(cluster.started.supervisor.runningIds());
  if (!members.every((id) => running.has(id)) || running.size !== members.length) return undefined;
  const statuses = await Promise.all(members.map((id) => topologyOf(cluster.url(id)).catch(() => undefined)));
  if (statuses.some((s) => s === undefined || s.cleanupPending || s.layoutVersion !== view.layoutVersion)) return undefined;
  return view;
}

/** Waits (bounded) until `settledOn` holds; returns that topology. */
export async function waitForSettled(
  cluster: TestCluster,
  members: readonly string[],
  timeoutMs: number,
  what: string,
  replication?: { strategy: string; rf?: number },
): Promise<TopologyView> {
  return waitFor(() => settledOn(cluster, members, replication), timeoutMs, { what, intervalMs: 100 });
}

// ---- topology changes through the front -----------------------------------------------------------

export interface ChangeAnswer {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: any;
}

function answer(response: HttpResponse): ChangeAnswer {
  let body: any;
  try {
    body = response.json();
  } catch {
    body = response.text();
  }
  return { status: response.status, code: typeof body === 'object' && body !== null ? body.code : undefined, body };
}

/** POST /v1/admin/nodes on the front: start one more node process and join it. */
export async function addNode(cluster: TestCluster): Promise<ChangeAnswer> {
  return answer(await http('POST', `${cluster.front}/v1/admin/nodes`, { timeoutMs: 60_000 }));
}

/**
 * POST /v1/admin/nodes, again while the new process fails to start (another program on this machine
 * took one of the ports the front derives from the node's index: the next try gets the next index)
 * or another change is under way (409). The answer to the last try.
 */
export async function addNodeRetrying(cluster: TestCluster, timeoutMs = 60_000): Promise<ChangeAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const result = await addNode(cluster);
    const conflict = result.status === 409 && result.code === 'LAYOUT_CONFLICT';
    const failedStart = result.status === 500 && /exited while starting/.test(JSON.stringify(result.body));
    if ((!conflict && !failedStart) || Date.now() > deadline || (failedStart && attempt >= 4)) return result;
    await sleep(200);
  }
}

/** DELETE /v1/admin/nodes/{id} on the front: decommission a live node or remove a dead one. */
export async function removeNode(cluster: TestCluster, id: string): Promise<ChangeAnswer> {
  return answer(await http('DELETE', `${cluster.front}/v1/admin/nodes/${encodeURIComponent(id)}`, { timeoutMs: 15_000 }));
}

/** POST /v1/admin/replication on the front (forwarded to a node). */
export async function changeReplication(cluster: TestCluster, strategy: string, rf?: number): Promise<ChangeAnswer> {
  return answer(await http('POST', `${cluster.front}/v1/admin/replication`, { body: { strategy, ...(rf !== undefined ? { rf } : {}) }, timeoutMs: 15_000 }));
}

/** The prototype's POST /set_replication_strategy on the front. */
export async function setReplicationStrategy(cluster: TestCluster, strategy: string, replicationFactor?: number): Promise<ChangeAnswer> {
  const body = { strategy, ...(replicationFactor !== undefined ? { replication_factor: replicationFactor } : {}) };
  return answer(await http('POST', `${cluster.front}/set_replication_strategy`, { body, timeoutMs: 15_000 }));
}

export interface RetriedAnswer extends ChangeAnswer {
  readonly attempts: number;
  /**
   * An earlier attempt got no clear answer (503: the layout coordinator did not answer or was being
   * re-chosen, or no answer at all): that change may have been applied, and this answer is to a repeat.
   */
  readonly ambiguous: boolean;
}

/**
 * Repeats `change` while it is refused because another change runs (409 LAYOUT_CONFLICT) or the
 * layout coordinator could not be reached (503, no answer; on a busy machine members are sometimes
 * suspected for a moment, and the coordinator is the lowest-id live member). The first other answer;
 * with `conflictIsAnswer`, a 409 is an answer too (for a test that expects it).
 */
export async function retryChange(
  change: () => Promise<ChangeAnswer>,
  timeoutMs: number,
  what: string,
  options: { conflictIsAnswer?: boolean } = {},
): Promise<RetriedAnswer> {
  let attempts = 0;
  let ambiguous = false;
  return waitFor(
    async () => {
      attempts += 1;
      let result: ChangeAnswer;
      try {
        result = await change();
      } catch {
        ambiguous = true;
        return undefined;
      }
      if (result.status === 409 && result.code === 'LAYOUT_CONFLICT' && !options.conflictIsAnswer) return undefined;
      if (result.status === 503) {
        ambiguous = true;
        return undefined;
      }
      return { ...result, attempts, ambiguous };
    },
    timeoutMs,
    { what, intervalMs: 200 },
  );
}

/**
 * DELETE /v1/admin/nodes/{id} through `retryChange`; 202, or 404 UNKNOWN_NODE after an ambiguous
 * attempt (that one went through and the node is already gone), count as accepted.
 */
export async function removeNodeRetrying(cluster: TestCluster, id: string, timeoutMs = 30_000): Promise<RetriedAnswer> {
  const result = await retryChange(() => removeNode(cluster, id), timeoutMs, `the removal of node ${id} to be accepted`);
  if (result.ambiguous && result.status === 404 && result.code === 'UNKNOWN_NODE') return { ...result, status: 202 };
  return result;
}

// ---- load: a writer that remembers what was acknowledged ----------------------------------------

export const valueOf = (key: string, seq: number) => `${key}#${seq}`;

export interface WriterStats {
  attempts: number;
  acks: number;
  failures: number;
  /** Failure answers by status and code, for the test's message. */
  readonly failureKinds: Map<string, number>;
}

/** What a key's last acknowledged write was. */
export interface Ack {
  readonly seq: number;
  readonly deleted: boolean;
  /** A delete of the key was sent after this write and not acknowledged: it may have taken effect. */
  maybeDeleted: boolean;
}

/**
 * Writers at quorum through one address (the front). Each writer owns its keys; every write of a key
 * carries a sequence number higher than the last, so a read that returns a lower one is an
 * acknowledged write lost (or, after a delete, a deleted key come back). Of the writes, about 45 %
 * make new keys (up to `maxKeysPerWriter` per writer), 45 % overwrite one already written and 10 %
 * delete one (tombstones move with the ranges too).
 */
export class WriteLoad {
  /** key -> its last acknowledged write. */
  readonly acked = new Map<string, Ack>();
  /** key -> how many deletes of it were sent so far (for `checkAcknowledgedReadable`). */
  readonly deletesSent = new Map<string, number>();
  readonly stats: WriterStats = { attempts: 0, acks: 0, failures: 0, failureKinds: new Map() };
  private stopping = false;
  private paused = false;
  private inFlight = 0;
  private readonly loops: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly target: () => string,
    private readonly options: { writers: number; maxKeysPerWriter: number; prefix: string },
  ) {}

  /** Writes `count` keys at quorum before the load starts (so the first change has data to move), in batches. */
  async preload(count: number, batchSize = 250, concurrency = 4): Promise<void> {
    const batches: { key: string; seq: number }[][] = [];
    for (let i = 0; i < count; i += batchSize) {
      batches.push(
        Array.from({ length: Math.min(batchSize, count - i) }, (_, j) => ({ key: `${this.options.prefix}pre-${i + j}`, seq: ++this.seq })),
      );
    }
    await forEachLimited(batches, concurrency, async (batch) => {
      let items = batch;
      // A put may fail while the machine is busy (a replica briefly suspected): write it again.
      for (let attempt = 0; items.length > 0; attempt++) {
        if (attempt === 10) throw new Error(`preload: ${items.length} keys still failing after 10 attempts`);
        const ops = items.map(({ key, seq }) => ({ op: 'put', key, value: valueOf(key, seq) }));
        const response = await http('POST', `${this.target()}/v1/batch`, { body: { ops, consistency: 'quorum' }, timeoutMs: 60_000 }).catch(() => undefined);
        if (response?.status !== 200) {
          await sleep(200);
          continue;
        }
        const results = response.json<{ results: { key: string; status: string }[] }>().results;
        const failed: { key: string; seq: number }[] = [];
        for (const [i, result] of results.entries()) {
          const item = items[i] as { key: string; seq: number };
          if (result.status === 'success') this.acked.set(item.key, { seq: item.seq, deleted: false, maybeDeleted: false });
          else failed.push(item);
        }
        items = failed;
        if (items.length > 0) await sleep(200);
      }
    });
  }

  /** Pauses the writers (resolves once no write is in flight), for a check that needs a still cluster. */
  async pause(): Promise<void> {
    this.paused = true;
    await waitFor(() => this.inFlight === 0, 30_000, { what: 'writes in flight to finish', intervalMs: 10 });
  }

  resume(): void {
    this.paused = false;
  }

  start(): void {
    for (let w = 0; w < this.options.writers; w++) this.loops.push(this.loop(w));
  }

  private async loop(w: number): Promise<void> {
    const own: string[] = [];
    let created = 0;
    while (!this.stopping) {
      if (this.paused) {
        await sleep(20);
        continue;
      }
      const fresh = own.length === 0 || (created < this.options.maxKeysPerWriter && Math.random() < 0.45);
      const key = fresh ? `${this.options.prefix}w${w}-${created++}` : (own[Math.floor(Math.random() * own.length)] as string);
      if (fresh) own.push(key);
      const remove = !fresh && Math.random() < 0.1 / 0.55;
      const seq = ++this.seq;
      this.stats.attempts += 1;
      this.inFlight += 1;
      const before = this.acked.get(key);
      // Until the delete is acknowledged, the key may read as deleted (or not): both are right.
      if (remove && before) before.maybeDeleted = true;
      if (remove) this.deletesSent.set(key, (this.deletesSent.get(key) ?? 0) + 1);
      try {
        const response = remove ? await del(this.target(), key, 'quorum') : await put(this.target(), key, valueOf(key, seq), 'quorum');
        if (response.status === 200) {
          // Writes of one key by one writer are sequential: the last acknowledged is the highest.
          this.acked.set(key, { seq, deleted: remove, maybeDeleted: false });
          this.stats.acks += 1;
        } else {
          this.fail(`${response.status} ${safeCode(response)}`);
          await sleep(20);
        }
      } catch (error) {
        this.fail(`no answer: ${(error as Error).message.slice(0, 60)}`);
        await sleep(20);
      } finally {
        this.inFlight -= 1;
      }
    }
  }

  private fail(kind: string): void {
    this.stats.failures += 1;
    this.stats.failureKinds.set(kind, (this.stats.failureKinds.get(kind) ?? 0) + 1);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Writes fail only as unavailable (503) or unanswered: never as a client error (a 404 from a removed node). */
  assertFailuresUnavailableOnly(): void {
    const other = [...this.stats.failureKinds.keys()].filter((kind) => !kind.startsWith('503 ') && !kind.startsWith('no answer'));
    assert.deepEqual(other, [], `writes failed otherwise than unavailable: ${this.describe()}`);
  }

  describe(): string {
    const kinds = [...this.stats.failureKinds].map(([k, n]) => `${k} x${n}`).join(', ');
    const deleted = [...this.acked.values()].filter((a) => a.deleted).length;
    return `${this.stats.acks} acknowledged of ${this.stats.attempts} writes, ${this.acked.size} keys (${deleted} deleted)${kinds ? `; failures: ${kinds}` : ''}`;
  }
}

function safeCode(response: HttpResponse): string {
  try {
    return String(response.json().code ?? '');
  } catch {
    return '';
  }
}

// ---- checks -------------------------------------------------------------------------------------

/** Runs `fn` on every item with at most `concurrency` at once. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export interface ReadCheck {
  readonly keys: number;
  /** Keys that read back older than acknowledged, or not at all (the losses), each with why. */
  readonly lost: string[];
  /** The keys of `lost`. */
  readonly lostKeys: string[];
  /** Keys whose quorum read did not succeed even after retries (unavailable, not lost). */
  readonly unreadable: string[];
  /** Reads that needed a retry, by answer. */
  readonly retried: Map<string, number>;
}

/** Rounds of reading again the keys whose quorum read failed (not lost: unavailable), 200 ms apart. */
const readRounds = 8;

/**
 * Reads every key acknowledged so far at quorum through `target()` (batches of quorum gets, POST
 * /v1/batch) and compares with its last acknowledged write (a newer one is fine: the writers keep
 * going). An older value, or "not found" for a key whose last acknowledged write was no delete, is a
 * loss; so is a value older than an acknowledged delete (a deleted key come back). A read that fails
 * (unavailable: a replica briefly suspected on a busy machine) is read again in later rounds before it
 * counts as unreadable.
 */
export async function checkAcknowledgedReadable(
  acked: ReadonlyMap<string, Ack>,
  target: () => string,
  options: {
    readonly batchSize?: number;
    readonly concurrency?: number;
    /** key -> deletes sent so far (`WriteLoad.deletesSent`), when the keys are still being written. */
    readonly deletesSent?: ReadonlyMap<string, number>;
  } = {},
): Promise<ReadCheck> {
  const { batchSize = 250, concurrency = 2, deletesSent } = options;
  let pending = [...acked];
  const deletesAtStart = new Map(deletesSent ?? []);
  const keys = pending.length;
  const lost: string[] = [];
  const lostKeys: string[] = [];
  const retried = new Map<string, number>();
  const describe = (ack: Ack) => `${ack.deleted ? 'deleted' : 'written'} #${ack.seq}`;
  /** `value` undefined: the key reads as absent. */
  const judge = (key: string, ack: Ack, value: string | undefined) => {
    if (value === undefined) {
      const now = acked.get(key);
      // A delete sent since this check began may be what the read saw, also when later writes have
      // replaced the acknowledgement it was sent after (the write the check began with is then not
      // marked): the grow/shrink test once judged such a read a loss (w0-1 written, written again,
      // deleted and written once more while a pass ran; the read fell between the delete and the
      // last write, and every replica held the last write right after).
      const deletedSince = (deletesSent?.get(key) ?? 0) !== (deletesAtStart.get(key) ?? 0);
      const deletable = ack.deleted || ack.maybeDeleted || now?.deleted === true || now?.maybeDeleted === true || deletedSince;
      if (!deletable) {
        lost.push(`${key}: not found, acknowledged ${describe(ack)}`);
        lostKeys.push(key);
      }
      return;
    }
    const [readKey, readSeq] = value.split('#');
    if (readKey !== key || !(Number(readSeq) >= ack.seq)) {
      lost.push(`${key}: read ${value}, acknowledged ${describe(ack)}`);
      lostKeys.push(key);
    }
  };
  let failures: [string, Ack, string][] = [];
  for (let round = 0; round < readRounds && pending.length > 0; round++) {
    if (round > 0) await sleep(200);
    failures = [];
    const batches: [string, Ack][][] = [];
    for (let i = 0; i < pending.length; i += batchSize) batches.push(pending.slice(i, i + batchSize));
    await forEachLimited(batches, concurrency, async (items) => {
      const ops = items.map(([key]) => ({ op: 'get', key }));
      let results: { key: string; status: string; found?: boolean; value?: string; code?: string }[] | undefined;
      try {
        const response = await http('POST', `${target()}/v1/batch`, { body: { ops, consistency: 'quorum' }, timeoutMs: 30_000 });
        if (response.status === 200) results = response.json().results;
        else for (const [key, ack] of items) failures.push([key, ack, `batch ${response.status} ${safeCode(response)}`]);
      } catch {
        for (const [key, ack] of items) failures.push([key, ack, 'batch: no answer']);
      }
      if (!results) return;
      for (const [i, result] of results.entries()) {
        const [key, ack] = items[i] as [string, Ack];
        if (result.status !== 'success') failures.push([key, ack, `${result.code}`]);
        else judge(key, ack, result.found ? (result.value ?? '') : undefined);
      }
    });
    for (const [, , why] of failures) retried.set(why, (retried.get(why) ?? 0) + 1);
    pending = failures.map(([key, ack]) => [key, ack]);
  }
  const unreadable = failures.map(([key, , why]) => `${key}: ${why}`);
  return { keys, lost, lostKeys, unreadable, retried };
}

export function assertReadCheck(check: ReadCheck, when: string): void {
  assert.deepEqual(check.lost.slice(0, 10), [], `${when}: ${check.lost.length} of ${check.keys} acknowledged keys lost`);
  assert.deepEqual(check.unreadable.slice(0, 10), [], `${when}: ${check.unreadable.length} of ${check.keys} acknowledged keys unreadable at quorum`);
}

/**
 * Where a key stands, for a failure's message: a quorum read again through `target`, and each running
 * node's layout version and own copy of the key (or "none").
 */
export function copiesOf(cluster: TestCluster, target: () => string): (key: string) => Promise<string> {
  return async (key) => {
    const again = await http('GET', `${target()}/v1/kv/${encodeURIComponent(key)}?consistency=quorum`, { timeoutMs: 5000 });
    const copies = await Promise.all(
      runningNodes(cluster).map(async (node) => {
        try {
          const view = await topologyOf(node.url);
          // local-entries lists keys after the cursor: start just before the key and pick it out.
          const query = `?limit=1000&cursor=${encodeURIComponent(key.slice(0, -1))}`;
          const body = (await http('GET', `${node.url}/v1/admin/local-entries${query}`, { timeoutMs: 5000 })).json<{ entries: LocalEntry[] }>();
          const copy = body.entries.find((e) => e.key === key);
          const held = copy ? `${copy.tombstone ? 'tombstone' : 'value'} ${copy.version}` : 'none';
          return `node ${node.id} (layout v${view.layoutVersion}${view.inTransition ? ' in transition' : ''}): ${held}`;
        } catch (error) {
          return `node ${node.id}: ${(error as Error).message.slice(0, 80)}`;
        }
      }),
    );
    return `quorum read again ${again.status} ${again.text().slice(0, 120)}; ${copies.join('; ')}`;
  };
}

export interface PlacementCheck {
  readonly layoutVersion: number;
  readonly keys: number;
  /** Keys held by other nodes than their preference list (extra or missing copies). */
  readonly misplaced: string[];
  /** Keys whose preference list was also asked of a node (GET /v1/keys/{key}/replicas). */
  readonly askedRoute: number;
  /** Every key some member holds. */
  readonly held: ReadonlySet<string>;
}

/** Keys whose preference list is asked of a node in each check, besides every misplaced one. */
const routeSample = 100;

/**
 * Compares each member's local listing (GET /v1/admin/local-entries) with the preference list of every
 * key it holds: a key must be held by exactly its replicas. Meant for a settled layout. Preference
 * lists are computed from the layout the members agree on with the nodes' own placement code, and for
 * a random sample of keys plus every misplaced one also asked of a node through GET
 * /v1/keys/{key}/replicas, which must agree (asking for thousands of keys one request at a time is
 * too slow on a busy machine).
 */
export async function checkPlacement(cluster: TestCluster): Promise<PlacementCheck> {
  const view = await agreedTopology(cluster);
  if (!view) throw new Error('the members do not agree on one layout yet');
  if (view.inTransition) throw new Error(`layout v${view.layoutVersion} is still in transition`);
  const members = view.layout.members.map((m) => ({ id: m.id, url: `http://${m.http}` }));
  const holders = new Map<string, string[]>();
  for (const member of members) {
    for (const entry of await localEntries(member.url)) {
      const list = holders.get(entry.key) ?? [];
      list.push(member.id);
      holders.set(entry.key, list);
    }
  }
  const placement = new Placement(view.layout);
  const misplaced: string[] = [];
  const wrong: string[] = [];
  for (const [key, held] of holders) {
    const expected = placement.readReplicas(key).sort().join(',');
    const actual = [...held].sort().join(',');
    if (actual !== expected) {
      misplaced.push(`${key} on [${actual}], preference list [${expected}]`);
      wrong.push(key);
    }
  }
  const sample = [...holders.keys()].sort(() => Math.random() - 0.5).slice(0, routeSample);
  const asked = [...new Set([...sample, ...wrong.slice(0, routeSample)])];
  await forEachLimited(asked, 16, async (key) => {
    const via = members[Math.floor(Math.random() * members.length)] as { id: string; url: string };
    const response = expectStatus(await http('GET', `${via.url}/v1/keys/${encodeURIComponent(key)}/replicas`), 200, `replicas of ${key}`);
    const { replicas } = response.json<{ replicas: string[] }>();
    const computed = placement.readReplicas(key);
    assert.deepEqual([...replicas].sort(), [...computed].sort(), `node ${via.id} names the replicas of ${key} as the layout does`);
  });
  // The layout may have moved on while we listed: only a check under one version counts.
  const after = await agreedTopology(cluster);
  if (!after || after.layoutVersion !== view.layoutVersion) throw new Error('the layout changed during the placement check');
  return { layoutVersion: view.layoutVersion, keys: holders.size, misplaced, askedRoute: asked.length, held: new Set(holders.keys()) };
}

/**
 * Waits (bounded) until every key held anywhere sits on exactly its preference list, and every
 * acknowledged key is held (so, by its whole preference list).
 */
export async function waitForExactPlacement(
  cluster: TestCluster,
  acked: ReadonlyMap<string, Ack>,
  timeoutMs: number,
): Promise<PlacementCheck> {
  let last: PlacementCheck | undefined;
  let disagreement: Error | undefined;
  try {
    return await waitFor(
      async () => {
        if (disagreement) return true as never;
        let check: PlacementCheck;
        try {
          check = await checkPlacement(cluster);
        } catch (error) {
          if (error instanceof assert.AssertionError) disagreement = error;
          throw error;
        }
        const missing = [...acked.keys()].filter((key) => !check.held.has(key));
        last = { ...check, misplaced: [...check.misplaced, ...missing.map((key) => `${key} held nowhere`)] };
        return last.misplaced.length === 0 ? last : undefined;
      },
      timeoutMs,
      { what: 'every key on exactly its preference list', intervalMs: 500 },
    ).then((result) => {
      if (disagreement) throw disagreement;
      return result;
    });
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    const detail = last ? ` (layout v${last.layoutVersion}: ${last.misplaced.length} of ${last.keys} keys misplaced, e.g. ${last.misplaced.slice(0, 5).join('; ')})` : '';
    throw new Error(`${(error as Error).message}${detail}`);
  }
}

/**
 * Reads every acknowledged key at quorum, pass after pass, in the background for as long as the test
 * runs: a key unreadable at any moment of a move is caught whether or not a test step is waiting on
 * it. Each pass keeps its start and end time, so that a test can tell which passes ran while a change
 * was under way.
 */
export class ContinuousReadCheck {
  readonly passes: { readonly startMs: number; readonly endMs: number }[] = [];
  readonly failures: string[] = [];
  readonly retried = new Map<string, number>();
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly load: WriteLoad,
    private readonly target: () => string,
    private readonly pauseMs = 200,
    /** Describes, right after a loss is seen, where the key's copies are (`copiesOf`): added to the failure. */
    private readonly diagnose?: (key: string) => Promise<string>,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const startMs = Date.now();
      const check = await checkAcknowledgedReadable(this.load.acked, this.target, { deletesSent: this.load.deletesSent });
      this.passes.push({ startMs, endMs: Date.now() });
      for (const [why, count] of check.retried) this.retried.set(why, (this.retried.get(why) ?? 0) + count);
      const label = `pass ${this.passes.length} (${new Date(startMs).toISOString().slice(11, 23)})`;
      for (const loss of check.lost) this.failures.push(`${label}: lost ${loss}`);
      if (this.diagnose) {
        for (const key of check.lostKeys.slice(0, 3)) this.failures.push(`  ${key} right after: ${await this.diagnose(key).catch((e: Error) => e.message)}`);
      }
      for (const miss of check.unreadable) this.failures.push(`${label}: unreadable ${miss}`);
      // Leave the machine to the writers and the move for a moment (CI machines are shared).
      await sleep(this.pauseMs);
    }
  }

  /** Passes that ran (at least partly) between `fromMs` and `toMs`. */
  passesDuring(fromMs: number, toMs: number): number {
    return this.passes.filter((p) => p.startMs <= toMs && p.endMs >= fromMs).length;
  }

  /**
   * Fails the test with what was found so far, if anything: a lost key, a key unreadable even after
   * retries, or a read refused otherwise than as unavailable (a 404, say).
   */
  assertClean(when: string): void {
    assert.deepEqual(this.failures.slice(0, 10), [], `${when}: ${this.failures.length} failed reads of acknowledged keys`);
    const refused = [...this.retried.keys()].filter((why) => /\b4\d\d\b|UNKNOWN_NODE|NOT_FOUND|BAD_REQUEST/.test(why));
    assert.deepEqual(refused, [], `${when}: reads were refused otherwise than as unavailable`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  describe(): string {
    const retried = [...this.retried].map(([k, n]) => `${k} x${n}`).join(', ');
    return `${this.passes.length} read passes${retried ? `; reads tried again: ${retried}` : ''}`;
  }
}

/**
 * The changes of a test, each from its request to its completion everywhere, with the writes
 * acknowledged and the read passes run meanwhile.
 */
export class ChangeLog {
  private readonly started = Date.now();
  readonly steps: string[] = [];
  private readonly changes: { what: string; fromMs: number; toMs: number; acks: number }[] = [];
  private current: { what: string; fromMs: number; acksAtStart: number } | undefined;

  constructor(
    private readonly load: WriteLoad,
    private readonly reads: ContinuousReadCheck | undefined,
  ) {}

  mark(what: string): void {
    this.steps.push(`${what} ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
  }

  requested(what: string): void {
    this.current = { what, fromMs: Date.now(), acksAtStart: this.load.stats.acks };
    this.mark(`${what} requested`);
  }

  completed(what: string): void {
    const current = this.current;
    assert.ok(current, `${what}: completed without being requested`);
    this.changes.push({ what: current.what, fromMs: current.fromMs, toMs: Date.now(), acks: this.load.stats.acks - current.acksAtStart });
    this.current = undefined;
    this.mark(what);
  }

  /** Every change ran under load (writes acknowledged) and under reads (a pass ran meanwhile). */
  assertUnderLoad(): void {
    for (const change of this.changes) {
      assert.ok(change.acks > 0, `writes were acknowledged while "${change.what}" ran`);
      if (this.reads) assert.ok(this.reads.passesDuring(change.fromMs, change.toMs) > 0, `reads ran while "${change.what}" ran`);
    }
  }

  describe(): string {
    const changes = this.changes.map(
      (c) => `${c.what}: ${((c.toMs - c.fromMs) / 1000).toFixed(1)} s, ${c.acks} writes acknowledged, ${this.reads?.passesDuring(c.fromMs, c.toMs) ?? 0} read passes`,
    );
    return `${changes.join('; ')}\n  steps: ${this.steps.join(', ')}`;
  }
}
