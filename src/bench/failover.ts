// `quorumkv bench failover`: what clients see while a node dies and comes back. It starts a fresh
// 3-node cluster (RF 3), loads the key space, finds the throughput the workload reaches (closed loop,
// a few seconds) unless --rate is given, and then runs the workload on a fixed schedule at half of it
// against the two nodes that stay up. A third of the way in, the third node is killed (SIGKILL: no
// goodbye, its peers find out through failure detection); two thirds in, it is started again.
//
// Every request is timed from when it was due (runner.ts), so a coordinator that stalls waiting for
// the dead replica shows up in the requests queued behind it. The report splits the run into three
// windows (before the kill, while the node is down, after the restart) and gives each window's
// latency percentiles, its errors, and how many requests took longer than the stall bound (50 ms),
// and lists the slowest requests with when they were due relative to the kill.

import type { ConsistencyLevel } from '../core/quorum.js';
import { loadKeys } from './benchRun.js';
import { newLatencyHistogram, recordLatencyMs, summarizeLatency, type LatencySummary } from './latency.js';
import { startQuorumkv, type Cleanup } from './processes.js';
import { formatMs, formatRate, plainTable, renderErrors, round } from './report.js';
import { benchValue, runClients, workloadSource, type RequestRecord } from './runner.js';
import { openTarget } from './targets.js';
import { workloads, type WorkloadName } from './workload.js';

export interface FailoverOptions {
  readonly protocol: 'http' | 'resp';
  readonly workload: WorkloadName;
  readonly consistency: ConsistencyLevel;
  readonly durationS: number;
  readonly clients: number;
  /** Requests per second; when absent, half of what a short closed-loop run reaches. */
  readonly ratePerSec: number | undefined;
  readonly keys: number;
  readonly valueSize: number;
  readonly seed: number;
  readonly timeoutMs: number;
  /** A request slower than this counts as stalled. */
  readonly stallMs: number;
  /** `name=value` node settings. */
  readonly settings?: readonly string[];
  readonly log: (line: string) => void;
}

export interface FailoverWindow {
  readonly name: string;
  /** Seconds since the measured run started, of when the window's requests were due. */
  readonly fromS: number;
  readonly toS: number;
  readonly requests: number;
  readonly errors: number;
  readonly latency: LatencySummary;
  /** Requests (successful or not) that took longer than stallMs. */
  readonly stalled: number;
  /**
   * The same from sending each request (`serviceLatency`, `stalledInService`): the store's part. A
   * request can take long from when it was due without any request taking long once sent: when the
   * answers slow down enough that all the clients are busy, the next ones wait for a free client.
   */
  readonly serviceLatency: LatencySummary;
  readonly stalledInService: number;
}

export interface FailoverResult {
  readonly protocol: string;
  readonly workload: string;
  readonly consistency: string;
  readonly ratePerSec: number;
  /** What the closed-loop calibration reached, when the rate was not given. */
  readonly calibratedOpsPerSec: number | null;
  readonly killedNode: string;
  /** The `name=value` node settings the cluster ran with (none: the defaults). */
  readonly settings: readonly string[];
  readonly killAtS: number;
  readonly restartAtS: number;
  readonly stallMs: number;
  readonly windows: FailoverWindow[];
  /** The slowest requests: when they were due (s since the kill), how long they took, whether they succeeded. */
  readonly slowest: { readonly dueAfterKillS: number; readonly latencyMs: number; readonly ok: boolean }[];
  readonly errorsByKind: Readonly<Record<string, number>>;
}

const calibrationMs = 3000;
const slowestListed = 5;

export async function runFailover(cleanup: Cleanup, options: FailoverOptions): Promise<FailoverResult> {
  const signal = cleanup.abort.signal;
  options.log('starting a 3-node quorumkv cluster (RF 3, fsync commit)');
  const started = await startQuorumkv(cleanup, { nodes: 3, rf: 3, fsync: 'commit', settings: options.settings ?? [] });
  const [first, second, victim] = started.cluster.members;
  if (!first || !second || !victim) throw new Error('the cluster has fewer than 3 members');
  const addresses = options.protocol === 'http' ? [first.http, second.http] : [first.resp, second.resp];
  const url = `${options.protocol === 'http' ? 'http://' : 'quorumkv-resp://'}${addresses.join(',')}`;
  const target = await openTarget(url, { consistency: options.consistency, clients: options.clients, timeoutMs: options.timeoutMs });
  try {
    const workload = workloads[options.workload];
    const value = benchValue(options.valueSize, options.seed);
    if (workload.wantsLoadedKeys) {
      options.log(`loading ${options.keys.toLocaleString('en-US')} keys`);
      await loadKeys(target, options, { signal, progress: false });
    }
    const source = () => workloadSource({ workload, distribution: 'uniform', keys: options.keys, seed: options.seed }, options.clients, Date.now());
    let calibrated: number | null = null;
    let ratePerSec = options.ratePerSec;
    if (ratePerSec === undefined) {
      const calibration = await runClients(target, source(), value, options.clients, { durationMs: calibrationMs }, { signal });
      calibrated = round(calibration.opsPerSec, 1);
      ratePerSec = Math.max(1, Math.floor(calibration.opsPerSec / 2));
      options.log(`closed loop reached ${formatRate(calibration.opsPerSec)} ops/s; measuring at half: ${ratePerSec} requests/s`);
    }

    const durationMs = options.durationS * 1000;
    const killAtMs = durationMs / 3;
    const restartAtMs = (2 * durationMs) / 3;
    const records: RequestRecord[] = [];
    const errorsByKind: Record<string, number> = {};
    const events: Promise<void>[] = [];
    const timers = [
      setTimeout(() => {
        options.log(`killing node ${victim.id} (SIGKILL)`);
        events.push(started.supervisor.kill(victim.id));
      }, killAtMs),
      setTimeout(() => {
        options.log(`starting node ${victim.id} again`);
        events.push(started.supervisor.start(victim.id));
      }, restartAtMs),
    ];
    let run;
    try {
      run = await runClients(target, source(), value, options.clients, { durationMs, ratePerSec }, { signal, onRequest: (record) => records.push(record) });
    } finally {
      for (const timer of timers) clearTimeout(timer);
      await Promise.allSettled(events);
    }
    for (const [kind, count] of Object.entries(run.errorsByKind)) errorsByKind[kind] = count;

    const window = (name: string, fromMs: number, toMs: number): FailoverWindow => {
      const inside = records.filter((r) => r.startMs >= fromMs && r.startMs < toMs);
      const histogram = newLatencyHistogram();
      const service = newLatencyHistogram();
      for (const record of inside) {
        if (!record.ok) continue;
        recordLatencyMs(histogram, record.latencyMs);
        recordLatencyMs(service, record.serviceMs);
      }
      return {
        name,
        fromS: round(fromMs / 1000, 2),
        toS: round(toMs / 1000, 2),
        requests: inside.length,
        errors: inside.filter((r) => !r.ok).length,
        latency: summarizeLatency(histogram),
        stalled: inside.filter((r) => r.latencyMs > options.stallMs).length,
        serviceLatency: summarizeLatency(service),
        stalledInService: inside.filter((r) => r.serviceMs > options.stallMs).length,
      };
    };
    const slowest = [...records]
      .sort((a, b) => b.latencyMs - a.latencyMs)
      .slice(0, slowestListed)
      .map((r) => ({ dueAfterKillS: round((r.startMs - killAtMs) / 1000, 3), latencyMs: round(r.latencyMs, 3), ok: r.ok }));
    return {
      protocol: options.protocol,
      workload: options.workload,
      consistency: options.consistency,
      ratePerSec,
      calibratedOpsPerSec: calibrated,
      killedNode: victim.id,
      settings: options.settings ?? [],
      killAtS: round(killAtMs / 1000, 2),
      restartAtS: round(restartAtMs / 1000, 2),
      stallMs: options.stallMs,
      windows: [
        window('before the kill', 0, killAtMs),
        window('node down', killAtMs, restartAtMs),
        window('after the restart', restartAtMs, Infinity),
      ],
      slowest,
      errorsByKind,
    };
  } finally {
    await target.close();
  }
}

export function renderFailover(result: FailoverResult): string {
  const table = plainTable(
    ['window', 'due at s', 'requests', 'errors', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', `> ${result.stallMs} ms`, 'sent: p99 / max ms', `> ${result.stallMs} ms`],
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  for (const w of result.windows) {
    table.push([
      w.name,
      `${w.fromS}-${Number.isFinite(w.toS) ? w.toS : 'end'}`,
      w.requests.toLocaleString('en-US'),
      w.errors.toLocaleString('en-US'),
      formatMs(w.latency.p50Ms),
      formatMs(w.latency.p99Ms),
      formatMs(w.latency.p999Ms),
      formatMs(w.latency.maxMs),
      w.stalled.toLocaleString('en-US'),
      `${formatMs(w.serviceLatency.p99Ms)} / ${formatMs(w.serviceLatency.maxMs)}`,
      w.stalledInService.toLocaleString('en-US'),
    ]);
  }
  const lines = [
    `workload ${result.workload} at ${result.consistency} over ${result.protocol}, ${formatRate(result.ratePerSec)} requests/s` +
      (result.calibratedOpsPerSec === null ? '' : ` (half of the ${formatRate(result.calibratedOpsPerSec)} ops/s a closed loop reached)`) +
      `, to the two nodes that stay up; node ${result.killedNode} killed at ${result.killAtS} s, started again at ${result.restartAtS} s` +
      (result.settings.length === 0 ? '' : `; node settings ${result.settings.join(', ')}`),
    table.toString(),
    'latency counts from when each request was due, so a stall is charged to every request queued behind it;' +
      ' "sent" counts from sending (the store\'s part: the rest is the wait for one of the clients to be free)',
    `slowest: ${result.slowest.map((s) => `${formatMs(s.latencyMs)} ms${s.ok ? '' : ' (failed)'} due ${s.dueAfterKillS >= 0 ? '+' : ''}${s.dueAfterKillS} s from the kill`).join('; ')}`,
  ];
  if (Object.keys(result.errorsByKind).length > 0) lines.push(renderErrors(result.errorsByKind));
  return lines.join('\n');
}
