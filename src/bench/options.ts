// Names and defaults the bench commands parse, kept apart from the code that runs them: `quorumkv`
// loads this (through command.ts) for every non-core command, and the benchmark's clients, servers and
// reports only when a bench command runs.

import type { ConsistencyLevel } from '../core/quorum.js';
import { workloadNames, type WorkloadName } from './workload.js';

export const targetDefault = 'http://127.0.0.1:5000';
export const targetSchemes = ['http://', 'https://', 'quorumkv-resp://', 'client:', 'redis://', 'etcd://'] as const;

export type CompareSystem = 'etcd' | 'redis' | 'quorumkv';
export const compareSystems: readonly CompareSystem[] = ['etcd', 'redis', 'quorumkv'];

export type QuorumkvProtocol = 'http' | 'resp' | 'client';
export const quorumkvProtocols: readonly QuorumkvProtocol[] = ['http', 'resp', 'client'];

export type FsyncPolicy = 'commit' | 'periodic';
export const fsyncPolicies: readonly FsyncPolicy[] = ['commit', 'periodic'];

/** Redis persistence in `bench compare`: none, or AOF with that appendfsync. */
export type RedisPersistence = 'off' | 'everysec' | 'always';
export const redisPersistences: readonly RedisPersistence[] = ['off', 'everysec', 'always'];

export interface WorkloadSpec {
  readonly workload: WorkloadName;
  readonly consistency: ConsistencyLevel;
}

/** update-heavy YCSB A at quorum, read-only C at one, write-only inserts at quorum. */
export const compareWorkloadsDefault = 'a:quorum,c:one,insert:quorum';

/** `a:quorum,c:one,insert` (the level defaults to quorum). */
export function parseWorkloadSpecs(text: string): WorkloadSpec[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [workload = '', consistency = 'quorum'] = part.split(':');
      if (!(workloadNames as readonly string[]).includes(workload)) {
        throw new Error(`unknown workload "${workload}" in "${part}" (${workloadNames.join(', ')})`);
      }
      if (!['one', 'quorum', 'all'].includes(consistency)) throw new Error(`unknown consistency "${consistency}" in "${part}" (one, quorum, all)`);
      return { workload: workload as WorkloadName, consistency: consistency as ConsistencyLevel };
    });
}
