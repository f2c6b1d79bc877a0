// `bench compare --runs N`: rows matched across runs, medians, and ratios taken within each run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderCompare, type CompareResult } from '../../src/bench/compare.js';
import { median, summarizeRuns } from '../../src/bench/compareRuns.js';

const row = (system: string, workload: string, opsPerSec: number, p99Ms: number, ratePerSec: number | null = null) => ({
  system, target: '', workload, consistency: 'quorum', fsync: '', opsPerSec, p50Ms: 1, p95Ms: 2, p99Ms, p999Ms: 4, maxMs: 5, errors: 1, ratePerSec,
  serviceP99Ms: ratePerSec === null ? null : p99Ms / 2,
  clientTimerLagP99Ms: ratePerSec === null ? null : opsPerSec / 1000,
});
const detail = (spec: string, protocol: string) => ({
  spec,
  protocol,
  errorsByKind: {},
  outcome: { report: { clientCpuPercent: 10 } } as never,
});

/** One run: etcd and its half-rate row, redis, quorumkv over resp and its half-rate row. */
function run(etcd: number, redis: number, quorumkv: number): CompareResult {
  return {
    rows: [row('etcd', 'insert', etcd, 50), row('etcd', 'insert', etcd / 2, 40, etcd / 2), row('redis', 'insert', redis, 4), row('quorumkv', 'insert', quorumkv, 30), row('quorumkv', 'insert', quorumkv / 2, 20, quorumkv / 2)],
    details: [detail('insert:quorum', 'etcd'), detail('insert:quorum@rate', 'etcd'), detail('insert:quorum', 'redis'), detail('insert:quorum', 'resp'), detail('insert:quorum@rate', 'resp')],
    skipped: [],
    versions: { etcd: 'etcd 3.4' },
    loadAverage: { start: 1, end: 2 },
  };
}

describe('bench compare --runs', () => {
  it('takes medians', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it('matches rows across runs, gives medians, and takes each ratio within its own run', () => {
    // The second run is slow for everyone: quorumkv's ratio to etcd stays 2 in it.
    const summary = summarizeRuns([run(2000, 30_000, 4400), run(1000, 15_000, 2000), run(2000, 20_000, 3600)]);
    assert.equal(summary.rows.length, 5);
    const [etcd, , , quorumkv, half] = summary.rows;
    assert.equal(etcd?.opsPerSec, 2000);
    assert.equal(quorumkv?.opsPerSec, 3600);
    assert.deepEqual(quorumkv?.runsOpsPerSec, [4400, 2000, 3600]);
    assert.deepEqual(quorumkv?.runsXEtcd, [2.2, 2, 1.8]);
    assert.equal(quorumkv?.xEtcd, 2, 'the median of the ratios, not 3600 / 2000');
    assert.equal(quorumkv?.xRedis, 4400 / 30_000);
    assert.equal(quorumkv?.errors, 3, 'errors add up');
    assert.equal(half?.ratePerSec, 1800, 'the open-loop row keeps its own place and schedule');
    assert.deepEqual(half?.runsXEtcd, [], 'no ratio for an open-loop row, even to the peer\'s open-loop row');
    assert.equal(half?.serviceP99Ms, 10);
    assert.equal(half?.clientTimerLagP99Ms, 1.8, 'the median of the runs');
    assert.equal(quorumkv?.serviceP99Ms, null, 'a closed-loop row has none');
    assert.equal(summary.result.loadAverage.end, 2);

    const text = renderCompare(summary.result, { clients: 50, valueSize: 100, durationS: 5, keys: 10_000, distribution: 'uniform' }, { count: 3, rows: summary.rows });
    assert.match(text, /medians of 3 runs/);
    assert.match(text, /2\.00x/);
    assert.match(text, /from when due \/ from sending \/ the client's timer lateness: etcd insert 40\.0 \/ 20\.0 \/ 1\.00; quorumkv resp insert 20\.0 \/ 10\.0 \/ 1\.80/);
    assert.match(text, /per run, quorumkv resp insert at quorum: 4,400, 2,000, 3,600 ops\/s; 2\.20x, 2\.00x, 1\.80x etcd; 0\.15x, 0\.13x, 0\.18x redis/);
  });

  it('keeps a row measured in only some runs', () => {
    const partial = run(2000, 30_000, 4000);
    const noRedis: CompareResult = { ...partial, rows: partial.rows.filter((r) => r.system !== 'redis'), details: partial.details.filter((d) => d.protocol !== 'redis') };
    const summary = summarizeRuns([noRedis, run(2000, 20_000, 3000)]);
    const redis = summary.rows.find((r) => r.system === 'redis');
    assert.deepEqual(redis?.runsOpsPerSec, [20_000]);
    assert.deepEqual(summary.rows.find((r) => r.system === 'quorumkv' && r.ratePerSec === null)?.runsXRedis, [0.15]);
  });
});
