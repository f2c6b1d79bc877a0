// Tables for people: the cluster status (`quorumkv status`), the nodes with their key counts
// (`quorumkv nodes`, the shell's `nodes`), and one node's own entries (`quorumkv local-entries`).
// Plain borders and no colours, so the text is the same in a terminal, a pipe and a test.

import Table from 'cli-table3';
import type { ClusterStatus, ClusterView, LocalEntriesPage, NodeOverview, PrototypeNodes } from '../client/index.js';

const plain = { head: [] as string[], border: [] as string[] };
/** No line between rows: a table of 20 nodes should fit a screen. */
const chars = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** `hints for it`: held for the member by every node that answered (ClusterStatus.hintsFor). */
export function renderStatus(value: unknown): string {
  const status = value as ClusterStatus;
  const table = new Table({ head: ['node', 'state', 'role', 'http', 'redis', 'hints for it'], style: plain, chars });
  for (const m of status.members) {
    table.push([m.id, m.state, m.role, m.http, m.resp ?? '-', String(status.hintsFor[m.id] ?? 0)]);
  }
  return `${clusterLine(status)}\n${table.toString()}\n`;
}

export function printStatus(value: unknown): void {
  process.stdout.write(renderStatus(value));
}

export function clusterLine(status: ClusterView): string {
  const pending = status.pending ? `, changing to ${status.pending.strategy} rf ${status.pending.rf}` : '';
  return `strategy ${status.strategy}, ${status.replicas} ${status.replicas === 1 ? 'replica' : 'replicas'} per key, layout v${status.layoutVersion}${pending} (seen by node ${status.node})`;
}

/** One row per node: state (process state when a local cluster's front knows it), keys it stores. */
export function renderNodes(cluster: ClusterView, nodes: readonly NodeOverview[]): string {
  const table = new Table({ head: ['node', 'state', 'http', 'redis', 'keys', 'tombstones', 'hints for it'], style: plain, chars });
  for (const n of nodes) {
    const state = n.process && n.process !== 'running' && n.process !== n.state ? `${n.state} (${n.process})` : n.state;
    table.push([n.id, state, n.http, n.resp ?? '-', count(n.keys), count(n.tombstones), String(n.hintsFor)]);
  }
  return `${clusterLine(cluster)}\n${table.toString()}\n`;
}

/** The front's own list when no node runs: every member, its state and its process. */
export function renderStoppedNodes(view: PrototypeNodes): string {
  const table = new Table({ head: ['node', 'state', 'http'], style: plain, chars });
  for (const n of view.nodes) table.push([String(n.node_id), n.process ? `${n.status} (${n.process})` : n.status, n.address]);
  return `no node is running (strategy ${view.strategy}, replication factor ${view.replication_factor}); recover them with: quorumkv recover-all\n${table.toString()}\n`;
}

export function renderLocalEntries(page: LocalEntriesPage): string {
  const table = new Table({ head: ['key', 'version', 'tombstone', 'written'], style: plain, chars });
  for (const entry of page.entries) {
    table.push([entry.key, entry.version, entry.tombstone ? 'yes' : '', new Date(entry.wallMs).toISOString()]);
  }
  const next = page.next !== null ? `more: --cursor ${JSON.stringify(page.next)}\n` : '';
  return `node ${page.node}: ${page.entries.length} entries\n${table.toString()}\n${next}`;
}

function count(value: number | null): string {
  return value === null ? '-' : String(value);
}
