// Topology changes on the local cluster's front: `POST /v1/admin/nodes` starts one more node process
// and joins it; `DELETE /v1/admin/nodes/{id}` asks the cluster to move the node's ranges away (or, for a
// dead node, to re-replicate them from the survivors; `?force=true` for one lost for good, see
// docs/decisions.md) and stops its process once it is out of the layout and has handed over what it
// still held.

import { readdirSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkToken, type ApiAuth } from '../api/auth.js';
import { sendError } from '../api/errors.js';
import { booleanParam, type Query } from '../api/params.js';
import { QuorumError } from '../core/errors.js';
import { wouldWaitFor } from '../core/layoutChange.js';
import { memberAt, saveCluster, type LocalCluster } from './clusterFile.js';
import type { Front } from './front.js';
import type { Supervisor } from './supervisor.js';

export interface TopologyFrontOptions {
  readonly supervisor: Supervisor;
  readonly front: () => Front;
  readonly cluster: LocalCluster;
  readonly dataDir: string;
  readonly auth: ApiAuth;
  readonly log: (line: string) => void;
}

/** What the front reads of a node's GET /v1/admin/topology (src/api/topologyRoutes.ts). */
interface TopologyAnswer {
  node?: string;
  coordinator?: string;
  layoutVersion?: number;
  inTransition?: boolean;
  fill?: { layoutVersion: number } | null;
}

/** How long the front waits for a decommissioned node to leave the layout before giving up on stopping it. */
const leaveWaitMs = 10 * 60_000;

export function registerTopologyFrontRoutes(app: FastifyInstance, options: TopologyFrontOptions): void {
  const { supervisor, cluster } = options;
  const admin = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const denied = checkToken(request, options.auth, true);
    if (denied) sendError(reply, denied);
    return denied === undefined;
  };

  /** The node an add-node is starting: its join is not voted in yet, so no node says a change runs. */
  let adding: string | undefined;

  app.post('/v1/admin/nodes', async (request, reply) => {
    if (!admin(request, reply)) return reply;
    const seed = supervisor.runningIds()[0];
    if (seed === undefined) throw new QuorumError('UNAVAILABLE', 'no running node to join through');
    // Two at once both passed the check below, and the second node's join waited for the first's
    // change inside its start, then failed (found in review).
    if (adding !== undefined) {
      throw new QuorumError('LAYOUT_CONFLICT', `another node${adding ? ` (${adding})` : ''} is being added; try again when it has joined`);
    }
    adding = '';
    try {
      return await addNode(request, reply, seed, (id) => (adding = id));
    } finally {
      adding = undefined;
    }
  });

  // Only the layout coordinator knows whom a change waits for, and each node knows its own fill:
  // forwarded round-robin, `quorumkv topology` printed a different answer on each run (a README
  // walk). The coordinator's answer, when it runs, with every node's fill under `fills` during a
  // change: its own alone said "0 keys received, done" while a joining node streamed (a probe).
  app.get('/v1/admin/topology', async (request, reply) => {
    let upstream = await options.front().forward(request, 'GET', request.url, undefined);
    if (upstream.status !== 200) return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
    let view = JSON.parse(upstream.body.toString('utf8')) as TopologyAnswer;
    if (view.coordinator !== undefined && view.coordinator !== view.node) {
      const answer = await options.front().askOne(request, view.coordinator, request.url);
      if (answer?.status === 200) [upstream, view] = [answer, JSON.parse(answer.body.toString('utf8')) as TopologyAnswer];
    }
    if (!view.inTransition) return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
    const fills: Record<string, unknown> = {};
    for (const body of await options.front().askEach(request, '/v1/admin/topology')) {
      const other = JSON.parse(body.toString('utf8')) as TopologyAnswer;
      if (other.node !== undefined && other.fill && other.fill.layoutVersion === view.layoutVersion) fills[other.node] = other.fill;
    }
    return reply.code(200).headers(upstream.headers).send({ ...view, fills });
  });

  const addNode = async (request: FastifyRequest, reply: FastifyReply, seed: string, naming: (id: string) => void) => {
    // Refuse at once while another change runs: the new node would otherwise wait for it inside its
    // start (its join retries on LAYOUT_CONFLICT) and the request would hang, then fail.
    // Every running node is asked: one that has not yet heard of a change just made would say none runs.
    for (const body of await options.front().askEach(request, '/v1/admin/topology')) {
      const view = JSON.parse(body.toString('utf8')) as { inTransition?: boolean; layoutVersion?: number };
      if (view.inTransition) {
        throw new QuorumError('LAYOUT_CONFLICT', `a topology change is under way (layout v${view.layoutVersion}); try again when it completes`);
      }
    }
    // A join waits for every member to fill its ranges: refused while one is dead, as the layout
    // coordinator would refuse it, but before a process starts (it waited 30 s, then failed with a 500).
    const stopped = supervisor.ids().filter((id) => !supervisor.runningIds().includes(id));
    if (stopped.length > 0) throw new QuorumError('UNAVAILABLE', wouldWaitFor(stopped, 'down', 'join'));
    const index = nextIndex(supervisor.ids(), options.dataDir);
    const member = memberAt(cluster.host, cluster.frontPort, index);
    naming(member.id);
    supervisor.add(member);
    cluster.members.push(member);
    saveCluster(options.dataDir, cluster);
    try {
      await supervisor.start(member.id, supervisor.member(seed)?.http);
    } catch (error) {
      // Stop the process before forgetting it: it would live on unsupervised, and might still join.
      await supervisor.stop(member.id).catch(() => undefined);
      supervisor.remove(member.id);
      // If the cluster took it in already, cancel its join (it could never complete and would block
      // every later change). A 404 means it never joined.
      const path = `/v1/admin/nodes/${encodeURIComponent(member.id)}`;
      await options.front().forward(request, 'DELETE', path, undefined, member.id).catch(() => undefined);
      cluster.members.splice(cluster.members.indexOf(member), 1);
      saveCluster(options.dataDir, cluster);
      // The node could not join (no majority, a member the coordinator sees dead): the cluster's
      // answer, not the front's failure.
      throw error instanceof QuorumError ? error : new QuorumError('UNAVAILABLE', (error as Error).message);
    }
    options.log(`node ${member.id} joined: http://${member.http}  redis ${member.resp}`);
    return reply.code(201).send({ status: 'success', message: `Node ${member.id} started and joining`, node: member });
  };

  /** Removed nodes whose process waits to be stopped (stopWhenGone), each once. */
  const leaving = new Set<string>();
  const stopOnceGone = (id: string, restartIfDies: boolean) => {
    if (leaving.has(id)) return;
    leaving.add(id);
    void stopWhenGone(options, id, restartIfDies).finally(() => leaving.delete(id));
  };

  app.delete('/v1/admin/nodes/:id', async (request, reply) => {
    if (!admin(request, reply)) return reply;
    const id = (request.params as { id: string }).id;
    // Checked here too, so that a bad value is a 400 whatever node the request goes on to.
    const force = booleanParam(request.query as Query, 'force', false);
    if (!supervisor.member(id)) throw new QuorumError('UNKNOWN_NODE', `Node ${id} does not exist`);
    const path = `/v1/admin/nodes/${encodeURIComponent(id)}${force ? '?force=true' : ''}`;
    // A node removed while its process runs is leaving (a decommission): if it dies before it is done,
    // it is started again to finish. One removed while down is treated as lost, as the user said.
    const running = supervisor.runningIds().includes(id);
    if (!running) await untilSeenDead(options, id);
    const upstream = await options.front().forward(request, 'DELETE', path, undefined, id);
    if (upstream.status < 300) stopOnceGone(id, running);
    return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
  });

  // A removal the front did not see succeed leaves the process running for good: the local cluster
  // was stopped during the change and started again, or the removal was answered 503 and went
  // ahead later (its layout decided, but published only once the coordinator was back). Each of these
  // ran, was started again by every `start`, and could be neither removed nor failed (a topology
  // probe). So the front looks for nodes whose own layout no longer lists them, now and then.
  const sweep = setInterval(() => {
    for (const id of supervisor.runningIds()) {
      if (id === adding || leaving.has(id)) continue;
      void removedFromLayout(options, id).then((removed) => {
        if (removed) stopOnceGone(id, true);
      });
    }
  }, removedSweepMs);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));
}

/** How often the front looks for running nodes that the layout no longer lists. */
const removedSweepMs = 2000;

/** What the front reads of a node's GET /v1/cluster (src/api/views.ts). */
interface NodeClusterView {
  node?: string;
  members?: { id: string; state?: string }[];
  removed?: boolean;
  cleanupPending?: boolean;
}

/** Node `id`'s GET /v1/cluster; undefined if it did not answer it within 2 s. */
async function clusterViewOf(options: TopologyFrontOptions, id: string): Promise<NodeClusterView | undefined> {
  try {
    const response = await fetch(`http://${options.supervisor.member(id)?.http}/v1/cluster`, {
      headers: bearer(options.auth),
      signal: AbortSignal.timeout(2000),
    });
    return response.status === 200 ? ((await response.json()) as NodeClusterView) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits, at most `seenDeadWaitMs`, until every running node sees node `id` dead. The front knows at
 * once that a process exited; the members take a few seconds (failure detection). Removing a member
 * they do not see dead yet starts its decommission, and during another change is refused (409):
 * `fail` then `remove-node` would meet either (a topology soak met the 409).
 */
async function untilSeenDead(options: TopologyFrontOptions, id: string): Promise<void> {
  const deadline = Date.now() + seenDeadWaitMs;
  while (Date.now() < deadline) {
    const observers = options.supervisor.runningIds().filter((other) => other !== id);
    const views = await Promise.all(observers.map((other) => clusterViewOf(options, other)));
    // A member that does not list the node (it never learned of it) has nothing to wait for.
    const seenDead = (view: NodeClusterView | undefined) => {
      const member = view?.members?.find((m) => m.id === id);
      return view?.members !== undefined && (member === undefined || member.state === 'dead');
    };
    if (views.every(seenDead)) return;
    await new Promise((resolve) => setTimeout(resolve, 200).unref());
  }
}

/** Longer than failure detection takes in the local preset (a suspicion, then its timeout). */
const seenDeadWaitMs = 10_000;

/** Whether node `id` answers that its layout does not list it (removed); false if it does not answer. */
async function removedFromLayout(options: TopologyFrontOptions, id: string): Promise<boolean> {
  const view = await clusterViewOf(options, id);
  return view?.node === id && Array.isArray(view.members) && !view.members.some((m) => m.id === id);
}

/**
 * The index of the next node: above every member's, and above every node that ever had a data
 * directory here. A removed node's id is never reused: its directory holds its old layout (in which it
 * is leaving or gone) and data, and a new node started on it would never join.
 */
function nextIndex(ids: readonly string[], dataDir: string): number {
  const used = ids.map(Number).filter(Number.isInteger);
  let entries: string[] = [];
  try {
    entries = readdirSync(dataDir);
  } catch {
    // no data directory yet
  }
  for (const entry of entries) {
    const match = /^node-(\d+)(\.stderr)?$/.exec(entry);
    if (match) used.push(Number(match[1]));
  }
  return used.length === 0 ? 0 : Math.max(...used) + 1;
}

/**
 * Waits until no running node lists `id` in its layout and `id` says it is done: it knows it was
 * removed and has handed over what it still held (a write it acknowledged at `one` that the move did
 * not carry: its clean-up sends it to the new owners) and said farewell. Then stops its process and
 * forgets it.
 *
 * A leaving node whose process dies before that (`restartIfDies`) is started again on its data: until
 * its farewell every member keeps asking it before purging tombstones, for `departedKeepMs` (10
 * days), and the copies only it holds would be lost. Forgotten at once instead, it could not even be
 * recovered by hand (a topology soak killed three nodes right after their decommission; each stayed
 * departed on every member).
 */
async function stopWhenGone(options: TopologyFrontOptions, id: string, restartIfDies: boolean): Promise<void> {
  const { supervisor, cluster } = options;
  const deadline = Date.now() + leaveWaitMs;
  let restartAt = 0;
  let restartDelayMs = 1000;
  const forget = () => {
    supervisor.remove(id);
    const at = cluster.members.findIndex((m) => m.id === id);
    if (at >= 0) cluster.members.splice(at, 1);
    saveCluster(options.dataDir, cluster);
  };
  while (Date.now() < deadline) {
    // Unref'd: a cluster being stopped must not be kept alive by this wait.
    await new Promise((resolve) => setTimeout(resolve, 250).unref());
    const observers = supervisor.runningIds().filter((other) => other !== id);
    if (observers.length === 0) return; // the cluster stopped (or nothing is left to ask)
    // An observer that does not answer may still list it.
    const views = await Promise.all(
      observers.map(async (other) => (await clusterViewOf(options, other))?.members?.some((m) => m.id === id) ?? true),
    );
    if (!views.every((listed) => !listed)) continue;
    if (!supervisor.runningIds().includes(id)) {
      if (!restartIfDies) {
        forget();
        options.log(`node ${id} was removed while down`);
        return;
      }
      if (Date.now() < restartAt) continue;
      restartAt = Date.now() + restartDelayMs;
      restartDelayMs = Math.min(restartDelayMs * 2, 30_000);
      options.log(`node ${id} stopped before it was done leaving: starting it again to hand over what it holds and say farewell`);
      await supervisor.start(id).catch((error: unknown) => options.log(`node ${id} could not be started again: ${(error as Error).message}`));
      continue;
    }
    const own = await clusterViewOf(options, id);
    if (own?.removed === true && own.cleanupPending === false) {
      await supervisor.stop(id);
      forget();
      options.log(`node ${id} left the cluster and was stopped`);
      return;
    }
  }
  options.log(`node ${id} is still running: it has not left the layout, or still hands over copies (GET /v1/cluster on it)`);
}

/**
 * The token the nodes' GET /v1/cluster takes (either token is accepted there). Without it, on a
 * cluster started with tokens, every answer was a 401, read as "still listed", and a decommissioned
 * node was never stopped.
 */
function bearer(auth: ApiAuth): Record<string, string> {
  const token = auth.token ?? auth.adminToken;
  return token ? { authorization: `Bearer ${token}` } : {};
}
