// `quorumkv bench` (npm run bench), `quorumkv bench compare` (npm run bench:compare) and
// `quorumkv bench scale`: option parsing here, the work in the modules beside it. See
// docs/benchmarks.md for what every number means.

import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseSettings } from '../core/config.js';
import type { ConsistencyLevel } from '../core/quorum.js';
import {
  compareSystems,
  compareWorkloadsDefault,
  fsyncPolicies,
  parseWorkloadSpecs,
  quorumkvProtocols,
  redisPersistences,
  targetDefault,
  type CompareSystem,
  type FsyncPolicy,
  type QuorumkvProtocol,
  type RedisPersistence,
  type WorkloadSpec,
} from './options.js';
import { workloadNames, workloads, type WorkloadName } from './workload.js';
import { distributionNames, type DistributionName } from './zipfian.js';
import type { Cleanup } from './processes.js';
import type { CompareResult } from './compare.js';

// The modules that do the work (clients, servers, histograms, tables) are imported when a bench
// command runs, not when `quorumkv` registers its commands.
const benchRun = () => import('./benchRun.js');
const chart = () => import('./chart.js');
const processes = () => import('./processes.js');

/** Runs `body` with a Cleanup that stops every process it started, and removes its data unless kept. */
async function withProcesses<T>(keepData: boolean, body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const { Cleanup } = await processes();
  const cleanup = new Cleanup(keepData);
  try {
    return await body(cleanup);
  } finally {
    await cleanup.stopAll();
    cleanup.dispose();
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

function nonNegativeSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds, 0 or more');
  return n;
}

/** A repeatable `--set name=value` node setting (values are checked when the cluster starts). */
function setting(value: string, previous: readonly string[]): string[] {
  try {
    parseSettings([value]);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return [...previous, value];
}

function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new InvalidArgumentError('must be a percentage above 0 and at most 100');
  return n;
}

function listOf<T extends string>(allowed: readonly T[], what: string) {
  return (value: string): T[] => {
    const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) throw new InvalidArgumentError(`unknown ${what} "${item}" (${allowed.join(', ')})`);
    }
    if (items.length === 0) throw new InvalidArgumentError(`name at least one ${what}`);
    return items as T[];
  };
}

function workloadList(value: string) {
  try {
    return parseWorkloadSpecs(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Status lines go to stderr, so that stdout holds only the table or the JSON. */
function log(line: string): void {
  process.stderr.write(line + '\n');
}

function writeChart(file: string, html: string): void {
  const path = resolve(file);
  writeFileSync(path, html);
  log(`chart written to ${path}`);
}

function machineNotes(): string[] {
  return [`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString()}`];
}

interface BenchCliOptions {
  target?: string;
  url?: string;
  workload: WorkloadName;
  distribution: DistributionName;
  keys: number;
  valueSize: number;
  clients: number;
  duration?: number;
  ops?: number;
  warmup: number;
  consistency?: ConsistencyLevel;
  token?: string;
  json: boolean;
  chart?: string;
  load: boolean;
  seed: number;
  timeout: number;
  rate?: number;
  scenario?: 'seed';
}

async function benchAction(options: BenchCliOptions): Promise<void> {
  if (options.scenario === 'seed') return seedAction(options);
  if (options.duration !== undefined && options.ops !== undefined) throw new InvalidArgumentError('give --duration or --ops, not both');
  const { openTarget } = await import('./targets.js');
  const { benchTarget, chartSeries } = await benchRun();
  const { renderBenchReport } = await import('./report.js');
  const url = options.target ?? options.url ?? process.env.QUORUMKV_URL ?? targetDefault;
  const target = await openTarget(url, { consistency: options.consistency, token: options.token, clients: options.clients, timeoutMs: options.timeout });
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    log('\nstopping: finishing the requests in flight (Ctrl-C again to quit now)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    if (!options.load && workloads[options.workload].wantsLoadedKeys && !options.json) {
      log(`note: without --load, reads and updates find only the keys an earlier run loaded (${options.keys.toLocaleString('en-US')} keys)`);
    }
    const outcome = await benchTarget(
      target,
      {
        workload: options.workload,
        distribution: options.distribution,
        keys: options.keys,
        valueSize: options.valueSize,
        clients: options.clients,
        durationS: options.ops === undefined ? (options.duration ?? 10) : undefined,
        operations: options.ops,
        seed: options.seed,
        load: options.load,
        warmupS: options.warmup,
        ratePerSec: options.rate,
      },
      { signal: abort.signal, progress: true },
    );
    const report = outcome.report;
    process.stdout.write(options.json ? JSON.stringify(report) + '\n' : renderBenchReport(report) + '\n');
    if (options.chart) {
      const title = `quorumkv bench: ${report.system} via ${report.protocol}, workload ${report.workload}`;
      const notes = [
        `${report.target}; ${workloads[options.workload].description}; ${report.distribution} over ${report.keys} keys; ${report.valueSize} B values; ${report.clients} clients; consistency ${report.consistency}`,
        ...machineNotes(),
      ];
      const { renderChartHtml } = await chart();
      writeChart(options.chart, renderChartHtml(title, notes, [chartSeries(`${report.system} ${report.protocol} ${report.workload}`, outcome)]));
    }
    if (report.ops === 0) process.exitCode = 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    await target.close();
  }
}

async function seedAction(options: BenchCliOptions): Promise<void> {
  const { renderSeedRows, runSeedScenario } = await import('./seedScenario.js');
  await withProcesses(false, async (cleanup) => {
    const rows = await runSeedScenario(cleanup, { token: options.token, log });
    process.stdout.write(options.json ? JSON.stringify({ scenario: 'seed', rows }) + '\n' : renderSeedRows(rows) + '\n');
  });
}

interface CompareCliOptions {
  workloads: WorkloadSpec[];
  systems: CompareSystem[];
  protocols: QuorumkvProtocol[];
  fsync: FsyncPolicy[];
  redisFsync: RedisPersistence;
  duration: number;
  warmup: number;
  clients: number;
  valueSize: number;
  keys: number;
  distribution: DistributionName;
  seed: number;
  timeout: number;
  json: boolean;
  chart?: string;
  keepData: boolean;
  halfRate: boolean;
  runs: number;
}

async function compareAction(options: CompareCliOptions): Promise<void> {
  const { compareChartSeries, renderCompare, runCompare } = await import('./compare.js');
  const { summarizeRuns } = await import('./compareRuns.js');
  await withProcesses(options.keepData, async (cleanup) => {
    const runs: CompareResult[] = [];
    for (let run = 1; run <= options.runs && !cleanup.abort.signal.aborted; run++) {
      if (options.runs > 1) log(`run ${run} of ${options.runs}`);
      runs.push(await runOnce(cleanup));
    }
    const summary = options.runs > 1 ? summarizeRuns(runs) : undefined;
    const result = summary?.result ?? (runs[0] as CompareResult);
    const settings = {
      clients: options.clients,
      valueSize: options.valueSize,
      keys: options.keys,
      distribution: options.distribution,
      durationS: options.duration,
      warmupS: options.warmup,
      runs: options.runs,
      cpus: cpus().length,
      node: process.version,
      versions: result.versions,
      loadAverage: result.loadAverage,
    };
    if (options.json) {
      const rows = summary ? summary.rows : result.rows;
      const perRun = summary ? { runs: runs.map((run) => run.rows) } : {};
      process.stdout.write(JSON.stringify({ rows, settings, skipped: result.skipped, ...perRun }) + '\n');
    } else {
      const medians = summary ? { count: options.runs, rows: summary.rows } : undefined;
      process.stdout.write(renderCompare(result, { ...options, durationS: options.duration }, medians) + '\n');
    }
    if (options.chart && result.rows.length > 0) {
      const notes = [
        `${options.clients} clients, ${options.valueSize} B values, ${options.keys} keys (${options.distribution}), ${options.duration} s per run`,
        ...(summary ? [`each curve: the run with the median throughput of ${options.runs}`] : []),
        ...Object.values(result.versions),
        ...machineNotes(),
      ];
      const { renderChartHtml } = await chart();
      writeChart(options.chart, renderChartHtml('quorumkv bench compare', notes, compareChartSeries(result)));
    }
  });

  function runOnce(cleanup: Cleanup): Promise<CompareResult> {
    return runCompare(cleanup, {
      workloads: options.workloads,
      systems: options.systems,
      protocols: options.protocols,
      quorumkvFsync: options.fsync,
      redisPersistence: options.redisFsync,
      durationS: options.duration,
      warmupS: options.warmup,
      clients: options.clients,
      valueSize: options.valueSize,
      keys: options.keys,
      distribution: options.distribution,
      seed: options.seed,
      timeoutMs: options.timeout,
      halfRate: options.halfRate,
      progress: true,
      log,
    });
  }
}

interface FailoverCliOptions {
  protocol: 'http' | 'resp';
  workload: WorkloadName;
  consistency: ConsistencyLevel;
  duration: number;
  clients: number;
  rate?: number;
  keys: number;
  valueSize: number;
  seed: number;
  timeout: number;
  stall: number;
  set: string[];
  json: boolean;
  keepData: boolean;
}

async function failoverAction(options: FailoverCliOptions): Promise<void> {
  const { renderFailover, runFailover } = await import('./failover.js');
  await withProcesses(options.keepData, async (cleanup) => {
    const result = await runFailover(cleanup, {
      protocol: options.protocol,
      workload: options.workload,
      consistency: options.consistency,
      durationS: options.duration,
      clients: options.clients,
      ratePerSec: options.rate,
      keys: options.keys,
      valueSize: options.valueSize,
      seed: options.seed,
      timeoutMs: options.timeout,
      stallMs: options.stall,
      settings: options.set,
      log,
    });
    process.stdout.write(options.json ? JSON.stringify(result) + '\n' : renderFailover(result) + '\n');
  });
}

interface ScaleCliOptions {
  keys: number;
  valueSize: number;
  clients: number;
  nodes: number;
  fsync: FsyncPolicy;
  missedPercent: number;
  repairTimeout: number;
  seed: number;
  timeout: number;
  json: boolean;
  keepData: boolean;
}

async function scaleAction(options: ScaleCliOptions): Promise<void> {
  const { renderScale, runScale } = await import('./scale.js');
  await withProcesses(options.keepData, async (cleanup) => {
    const result = await runScale(cleanup, {
      keys: options.keys,
      valueSize: options.valueSize,
      clients: options.clients,
      nodes: options.nodes,
      fsync: options.fsync,
      missedPercent: options.missedPercent,
      seed: options.seed,
      timeoutMs: options.timeout,
      repairTimeoutMs: options.repairTimeout * 1000,
      progress: true,
      log,
    });
    process.stdout.write(options.json ? JSON.stringify(result) + '\n' : renderScale(result) + '\n');
  });
}

export function registerBenchCommands(program: Command): void {
  // `bench compare --json` must reach compare's options, not bench's: options are read per level.
  program.enablePositionalOptions();
  const bench = program
    .command('bench')
    .description('measure throughput and latency of a workload against quorumkv, Redis or etcd (see docs/benchmarks.md)')
    .enablePositionalOptions()
    .option(
      '--target <url>',
      `what to measure: http://host:port[,host:port] (quorumkv HTTP; https:// for nodes with --tls-cert, trusting NODE_EXTRA_CA_CERTS), quorumkv-resp://host:port[,...], client:[http://host:port,...], redis://host:port, etcd://host:port[,...] (default ${targetDefault} or env QUORUMKV_URL)`,
    )
    .option('--url <url>', 'same as --target (the option every client command takes)')
    .addOption(new Option('--workload <name>', 'a: 50% read/50% update; b: 95/5; c: read only; insert: new keys only; delete: 50% delete, 25% update, 25% read').choices(workloadNames).default('a'))
    .addOption(new Option('--distribution <name>', "key choice (zipfian = YCSB's scrambled zipfian, theta 0.99)").choices(distributionNames).default('uniform'))
    .option('--keys <n>', 'keys in the key space', positiveInt, 10_000)
    .option('--value-size <bytes>', 'bytes per value written', nonNegativeInt, 100)
    .option('--clients <n>', 'concurrent clients, each with one request in flight', positiveInt, 50)
    .option('--duration <seconds>', 'measure this long (default 10 s unless --ops)', positiveSeconds)
    .option('--ops <n>', 'measure this many requests instead of a duration', positiveInt)
    .option('--warmup <seconds>', 'run the workload this long first, unmeasured (a fresh client and fresh nodes still compile their hot paths)', nonNegativeSeconds, 2)
    .addOption(new Option('--consistency <level>', 'quorumkv consistency level (etcd: one = serializable reads)').choices(['one', 'quorum', 'all']))
    .option('--token <token>', 'API token (env QUORUMKV_TOKEN); AUTH password for RESP/redis', process.env.QUORUMKV_TOKEN)
    .option('--json', 'print one JSON document', false)
    .option('--chart <file.html>', 'write an HTML page with the latency percentile curve and throughput over time')
    .option('--load', 'write every key of the key space before measuring', false)
    .option('--seed <n>', 'seed of the operation and key choices', nonNegativeInt, 1)
    .option('--timeout <ms>', 'per-request timeout', positiveInt, 10_000)
    .option('--rate <ops/s>', 'send requests on a fixed schedule at this rate (open loop; latency counts from when each was due)', positiveInt)
    .addOption(new Option('--scenario <name>', "seed: replay the prototype's performance test on fresh local clusters").choices(['seed']))
    .action(benchAction);

  bench
    .command('compare')
    .description('start etcd (3 members), redis-server and quorumkv (3 nodes, RF 3) on 127.0.0.1 and run the same workloads against each')
    .addOption(new Option('--workloads <list>', 'workload:consistency pairs').argParser(workloadList).default(parseWorkloadSpecs(compareWorkloadsDefault), compareWorkloadsDefault))
    .addOption(new Option('--systems <list>', `systems to run (${compareSystems.join(', ')})`).argParser(listOf(compareSystems, 'system')).default([...compareSystems], compareSystems.join(',')))
    .addOption(
      new Option('--protocols <list>', `how to reach quorumkv (${quorumkvProtocols.join(', ')}); resp is skipped when the nodes have no RESP port`)
        .argParser(listOf(quorumkvProtocols, 'protocol'))
        .default(['http', 'resp'], 'http,resp'),
    )
    .addOption(new Option('--fsync <list>', 'quorumkv fsync policies, one cluster each (commit, periodic)').argParser(listOf(fsyncPolicies, 'fsync policy')).default(['commit'], 'commit'))
    .addOption(new Option('--redis-fsync <mode>', "redis persistence: off = --save '' --appendonly no; everysec/always = AOF with that appendfsync").choices(redisPersistences).default('off'))
    .option('--duration <seconds>', 'seconds per measured run', positiveSeconds, 10)
    .option('--warmup <seconds>', 'unmeasured seconds before each run (V8 is still compiling the hot paths in the first seconds)', nonNegativeSeconds, 3)
    .option('--clients <n>', 'concurrent clients', positiveInt, 50)
    .option('--value-size <bytes>', 'bytes per value', nonNegativeInt, 100)
    .option('--keys <n>', 'keys loaded before the read/update workloads', positiveInt, 10_000)
    .addOption(new Option('--distribution <name>', 'key choice').choices(distributionNames).default('uniform'))
    .option('--seed <n>', 'seed of the operation and key choices', nonNegativeInt, 1)
    .option('--timeout <ms>', 'per-request timeout', positiveInt, 10_000)
    .option('--json', 'print {"rows":[...]} for scripts', false)
    .option('--chart <file.html>', 'write an HTML page with every run\'s latency curve and throughput')
    .option('--keep-data', 'keep the temporary data directories', false)
    .option('--no-half-rate', 'skip the open-loop run at half throughput after each row')
    .option('--runs <n>', 'run the whole comparison n times and print medians (ratios: the median of each run\'s)', positiveInt, 1)
    .action(compareAction);

  bench
    .command('failover')
    .description('run a workload at half throughput against a 3-node cluster while one node is killed and restarted; latency per window')
    .addOption(new Option('--protocol <name>', 'how the clients reach the two nodes that stay up').choices(['http', 'resp']).default('http'))
    .addOption(new Option('--workload <name>', 'workload').choices(workloadNames).default('a'))
    .addOption(new Option('--consistency <level>', 'level of every request').choices(['one', 'quorum', 'all']).default('quorum'))
    .option('--duration <seconds>', 'measured seconds: the kill comes at a third, the restart at two thirds', positiveSeconds, 15)
    .option('--clients <n>', 'concurrent clients', positiveInt, 50)
    .option('--rate <ops/s>', 'requests per second (default: half of what a 3 s closed-loop run reaches)', positiveInt)
    .option('--keys <n>', 'keys loaded first', positiveInt, 10_000)
    .option('--value-size <bytes>', 'bytes per value', nonNegativeInt, 100)
    .option('--seed <n>', 'seed of the operation and key choices', nonNegativeInt, 1)
    .option('--timeout <ms>', 'per-request timeout', positiveInt, 2_000)
    .option('--stall <ms>', 'a request slower than this counts as stalled', positiveInt, 50)
    .option('--set <name=value>', 'override a node setting, as `quorumkv start --set` (repeatable)', setting, [])
    .option('--json', 'print one JSON document', false)
    .option('--keep-data', 'keep the temporary data directory', false)
    .action(failoverAction);

  bench
    .command('scale')
    .description('load N keys into a fresh cluster and report memory, disk, restart time and anti-entropy repair time per node')
    .option('--keys <n>', 'keys to load', positiveInt, 1_000_000)
    .option('--value-size <bytes>', 'bytes per value', nonNegativeInt, 100)
    .option('--clients <n>', 'concurrent clients while loading', positiveInt, 50)
    .option('--nodes <n>', 'nodes (RF = nodes, so every node holds every key)', positiveInt, 3)
    .addOption(new Option('--fsync <policy>', 'quorumkv fsync policy').choices(fsyncPolicies).default('commit'))
    .option('--missed-percent <p>', 'share of the keys written while one node is down', percent, 1)
    .option('--repair-timeout <seconds>', 'give up waiting for anti-entropy after this long', positiveSeconds, 600)
    .option('--seed <n>', 'seed', nonNegativeInt, 1)
    .option('--timeout <ms>', 'per-request timeout', positiveInt, 10_000)
    .option('--json', 'print one JSON document', false)
    .option('--keep-data', 'keep the temporary data directory', false)
    .action(scaleAction);
}
