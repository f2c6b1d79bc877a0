// One benchmark of one target: optionally load the key space, optionally warm up, then measure the
// workload; returns the report (table and JSON) and the raw result (for charts).

import { percentileCurve } from './latency.js';
import { progressBar } from './progress.js';
import { phaseReport, type BenchReport, type PhaseReport } from './report.js';
import { benchValue, loadSource, runClients, workloadSource, type RunResult } from './runner.js';
import type { ChartSeries } from './chart.js';
import type { BenchTarget } from './target.js';
import { workloads, type WorkloadName } from './workload.js';
import type { DistributionName } from './zipfian.js';

export interface BenchSettings {
  readonly workload: WorkloadName;
  readonly distribution: DistributionName;
  readonly keys: number;
  readonly valueSize: number;
  readonly clients: number;
  /** Exactly one of durationS and operations bounds the measured run. */
  readonly durationS?: number | undefined;
  readonly operations?: number | undefined;
  readonly seed: number;
  /** Write every key of the key space before measuring. */
  readonly load: boolean;
  /** Run the workload this long before measuring, and throw the numbers away. */
  readonly warmupS: number;
  /** Measure at this many requests per second (open loop); as fast as the clients go when absent. */
  readonly ratePerSec?: number | undefined;
}

export interface BenchHooks {
  readonly signal?: AbortSignal | undefined;
  /** Show progress bars (they appear only on a terminal anyway). */
  readonly progress: boolean;
  /** Prefix of the progress bar labels. */
  readonly label?: string;
}

export interface BenchOutcome {
  readonly report: BenchReport;
  readonly result: RunResult;
}

export async function loadKeys(
  target: BenchTarget,
  settings: Pick<BenchSettings, 'keys' | 'valueSize' | 'clients' | 'seed'>,
  hooks: BenchHooks,
): Promise<PhaseReport> {
  const bar = hooks.progress ? progressBar(`${hooks.label ?? target.protocol} load`, { operations: settings.keys }) : undefined;
  try {
    const result = await runClients(target, loadSource(settings.keys), benchValue(settings.valueSize, settings.seed), settings.clients, {}, {
      signal: hooks.signal,
      onProgress: bar ? (p) => bar.update(p) : undefined,
    });
    return phaseReport(result);
  } finally {
    bar?.stop();
  }
}

export async function benchTarget(target: BenchTarget, settings: BenchSettings, hooks: BenchHooks): Promise<BenchOutcome> {
  const workload = workloads[settings.workload];
  if (workload.mix.increment > 0 && !target.increment) {
    throw new Error(`the ${workload.name} workload runs over the Redis protocol only (redis://, quorumkv-resp://), not ${target.protocol}`);
  }
  const load = settings.load ? await loadKeys(target, settings, hooks) : null;
  const value = benchValue(settings.valueSize, settings.seed);
  const label = `${hooks.label ?? target.protocol} ${workload.name}`;
  if (settings.warmupS > 0 && !hooks.signal?.aborted) {
    const bar = hooks.progress ? progressBar(`${label} warm-up`, { durationMs: settings.warmupS * 1000 }) : undefined;
    try {
      await runClients(target, workloadSource({ ...settings, workload, seed: settings.seed + 7919 }, settings.clients, Date.now()), value, settings.clients, {
        durationMs: settings.warmupS * 1000,
      }, { signal: hooks.signal, onProgress: bar ? (p) => bar.update(p) : undefined });
    } finally {
      bar?.stop();
    }
  }
  const limits = {
    ...(settings.operations !== undefined ? { operations: settings.operations } : { durationMs: (settings.durationS ?? 10) * 1000 }),
    ...(settings.ratePerSec !== undefined ? { ratePerSec: settings.ratePerSec } : {}),
  };
  const bar = hooks.progress ? progressBar(label, limits) : undefined;
  let result: RunResult;
  try {
    result = await runClients(target, workloadSource({ ...settings, workload }, settings.clients, Date.now()), value, settings.clients, limits, {
      signal: hooks.signal,
      onProgress: bar ? (p) => bar.update(p) : undefined,
    });
  } finally {
    bar?.stop();
  }
  const report: BenchReport = {
    target: target.url,
    system: target.system,
    protocol: target.protocol,
    workload: workload.name,
    distribution: settings.distribution,
    consistency: target.consistencyLabel,
    keys: settings.keys,
    valueSize: settings.valueSize,
    clients: settings.clients,
    durationS: settings.operations !== undefined ? null : (settings.durationS ?? 10),
    operations: settings.operations ?? null,
    warmupS: settings.warmupS,
    targetRatePerSec: settings.ratePerSec ?? null,
    seed: settings.seed,
    load,
    ...phaseReport(result),
  };
  return { report, result };
}

export function chartSeries(label: string, outcome: BenchOutcome): ChartSeries {
  return {
    label,
    percentiles: percentileCurve(outcome.result.latency),
    perSecond: outcome.result.perSecond,
    elapsedS: outcome.result.elapsedMs / 1000,
    opsPerSec: outcome.report.opsPerSec,
    p50Ms: outcome.report.latencyMs.p50,
    p99Ms: outcome.report.latencyMs.p99,
    maxMs: outcome.report.latencyMs.max,
  };
}
