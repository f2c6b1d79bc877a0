// A few-second smoke of `quorumkv bench` against a real 3-node local cluster over HTTP: the command
// runs, prints one JSON document of the promised shape, requests happened, and `--chart` writes an
// HTML page with inline SVG. No timing is asserted: benchmarks are commands, not tests. Node processes
// run the compiled dist/src/main.js: run `npm run build` first (npm test does).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const compiledMain = join(projectRoot, 'dist', 'src', 'main.js');

type Processes = typeof import('../../src/bench/processes.js');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compiledMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('quorumkv bench against a 3-node local cluster', () => {
  assert.ok(existsSync(compiledMain), `${compiledMain} is missing: run npm run build first`);
  let processes: Processes;
  let cleanup: InstanceType<Processes['Cleanup']>;
  let target = '';
  let respTarget = '';
  const scratch = mkdtempSync(join(tmpdir(), 'quorumkv-bench-test-'));

  before(async () => {
    processes = (await import(pathToFileURL(join(projectRoot, 'dist', 'src', 'bench', 'processes.js')).href)) as Processes;
    cleanup = new processes.Cleanup();
    const cluster = await processes.startQuorumkv(cleanup, { nodes: 3, rf: 3, fsync: 'commit' });
    target = processes.nodeHttpTarget(cluster);
    respTarget = processes.nodeRespTarget(cluster);
  });

  after(async () => {
    await cleanup?.stopAll();
    cleanup?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs workload a for 2 s and prints the JSON report, and writes the chart', async () => {
    const chart = join(scratch, 'chart.html');
    const args = ['bench', '--target', target, '--duration', '2', '--json', '--load', '--keys', '200', '--clients', '8', '--consistency', 'quorum', '--chart', chart];
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, 0, `bench exited ${code}: ${stderr}`);
    const report = JSON.parse(stdout) as Record<string, unknown> & {
      latencyMs: Record<string, number>;
      byOperation: Record<string, { ops: number; latencyMs: Record<string, number> }>;
      load: { ops: number; errors: number };
    };
    assert.equal(report.system, 'quorumkv');
    assert.equal(report.protocol, 'http');
    assert.equal(report.target, target);
    assert.equal(report.workload, 'a');
    assert.equal(report.consistency, 'quorum');
    assert.equal(report.clients, 8);
    assert.equal(report.durationS, 2);
    assert.equal(report.warmupS, 2, 'a warm-up by default: a fresh client and fresh nodes are still compiling');
    assert.equal(report.load.ops + report.load.errors, 200);
    assert.ok((report.ops as number) > 0, 'operations happened');
    assert.ok((report.opsPerSec as number) > 0);
    for (const name of ['p50', 'p95', 'p99', 'p999', 'max', 'mean']) assert.equal(typeof report.latencyMs[name], 'number', name);
    assert.ok(report.latencyMs.p50! <= report.latencyMs.p99! && report.latencyMs.p99! <= report.latencyMs.max!);
    assert.equal(typeof report.errors, 'number');
    assert.equal(typeof report.errorsByKind, 'object');
    assert.ok(Array.isArray(report.throughputPerSecond) && (report.throughputPerSecond as number[]).length >= 2);
    assert.ok(report.byOperation.read!.ops > 0 && report.byOperation.update!.ops > 0, 'both reads and updates ran');
    assert.equal(report.errors, 0);
    assert.equal(report.misses, 0, 'every key was loaded, so every read finds its value');
    const html = readFileSync(chart, 'utf8');
    assert.match(html, /<svg /);
    assert.match(html, /<polyline /);
  });

  it('counts a read of a key nobody wrote as a miss, not an error', async () => {
    // Keys 0-99 loaded; of 0-999, most were never written (HTTP 404 NOT_FOUND).
    const load = await runCli(['bench', '--target', target, '--workload', 'c', '--keys', '100', '--load', '--ops', '1', '--clients', '4', '--json', '--warmup', '0']);
    assert.equal(load.code, 0, load.stderr);
    const { code, stdout, stderr } = await runCli(['bench', '--target', target, '--workload', 'c', '--keys', '1000', '--ops', '200', '--clients', '4', '--json', '--warmup', '0']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { ops: number; errors: number; misses: number };
    assert.equal(report.errors, 0);
    assert.ok(report.misses > 0 && report.misses < report.ops, `${report.misses} of ${report.ops} reads missed`);
  });

  it('runs a fixed number of inserts', async () => {
    const { code, stdout, stderr } = await runCli(['bench', '--target', target, '--workload', 'insert', '--ops', '100', '--clients', '4', '--json', '--consistency', 'all', '--warmup', '0']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { ops: number; errors: number; operations: number; durationS: null; warmupS: number; byOperation: Record<string, unknown> };
    assert.equal(report.ops + report.errors, 100);
    assert.equal(report.operations, 100);
    assert.equal(report.durationS, null);
    assert.equal(report.warmupS, 0);
    assert.ok(report.byOperation.insert);
  });

  it('runs counters (the incr workload) over RESP, and says it cannot over HTTP', async () => {
    const { code, stdout, stderr } = await runCli(['bench', '--target', respTarget, '--workload', 'incr', '--keys', '20', '--ops', '200', '--clients', '8', '--json', '--warmup', '0']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { ops: number; errors: number; byOperation: Record<string, unknown>; errorsByKind: Record<string, number> };
    assert.equal(report.ops + report.errors, 200);
    assert.ok(report.ops >= 150, `${report.ops} of 200 counted (${JSON.stringify(report.errorsByKind)})`);
    assert.ok(report.byOperation.increment);
    const http = await runCli(['bench', '--target', target, '--workload', 'incr', '--ops', '10', '--json', '--warmup', '0']);
    assert.notEqual(http.code, 0);
    assert.match(http.stderr, /runs over the Redis protocol only/);
  });

  it('runs on a fixed schedule with --rate: exactly duration x rate requests', async () => {
    const args = ['bench', '--target', target, '--workload', 'insert', '--duration', '2', '--rate', '50', '--clients', '4', '--json'];
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { ops: number; errors: number; targetRatePerSec: number };
    assert.equal(report.ops + report.errors, 100);
    assert.equal(report.targetRatePerSec, 50);
  });

  it('bench failover kills and restarts a node of its own cluster and reports three windows', { timeout: 120_000 }, async () => {
    const args = ['bench', 'failover', '--duration', '3', '--rate', '50', '--keys', '100', '--clients', '4', '--set', 'hintsPerSecondMax=500', '--json'];
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as {
      ratePerSec: number;
      killedNode: string;
      settings: string[];
      windows: {
        name: string;
        requests: number;
        errors: number;
        stalled: number;
        latency: { p99Ms: number; maxMs: number };
        stalledInService: number;
        serviceLatency: { maxMs: number };
      }[];
      slowest: unknown[];
    };
    assert.equal(result.ratePerSec, 50);
    assert.equal(result.killedNode, '2');
    assert.deepEqual(result.settings, ['hintsPerSecondMax=500']);
    assert.deepEqual(result.windows.map((w) => w.name), ['before the kill', 'node down', 'after the restart']);
    assert.equal(result.windows.reduce((sum, w) => sum + w.requests, 0), 150);
    assert.ok(result.windows.every((w) => typeof w.stalled === 'number' && typeof w.latency.p99Ms === 'number'));
    // From sending is the part of a request's time after it waited for a client: never longer.
    assert.ok(result.windows.every((w) => w.stalledInService <= w.stalled && w.serviceLatency.maxMs <= w.latency.maxMs), JSON.stringify(result.windows));
    assert.equal(result.slowest.length, 5);
  });

  it('bench failover refuses a setting nodes do not have, before starting anything', async () => {
    const { code, stderr } = await runCli(['bench', 'failover', '--set', 'hintsPerSecond=5']);
    assert.equal(code, 2, 'a usage error');
    assert.match(stderr, /unknown setting "hintsPerSecond"; known: .*hintsPerSecondMax/);
  });

  it('counts failed requests by kind, and exits 1 when none succeeded', async () => {
    const closed = await processes.freePort(); // nothing listens there
    const { code, stdout } = await runCli(['bench', '--target', `http://127.0.0.1:${closed}`, '--ops', '20', '--clients', '2', '--json', '--workload', 'c', '--warmup', '0']);
    assert.equal(code, 1);
    const report = JSON.parse(stdout) as { ops: number; errors: number; errorsByKind: Record<string, number> };
    assert.equal(report.ops, 0);
    assert.equal(report.errors, 20);
    assert.deepEqual(report.errorsByKind, { ECONNREFUSED: 20 });
  });
});
