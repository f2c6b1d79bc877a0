// The numbers `quorumkv bench` reports: percentiles from the HDR histogram (to its 3 significant
// digits), the JSON report built from a run, the percentile curve, the chart page (inline SVG only),
// and the compare command's workload list and ratios.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { niceCeiling, ratesPerSecond, renderChartHtml } from '../../src/bench/chart.js';
import { ratio, type CompareResult } from '../../src/bench/compare.js';
import { parseWorkloadSpecs } from '../../src/bench/options.js';
import { newLatencyHistogram, percentileCurve, recordLatencyMs, summarizeLatency } from '../../src/bench/latency.js';
import { phaseReport, renderBenchReport, type BenchReport } from '../../src/bench/report.js';
import type { RunResult } from '../../src/bench/runner.js';

const close = (actual: number, expected: number, relative = 0.002) =>
  assert.ok(Math.abs(actual - expected) <= expected * relative, `${actual} is not within ${relative * 100}% of ${expected}`);

describe('HDR percentile report', () => {
  it('reports p50/p95/p99/p99.9/max of 1..100 000 µs to three significant digits', () => {
    const histogram = newLatencyHistogram();
    for (let us = 1; us <= 100_000; us++) recordLatencyMs(histogram, us / 1000);
    const summary = summarizeLatency(histogram);
    assert.equal(summary.count, 100_000);
    close(summary.p50Ms, 50);
    close(summary.p95Ms, 95);
    close(summary.p99Ms, 99);
    close(summary.p999Ms, 99.9);
    close(summary.maxMs, 100);
    close(summary.meanMs, 50, 0.005);
    assert.ok(summary.p50Ms <= summary.p95Ms && summary.p95Ms <= summary.p99Ms && summary.p99Ms <= summary.p999Ms && summary.p999Ms <= summary.maxMs);
  });

  it('sees a rare slow request in p99.9 and max but not in p99', () => {
    const histogram = newLatencyHistogram();
    for (let i = 0; i < 9_990; i++) recordLatencyMs(histogram, 2);
    for (let i = 0; i < 10; i++) recordLatencyMs(histogram, 250);
    const summary = summarizeLatency(histogram);
    close(summary.p99Ms, 2);
    close(summary.maxMs, 250);
    close(summary.p999Ms, 2); // exactly 0.1% are slow: the 99.9th percentile is still a fast one
    recordLatencyMs(histogram, 250);
    close(summarizeLatency(histogram).p999Ms, 250);
  });

  it('reports zeros for a run without a successful request', () => {
    const summary = summarizeLatency(newLatencyHistogram());
    assert.deepEqual(summary, { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
    assert.deepEqual(percentileCurve(newLatencyHistogram()), []);
  });

  it('draws a rising percentile curve that ends at max', () => {
    const histogram = newLatencyHistogram();
    for (let us = 1; us <= 10_000; us++) recordLatencyMs(histogram, us / 1000);
    const curve = percentileCurve(histogram);
    assert.ok(curve.length > 20);
    for (let i = 1; i < curve.length; i++) {
      assert.ok((curve[i] as { ms: number }).ms >= (curve[i - 1] as { ms: number }).ms);
      assert.ok((curve[i] as { percentile: number }).percentile > (curve[i - 1] as { percentile: number }).percentile);
    }
    assert.deepEqual(curve[curve.length - 1], { percentile: 100, ms: 10 });
  });

  it('builds the JSON phase report and the table from a run', () => {
    const latency = newLatencyHistogram();
    const read = newLatencyHistogram();
    const update = newLatencyHistogram();
    for (let i = 1; i <= 100; i++) {
      recordLatencyMs(latency, i / 10);
      recordLatencyMs(i % 2 === 0 ? read : update, i / 10);
    }
    const result: RunResult = {
      startedAt: '2025-01-01T00:00:00.000Z',
      elapsedMs: 2000,
      completed: 100,
      misses: 3,
      errors: 2,
      errorsByKind: { 'HTTP 503 UNAVAILABLE': 2 },
      latency,
      serviceLatency: undefined,
      timerLag: undefined,
      latencyByOperation: new Map([
        ['read', read],
        ['update', update],
      ]),
      perSecond: [60, 40],
      opsPerSec: 50,
      clientCpuPercent: 12.4,
    };
    const phase = phaseReport(result);
    assert.equal(phase.ops, 100);
    assert.equal(phase.opsPerSec, 50);
    assert.equal(phase.elapsedS, 2);
    assert.equal(phase.clientCpuPercent, 12);
    assert.deepEqual(phase.errorsByKind, { 'HTTP 503 UNAVAILABLE': 2 });
    assert.equal(phase.byOperation.read?.ops, 50);
    assert.equal(phase.byOperation.update?.ops, 50);
    assert.equal(phase.byOperation.insert, undefined);
    close(phase.latencyMs.max, 10);
    const report: BenchReport = {
      target: 'http://127.0.0.1:5000',
      system: 'quorumkv',
      protocol: 'http',
      workload: 'a',
      distribution: 'uniform',
      consistency: 'quorum',
      keys: 1000,
      valueSize: 100,
      clients: 4,
      durationS: 2,
      operations: null,
      warmupS: 2,
      targetRatePerSec: null,
      seed: 1,
      load: null,
      ...phase,
    };
    const text = renderBenchReport(report);
    assert.match(text, /p99\.9 ms/);
    assert.match(text, /after a 2 s warm-up/);
    assert.equal(phase.serviceLatencyMs, null);
    assert.doesNotMatch(text, /from sending/, 'a closed loop has no separate time from sending');
    assert.match(text, /HTTP 503 UNAVAILABLE/);
    assert.doesNotMatch(text, /\u001b\[/, 'no colour codes');
  });
});

describe('chart page', () => {
  it('is one HTML page with inline SVG curves and no script or external resource', () => {
    const histogram = newLatencyHistogram();
    for (let us = 100; us <= 20_000; us += 7) recordLatencyMs(histogram, us / 1000);
    const html = renderChartHtml('bench <test>', ['note & more'], [
      { label: 'quorumkv http a', percentiles: percentileCurve(histogram), perSecond: [100, 120, 90], elapsedS: 2.6, opsPerSec: 103, p50Ms: 10, p99Ms: 19.8, maxMs: 20 },
      { label: 'etcd a', percentiles: percentileCurve(histogram), perSecond: [50, 55], elapsedS: 2.1, opsPerSec: 52, p50Ms: 10, p99Ms: 19.8, maxMs: 20 },
    ]);
    assert.match(html, /^<!doctype html>/);
    assert.equal(html.match(/<svg xmlns=/g)?.length, 2, "the two charts");
    assert.ok((html.match(/<polyline /g)?.length ?? 0) >= 4);
    assert.match(html, /bench &lt;test&gt;/);
    assert.match(html, /note &amp; more/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /(src|href)=/i);
    assert.match(html, /99\.9%/);
  });

  it('draws the last, partial second as a rate over its real length, or not at all when too short', () => {
    assert.deepEqual(ratesPerSecond({ perSecond: [100, 120, 30], elapsedS: 2.5 }), [
      { second: 0, middle: 0.5, rate: 100 },
      { second: 1, middle: 1.5, rate: 120 },
      { second: 2, middle: 2.25, rate: 60 },
    ]);
    assert.deepEqual(ratesPerSecond({ perSecond: [100, 3], elapsedS: 1.1 }), [{ second: 0, middle: 0.5, rate: 100 }]);
  });

  it('rounds axis maxima to 1, 2 or 5 times a power of ten', () => {
    assert.equal(niceCeiling(0.7), 1);
    assert.equal(niceCeiling(13), 20);
    assert.equal(niceCeiling(41), 50);
    assert.equal(niceCeiling(100), 100);
    assert.equal(niceCeiling(5001), 10_000);
  });
});

describe('bench compare', () => {
  it('reads workload:consistency lists', () => {
    assert.deepEqual(parseWorkloadSpecs('a:quorum,c:one,insert'), [
      { workload: 'a', consistency: 'quorum' },
      { workload: 'c', consistency: 'one' },
      { workload: 'insert', consistency: 'quorum' },
    ]);
    assert.throws(() => parseWorkloadSpecs('z:one'), /unknown workload/);
    assert.throws(() => parseWorkloadSpecs('a:most'), /unknown consistency/);
  });

  it('divides a row by the etcd and redis rows of the same workload', () => {
    const row = (system: string, workload: string, opsPerSec: number) => ({
      system, target: '', workload, consistency: '', fsync: '', opsPerSec, p50Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, errors: 0, ratePerSec: null, serviceP99Ms: null, clientTimerLagP99Ms: null,
    });
    const detail = (spec: string) => ({ spec, protocol: '', errorsByKind: {}, outcome: undefined as never });
    const result: CompareResult = {
      rows: [row('etcd', 'a', 1000), row('redis', 'a', 20_000), row('etcd', 'c', 4000), row('quorumkv', 'a', 2500), row('quorumkv', 'c', 2000)],
      details: [detail('a:quorum'), detail('a:quorum'), detail('c:one'), detail('a:quorum'), detail('c:one')],
      skipped: [],
      versions: {},
      loadAverage: { start: 0, end: 0 },
    };
    assert.equal(ratio(result, 3, 'etcd'), 2.5);
    assert.equal(ratio(result, 3, 'redis'), 0.125);
    assert.equal(ratio(result, 4, 'etcd'), 0.5);
    assert.equal(ratio(result, 4, 'redis'), undefined, 'no redis row for c');
  });
});
