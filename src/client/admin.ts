// The operator's side of the client (`client.admin`): fail and recover nodes, change the replication
// strategy, and look at each node. These routes need the admin token when the cluster has one.

import { QuorumKvError } from './errors.js';
import { memberUrl } from './nodes.js';
import type { QuorumKvClient } from './client.js';
import type { ClusterStatus, ClusterView, LayoutView, LocalEntriesPage, NodeOverview, NodeStatus, PrototypeNodes, RequestOptions } from './types.js';

/** Deadline for asking one node for its key count in overview(): a slow node shows "-" quickly. */
const nodeStatusTimeoutMs = 1_500;
const textEncoder = new TextEncoder();

export interface RecoverOutcome {
  readonly id: string;
  readonly ok: boolean;
  readonly message: string;
}

export class AdminApi {
  constructor(private readonly client: QuorumKvClient) {}

  /** A member's HTTP address as a URL, in the scheme of the nodes the client was given. */
  private memberUrl(http: string): string {
    return memberUrl(http, new URL(this.client.nodeUrls()[0] ?? 'http://127.0.0.1'));
  }

  /**
   * The prototype's fail: on a local cluster (through its front) the node's process is killed; on
   * a node it is paused (a simulated crash: it answers nothing but /recover and /v1/health).
   */
  async fail(id: string, options: RequestOptions = {}): Promise<{ message: string }> {
    return this.nodeAction('fail', id, options);
  }

  /** Restarts (local cluster) or resumes a failed node; it then catches up from its peers. */
  async recover(id: string, options: RequestOptions = {}): Promise<{ message: string }> {
    return this.nodeAction('recover', id, options);
  }

  /** Recovers every member (the prototype's "recover all nodes"); recovering a live node does nothing. */
  async recoverAll(options: RequestOptions = {}): Promise<RecoverOutcome[]> {
    const ids = await this.memberIds(options);
    return Promise.all(
      ids.map(async (id) => {
        try {
          return { id, ok: true, message: (await this.recover(id, options)).message };
        } catch (error) {
          if (options.signal?.aborted) throw error;
          return { id, ok: false, message: (error as Error).message };
        }
      }),
    );
  }

  /**
   * The members' ids from /v1/cluster. With every node of a local cluster down no node can answer
   * that, but its front still answers the prototype's /nodes (its ids are plain numbers, which that
   * route's numeric `node_id` carries exactly): recovering all of them is what is needed then.
   */
  private async memberIds(options: RequestOptions): Promise<string[]> {
    try {
      return (await this.client.cluster(options)).members.map((member) => member.id);
    } catch (error) {
      if (!(error instanceof QuorumKvError) || error.code !== 'UNAVAILABLE') throw error;
      return (await this.nodes(options)).nodes.map((node) => String(node.node_id));
    }
  }

  /** The prototype's set_replication_strategy; rf is ignored under `full` (every node holds every key). */
  async setStrategy(
    strategy: 'full' | 'consistent',
    rf?: number,
    options: RequestOptions = {},
  ): Promise<{ message: string; strategy: string; replication_factor: number; layoutVersion: number }> {
    const body = textEncoder.encode(JSON.stringify({ strategy, ...(rf !== undefined ? { replication_factor: rf } : {}) }));
    const json = await this.client.json(
      // Not sent again once it may have arrived: a change already under way refuses a second one (409).
      { method: 'POST', path: '/set_replication_strategy', body, contentType: 'application/json', retry: 'unsent' },
      options,
    );
    return json as unknown as { message: string; strategy: string; replication_factor: number; layoutVersion: number };
  }

  /**
   * Removes a member (DELETE /v1/admin/nodes/{id}): a live one hands its ranges over first, a dead
   * one's are re-replicated from the survivors; on a local cluster's front its process is stopped once
   * it has left. Answers once the change is under way (it completes in the background).
   *
   * `force`: for a node lost for good whose removal cannot complete (with RF 3, two of a range's
   * replicas dead; with RF 1, its only one). Its ranges are re-replicated from the live replicas only,
   * so a write that only dead nodes held is lost. Refused (BAD_REQUEST) for a member the cluster does
   * not see dead; asked while the node's unforced removal runs, it forces that one.
   */
  async removeNode(id: string, removal: { force?: boolean } = {}, options: RequestOptions = {}): Promise<{ message: string; layout: LayoutView }> {
    if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
      throw new QuorumKvError('BAD_REQUEST', `not a node id: "${id}"`, undefined);
    }
    const path = `/v1/admin/nodes/${encodeURIComponent(id)}${removal.force ? '?force=true' : ''}`;
    // Not sent again once it may have arrived, as setStrategy (asked again, the node answers the
    // removal under way, but the front would start a second wait to stop the node's process).
    const json = await this.client.json({ method: 'DELETE', path, retry: 'unsent' }, options);
    return { message: String(json.message), layout: json.layout as unknown as LayoutView };
  }

  /** The prototype's GET /nodes (the front adds each node's process state). */
  async nodes(options: RequestOptions = {}): Promise<PrototypeNodes> {
    return (await this.client.json({ method: 'GET', path: '/nodes', retry: 'always' }, options)) as unknown as PrototypeNodes;
  }

  /** GET /v1/status of one member, asked directly at its HTTP address. */
  async nodeStatus(id: string, options: RequestOptions = {}): Promise<NodeStatus> {
    const member = await this.member(id, options);
    return this.client.status({ ...options, nodeUrl: this.memberUrl(member.http) });
  }

  /** The entries one member stores itself (not a cluster read), in key order, a page at a time. */
  async localEntries(id: string, page: { cursor?: string | null; limit?: number } = {}, options: RequestOptions = {}): Promise<LocalEntriesPage> {
    const member = await this.member(id, options);
    const params = new URLSearchParams();
    if (page.cursor) params.set('cursor', page.cursor);
    if (page.limit !== undefined) params.set('limit', String(page.limit));
    const query = params.size > 0 ? `?${params}` : '';
    const json = await this.client.json(
      { method: 'GET', path: `/v1/admin/local-entries${query}`, retry: 'always', target: this.memberUrl(member.http) },
      options,
    );
    return json as unknown as LocalEntriesPage;
  }

  /**
   * One line per member: its state (the front's process view wins over gossip, which takes a few
   * seconds to notice a kill), and its key count asked of the node itself (null if it cannot answer).
   */
  async overview(options: RequestOptions = {}): Promise<{ cluster: ClusterView; nodes: NodeOverview[] }> {
    const [cluster, prototype] = await Promise.all([this.client.cluster(options), this.nodes(options).catch(() => undefined)]);
    const byId = new Map((prototype?.nodes ?? []).map((n) => [String(n.node_id), n]));
    const statuses = await this.memberStatuses(cluster, options, (id) => byId.get(id)?.process !== 'stopped');
    const hints = hintsByTarget(statuses.values());
    const nodes = cluster.members.map((member): NodeOverview => {
      const seen = byId.get(member.id);
      const entries = statuses.get(member.id)?.entries;
      return {
        id: member.id,
        state: seen?.status ?? member.state,
        process: seen?.process ?? null,
        role: member.role,
        http: member.http,
        resp: member.resp,
        keys: entries?.live ?? null,
        tombstones: entries?.tombstones ?? null,
        hintsFor: hints[member.id] ?? 0,
      };
    });
    return { cluster, nodes };
  }

  /**
   * The cluster as the answering node sees it, with `hintsFor`: the hints held for each member summed
   * over every node that answers (each node holds its own; `hintsPending` is the answering node's).
   */
  async clusterStatus(options: RequestOptions = {}): Promise<ClusterStatus> {
    const cluster = await this.client.cluster(options);
    return { ...cluster, hintsFor: hintsByTarget((await this.memberStatuses(cluster, options, () => true)).values()) };
  }

  /** GET /v1/status of each member `ask` names, asked of the node itself; those that do not answer are left out. */
  private async memberStatuses(cluster: ClusterView, options: RequestOptions, ask: (id: string) => boolean): Promise<Map<string, NodeStatus>> {
    const timeoutMs = Math.min(options.timeoutMs ?? nodeStatusTimeoutMs, nodeStatusTimeoutMs);
    const answers = await Promise.all(
      cluster.members.map(async (member) => {
        if (!ask(member.id)) return undefined;
        try {
          return [member.id, await this.client.status({ ...options, timeoutMs, nodeUrl: this.memberUrl(member.http) })] as const;
        } catch (error) {
          if (options.signal?.aborted) throw error;
          return undefined;
        }
      }),
    );
    return new Map(answers.filter((answer) => answer !== undefined));
  }

  private async nodeAction(action: 'fail' | 'recover', id: string, options: RequestOptions): Promise<{ message: string }> {
    if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
      throw new QuorumKvError('BAD_REQUEST', `not a node id: "${id}"`, undefined);
    }
    // Idempotent: failing a failed node or recovering a live one changes nothing, so failover is safe.
    const json = await this.client.json({ method: 'POST', path: `/${action}/${encodeURIComponent(id)}`, retry: 'always' }, options);
    return { message: String(json.message) };
  }

  private async member(id: string, options: RequestOptions) {
    const cluster = await this.client.cluster(options);
    const member = cluster.members.find((m) => m.id === id);
    if (!member) {
      throw new QuorumKvError('UNKNOWN_NODE', `no node with id ${id} (nodes: ${cluster.members.map((m) => m.id).join(', ')})`, 404, { id });
    }
    return member;
  }
}

function hintsByTarget(statuses: Iterable<NodeStatus>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const status of statuses) {
    for (const [target, count] of Object.entries(status.hintsPending ?? {})) totals[target] = (totals[target] ?? 0) + count;
  }
  return totals;
}
