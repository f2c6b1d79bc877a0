// `bench compare --runs N`: the whole comparison N times over, summed up as medians. On a shared
// machine one run can be 30% off the next; each system's rows come from runs spread over the same
// minutes, and a ratio is taken within a run (quorumkv against the etcd or Redis row measured minutes
// before it) before the median is taken, so a slow spell shifts both sides of the ratio.

import { ratio, type CompareResult, type CompareRow } from './compare.js';

/** A row of the summary: medians over the runs that measured it, and what each run gave. */
export interface SummaryRow extends CompareRow {
  /** ops/s of each run, in run order. */
  readonly runsOpsPerSec: number[];
  /** The row's ops/s over the etcd (Redis) row of the same run and workload, per run, and their median. */
  readonly runsXEtcd: number[];
  readonly runsXRedis: number[];
  readonly xEtcd: number | null;
  readonly xRedis: number | null;
}

export interface RunsSummary {
  /** Rows as medians; `details` are those of each row's median run (for its chart and errors). */
  readonly result: CompareResult;
  readonly rows: SummaryRow[];
}

/** The median of the values that are there; null when none is (closed-loop rows). */
function medianOfPresent(values: readonly (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : median(present);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Which row of a run is which across runs: system, access path, workload and level, fsync policy. */
function rowKey(result: CompareResult, index: number): string {
  const row = result.rows[index] as CompareRow;
  const detail = result.details[index];
  return `${row.system}|${detail?.protocol ?? ''}|${detail?.spec ?? row.workload}|${row.fsync}`;
}

export function summarizeRuns(runs: readonly CompareResult[]): RunsSummary {
  const first = runs[0];
  if (first === undefined) throw new Error('no runs to sum up');
  const order: string[] = [];
  const found = new Map<string, { run: CompareResult; index: number }[]>();
  for (const run of runs) {
    run.rows.forEach((_row, index) => {
      const key = rowKey(run, index);
      if (!found.has(key)) {
        order.push(key);
        found.set(key, []);
      }
      found.get(key)?.push({ run, index });
    });
  }
  const result: CompareResult = {
    rows: [],
    details: [],
    skipped: runs.flatMap((run) => run.skipped).filter((s, i, all) => all.findIndex((t) => t.system === s.system) === i),
    versions: first.versions,
    loadAverage: { start: first.loadAverage.start, end: (runs[runs.length - 1] as CompareResult).loadAverage.end },
  };
  const rows: SummaryRow[] = [];
  for (const key of order) {
    const measured = found.get(key) ?? [];
    const rowsOf = measured.map(({ run, index }) => run.rows[index] as CompareRow);
    const pick = (field: 'opsPerSec' | 'p50Ms' | 'p95Ms' | 'p99Ms' | 'p999Ms' | 'maxMs') => median(rowsOf.map((row) => row[field]));
    const ratios = (system: string) =>
      measured.map(({ run, index }) => ratio(run, index, system)).filter((value): value is number => value !== undefined);
    const opsPerSec = pick('opsPerSec');
    // The median run of this row lends its details (histograms for the chart, errors by kind).
    const middle = measured.reduce((best, entry) =>
      Math.abs((entry.run.rows[entry.index] as CompareRow).opsPerSec - opsPerSec) <
      Math.abs((best.run.rows[best.index] as CompareRow).opsPerSec - opsPerSec)
        ? entry
        : best,
    );
    const base = rowsOf[0] as CompareRow;
    const rates = rowsOf.map((row) => row.ratePerSec).filter((rate): rate is number => rate !== null);
    const row: CompareRow = {
      ...base,
      opsPerSec,
      p50Ms: pick('p50Ms'),
      p95Ms: pick('p95Ms'),
      p99Ms: pick('p99Ms'),
      p999Ms: pick('p999Ms'),
      maxMs: pick('maxMs'),
      errors: rowsOf.reduce((sum, r) => sum + r.errors, 0),
      ratePerSec: rates.length === 0 ? null : Math.round(median(rates)),
      serviceP99Ms: medianOfPresent(rowsOf.map((r) => r.serviceP99Ms)),
      clientTimerLagP99Ms: medianOfPresent(rowsOf.map((r) => r.clientTimerLagP99Ms)),
    };
    const runsXEtcd = ratios('etcd');
    const runsXRedis = ratios('redis');
    result.rows.push(row);
    result.details.push(middle.run.details[middle.index] as CompareResult['details'][number]);
    rows.push({
      ...row,
      runsOpsPerSec: rowsOf.map((r) => r.opsPerSec),
      runsXEtcd,
      runsXRedis,
      xEtcd: runsXEtcd.length === 0 ? null : median(runsXEtcd),
      xRedis: runsXRedis.length === 0 ? null : median(runsXRedis),
    });
  }
  return { result, rows };
}
