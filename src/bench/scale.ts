// `quorumkv bench scale`: the figures of a full node. Loads N keys (default 1,000,000) of 100 B into a
// fresh 3-node cluster (RF 3, so every node holds every key), then reports per node:
//   - resident memory (VmRSS of /proc/<pid>/status) after the load;
//   - the database's size on disk (quorumkv.db with its -wal and -shm files);
//   - time from restart to serving: the process is killed (SIGKILL) and started again, and the clock
//     runs until it answers a read of a loaded key;
// and the time anti-entropy takes to repair a replica that missed 1% of the writes: one node is
// killed, 1% of N keys are written at quorum (half updates of existing keys, half new keys) while
// hints are off (every node runs with hintWindowMs=1, so no hint survives to be replayed), the node is
// started again, and the clock runs from the moment it serves until its local copy of every missed
// key has the version the write was acknowledged with. Repair is asked for with
// POST /v1/admin/anti-entropy?wait=true (again every second until done; scheduled anti-entropy
// would get there too).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';
import { nodeDataDir } from '../cluster/clusterFile.js';
import { loadKeys } from './benchRun.js';
import { startQuorumkv, nodeHttpTarget, type Cleanup, type LocalQuorumkv } from './processes.js';
import { plainTable, round, type PhaseReport } from './report.js';
import { SeededRandom } from './random.js';
import { benchValue } from './runner.js';
import { openTarget } from './targets.js';
import { keyName } from './workload.js';

export interface ScaleOptions {
  readonly keys: number;
  readonly valueSize: number;
  readonly clients: number;
  readonly nodes: number;
  readonly fsync: 'commit' | 'periodic';
  /** Share of N written while one node is down, in percent. */
  readonly missedPercent: number;
  readonly seed: number;
  readonly timeoutMs: number;
  /** Give up waiting for the repair after this long. */
  readonly repairTimeoutMs: number;
  readonly progress: boolean;
  readonly log: (line: string) => void;
}

export interface ScaleNode {
  readonly id: string;
  readonly pid: number | null;
  readonly rssMb: number | null;
  readonly databaseMb: number;
  readonly restartToServingS: number;
}

export interface ScaleResult {
  readonly keys: number;
  readonly valueSize: number;
  readonly nodes: number;
  readonly rf: number;
  readonly fsync: string;
  readonly load: PhaseReport;
  readonly perNode: ScaleNode[];
  readonly antiEntropy: {
    readonly node: string;
    readonly missedWrites: number;
    readonly updates: number;
    readonly inserts: number;
    readonly writeErrors: number;
    /** Status of the first POST /v1/admin/anti-entropy (404 when the route does not exist). */
    readonly routeStatus: number | null;
    readonly repairRequests: number;
    /** From serving again to every missed write present on the node; null when it did not finish. */
    readonly repairS: number | null;
    readonly restartToServingS: number;
  };
}

export function residentMemoryMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : round(Number(kb) / 1024, 1);
  } catch {
    return null;
  }
}

export function databaseBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) if (name.startsWith('quorumkv.db')) total += statSync(join(dir, name)).size;
  return total;
}

export async function runScale(cleanup: Cleanup, options: ScaleOptions): Promise<ScaleResult> {
  const signal = cleanup.abort.signal;
  options.log(`starting a ${options.nodes}-node quorumkv cluster (RF ${options.nodes}, fsync ${options.fsync}, hints off: hintWindowMs=1)`);
  const cluster = await startQuorumkv(cleanup, { nodes: options.nodes, rf: options.nodes, fsync: options.fsync, settings: ['hintWindowMs=1'] });
  const pools = new Map(cluster.cluster.members.map((m) => [m.id, new Pool(`http://${m.http}`, { connections: options.clients })]));
  try {
    options.log(`loading ${options.keys.toLocaleString('en-US')} keys of ${options.valueSize} B at consistency quorum`);
    const loader = await openTarget(nodeHttpTarget(cluster), { consistency: 'quorum', clients: options.clients, timeoutMs: options.timeoutMs });
    let load: PhaseReport;
    try {
      load = await loadKeys(loader, { keys: options.keys, valueSize: options.valueSize, clients: options.clients, seed: options.seed }, { signal, progress: options.progress, label: 'scale' });
    } finally {
      await loader.close();
    }
    options.log(`loaded in ${load.elapsedS} s (${Math.round(load.opsPerSec)} keys/s, ${load.errors} errors)`);

    const perNode: ScaleNode[] = [];
    for (const member of cluster.cluster.members) {
      if (signal.aborted) throw new Error('aborted');
      const pid = cluster.supervisor.pid(member.id);
      const rssMb = residentMemoryMb(pid);
      const databaseMb = round(databaseBytes(nodeDataDir(cluster.dataDir, member.id)) / (1024 * 1024), 1);
      options.log(`node ${member.id}: restarting (kill + start)`);
      const restartToServingS = await restart(cluster, member.id, pools, signal);
      perNode.push({ id: member.id, pid: pid ?? null, rssMb, databaseMb, restartToServingS });
    }

    const antiEntropy = await measureRepair(cluster, pools, options, signal);
    return { keys: options.keys, valueSize: options.valueSize, nodes: options.nodes, rf: options.nodes, fsync: options.fsync, load, perNode, antiEntropy };
  } finally {
    await Promise.all([...pools.values()].map((pool) => pool.close()));
  }
}

/** Kills the node, starts it again, and returns the seconds until it answers a read at `one`. */
async function restart(cluster: LocalQuorumkv, id: string, pools: Map<string, Pool>, signal: AbortSignal): Promise<number> {
  await cluster.supervisor.kill(id);
  const began = performance.now();
  await cluster.supervisor.start(id);
  await waitServing(pools.get(id) as Pool, signal);
  return round((performance.now() - began) / 1000, 3);
}

async function waitServing(pool: Pool, signal: AbortSignal): Promise<void> {
  for (;;) {
    if (signal.aborted) throw new Error('aborted');
    try {
      const response = await pool.request({ method: 'GET', path: `/v1/kv/${keyName(0)}?consistency=one`, headersTimeout: 5000 });
      await response.body.text();
      if (response.statusCode === 200 || response.statusCode === 404) return;
    } catch {
      // not serving yet
    }
    await delay(10);
  }
}

async function measureRepair(
  cluster: LocalQuorumkv,
  pools: Map<string, Pool>,
  options: ScaleOptions,
  signal: AbortSignal,
): Promise<ScaleResult['antiEntropy']> {
  const members = cluster.cluster.members;
  const victim = members[members.length - 1]?.id as string;
  const living = members.filter((m) => m.id !== victim).map((m) => pools.get(m.id) as Pool);
  const missed = Math.max(2, Math.round((options.keys * options.missedPercent) / 100));
  const updates = Math.min(Math.floor(missed / 2), options.keys);
  const inserts = missed - updates;
  const random = new SeededRandom(options.seed ^ 0x3c6ef372);
  const updated = new Set<number>();
  while (updated.size < updates) updated.add(random.nextInt(options.keys));
  const indices = [...updated, ...Array.from({ length: inserts }, (_, i) => options.keys + i)];

  options.log(`anti-entropy: killing node ${victim}, writing ${missed.toLocaleString('en-US')} keys at quorum (${updates} updates, ${inserts} new)`);
  await cluster.supervisor.kill(victim);
  const value = benchValue(options.valueSize, options.seed + 1);
  const versions = new Map<number, string>();
  let writeErrors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      while (next < indices.length && !signal.aborted) {
        const index = indices[next++] as number;
        const pool = living[client % living.length] as Pool;
        try {
          const response = await pool.request({
            method: 'PUT',
            path: `/v1/kv/${keyName(index)}?consistency=quorum`,
            headers: { 'content-type': 'application/octet-stream' },
            body: value,
            headersTimeout: options.timeoutMs,
          });
          await response.body.text();
          const version = response.headers['x-quorumkv-version'];
          if (response.statusCode === 200 && typeof version === 'string') versions.set(index, version);
          else writeErrors++;
        } catch {
          writeErrors++;
        }
      }
    }),
  );

  options.log(`anti-entropy: starting node ${victim} again`);
  const restartToServingS = await restart(cluster, victim, pools, signal); // its kill is a no-op: already down
  const victimPool = pools.get(victim) as Pool;
  const began = performance.now();
  const deadline = began + options.repairTimeoutMs;
  let pending = [...versions.keys()].sort((a, b) => a - b);
  let routeStatus: number | null = null;
  let repairRequests = 0;
  let lastRequestAt = -Infinity;
  while (pending.length > 0 && performance.now() < deadline && !signal.aborted) {
    if (routeStatus !== 404 && performance.now() - lastRequestAt >= 1000) {
      lastRequestAt = performance.now();
      repairRequests++;
      try {
        const response = await victimPool.request({ method: 'POST', path: '/v1/admin/anti-entropy?wait=true', headersTimeout: options.repairTimeoutMs });
        await response.body.text();
        routeStatus ??= response.statusCode;
        if (response.statusCode === 404 && repairRequests === 1) options.log('anti-entropy: POST /v1/admin/anti-entropy is missing (404); waiting for scheduled repair');
      } catch {
        // the node is busy or restarting; try again
      }
    }
    pending = await stillMissing(victimPool, pending, versions, options.clients);
    if (pending.length > 0) await delay(100);
  }
  const repairS = pending.length === 0 ? round((performance.now() - began) / 1000, 3) : null;
  return { node: victim, missedWrites: versions.size, updates, inserts, writeErrors, routeStatus, repairRequests, repairS, restartToServingS };
}

/** The indices whose key is not yet on the node with the acknowledged version (one listing call each). */
async function stillMissing(pool: Pool, indices: readonly number[], versions: ReadonlyMap<number, string>, concurrency: number): Promise<number[]> {
  const missing: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, indices.length) }, async () => {
      while (next < indices.length) {
        const index = indices[next++] as number;
        // Keys are fixed-width by index, so the first local entry after key(index - 1) is key(index) when present.
        const cursor = index === 0 ? '' : keyName(index - 1);
        try {
          const response = await pool.request({ method: 'GET', path: `/v1/admin/local-entries?limit=1&cursor=${encodeURIComponent(cursor)}`, headersTimeout: 10_000 });
          const text = await response.body.text();
          const body = response.statusCode === 200 ? (JSON.parse(text) as { entries?: { key: string; version: string }[] }) : {};
          const entry = body.entries?.[0];
          if (!entry || entry.key !== keyName(index) || entry.version !== versions.get(index)) missing.push(index);
        } catch {
          missing.push(index);
        }
      }
    }),
  );
  return missing.sort((a, b) => a - b);
}

export function renderScale(result: ScaleResult): string {
  const table = plainTable(['node', 'pid', 'resident MB', 'database MB', 'restart to serving s'], ['left', 'right', 'right', 'right', 'right']);
  for (const node of result.perNode) {
    table.push([node.id, node.pid ?? '-', node.rssMb ?? '-', node.databaseMb, node.restartToServingS.toFixed(3)]);
  }
  const ae = result.antiEntropy;
  return [
    `${result.keys.toLocaleString('en-US')} keys of ${result.valueSize} B on ${result.nodes} nodes (RF ${result.rf}: every node holds every key), fsync ${result.fsync}`,
    `load: ${result.load.elapsedS} s, ${Math.round(result.load.opsPerSec).toLocaleString('en-US')} keys/s at consistency quorum, ${result.load.errors} errors` +
      (result.load.errors > 0 ? ` (${Object.entries(result.load.errorsByKind).map(([kind, count]) => `${kind} x${count}`).join(', ')})` : ''),
    table.toString(),
    `anti-entropy: node ${ae.node} missed ${ae.missedWrites.toLocaleString('en-US')} writes (${ae.updates} updates, ${ae.inserts} new keys; ${ae.writeErrors} write errors)`,
    `  restart to serving: ${ae.restartToServingS.toFixed(3)} s; then repaired in ${ae.repairS === null ? 'NOT within the timeout' : `${ae.repairS.toFixed(3)} s`}` +
      ` (POST /v1/admin/anti-entropy: ${ae.routeStatus === null ? 'no answer' : ae.routeStatus === 404 ? 'missing, scheduled repair' : `status ${ae.routeStatus}`}, ${ae.repairRequests} request(s))`,
  ].join('\n');
}
