// Input checks made before anything is sent (the prototype's menu did the same): blank keys and
// values, node ids that are not numbers, strategies with a replication factor larger than the
// cluster. Each failure is a usage error (exit code 2) with a message that says what to type.

import type { ClusterView } from '../client/index.js';
import { CliError, exitCodes } from './clientCommands.js';

export function usage(message: string): CliError {
  return new CliError(message, exitCodes.usage, { code: 'BAD_REQUEST' });
}

export function checkKey(key: string | undefined): string {
  if (key === undefined || key.trim() === '') throw usage('Key must not be empty');
  return key;
}

export function checkValue(value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw usage('Value must not be empty');
  return value;
}

/**
 * A node id: the local cluster's are numbers ("0", "1", ...), as in the prototype; a cluster started
 * node by node may use names, which are accepted when the cluster has such a member.
 */
export function checkNodeId(id: string | undefined, cluster?: ClusterView): string {
  if (id === undefined || id.trim() === '') throw usage('Node id must not be empty');
  const trimmed = id.trim();
  const ids = cluster?.members.map((m) => m.id);
  if (ids?.includes(trimmed)) return trimmed;
  if (!/^\d+$/.test(trimmed)) throw usage(`Node id must be a number, got "${trimmed}"`);
  if (ids && !ids.includes(trimmed)) {
    throw new CliError(`Node ${trimmed} does not exist (nodes: ${ids.join(', ')})`, exitCodes.notFound, { code: 'UNKNOWN_NODE', id: trimmed });
  }
  return trimmed;
}

export type StrategyName = 'full' | 'consistent';

/** The members of the layout: what the server caps the replication factor by (core/node.ts). */
export function nodeCount(cluster: ClusterView): number {
  return cluster.members.length;
}

export function checkStrategy(strategy: string | undefined, rfText: string | undefined, cluster?: ClusterView): { strategy: StrategyName; rf?: number } {
  const name = strategy?.trim().toLowerCase();
  if (name !== 'full' && name !== 'consistent') throw usage(`Strategy must be "full" or "consistent", got "${strategy ?? ''}"`);
  if (rfText === undefined || rfText.trim() === '') {
    return { strategy: name };
  }
  const text = rfText.trim();
  // It was taken and ignored: under full every node holds every key.
  if (name === 'full') throw usage(`Strategy full keeps every key on every node: it takes no replication factor, got "${text}"`);
  const rf = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(rf) || rf < 1) throw usage(`Replication factor must be a positive integer, got "${text}"`);
  if (name === 'consistent' && cluster && rf > nodeCount(cluster)) {
    throw usage(`Replication factor ${rf} is larger than the node count (${nodeCount(cluster)})`);
  }
  return { strategy: name, rf };
}
