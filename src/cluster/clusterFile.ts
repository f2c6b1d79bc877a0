// The local cluster's description, kept in <data>/cluster.json so that `quorumkv start` on an existing
// data directory brings back the same members, ports, secret and settings.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError } from '../core/errors.js';
import type { Strategy } from '../core/layout.js';

export interface LocalMember {
  readonly id: string;
  readonly http: string;
  readonly peer: string;
  readonly resp: string;
}

export interface LocalCluster {
  readonly members: LocalMember[];
  readonly strategy: Strategy;
  readonly rf: number;
  readonly vnodes: number;
  readonly clusterSecret: string;
  readonly frontPort: number;
  readonly host: string;
}

export const clusterFileName = 'cluster.json';

export function loadCluster(dataDir: string): LocalCluster | undefined {
  const path = join(dataDir, clusterFileName);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LocalCluster;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); move it away to start a new cluster`);
  }
}

export function saveCluster(dataDir: string, cluster: LocalCluster): void {
  mkdirSync(dataDir, { recursive: true });
  // It holds the cluster secret: readable by its owner only.
  const path = join(dataDir, clusterFileName);
  writeFileSync(path, JSON.stringify(cluster, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600); // a file written by an earlier version keeps its mode otherwise
}

/** A local cluster has room for this many nodes: each kind of port has a block of 100. */
export const membersMax = 100;

/**
 * Ports after the front's: HTTP at P+1+i, peer at P+101+i, RESP at P+201+i. Refused (400) when the
 * blocks would overlap or a port would pass 65535: nothing is started on ports that cannot work.
 */
export function memberAt(host: string, frontPort: number, index: number): LocalMember {
  if (index >= membersMax) {
    throw new QuorumError('BAD_REQUEST', `a local cluster has ports for ${membersMax} nodes (node ids 0 to ${membersMax - 1}), and node ${index} would be past them`);
  }
  if (frontPort + 201 + index > 65535) {
    throw new QuorumError(
      'BAD_REQUEST',
      `node ${index} would listen on port ${frontPort + 201 + index} (front port ${frontPort} + 201 + ${index}), past 65535: use a lower --port`,
    );
  }
  return {
    id: String(index),
    http: `${host}:${frontPort + 1 + index}`,
    peer: `${host}:${frontPort + 101 + index}`,
    resp: `${host}:${frontPort + 201 + index}`,
  };
}

export function newCluster(options: {
  nodes: number;
  strategy: Strategy;
  rf: number;
  vnodes: number;
  frontPort: number;
  host: string;
}): LocalCluster {
  return {
    members: Array.from({ length: options.nodes }, (_, i) => memberAt(options.host, options.frontPort, i)),
    strategy: options.strategy,
    rf: options.rf,
    vnodes: options.vnodes,
    clusterSecret: randomBytes(24).toString('hex'),
    frontPort: options.frontPort,
    host: options.host,
  };
}

export function nodeDataDir(dataDir: string, id: string): string {
  return join(dataDir, `node-${id}`);
}
