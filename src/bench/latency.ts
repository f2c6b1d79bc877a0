// Latency bookkeeping: an HDR histogram (hdr-histogram-js) of request latencies in microseconds, with
// 3 significant digits (a value is off by at most 0.1%), and the percentiles the report prints.
// HDR keeps every percentile exact to that precision however many requests are recorded, which a
// sample or a running average cannot.

import { build, type Histogram } from 'hdr-histogram-js';

/** Latencies above this are recorded as this (a request never waits an hour). */
export const latencyMaxMicroseconds = 3_600_000_000;

export function newLatencyHistogram(): Histogram {
  return build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records one request's latency, given in milliseconds (as performance.now() differences). */
export function recordLatencyMs(histogram: Histogram, ms: number): void {
  const microseconds = Math.round(ms * 1000);
  histogram.recordValue(Math.min(Math.max(microseconds, 1), latencyMaxMicroseconds));
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** Percentiles in milliseconds with microsecond resolution; all 0 for an empty histogram. */
export function summarizeLatency(histogram: Histogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) return { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  // HDR answers a percentile with the top of its bucket, which can lie above the exact max recorded.
  const at = (percentile: number) => microsToMs(Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue));
  return {
    count,
    meanMs: microsToMs(histogram.mean),
    p50Ms: at(50),
    p95Ms: at(95),
    p99Ms: at(99),
    p999Ms: at(99.9),
    maxMs: microsToMs(histogram.maxValue),
  };
}

export function microsToMs(microseconds: number): number {
  return Math.round(microseconds) / 1000;
}

export interface PercentilePoint {
  /** 0..100 */
  readonly percentile: number;
  readonly ms: number;
}

/**
 * The latency-by-percentile curve HdrHistogram plots: points evenly spaced on the axis
 * log10(1 / (1 - p)) (0%, 90%, 99%, 99.9%, ...) up to the resolution the count supports, then max.
 */
export function percentileCurve(histogram: Histogram, pointsPerDecade = 10): PercentilePoint[] {
  const count = histogram.totalCount;
  if (count === 0) return [];
  const points: PercentilePoint[] = [];
  const decadesMax = Math.min(6, Math.log10(count));
  for (let step = 0; step <= decadesMax * pointsPerDecade; step++) {
    const percentile = 100 * (1 - Math.pow(10, -step / pointsPerDecade));
    points.push({ percentile, ms: microsToMs(Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue)) });
  }
  points.push({ percentile: 100, ms: microsToMs(histogram.maxValue) });
  return points;
}
