// What `quorumkv bench` prints: one JSON document for scripts (`--json`), or a table for people. Both
// come from the same report object, so they never disagree.

import Table from 'cli-table3';
import { summarizeLatency, type LatencySummary } from './latency.js';
import type { RunResult } from './runner.js';
import { operationKinds, type OperationKind } from './workload.js';

export interface LatencyReport {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface PhaseReport {
  readonly startedAt: string;
  readonly elapsedS: number;
  /** Successful requests (reads that found nothing included). */
  readonly ops: number;
  readonly misses: number;
  readonly errors: number;
  readonly errorsByKind: Readonly<Record<string, number>>;
  readonly opsPerSec: number;
  readonly latencyMs: LatencyReport;
  readonly byOperation: Partial<Record<OperationKind, { readonly ops: number; readonly latencyMs: LatencyReport }>>;
  /** On a schedule: from sending each request to its answer (null in a closed loop; runner.ts). */
  readonly serviceLatencyMs: LatencyReport | null;
  /** On a schedule: how late the client's own timer sent the requests it waited for (runner.ts). */
  readonly clientTimerLagMs: LatencyReport | null;
  readonly throughputPerSecond: readonly number[];
  /** CPU the benchmark process itself used, in % of one core: near 100 means the client, not the
   *  store, may be what limits the throughput. */
  readonly clientCpuPercent: number;
}

export interface BenchReport extends PhaseReport {
  readonly target: string;
  readonly system: string;
  readonly protocol: string;
  readonly workload: string;
  readonly distribution: string;
  readonly consistency: string;
  readonly keys: number;
  readonly valueSize: number;
  readonly clients: number;
  readonly durationS: number | null;
  readonly operations: number | null;
  /** Seconds the workload ran, unmeasured, before the measured run. */
  readonly warmupS: number;
  /** The schedule's requests per second (open loop), or null when the clients went as fast as they could. */
  readonly targetRatePerSec: number | null;
  readonly seed: number;
  /** The load phase (`--load`), when there was one. */
  readonly load: PhaseReport | null;
}

export function latencyReport(summary: LatencySummary): LatencyReport {
  return { p50: summary.p50Ms, p95: summary.p95Ms, p99: summary.p99Ms, p999: summary.p999Ms, max: summary.maxMs, mean: round(summary.meanMs, 3) };
}

export function phaseReport(result: RunResult): PhaseReport {
  const byOperation: Partial<Record<OperationKind, { ops: number; latencyMs: LatencyReport }>> = {};
  for (const kind of operationKinds) {
    const histogram = result.latencyByOperation.get(kind);
    if (histogram) byOperation[kind] = { ops: histogram.totalCount, latencyMs: latencyReport(summarizeLatency(histogram)) };
  }
  return {
    startedAt: result.startedAt,
    elapsedS: round(result.elapsedMs / 1000, 3),
    ops: result.completed,
    misses: result.misses,
    errors: result.errors,
    errorsByKind: result.errorsByKind,
    opsPerSec: round(result.opsPerSec, 1),
    latencyMs: latencyReport(summarizeLatency(result.latency)),
    byOperation,
    serviceLatencyMs: result.serviceLatency ? latencyReport(summarizeLatency(result.serviceLatency)) : null,
    clientTimerLagMs: result.timerLag ? latencyReport(summarizeLatency(result.timerLag)) : null,
    throughputPerSecond: result.perSecond,
    clientCpuPercent: Math.round(result.clientCpuPercent),
  };
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A cli-table3 table without colour codes (they would end up in logs and pipes). */
export function plainTable(head: string[], colAligns?: ('left' | 'right')[]): Table.Table {
  return new Table({ head, style: { head: [], border: [], compact: true }, ...(colAligns ? { colAligns } : {}) });
}

export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export function formatRate(opsPerSec: number): string {
  return Math.round(opsPerSec).toLocaleString('en-US');
}

/** The human report of one run: settings, then latency by operation, then errors by kind. */
export function renderBenchReport(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(
    `${report.system} via ${report.protocol} at ${report.target}: workload ${report.workload}, ${report.distribution} over ${report.keys.toLocaleString('en-US')} keys, ` +
      `${report.valueSize} B values, ${report.clients} clients, consistency ${report.consistency}` +
      (report.targetRatePerSec === null ? '' : `, at ${formatRate(report.targetRatePerSec)} requests/s (latency from when each was due)`) +
      (report.warmupS > 0 ? `, after a ${report.warmupS} s warm-up` : ''),
  );
  if (report.load) {
    lines.push(
      `load: ${report.load.ops.toLocaleString('en-US')} keys in ${report.load.elapsedS} s (${formatRate(report.load.opsPerSec)} ops/s, ${report.load.errors} errors)`,
    );
  }
  const table = plainTable(['operation', 'ops', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms'], [
    'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right',
  ]);
  const row = (name: string, ops: number, rate: number, latency: LatencyReport) =>
    table.push([name, ops.toLocaleString('en-US'), formatRate(rate), formatMs(latency.p50), formatMs(latency.p95), formatMs(latency.p99), formatMs(latency.p999), formatMs(latency.max)]);
  row('all', report.ops, report.opsPerSec, report.latencyMs);
  for (const kind of operationKinds) {
    const part = report.byOperation[kind];
    if (part && report.elapsedS > 0) row(kind, part.ops, part.ops / report.elapsedS, part.latencyMs);
  }
  lines.push(table.toString());
  if (report.serviceLatencyMs && report.clientTimerLagMs) {
    const service = report.serviceLatencyMs;
    const lag = report.clientTimerLagMs;
    lines.push(
      `from sending to the answer: p50 ${formatMs(service.p50)} ms, p99 ${formatMs(service.p99)} ms, max ${formatMs(service.max)} ms; ` +
        `the client's timer sent requests late by p99 ${formatMs(lag.p99)} ms, max ${formatMs(lag.max)} ms (a busy or descheduled benchmark process)`,
    );
  }
  const summary = `${report.ops.toLocaleString('en-US')} ops in ${report.elapsedS} s = ${formatRate(report.opsPerSec)} ops/s` +
    (report.misses > 0 ? `; ${report.misses.toLocaleString('en-US')} reads found no value` : '') +
    `; ${report.errors.toLocaleString('en-US')} errors; the benchmark client used ${report.clientCpuPercent}% of a core`;
  lines.push(summary);
  if (report.errors > 0) lines.push(renderErrors(report.errorsByKind));
  return lines.join('\n');
}

export function renderErrors(errorsByKind: Readonly<Record<string, number>>): string {
  const table = plainTable(['error', 'count'], ['left', 'right']);
  for (const [kind, count] of Object.entries(errorsByKind).sort((a, b) => b[1] - a[1])) table.push([kind, count.toLocaleString('en-US')]);
  return table.toString();
}
