// `--chart FILE.html`: a self-contained HTML page (inline SVG, no script, no external resources) with
// the latency-by-percentile curve of each run (HdrHistogram's classic plot: the x axis is spaced by
// nines, 90%, 99%, 99.9%...) and its throughput in each second of the run.

import type { PercentilePoint } from './latency.js';

export interface ChartSeries {
  readonly label: string;
  readonly percentiles: readonly PercentilePoint[];
  /** Successful requests completed in each second of the run (the last second may be partial). */
  readonly perSecond: readonly number[];
  /** Length of the run: the last second is drawn as a rate over its real length. */
  readonly elapsedS: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const width = 860;
const height = 380;
const margin = { left: 70, right: 40, top: 20, bottom: 50 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;

export function renderChartHtml(title: string, notes: readonly string[], series: readonly ChartSeries[]): string {
  const rows = series
    .map(
      (s, i) =>
        `<tr><td><svg width="26" height="10"><line x1="1" y1="5" x2="25" y2="5" stroke="${color(i)}" stroke-width="3"${dash(i)}/></svg> ${escape(s.label)}</td>` +
        `<td>${Math.round(s.opsPerSec).toLocaleString('en-US')}</td><td>${s.p50Ms}</td><td>${s.p99Ms}</td><td>${s.maxMs}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escape(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
svg text { font-size: 12px; fill: #333; }
.notes { color: #555; font-size: 13px; }
</style>
</head>
<body>
<h1>${escape(title)}</h1>
<div class="notes">${notes.map((n) => `<div>${escape(n)}</div>`).join('\n')}</div>
<table>
<tr><th>run</th><th>ops/s</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>
${rows}
</table>
<h2>Latency by percentile</h2>
${percentileSvg(series)}
<h2>Throughput over time (successful requests per second)</h2>
${throughputSvg(series)}
</body>
</html>
`;
}

function percentileSvg(series: readonly ChartSeries[]): string {
  const nines = (percentile: number) => (percentile >= 100 ? Infinity : Math.log10(100 / (100 - percentile)));
  let decades = 1;
  for (const s of series) for (const p of s.percentiles) if (p.percentile < 100) decades = Math.max(decades, Math.ceil(nines(p.percentile) - 1e-9));
  const values = series.flatMap((s) => s.percentiles.map((p) => p.ms)).filter((ms) => ms > 0);
  const yMax = niceCeiling(Math.max(0.001, ...values));
  // Runs that differ by more than 20x (Redis beside a replicated store) share a log axis, so that the
  // fast ones are not flattened against zero.
  const yMin = niceFloor(Math.min(yMax, ...values));
  const logarithmic = yMax / yMin > 20;
  const x = (percentile: number) => margin.left + (Math.min(nines(percentile), decades) / decades) * plotWidth;
  const y = logarithmic
    ? (ms: number) => margin.top + plotHeight - ((Math.log10(Math.max(ms, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotHeight
    : (ms: number) => margin.top + plotHeight - (ms / yMax) * plotHeight;
  const parts: string[] = [];
  for (let d = 0; d <= decades; d++) {
    const px = margin.left + (d / decades) * plotWidth;
    const label = d === 0 ? '0%' : `${(100 - 100 / 10 ** d).toFixed(Math.max(0, d - 2))}%`;
    parts.push(`<line stroke="#e5e5e5" x1="${px}" y1="${margin.top}" x2="${px}" y2="${margin.top + plotHeight}"/>`);
    parts.push(`<text x="${px}" y="${margin.top + plotHeight + 18}" text-anchor="middle">${label}</text>`);
  }
  parts.push(...yGrid(yMax, y, logarithmic ? 'ms (log scale)' : 'ms', logarithmic ? logTicks(yMin, yMax) : undefined));
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">percentile (the last point is max)</text>`);
  series.forEach((s, i) => {
    const points = s.percentiles.map((p) => `${x(p.percentile).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color(i)}" stroke-width="2"${dash(i)} points="${points}"><title>${escape(s.label)}</title></polyline>`);
  });
  return svg(parts);
}

function throughputSvg(series: readonly ChartSeries[]): string {
  const rates = series.map(ratesPerSecond);
  const seconds = Math.max(1, ...series.map((s) => Math.ceil(s.elapsedS)));
  const yMax = niceCeiling(Math.max(1, ...rates.flatMap((r) => r.map((point) => point.rate))));
  const x = (second: number) => margin.left + (second / seconds) * plotWidth;
  const y = (ops: number) => margin.top + plotHeight - (ops / yMax) * plotHeight;
  const parts: string[] = [];
  const step = Math.max(1, Math.ceil(seconds / 10));
  for (let s = 0; s <= seconds; s += step) {
    parts.push(`<line stroke="#e5e5e5" x1="${x(s)}" y1="${margin.top}" x2="${x(s)}" y2="${margin.top + plotHeight}"/>`);
    parts.push(`<text x="${x(s)}" y="${margin.top + plotHeight + 18}" text-anchor="middle">${s} s</text>`);
  }
  parts.push(...yGrid(yMax, y, 'ops/s'));
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">seconds since the start of the run</text>`);
  series.forEach((s, i) => {
    const points = (rates[i] ?? []).map((p) => `${x(p.middle).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color(i)}" stroke-width="2"${dash(i)} points="${points}"><title>${escape(s.label)}</title></polyline>`);
    for (const p of rates[i] ?? []) {
      parts.push(`<circle cx="${x(p.middle).toFixed(1)}" cy="${y(p.rate).toFixed(1)}" r="2.5" fill="${color(i)}"><title>${escape(s.label)}: ${Math.round(p.rate)} ops/s in second ${p.second}</title></circle>`);
    }
  });
  return svg(parts);
}

/**
 * Completions per second as rates: a whole second's count is its rate; the last, partial second (the
 * requests in flight finishing after the end) is divided by its real length, or left out when it is
 * shorter than a quarter second (too short to be a rate).
 */
export function ratesPerSecond(series: Pick<ChartSeries, 'perSecond' | 'elapsedS'>): { second: number; middle: number; rate: number }[] {
  const points: { second: number; middle: number; rate: number }[] = [];
  series.perSecond.forEach((count, second) => {
    const length = Math.min(1, series.elapsedS - second);
    if (length >= 1) points.push({ second, middle: second + 0.5, rate: count });
    else if (length >= 0.25) points.push({ second, middle: second + length / 2, rate: count / length });
  });
  return points;
}

function yGrid(yMax: number, y: (value: number) => number, unit: string, values?: readonly number[]): string[] {
  const parts: string[] = [];
  const ticks = 5;
  for (const value of values ?? Array.from({ length: ticks + 1 }, (_, t) => (yMax * t) / ticks)) {
    const py = y(value);
    parts.push(`<line stroke="#e5e5e5" x1="${margin.left}" y1="${py}" x2="${margin.left + plotWidth}" y2="${py}"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${py + 4}" text-anchor="end">${formatTick(value)}</text>`);
  }
  parts.push(`<line stroke="#555" x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotHeight}"/>`);
  parts.push(`<line stroke="#555" x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${margin.left + plotWidth}" y2="${margin.top + plotHeight}"/>`);
  parts.push(`<text x="14" y="${margin.top + plotHeight / 2}" transform="rotate(-90 14 ${margin.top + plotHeight / 2})" text-anchor="middle">${unit}</text>`);
  return parts;
}

function svg(parts: readonly string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${parts.join('\n')}\n</svg>`;
}

/** 1, 2 or 5 times a power of ten, at or below `value`. */
export function niceFloor(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [5, 2, 1]) if (value >= factor * power * (1 - 1e-9)) return factor * power;
  return power;
}

/** Ticks of a log axis: 1, 2, 5 times each power of ten from min to max. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let power = 10 ** Math.floor(Math.log10(min)); power <= max * (1 + 1e-9); power *= 10) {
    for (const factor of [1, 2, 5]) {
      const value = factor * power;
      if (value >= min * (1 - 1e-9) && value <= max * (1 + 1e-9)) ticks.push(value);
    }
  }
  return ticks;
}

/** 1, 2 or 5 times a power of ten, at or above `value`. */
export function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (value <= factor * power * (1 + 1e-9)) return factor * power;
  return 10 * power;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toPrecision(2);
}

function color(index: number): string {
  return palette[index % palette.length] as string;
}

/** Past the palette's length, lines are dashed (then dotted) so that no two runs look the same. */
function dash(index: number): string {
  const round = Math.floor(index / palette.length) % 3;
  return round === 0 ? '' : round === 1 ? ' stroke-dasharray="7 4"' : ' stroke-dasharray="2 3"';
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
