// The driver: C clients, each with one request in flight. Closed loop by default: each client sends its
// next request as soon as the previous one answers (YCSB's and redis-benchmark's model). With a rate,
// requests are due on a fixed schedule (request n at start + n / rate) and each is timed from when it
// was due, not from when a client got round to sending it (wrk2's correction for coordinated omission):
// a store that stalls is charged for the requests that queued up behind the stall. It stops after a
// duration or an operation count, waits for the requests in flight, and returns what it saw: an HDR
// histogram of latencies (overall and per operation kind), completions per second, errors by kind.

import type { Histogram } from 'hdr-histogram-js';
import { newLatencyHistogram, recordLatencyMs } from './latency.js';
import { SeededRandom } from './random.js';
import { BenchError, errorKind, type BenchTarget } from './target.js';
import {
  InsertSequence,
  keyName,
  OperationChooser,
  type Operation,
  type OperationKind,
  type WorkloadMix,
} from './workload.js';
import type { DistributionName } from './zipfian.js';

/** Where operations come from: a workload's endless mix, or the load phase's sequence of keys. */
export interface OperationSource {
  /** The next operation of client `client`, or undefined when the source is exhausted. */
  next(client: number): Operation | undefined;
}

export interface RunLimits {
  /** Stop issuing requests after this long (the ones in flight still finish). */
  readonly durationMs?: number | undefined;
  /** Stop after issuing this many requests. */
  readonly operations?: number | undefined;
  /** Requests per second on a fixed schedule (open loop, up to `clients` in flight); closed loop when absent. */
  readonly ratePerSec?: number | undefined;
}

export interface RunProgress {
  readonly completed: number;
  readonly errors: number;
  readonly elapsedMs: number;
}

/** One finished request, for a timeline: when it was due or sent, how long it took, whether it succeeded. */
export interface RequestRecord {
  readonly startMs: number;
  readonly latencyMs: number;
  /** From sending to the answer: `latencyMs` less the wait for a free client or the client's timer. */
  readonly serviceMs: number;
  readonly ok: boolean;
}

export interface RunHooks {
  readonly signal?: AbortSignal | undefined;
  /** Called for every finished request; times are ms since the run started. */
  readonly onRequest?: ((record: RequestRecord) => void) | undefined;
  readonly onProgress?: ((progress: RunProgress) => void) | undefined;
  readonly progressIntervalMs?: number;
}

export interface RunResult {
  readonly startedAt: string;
  readonly elapsedMs: number;
  /** Requests that succeeded (reads that found nothing included). */
  readonly completed: number;
  /** Reads that found no value. */
  readonly misses: number;
  readonly errors: number;
  readonly errorsByKind: Readonly<Record<string, number>>;
  /** Latency of the successful requests, in microseconds. */
  readonly latency: Histogram;
  /**
   * On a schedule only (undefined in a closed loop, where latency is this): from sending each
   * successful request to its answer, wrk2's uncorrected latency. Latency less this is how long a
   * request waited to be sent: for a free client (the store was slow) or for the client's timer.
   */
  readonly serviceLatency: Histogram | undefined;
  /**
   * On a schedule only: how late the client's timer woke it to send a request that was not yet due
   * when the client took it. A busy or descheduled benchmark process, not the store, makes this; it
   * counts in those requests' latency.
   */
  readonly timerLag: Histogram | undefined;
  readonly latencyByOperation: ReadonlyMap<OperationKind, Histogram>;
  /** Successful requests completed in each second since the start. */
  readonly perSecond: readonly number[];
  readonly opsPerSec: number;
  /** CPU time of this process (the benchmark client) over the run, as % of one core. */
  readonly clientCpuPercent: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `clients` clients against the target until a limit is met or the signal aborts. */
export async function runClients(
  target: BenchTarget,
  source: OperationSource,
  value: Uint8Array,
  clients: number,
  limits: RunLimits,
  hooks: RunHooks = {},
): Promise<RunResult> {
  const latency = newLatencyHistogram();
  const scheduled = limits.ratePerSec !== undefined;
  const serviceLatency = scheduled ? newLatencyHistogram() : undefined;
  const timerLag = scheduled ? newLatencyHistogram() : undefined;
  const latencyByOperation = new Map<OperationKind, Histogram>();
  const errorsByKind: Record<string, number> = {};
  const perSecond: number[] = [];
  let issued = 0;
  let completed = 0;
  let misses = 0;
  let errors = 0;
  const startedAt = new Date().toISOString();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = limits.durationMs === undefined ? Infinity : start + limits.durationMs;
  const operationsMax = limits.operations ?? Infinity;
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  hooks.signal?.addEventListener('abort', stop, { once: true });

  const progress = () => hooks.onProgress?.({ completed, errors, elapsedMs: performance.now() - start });
  const ticker = hooks.onProgress ? setInterval(progress, hooks.progressIntervalMs ?? 250) : undefined;

  const intervalMs = limits.ratePerSec === undefined ? 0 : 1000 / limits.ratePerSec;
  let slots = 0;
  const client = async (index: number) => {
    while (!stopped && issued < operationsMax) {
      let began = performance.now();
      let sent = began;
      if (intervalMs > 0) {
        const due = start + slots++ * intervalMs;
        if (due >= deadline) break;
        const slept = due > began;
        if (slept) await sleep(due - began);
        if (stopped) break;
        sent = performance.now();
        if (slept && timerLag) recordLatencyMs(timerLag, Math.max(0, sent - due));
        // Late, it is timed from when it was due. But a timer may also end early: it counts from
        // libuv's loop time, which lags the clock by as long as the loop has been busy. Timed from
        // its due time then, a request took less than it did, down to 0 (p50s of 0.001 ms).
        began = Math.min(due, sent);
      }
      if (began >= deadline) break;
      const operation = source.next(index);
      if (operation === undefined) break;
      issued++;
      try {
        switch (operation.kind) {
          case 'read':
            if ((await target.get(operation.key, index)) === 'miss') misses++;
            break;
          case 'update':
          case 'insert':
            await target.put(operation.key, value, index);
            break;
          case 'delete':
            await target.remove(operation.key, index);
            break;
          case 'increment':
            if (!target.increment) throw new BenchError('unsupported', `${target.protocol} has no INCR`);
            await target.increment(operation.key, index);
            break;
        }
        const ended = performance.now();
        const ms = ended - began;
        recordLatencyMs(latency, ms);
        if (serviceLatency) recordLatencyMs(serviceLatency, ended - sent);
        let perKind = latencyByOperation.get(operation.kind);
        if (!perKind) {
          perKind = newLatencyHistogram();
          latencyByOperation.set(operation.kind, perKind);
        }
        recordLatencyMs(perKind, ms);
        const second = Math.floor((ended - start) / 1000);
        while (perSecond.length <= second) perSecond.push(0);
        perSecond[second] = (perSecond[second] as number) + 1;
        completed++;
        hooks.onRequest?.({ startMs: began - start, latencyMs: ms, serviceMs: ended - sent, ok: true });
      } catch (error) {
        const ended = performance.now();
        hooks.onRequest?.({ startMs: began - start, latencyMs: ended - began, serviceMs: ended - sent, ok: false });
        errors++;
        const kind = errorKind(error);
        errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: clients }, (_, index) => client(index)));
  } finally {
    if (ticker) clearInterval(ticker);
    hooks.signal?.removeEventListener('abort', stop);
  }
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  progress();
  return {
    startedAt,
    elapsedMs,
    completed,
    misses,
    errors,
    errorsByKind,
    latency,
    serviceLatency,
    timerLag,
    latencyByOperation,
    perSecond,
    opsPerSec: elapsedMs > 0 ? (completed * 1000) / elapsedMs : 0,
    clientCpuPercent: elapsedMs > 0 ? (cpu.user + cpu.system) / 10 / elapsedMs : 0,
  };
}

export interface WorkloadSettings {
  readonly workload: WorkloadMix;
  readonly distribution: DistributionName;
  readonly keys: number;
  readonly seed: number;
}

/** Each client draws from its own generator seeded with seed + client, so a seed replays a run's choices. */
export function workloadSource(settings: WorkloadSettings, clients: number, nowMs: number): OperationSource {
  const inserts = InsertSequence.forRun(new SeededRandom(settings.seed ^ 0x5bd1e995), nowMs);
  const choosers = Array.from(
    { length: clients },
    (_, client) => new OperationChooser(settings.workload, settings.distribution, settings.keys, new SeededRandom(settings.seed + client), inserts),
  );
  return { next: (client) => (choosers[client] as OperationChooser).next() };
}

/** The load phase: every key of the key space written once, in index order, shared by the clients. */
export function loadSource(keys: number): OperationSource {
  let nextIndex = 0;
  return {
    next: () => (nextIndex < keys ? { kind: 'insert', key: keyName(nextIndex++) } : undefined),
  };
}

/** The value every write sends: `size` seeded printable bytes. */
export function benchValue(size: number, seed: number): Uint8Array {
  return new SeededRandom(seed ^ 0x27d4eb2f).fillPrintable(new Uint8Array(size));
}
