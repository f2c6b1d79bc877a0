// The dashboard's one JSON view of a running local cluster (`GET /v1/dashboard/state`): every node's
// process (from the front's supervisor) and status (asked of the node itself, in parallel, with a short
// timeout so that a dead or hung node shows as unreachable instead of holding the page), the cluster's
// layout as the most advanced node runs it, and the ring computed here from that layout.

import type { Layout, LayoutMember } from '../core/layout.js';
import { ringSize } from '../core/hash.js';
import { Placement } from '../core/placement.js';
import { rangeLength, type Ring } from '../core/ring.js';
import type { Supervisor } from '../cluster/supervisor.js';
import { emptyCounters, parseRequestCounters, type RequestCounters } from './metricsText.js';

export interface StateSources {
  readonly supervisor: Supervisor;
  /** Bearer token the front uses to ask nodes (the client token, else the admin one). */
  readonly token?: string | undefined;
  /** Per-request timeout for each node, in ms. */
  readonly timeoutMs: number;
}

// ---- what the nodes answer (only the fields used here) -------------------------------------------

interface SessionJson {
  id: number;
  peer: string;
  reason: string;
  state: string;
  rangesTotal: number;
  rangesCompared: number;
  rangesDiffering: number;
  keysSent: number;
  keysReceived: number;
  startedMs: number;
  finishedMs?: number | null;
  truncated?: boolean;
}

interface StatusJson {
  id: string;
  paused: boolean;
  recovery: { phase: string; peersSynced: string[]; peersPending: string[] };
  antiEntropy: { running: SessionJson[]; recent: SessionJson[]; keysRepaired: number };
  tombstonesPurged: number;
  topology: {
    layoutVersion: number;
    inTransition: boolean;
    coordinator?: string | null;
    fill?: { layoutVersion: number; sources: { peer: string; ranges: number; done: boolean }[]; rangesTotal: number; keysReceived: number; bytesReceived: number; done: boolean } | null;
    waitingFor: string[];
    entriesDropped?: number;
    cleanupPending?: boolean;
  };
  layout: Layout;
  members: { id: string; state: string; incarnation: number; sinceMs: number }[];
  hintsPending: Record<string, number>;
  hintsDelivered: number;
  operationsInFlight: number;
  entries: { live: number; tombstones: number };
  transport?: { sent?: number; received?: number; dropped?: number; peers?: Record<string, { connected: boolean; queued: number }> };
}

// ---- what the dashboard gets --------------------------------------------------------------------

export interface SessionSummary {
  id: number;
  peer: string;
  reason: string;
  state: string;
  rangesTotal: number;
  rangesCompared: number;
  rangesDiffering: number;
  keysSent: number;
  keysReceived: number;
  startedMs: number;
  finishedMs: number | null;
}

export interface DashboardNode {
  id: string;
  http: string;
  peer: string;
  resp: string | null;
  /** The front's view of the process: starting | running | stopped, or unmanaged (not run by this front). */
  process: string;
  pid: number | null;
  /** Whether the node answered /v1/status within the timeout. */
  reachable: boolean;
  /** Why it did not, when it did not. */
  error: string | null;
  paused: boolean;
  /** Role in the layout (active, joining, leaving), or null when it is not in the layout. */
  role: string | null;
  /** alive | suspect | dead as the other nodes see it (dead when its process is stopped), or unknown. */
  state: string;
  /** Each reachable node's view of this one. */
  seenBy: Record<string, string>;
  incarnation: number | null;
  layoutVersion: number | null;
  entries: { live: number; tombstones: number } | null;
  tombstonesPurged: number | null;
  /** Hints this node holds for others, and hints the reachable nodes hold for this one. */
  hintsHeld: number | null;
  hintsHeldFor: Record<string, number>;
  hintsFor: number;
  hintsDelivered: number | null;
  recovery: { phase: string; peersSynced: string[]; peersPending: string[] } | null;
  antiEntropy: { running: SessionSummary[]; recent: SessionSummary[]; keysRepaired: number } | null;
  topology: StatusJson['topology'] | null;
  operationsInFlight: number | null;
  transport: { sent: number; received: number; dropped: number; peersConnected: number; peersTotal: number } | null;
  /** Cumulative request counters from /metrics (the page turns them into rates); null when unread. */
  requests: RequestCounters | null;
  /** How long the node took to answer, in ms. */
  fetchMs: number | null;
}

export interface RingRangeView {
  start: number;
  end: number;
  owner: string;
}

export interface RingView {
  size: number;
  vnodes: number;
  /** Member ids on the ring, in ring order (sorted). */
  members: string[];
  /** Token ranges, adjacent ranges of one owner merged; `start` exclusive, `end` inclusive. */
  ranges: RingRangeView[];
  /** Number of tokens (vnodes) on the ring before merging. */
  tokens: number;
  /** Fraction of the ring each member is primary for. */
  primaryShares: Record<string, number>;
  /** Fraction of the ring each member holds a replica of (sums to the replica count). */
  replicaShares: Record<string, number>;
  replicas: number;
}

export interface DashboardState {
  generatedMs: number;
  /** The node whose layout is shown (the reachable node with the newest layout). */
  observer: string | null;
  cluster: {
    layoutVersion: number;
    strategy: string;
    rf: number;
    replicas: number;
    vnodes: number;
    pending: { strategy: string; rf: number } | null;
    inTransition: boolean;
    members: { id: string; http: string; peer: string; resp: string | null; role: string; state: string; incarnation: number | null }[];
    /** Hints held anywhere, by target. */
    hintsPending: Record<string, number>;
  } | null;
  nodes: DashboardNode[];
  ring: RingView | null;
  /** The ring writes also go to while a topology or replication change is under way. */
  nextRing: RingView | null;
  totals: {
    /** Live entries summed over the nodes: each key counts once per replica that holds it. */
    liveCopies: number;
    tombstoneCopies: number;
    /** Distinct live keys, estimated as the copies over the replicas per key: exact once every replica
     *  holds every key it should, low while a node is down or behind. Null without a layout. */
    liveKeys: number | null;
    hintsPending: number;
    nodesUp: number;
    nodesTotal: number;
  };
}

// ---- fetching -------------------------------------------------------------------------------------

interface Probe {
  status: StatusJson | undefined;
  paused: boolean;
  error: string | undefined;
  requests: RequestCounters | undefined;
  fetchMs: number | undefined;
}

async function fetchText(url: string, token: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { accept: 'application/json, text/plain' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, text: await response.text() };
}

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  if (e?.cause?.code) return e.cause.code === 'ECONNREFUSED' ? 'connection refused' : e.cause.code;
  return e?.message ?? String(error);
}

async function probe(http: string, sources: StateSources): Promise<Probe> {
  const started = Date.now();
  const base = `http://${http}`;
  const [status, metrics] = await Promise.allSettled([
    fetchText(`${base}/v1/status`, sources.token, sources.timeoutMs),
    fetchText(`${base}/metrics`, sources.token, sources.timeoutMs),
  ]);
  const result: Probe = { status: undefined, paused: false, error: undefined, requests: undefined, fetchMs: Date.now() - started };
  if (status.status === 'rejected') {
    result.error = describeError(status.reason);
  } else if (status.value.status === 200) {
    try {
      result.status = JSON.parse(status.value.text) as StatusJson;
      result.paused = result.status.paused === true;
    } catch {
      result.error = 'unreadable status';
    }
  } else {
    let body: { message?: string; paused?: boolean } = {};
    try {
      body = JSON.parse(status.value.text) as typeof body;
    } catch {
      // not JSON
    }
    result.paused = body.paused === true;
    result.error = result.paused ? 'paused (simulated crash)' : `HTTP ${status.value.status}${body.message ? `: ${body.message}` : ''}`;
  }
  if (metrics.status === 'fulfilled' && metrics.value.status === 200) result.requests = parseRequestCounters(metrics.value.text);
  return result;
}

// ---- assembling -----------------------------------------------------------------------------------

function summarize(session: SessionJson): SessionSummary {
  return {
    id: session.id,
    peer: session.peer,
    reason: session.reason,
    state: session.state,
    rangesTotal: session.rangesTotal,
    rangesCompared: session.rangesCompared,
    rangesDiffering: session.rangesDiffering,
    keysSent: session.keysSent,
    keysReceived: session.keysReceived,
    startedMs: session.startedMs,
    finishedMs: session.finishedMs ?? null,
  };
}

const stateRank: Record<string, number> = { alive: 0, suspect: 1, dead: 2 };

/** The most common view among observers; a tie goes to the worse state. */
function consensus(views: string[]): string | undefined {
  if (views.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const view of views) counts.set(view, (counts.get(view) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (stateRank[b[0]] ?? 3) - (stateRank[a[0]] ?? 3))[0]?.[0];
}

function sum(values: Record<string, number> | undefined): number {
  return Object.values(values ?? {}).reduce((total, v) => total + (Number.isFinite(v) ? v : 0), 0);
}

/** The ring as the view draws it: ranges merged by owner, and the primary and replica shares. */
export function ringView(ring: Ring, replicas: number, vnodes: number): RingView {
  const raw = ring.ranges();
  const primaryShares: Record<string, number> = {};
  const replicaShares: Record<string, number> = {};
  for (const id of ring.memberIds) {
    primaryShares[id] = 0;
    replicaShares[id] = 0;
  }
  for (const range of raw) {
    const share = rangeLength(range) / ringSize;
    primaryShares[range.owner] = (primaryShares[range.owner] ?? 0) + share;
    // Every position in (start, end] has the same preference list: the walk from `end`.
    for (const id of ring.walk(range.end, replicas)) replicaShares[id] = (replicaShares[id] ?? 0) + share;
  }
  const ranges: RingRangeView[] = [];
  for (const range of raw) {
    const last = ranges[ranges.length - 1];
    if (last && last.owner === range.owner && last.end === range.start) last.end = range.end;
    else ranges.push({ start: range.start, end: range.end, owner: range.owner });
  }
  // The first and last ranges meet at the wrap: merge them when one owner holds both.
  if (ranges.length > 1) {
    const first = ranges[0] as RingRangeView;
    const last = ranges[ranges.length - 1] as RingRangeView;
    if (first.owner === last.owner && first.start === last.end) {
      first.start = last.start;
      ranges.pop();
    }
  }
  return { size: ringSize, vnodes, members: [...ring.memberIds], ranges, tokens: raw.length, primaryShares, replicaShares, replicas };
}

export async function collectState(sources: StateSources): Promise<DashboardState> {
  const { supervisor } = sources;
  const managed = supervisor.ids();
  // First round: every node the front runs (a stopped process is not asked).
  const probes = new Map<string, Probe>();
  const ask = async (id: string, http: string) => {
    probes.set(id, await probe(http, sources));
  };
  await Promise.all(
    managed.map((id) => {
      const member = supervisor.member(id);
      if (!member || supervisor.stateOf(id) === 'stopped') return undefined;
      return ask(id, member.http);
    }),
  );

  // The newest layout any reachable node runs.
  let layout: Layout | undefined;
  let observer: string | undefined;
  for (const [id, p] of probes) {
    const candidate = p.status?.layout;
    if (candidate && (layout === undefined || candidate.version > layout.version)) {
      layout = candidate;
      observer = id;
    }
  }

  // Members of the layout this front does not run (another machine, a hand-started node): ask them too.
  const unmanaged = (layout?.members ?? []).filter((m) => !managed.includes(m.id));
  await Promise.all(unmanaged.map((m) => ask(m.id, m.http)));

  const layoutMembers = new Map<string, LayoutMember>((layout?.members ?? []).map((m) => [m.id, m]));
  const ids = [...managed, ...unmanaged.map((m) => m.id)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

  const hintsByTarget: Record<string, number> = {};
  for (const p of probes.values()) {
    for (const [target, count] of Object.entries(p.status?.hintsPending ?? {})) {
      hintsByTarget[target] = (hintsByTarget[target] ?? 0) + count;
    }
  }

  const nodes: DashboardNode[] = ids.map((id) => {
    const member = supervisor.member(id);
    const inLayout = layoutMembers.get(id);
    const p = probes.get(id);
    const status = p?.status;
    const processState = member ? (supervisor.stateOf(id) ?? 'stopped') : 'unmanaged';
    const seenBy: Record<string, string> = {};
    let incarnation: number | null = null;
    for (const [observerId, other] of probes) {
      const view = other.status?.members.find((m) => m.id === id);
      if (!view) continue;
      seenBy[observerId] = view.state;
      if (observerId !== id) incarnation = Math.max(incarnation ?? 0, view.incarnation);
    }
    const others = Object.entries(seenBy).filter(([o]) => o !== id).map(([, s]) => s);
    let state: string;
    if (processState === 'stopped') state = 'dead';
    else if (p?.paused) state = consensus(others) ?? 'dead';
    else state = consensus(others) ?? (status ? 'alive' : p?.error ? 'dead' : 'unknown');
    const transport = status?.transport;
    const peers = Object.values(transport?.peers ?? {});
    return {
      id,
      http: member?.http ?? inLayout?.http ?? '',
      peer: member?.peer ?? inLayout?.peer ?? '',
      resp: member?.resp ?? inLayout?.resp ?? null,
      process: processState,
      pid: (member ? supervisor.pid(id) : undefined) ?? null,
      reachable: status !== undefined,
      error: processState === 'stopped' ? 'process stopped' : (p?.error ?? null),
      paused: p?.paused ?? false,
      role: inLayout?.role ?? null,
      state,
      seenBy,
      incarnation,
      layoutVersion: status?.layout?.version ?? null,
      entries: status?.entries ?? null,
      tombstonesPurged: status?.tombstonesPurged ?? null,
      hintsHeld: status ? sum(status.hintsPending) : null,
      hintsHeldFor: status?.hintsPending ?? {},
      hintsFor: hintsByTarget[id] ?? 0,
      hintsDelivered: status?.hintsDelivered ?? null,
      recovery: status?.recovery ?? null,
      antiEntropy: status
        ? {
            running: status.antiEntropy.running.map(summarize),
            recent: status.antiEntropy.recent.slice(-8).map(summarize),
            keysRepaired: status.antiEntropy.keysRepaired,
          }
        : null,
      topology: status?.topology ?? null,
      operationsInFlight: status?.operationsInFlight ?? null,
      transport: transport
        ? {
            sent: transport.sent ?? 0,
            received: transport.received ?? 0,
            dropped: transport.dropped ?? 0,
            peersConnected: peers.filter((peer) => peer.connected).length,
            peersTotal: peers.length,
          }
        : null,
      requests: p?.requests ?? (status ? emptyCounters() : null),
      fetchMs: p?.fetchMs ?? null,
    };
  });

  let cluster: DashboardState['cluster'] = null;
  let ring: RingView | null = null;
  let nextRing: RingView | null = null;
  if (layout) {
    const placement = new Placement(layout);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    cluster = {
      layoutVersion: layout.version,
      strategy: layout.strategy,
      rf: layout.rf,
      replicas: placement.servingCount,
      vnodes: layout.vnodes,
      pending: layout.pending ? { strategy: layout.pending.strategy, rf: layout.pending.rf } : null,
      inTransition: placement.next !== undefined,
      members: layout.members.map((m) => ({
        id: m.id,
        http: m.http,
        peer: m.peer,
        resp: m.resp ?? null,
        role: m.role,
        state: byId.get(m.id)?.state ?? 'unknown',
        incarnation: byId.get(m.id)?.incarnation ?? null,
      })),
      hintsPending: hintsByTarget,
    };
    ring = ringView(placement.serving, placement.servingCount, layout.vnodes);
    if (placement.next) nextRing = ringView(placement.next, placement.nextCount, layout.vnodes);
  }

  const liveCopies = nodes.reduce((total, n) => total + (n.entries?.live ?? 0), 0);
  return {
    generatedMs: Date.now(),
    observer: observer ?? null,
    cluster,
    nodes,
    ring,
    nextRing,
    totals: {
      liveCopies,
      tombstoneCopies: nodes.reduce((total, n) => total + (n.entries?.tombstones ?? 0), 0),
      liveKeys: cluster && cluster.replicas > 0 ? Math.round(liveCopies / cluster.replicas) : null,
      hintsPending: sum(hintsByTarget),
      nodesUp: nodes.filter((n) => n.reachable && !n.paused).length,
      nodesTotal: nodes.length,
    },
  };
}
