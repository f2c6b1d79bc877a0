// `quorumkv bench --scenario seed`: the prototype's performance test (its test_performance.py) replayed
// against real processes. For each strategy (3 nodes; consistent hashing with replication factor 2
// and 10 keys; full replication and 5 keys) on a fresh local cluster: time to write the keys one by
// one through POST /write, read them through GET /read/<key>, fail every node (POST /fail/<id>) and
// recover every node (POST /recover/<id>), all through the front, printed beside the prototype's
// published timings (shared/seed/SEED-BEHAVIOUR.md).
//
// The prototype kept its nodes in one Python process, so its fail and recover flipped a flag; here
// fail kills a node's process (SIGKILL) and recover starts it again and waits until it serves.

import { Pool } from 'undici';
import { plainTable } from './report.js';
import { startQuorumkv, type Cleanup } from './processes.js';

export interface SeedStrategy {
  readonly strategy: 'consistent' | 'full';
  readonly rf: number;
  readonly keys: number;
  /** The prototype's published seconds per step (undefined where it published none). */
  readonly published: Partial<Record<SeedStep, number>>;
}

export type SeedStep = 'write' | 'read' | 'fail' | 'recover';
export const seedSteps: readonly SeedStep[] = ['write', 'read', 'fail', 'recover'];

export const seedStrategies: readonly SeedStrategy[] = [
  { strategy: 'consistent', rf: 2, keys: 10, published: { write: 0.17, read: 0.01, fail: 0.02, recover: 0.01 } },
  { strategy: 'full', rf: 3, keys: 5, published: { write: 0.11, recover: 0.23 } },
];

export const seedNodes = 3;

export interface SeedRow {
  readonly strategy: string;
  readonly keys: number;
  readonly step: SeedStep;
  readonly seconds: number;
  readonly prototypeSeconds: number | null;
  /** Requests of the step that did not answer 200. */
  readonly errors: number;
}

export async function runSeedScenario(cleanup: Cleanup, options: { token?: string | undefined; log: (line: string) => void }): Promise<SeedRow[]> {
  const rows: SeedRow[] = [];
  for (const plan of seedStrategies) {
    options.log(`seed scenario: ${plan.strategy}${plan.strategy === 'consistent' ? ` (RF ${plan.rf})` : ''}, ${seedNodes} nodes, ${plan.keys} keys`);
    const started = await startQuorumkv(cleanup, { nodes: seedNodes, strategy: plan.strategy, rf: plan.rf, fsync: 'commit', token: options.token });
    const front = new Pool(started.frontUrl, { connections: 1 });
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<boolean> => {
      const response = await front.request({
        method,
        path,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      await response.body.text();
      return response.statusCode === 200;
    };
    const timed = async (step: SeedStep, requests: (() => Promise<boolean>)[]) => {
      let errors = 0;
      const began = performance.now();
      for (const request of requests) if (!(await request())) errors++;
      const seconds = (performance.now() - began) / 1000;
      rows.push({ strategy: plan.strategy, keys: plan.keys, step, seconds: Math.round(seconds * 1000) / 1000, prototypeSeconds: plan.published[step] ?? null, errors });
    };
    const keys = Array.from({ length: plan.keys }, (_, i) => `key${i}`);
    const ids = started.cluster.members.map((m) => m.id);
    try {
      await timed('write', keys.map((key, i) => () => call('POST', '/write', { key, value: `value${i}` })));
      await timed('read', keys.map((key) => () => call('GET', `/read/${encodeURIComponent(key)}`)));
      await timed('fail', ids.map((id) => () => call('POST', `/fail/${id}`)));
      await timed('recover', ids.map((id) => () => call('POST', `/recover/${id}`)));
    } finally {
      await front.close();
    }
    // Stop this cluster now (the next strategy gets its own); the cleanup would otherwise do it.
    await cleanup.stopAll();
  }
  return rows;
}

export function renderSeedRows(rows: readonly SeedRow[]): string {
  const table = plainTable(['strategy', 'keys', 'step', 'quorumkv s', 'prototype s', 'errors'], ['left', 'right', 'left', 'right', 'right', 'right']);
  for (const row of rows) {
    table.push([row.strategy, row.keys, row.step, row.seconds.toFixed(3), row.prototypeSeconds === null ? '-' : row.prototypeSeconds.toFixed(2), row.errors]);
  }
  return [
    table.toString(),
    'Prototype timings as published (- = not published). Here fail kills a node process (SIGKILL) and',
    'recover starts it again and waits until it serves; the prototype flipped a flag inside one process.',
  ].join('\n');
}
