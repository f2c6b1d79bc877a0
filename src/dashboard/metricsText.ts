// Reads the few series the dashboard needs out of a node's Prometheus text (`GET /metrics`): request
// counters by operation and outcome, and the latency histogram's sums and counts. Anything else is
// skipped; a malformed line is ignored rather than failing the whole page.

/** `update`: conditional writes (INCR, SET NX, If-Match), a consensus round each (keyPaxos.ts). */
export type DashboardOperation = 'get' | 'put' | 'delete' | 'update';

export const dashboardOperations: readonly DashboardOperation[] = ['get', 'put', 'delete', 'update'];

export interface OperationCounters {
  /** Requests that succeeded. */
  ok: number;
  /** Requests that failed, whatever the error code. */
  errors: number;
  /** Failed requests by error code (the `outcome` label). */
  byOutcome: Record<string, number>;
  /** Sum of latencies in seconds and number of observations (for a mean over an interval). */
  latencySum: number;
  latencyCount: number;
}

export type RequestCounters = Record<DashboardOperation, OperationCounters>;

export function emptyCounters(): RequestCounters {
  const one = (): OperationCounters => ({ ok: 0, errors: 0, byOutcome: {}, latencySum: 0, latencyCount: 0 });
  return { get: one(), put: one(), delete: one(), update: one() };
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const match of text.matchAll(labelPair)) {
    labels[match[1] as string] = (match[2] as string).replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function isOperation(value: string | undefined): value is DashboardOperation {
  return (dashboardOperations as readonly (string | undefined)[]).includes(value);
}

export function parseRequestCounters(text: string): RequestCounters {
  const counters = emptyCounters();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    if (!match) continue;
    const name = match[1] as string;
    if (!name.startsWith('quorumkv_request')) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const labels = labelsOf(match[2]);
    const operation = labels.operation;
    if (!isOperation(operation)) continue;
    const target = counters[operation];
    if (name === 'quorumkv_requests_total') {
      const outcome = labels.outcome ?? 'ok';
      if (outcome === 'ok') target.ok += value;
      else {
        target.errors += value;
        target.byOutcome[outcome] = (target.byOutcome[outcome] ?? 0) + value;
      }
    } else if (name === 'quorumkv_request_duration_seconds_sum') {
      target.latencySum += value;
    } else if (name === 'quorumkv_request_duration_seconds_count') {
      target.latencyCount += value;
    }
  }
  return counters;
}
