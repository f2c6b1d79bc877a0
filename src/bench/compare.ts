// `quorumkv bench compare` (`npm run bench:compare`): quorumkv side by side with the stores a user
// would pick instead, in one run on this machine. It starts a 3-member etcd cluster, a redis-server
// and a 3-node quorumkv cluster (RF 3) on 127.0.0.1 in temporary directories, one system at a time
// (so that an idle system does not take CPU from the measured one), runs the same workloads against
// each, stops it, and prints one table with each row's throughput as a ratio of etcd's and Redis's
// for the same workload. Each row is followed by a row of the same workload at half the throughput it
// reached, on a fixed schedule (open loop): quorumkv's latency goal is set there, and the peers' rows
// show what latency the same client on the same machine sees from them at half their own load.

import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import type { ConsistencyLevel } from '../core/quorum.js';
import { benchTarget, chartSeries, loadKeys, type BenchOutcome } from './benchRun.js';
import type { ChartSeries } from './chart.js';
import {
  etcdInstall,
  hasBinary,
  nodeClientTarget,
  nodeHttpTarget,
  nodeRespTarget,
  redisFsyncLabel,
  redisInstall,
  startEtcdCluster,
  startQuorumkv,
  startRedis,
  type Cleanup,
} from './processes.js';
import type { CompareSystem, FsyncPolicy, QuorumkvProtocol, RedisPersistence, WorkloadSpec } from './options.js';
import { formatMs, formatRate, plainTable, round } from './report.js';
import type { SummaryRow } from './compareRuns.js';
import type { BenchTarget } from './target.js';
import { openTarget } from './targets.js';
import { workloads } from './workload.js';
import type { DistributionName } from './zipfian.js';

export interface CompareOptions {
  readonly workloads: readonly WorkloadSpec[];
  readonly systems: readonly CompareSystem[];
  readonly protocols: readonly QuorumkvProtocol[];
  readonly quorumkvFsync: readonly FsyncPolicy[];
  readonly redisPersistence: RedisPersistence;
  readonly durationS: number;
  readonly warmupS: number;
  readonly clients: number;
  readonly valueSize: number;
  readonly keys: number;
  readonly distribution: DistributionName;
  readonly seed: number;
  readonly timeoutMs: number;
  /** After each row, measure the same workload at half its throughput. */
  readonly halfRate: boolean;
  readonly progress: boolean;
  readonly log: (line: string) => void;
}

export interface CompareRow {
  readonly system: string;
  readonly target: string;
  readonly workload: string;
  readonly consistency: string;
  readonly fsync: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  /** The fixed schedule of an open-loop row (requests/s), or null when the clients went as fast as they could. */
  readonly ratePerSec: number | null;
  /** Open-loop rows: p99 from sending each request to its answer (the rest of p99Ms is waiting to be sent). */
  readonly serviceP99Ms: number | null;
  /** Open-loop rows: p99 of how late the benchmark client's own timer sent requests (runner.ts). */
  readonly clientTimerLagP99Ms: number | null;
}

export interface CompareResult {
  readonly rows: CompareRow[];
  /** Per row: the requested level (for ratios), the protocol, errors by kind, per-operation latency. */
  readonly details: { spec: string; protocol: string; errorsByKind: Readonly<Record<string, number>>; outcome: BenchOutcome }[];
  readonly skipped: { system: string; reason: string }[];
  readonly versions: Record<string, string>;
  /** 1-minute load average of the machine when the comparison started and ended (other work skews it). */
  readonly loadAverage: { start: number; end: number };
}

export const etcdFsyncLabel = 'WAL fsync per raft batch (always)';

export function quorumkvFsyncLabel(policy: FsyncPolicy): string {
  return policy === 'commit' ? 'commit: fsync per group commit' : 'periodic: fsync every 1 s';
}

/** Whether something accepts TCP connections at host:port (the RESP port exists once RESP has landed). */
export async function accepts(address: string): Promise<boolean> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function runCompare(cleanup: Cleanup, options: CompareOptions): Promise<CompareResult> {
  const result: CompareResult = { rows: [], details: [], skipped: [], versions: {}, loadAverage: { start: loadavg()[0] ?? 0, end: 0 } };
  const signal = cleanup.abort.signal;
  const needsLoad = options.workloads.some((spec) => workloads[spec.workload].wantsLoadedKeys);
  const settings = (spec: WorkloadSpec) => ({
    workload: spec.workload,
    distribution: options.distribution,
    keys: options.keys,
    valueSize: options.valueSize,
    clients: options.clients,
    durationS: options.durationS,
    seed: options.seed,
    load: false,
    warmupS: options.warmupS,
  });
  const targetOptions = (consistency: ConsistencyLevel | undefined) => ({
    consistency,
    clients: options.clients,
    timeoutMs: options.timeoutMs,
  });

  /** Loads the key space once through `url`, then runs every workload, each with its own target. */
  const measure = async (system: string, label: string, url: string, fsync: string, loaded: { done: boolean }) => {
    if (needsLoad && !loaded.done) {
      options.log(`${label}: loading ${options.keys.toLocaleString('en-US')} keys`);
      const loader = await openTarget(url, targetOptions('quorum'));
      try {
        const load = await loadKeys(loader, settings(options.workloads[0] as WorkloadSpec), { signal, progress: options.progress, label });
        if (load.errors > 0) options.log(`${label}: ${load.errors} load errors (${JSON.stringify(load.errorsByKind)})`);
      } finally {
        await loader.close();
      }
      loaded.done = true;
    }
    for (const spec of options.workloads) {
      if (signal.aborted) return;
      options.log(`${label}: workload ${spec.workload}${system === 'redis' ? '' : ` at ${spec.consistency}`}, ${options.durationS} s`);
      let target: BenchTarget;
      try {
        target = await openTarget(url, targetOptions(system === 'redis' ? undefined : spec.consistency));
      } catch (error) {
        result.skipped.push({ system: label, reason: (error as Error).message });
        options.log(`${label}: skipped (${(error as Error).message})`);
        return;
      }
      if (workloads[spec.workload].mix.increment > 0 && !target.increment) {
        options.log(`${label}: workload ${spec.workload} skipped (INCR runs over the Redis protocol only)`);
        await target.close();
        continue;
      }
      try {
        const record = (outcome: BenchOutcome, ratePerSec: number | null) => {
          const r = outcome.report;
          result.rows.push({
            system,
            target: target.url,
            workload: spec.workload,
            consistency: target.consistencyLabel,
            fsync,
            opsPerSec: r.opsPerSec,
            p50Ms: r.latencyMs.p50,
            p95Ms: r.latencyMs.p95,
            p99Ms: r.latencyMs.p99,
            p999Ms: r.latencyMs.p999,
            maxMs: r.latencyMs.max,
            errors: r.errors,
            ratePerSec,
            serviceP99Ms: r.serviceLatencyMs?.p99 ?? null,
            clientTimerLagP99Ms: r.clientTimerLagMs?.p99 ?? null,
          });
          // An open-loop row's spec is marked apart: its throughput is a schedule, not compared (ratio).
          const specName = `${spec.workload}:${spec.consistency}${ratePerSec === null ? '' : '@rate'}`;
          result.details.push({ spec: specName, protocol: target.protocol, errorsByKind: r.errorsByKind, outcome });
        };
        const outcome = await benchTarget(target, settings(spec), { signal, progress: options.progress, label });
        record(outcome, null);
        const half = Math.floor(outcome.report.opsPerSec / 2);
        if (options.halfRate && half > 0 && !signal.aborted) {
          options.log(`${label}: workload ${spec.workload} again at half that rate, ${half} requests/s`);
          record(await benchTarget(target, { ...settings(spec), ratePerSec: half }, { signal, progress: options.progress, label: `${label} @${half}/s` }), half);
        }
      } finally {
        await target.close();
      }
    }
  };

  for (const system of options.systems) {
    if (signal.aborted) break;
    if (system === 'etcd') {
      if (!hasBinary('etcd')) {
        result.skipped.push({ system, reason: `etcd is not installed: ${etcdInstall}` });
        options.log(`etcd skipped: not installed (${etcdInstall})`);
        continue;
      }
      options.log('starting a 3-member etcd cluster');
      const etcd = await startEtcdCluster(cleanup, 3);
      result.versions.etcd = etcd.version;
      try {
        await measure('etcd', 'etcd', etcd.target, etcdFsyncLabel, { done: false });
      } finally {
        await cleanup.stopAll();
      }
    } else if (system === 'redis') {
      if (!hasBinary('redis-server')) {
        result.skipped.push({ system, reason: `redis-server is not installed: ${redisInstall}` });
        options.log(`redis skipped: not installed (${redisInstall})`);
        continue;
      }
      options.log(`starting redis-server (${redisFsyncLabel(options.redisPersistence)})`);
      const redis = await startRedis(cleanup, options.redisPersistence);
      result.versions.redis = redis.version;
      try {
        await measure('redis', 'redis', redis.target, redisFsyncLabel(options.redisPersistence), { done: false });
      } finally {
        await cleanup.stopAll();
      }
    } else {
      for (const fsync of options.quorumkvFsync) {
        if (signal.aborted) break;
        options.log(`starting a 3-node quorumkv cluster (RF 3, fsync ${fsync})`);
        const started = await startQuorumkv(cleanup, { nodes: 3, rf: 3, fsync });
        result.versions.quorumkv = 'quorumkv 0.1.0';
        const loaded = { done: false };
        try {
          for (const protocol of options.protocols) {
            if (signal.aborted) break;
            const label = `quorumkv ${protocol} (${fsync})`;
            if (protocol === 'resp' && !(await accepts(started.cluster.members[0]?.resp ?? ''))) {
              result.skipped.push({ system: label, reason: 'the nodes do not listen for the Redis protocol yet' });
              options.log(`${label}: skipped (no RESP listener on the nodes yet)`);
              continue;
            }
            const url = protocol === 'http' ? nodeHttpTarget(started) : protocol === 'resp' ? nodeRespTarget(started) : nodeClientTarget(started);
            await measure('quorumkv', label, url, quorumkvFsyncLabel(fsync), loaded);
          }
        } finally {
          await cleanup.stopAll();
        }
      }
    }
  }
  result.loadAverage.end = loadavg()[0] ?? 0;
  return result;
}

/**
 * A row's throughput over the row of `system` for the same workload spec, or undefined. Not for an
 * open-loop row: its throughput is its schedule, half of its own closed-loop row's.
 */
export function ratio(result: CompareResult, index: number, system: string): number | undefined {
  const spec = result.details[index]?.spec;
  const own = result.rows[index];
  if (own?.ratePerSec !== null) return undefined;
  const baseIndex = result.rows.findIndex((row, i) => row.system === system && result.details[i]?.spec === spec);
  const base = result.rows[baseIndex];
  if (!own || !base || base.opsPerSec <= 0) return undefined;
  return own.opsPerSec / base.opsPerSec;
}

/**
 * The table of one comparison, or of the medians of several (`runs`: summarizeRuns's rows, whose
 * ratios are the medians of each run's own ratios).
 */
export function renderCompare(
  result: CompareResult,
  options: Pick<CompareOptions, 'clients' | 'valueSize' | 'durationS' | 'keys' | 'distribution'>,
  runs?: { readonly count: number; readonly rows: readonly SummaryRow[] },
): string {
  const table = plainTable(
    ['system', 'via', 'workload', 'consistency', 'fsync', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors', 'x etcd', 'x redis', 'bench CPU'],
    ['left', 'left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  result.rows.forEach((row, i) => {
    const detail = result.details[i];
    const vsEtcd = runs ? (runs.rows[i]?.xEtcd ?? undefined) : ratio(result, i, 'etcd');
    const vsRedis = runs ? (runs.rows[i]?.xRedis ?? undefined) : ratio(result, i, 'redis');
    table.push([
      row.system,
      detail?.protocol ?? '',
      workloadLabel(row.workload) + (row.ratePerSec === null ? '' : ` @ ${formatRate(row.ratePerSec)}/s`),
      row.consistency,
      row.fsync,
      formatRate(row.opsPerSec),
      formatMs(row.p50Ms),
      formatMs(row.p95Ms),
      formatMs(row.p99Ms),
      formatMs(row.p999Ms),
      formatMs(row.maxMs),
      row.errors.toLocaleString('en-US'),
      vsEtcd === undefined ? '-' : `${round(vsEtcd, 2).toFixed(2)}x`,
      vsRedis === undefined ? '-' : `${round(vsRedis, 2).toFixed(2)}x`,
      detail ? `${detail.outcome.report.clientCpuPercent}%` : '-',
    ]);
  });
  const lines = [
    `${options.clients} clients, ${options.valueSize} B values, ${options.keys.toLocaleString('en-US')} keys (${options.distribution}), ${options.durationS} s per run; all on 127.0.0.1 of this machine`,
    ...(runs ? [`medians of ${runs.count} runs of the whole comparison; x etcd / x redis: the median of the ratios taken within each run`] : []),
    `machine: ${cpus().length} CPUs; 1-minute load average ${result.loadAverage.start.toFixed(1)} at the start, ${result.loadAverage.end.toFixed(1)} at the end (anything else running skews every row)`,
    table.toString(),
    'x etcd / x redis: ops/s divided by the etcd (or redis) row of the same workload. bench CPU: the benchmark',
    "client's own CPU (% of one core); near 100% the client, not the store, limits the row.",
    'workload @ N/s: the same workload on a fixed schedule at half the throughput of the row above (open loop: each',
    'request is timed from when it was due, so a stall is charged to every request queued behind it).',
    'etcd: `one` = serializable range (a member\'s local state), otherwise linearizable; quorumkv RF 3 on 3 nodes.',
  ];
  lines.push(...openLoopLines(result));
  if (runs) lines.push(...perRunLines(result, runs.rows));
  for (const skipped of result.skipped) lines.push(`skipped ${skipped.system}: ${skipped.reason}`);
  const errorLines = result.details
    .map((detail, i) => ({ row: result.rows[i], kinds: Object.entries(detail.errorsByKind) }))
    .filter((entry) => entry.kinds.length > 0)
    .map((entry) => `errors of ${entry.row?.system} ${entry.row?.workload}: ${entry.kinds.map(([kind, count]) => `${kind} x${count}`).join(', ')}`);
  lines.push(...errorLines);
  return lines.join('\n');
}

/**
 * Where each open-loop row's p99 went: from sending to the answer, and how late the client's own
 * timer sent requests. On a machine the client shares with the store, a tail well above the first
 * is requests waiting to be sent, much of it for a client that had no CPU (docs/benchmarks.md).
 */
function openLoopLines(result: CompareResult): string[] {
  const parts = result.rows
    .map((row, i) => ({ row, protocol: result.details[i]?.protocol ?? '' }))
    .filter(({ row }) => row.ratePerSec !== null && row.serviceP99Ms !== null && row.clientTimerLagP99Ms !== null)
    .map(({ row, protocol }) =>
      `${row.system}${protocol === row.system ? '' : ` ${protocol}`} ${row.workload} ${formatMs(row.p99Ms)} / ${formatMs(row.serviceP99Ms as number)} / ${formatMs(row.clientTimerLagP99Ms as number)}`,
    );
  if (parts.length === 0) return [];
  return ["open-loop rows, p99 ms from when due / from sending / the client's timer lateness: " + parts.join('; ')];
}

/** Each run's throughput and ratios, for the quorumkv rows measured as fast as they could go. */
function perRunLines(result: CompareResult, rows: readonly SummaryRow[]): string[] {
  const times = (values: readonly number[], peer: string) =>
    values.length === 0 ? '' : `; ${values.map((value) => `${round(value, 2).toFixed(2)}x`).join(', ')} ${peer}`;
  return rows
    .map((row, i) => ({ row, protocol: result.details[i]?.protocol ?? '' }))
    .filter(({ row }) => row.system === 'quorumkv' && row.ratePerSec === null)
    .map(
      ({ row, protocol }) =>
        `per run, quorumkv ${protocol} ${row.workload} at ${row.consistency}: ${row.runsOpsPerSec.map((ops) => formatRate(ops)).join(', ')} ops/s` +
        times(row.runsXEtcd, 'etcd') +
        times(row.runsXRedis, 'redis'),
    );
}

function workloadLabel(workload: string): string {
  if (workload === 'a') return 'a (50% get/50% put)';
  if (workload === 'b') return 'b (95% get/5% put)';
  if (workload === 'c') return 'c (get)';
  if (workload === 'insert') return 'insert (put)';
  if (workload === 'incr') return 'incr (INCR)';
  return 'delete (50% del/25% put/25% get)';
}

export function compareChartSeries(result: CompareResult): ChartSeries[] {
  return result.rows.map((row, i) => {
    const detail = result.details[i];
    const label = `${row.system}${detail && row.system === 'quorumkv' ? ` ${detail.protocol}` : ''} ${row.workload} ${row.consistency} (${row.fsync})`;
    return chartSeries(label, detail?.outcome as BenchOutcome);
  });
}
