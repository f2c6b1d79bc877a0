// The servers `bench compare`, `bench scale` and `--scenario seed` start for themselves, all on
// 127.0.0.1 with free ports and in temporary directories: a 3-member etcd cluster, a redis-server, a
// quorumkv local cluster. Everything started is registered with a Cleanup that stops it at the end,
// on an error, and on Ctrl-C or SIGTERM; a process 'exit' hook kills what is left.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { vnodesDefault } from '../core/layout.js';
import { startCluster, type StartedCluster } from '../cluster/startCluster.js';
import type { RedisPersistence } from './options.js';

const host = '127.0.0.1';
const startTimeoutMs = 30_000;
const stopTimeoutMs = 5_000;

// ---- cleanup -------------------------------------------------------------------------------------

/** Things to stop, stopped newest first; safe to call stopAll more than once. */
export class Cleanup {
  private readonly entries: { name: string; stop: () => Promise<void>; kill: () => void }[] = [];
  private readonly directories: string[] = [];
  private stopping: Promise<void> | undefined;
  readonly abort = new AbortController();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.abort.signal.aborted) {
      this.killNow();
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: stopping everything this benchmark started (again to force)...\n`);
    this.abort.abort();
    void this.stopAll().finally(() => process.exit(130));
  };
  private readonly onExit = () => this.killNow();

  constructor(private readonly keepData = false) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('exit', this.onExit);
  }

  add(name: string, stop: () => Promise<void>, kill: () => void): void {
    this.entries.push({ name, stop, kill });
  }

  /** Removes an entry stopped by its owner. */
  remove(name: string): void {
    const index = this.entries.findIndex((entry) => entry.name === name);
    if (index >= 0) this.entries.splice(index, 1);
  }

  /** A new temporary directory, removed by stopAll unless data is kept. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `quorumkv-${prefix}-`));
    this.directories.push(dir);
    return dir;
  }

  async stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      while (this.entries.length > 0) {
        const entry = this.entries.pop() as (typeof this.entries)[number];
        try {
          await entry.stop();
        } catch (error) {
          process.stderr.write(`could not stop ${entry.name} cleanly (${(error as Error).message}); killing it\n`);
          entry.kill();
        }
      }
      if (!this.keepData) for (const dir of this.directories.splice(0)) rmSync(dir, { recursive: true, force: true });
      else if (this.directories.length > 0) process.stderr.write(`data kept in ${this.directories.join(', ')}\n`);
    })();
    await this.stopping;
    this.stopping = undefined;
  }

  /** Synchronous last resort: SIGKILL everything still registered. */
  killNow(): void {
    for (const entry of this.entries) entry.kill();
  }

  dispose(): void {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    process.removeListener('exit', this.onExit);
  }
}

// ---- ports and binaries ----------------------------------------------------------------------------

export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS says is free right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A base port P for a local cluster of `nodes` nodes: P, P+1.., P+101.., P+201.. all free. */
export async function freeClusterBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 35_000);
    const ports = [base];
    for (let i = 0; i < nodes; i++) ports.push(base + 1 + i, base + 101 + i, base + 201 + i);
    let free = true;
    for (const port of ports) {
      if (!(await isPortFree(port))) {
        free = false;
        break;
      }
    }
    if (free) return base;
  }
  throw new Error('found no free block of ports for a local cluster');
}

export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function requireBinary(name: string, install: string): void {
  if (!hasBinary(name)) throw new Error(`${name} is not installed; install it with: ${install}`);
}

// ---- child processes -------------------------------------------------------------------------------

function spawnLogged(command: string, args: readonly string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(command, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function logTail(file: string): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  return text.slice(-1500);
}

// ---- etcd ------------------------------------------------------------------------------------------

export interface StartedEtcd {
  readonly clientUrls: string[];
  /** `etcd://127.0.0.1:a,127.0.0.1:b,...` */
  readonly target: string;
  readonly pids: number[];
  readonly version: string;
}

export const etcdInstall = 'apt-get update && apt-get install -y etcd-server (Debian package)';

/**
 * A new etcd cluster of `members` members. etcd fsyncs its write-ahead log before it acknowledges
 * every batch of raft entries (no setting turns that off in etcd 3.4).
 */
export async function startEtcdCluster(cleanup: Cleanup, members = 3): Promise<StartedEtcd> {
  requireBinary('etcd', etcdInstall);
  const dir = cleanup.tempDir('etcd');
  const peers: { name: string; client: number; peer: number }[] = [];
  for (let i = 0; i < members; i++) peers.push({ name: `etcd${i}`, client: await freePort(), peer: await freePort() });
  const initialCluster = peers.map((p) => `${p.name}=http://${host}:${p.peer}`).join(',');
  const token = `quorumkv-bench-${process.pid}-${Date.now()}`;
  const children = peers.map((p) => {
    const logFile = join(dir, `${p.name}.log`);
    const child = spawnLogged(
      'etcd',
      [
        '--name', p.name,
        '--data-dir', join(dir, p.name),
        '--listen-client-urls', `http://${host}:${p.client}`,
        '--advertise-client-urls', `http://${host}:${p.client}`,
        '--listen-peer-urls', `http://${host}:${p.peer}`,
        '--initial-advertise-peer-urls', `http://${host}:${p.peer}`,
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      logFile,
    );
    cleanup.add(`etcd member ${p.name}`, () => stopChild(child), () => child.kill('SIGKILL'));
    return { child, logFile, url: `http://${host}:${p.client}` };
  });
  const deadline = Date.now() + startTimeoutMs;
  for (const { child, logFile, url } of children) {
    for (;;) {
      if (exited(child)) throw new Error(`etcd exited while starting:\n${logTail(logFile)}`);
      try {
        const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await response.json()) as { health?: string };
        if (response.ok && body.health === 'true') break;
      } catch {
        // not ready
      }
      if (Date.now() > deadline) throw new Error(`etcd at ${url} not healthy within ${startTimeoutMs / 1000} s:\n${logTail(logFile)}`);
      await delay(100);
    }
  }
  const versionLine = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'etcd';
  return {
    clientUrls: children.map((c) => c.url),
    target: 'etcd://' + peers.map((p) => `${host}:${p.client}`).join(','),
    pids: children.map((c) => c.child.pid ?? 0),
    version: versionLine.replace('etcd Version: ', 'etcd '),
  };
}

// ---- redis -----------------------------------------------------------------------------------------

export const redisInstall = 'apt-get update && apt-get install -y redis-server (Debian package)';

export function redisPersistenceArgs(persistence: RedisPersistence): string[] {
  if (persistence === 'off') return ['--save', '', '--appendonly', 'no'];
  return ['--save', '', '--appendonly', 'yes', '--appendfsync', persistence];
}

export function redisFsyncLabel(persistence: RedisPersistence): string {
  if (persistence === 'off') return "none (--save '' --appendonly no)";
  return `AOF, appendfsync ${persistence}`;
}

export interface StartedRedis {
  readonly target: string;
  readonly pid: number;
  readonly version: string;
}

export async function startRedis(cleanup: Cleanup, persistence: RedisPersistence): Promise<StartedRedis> {
  requireBinary('redis-server', redisInstall);
  const dir = cleanup.tempDir('redis');
  const port = await freePort();
  const logFile = join(dir, 'redis.log');
  const child = spawnLogged(
    'redis-server',
    ['--port', String(port), '--bind', host, '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes', ...redisPersistenceArgs(persistence)],
    logFile,
  );
  cleanup.add('redis-server', () => stopChild(child), () => child.kill('SIGKILL'));
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited(child)) throw new Error(`redis-server exited while starting:\n${logTail(logFile)}`);
    const probe = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') {
        probe.disconnect();
        break;
      }
    } catch {
      // not ready
    }
    probe.disconnect();
    if (Date.now() > deadline) throw new Error(`redis-server not ready within ${startTimeoutMs / 1000} s:\n${logTail(logFile)}`);
    await delay(100);
  }
  const version = /v=(\S+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  return { target: `redis://${host}:${port}`, pid: child.pid ?? 0, version: `redis ${version}` };
}

// ---- quorumkv --------------------------------------------------------------------------------------

export interface QuorumkvClusterOptions {
  readonly nodes: number;
  readonly strategy?: 'consistent' | 'full';
  readonly rf: number;
  readonly fsync: 'commit' | 'periodic';
  /** `name=value` node settings. */
  readonly settings?: readonly string[];
  readonly token?: string | undefined;
}

export interface LocalQuorumkv extends StartedCluster {
  /** The cluster's data directory (node n keeps its files in <dataDir>/node-n). */
  readonly dataDir: string;
}

/** A fresh local cluster (startCluster) in a temporary directory, with its front on a free port. */
export async function startQuorumkv(cleanup: Cleanup, options: QuorumkvClusterOptions): Promise<LocalQuorumkv> {
  const dir = cleanup.tempDir('cluster');
  mkdirSync(dir, { recursive: true });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeClusterBasePort(options.nodes);
    const data = join(dir, `data-${attempt}`);
    try {
      const started = await startCluster({
        nodes: options.nodes,
        strategy: options.strategy ?? 'consistent',
        rf: Math.min(options.rf, options.nodes),
        vnodes: vnodesDefault,
        port,
        host,
        data,
        token: options.token,
        fsync: options.fsync,
        settings: options.settings ?? [],
        quiet: true,
      });
      const name = `quorumkv cluster on port ${port}`;
      cleanup.add(name, () => started.stop(), () => started.supervisor.killAllNow());
      return { ...started, dataDir: data };
    } catch (error) {
      lastError = error; // most likely a port taken meanwhile: try another block
    }
  }
  throw new Error(`could not start a local quorumkv cluster: ${(lastError as Error).message}`);
}

/** `http://a,b,c`: the nodes' HTTP addresses (the benchmark spreads over them, no front hop). */
export function nodeHttpTarget(started: StartedCluster): string {
  return 'http://' + started.cluster.members.map((m) => m.http).join(',');
}

export function nodeRespTarget(started: StartedCluster): string {
  return 'quorumkv-resp://' + started.cluster.members.map((m) => m.resp).join(',');
}

export function nodeClientTarget(started: StartedCluster): string {
  return 'client:' + started.cluster.members.map((m) => `http://${m.http}`).join(',');
}
