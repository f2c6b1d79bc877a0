// Runs the local cluster's node processes: starts each as `quorumkv node`, kills one with SIGKILL
// (the prototype's fail), restarts it on the same data directory (recover), and stops them all when
// the cluster stops. Children hold an IPC channel to this process and exit when it goes away, so no
// orphan is left behind even when the supervisor is killed.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalCluster, LocalMember } from './clusterFile.js';
import { nodeDataDir } from './clusterFile.js';

export interface SupervisorOptions {
  readonly dataDir: string;
  readonly cluster: LocalCluster;
  readonly token?: string | undefined;
  readonly adminToken?: string | undefined;
  readonly fsync: 'commit' | 'periodic';
  /** Extra `--set name=value` settings passed to every node. */
  readonly settings: readonly string[];
  readonly onExit?: (id: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export type ProcessState = 'starting' | 'running' | 'stopped';

interface Child {
  readonly member: LocalMember;
  process: ChildProcess | undefined;
  state: ProcessState;
  /** Set when we killed it on purpose, so the exit is not reported as a crash. */
  expectedExit: boolean;
}

/**
 * How long a starting node may take to answer on its HTTP API. A node starts in well under a second on
 * an idle machine, but a busy one (CI, a laptop compiling) can starve it for tens of seconds, and
 * giving up on a node that is joining leaves its join to be cancelled.
 */
const startTimeoutMs = 60_000;

/**
 * V8's background threads (concurrent compilation and garbage collection; Node starts 4) for each of
 * `nodes` node processes on this machine: its share of the cores, at least 1, at most Node's 4. The
 * local cluster's nodes share the machine's cores, and each node's main thread waits for its turn
 * behind every runnable thread of the others: on 2 cores, a node restarting with 4 threads compiling
 * took the cores from the two that served, whose requests queued for 50-150 ms (docs/decisions.md).
 */
export function v8ThreadsPerNode(nodes: number, cores = availableParallelism()): number {
  return Math.min(4, Math.max(1, Math.floor(cores / Math.max(1, nodes))));
}

/** How to run `quorumkv` for a node process: a script of the build (below), or main.ts through tsx. */
export function mainCommand(): string[] {
  // dist/src/cluster/ when compiled, src/cluster/ under tsx.
  const here = fileURLToPath(new URL('.', import.meta.url));
  const dist = existsSync(join(here, '..', 'main.js')) ? join(here, '..', '..') : join(here, '..', '..', 'dist');
  const script = builtScript(dist);
  // From the sources with no build at all: correct, but much slower to start.
  return script ? [script] : ['--import', 'tsx', join(here, '..', 'main.ts')];
}

/**
 * The script of the build in `dist` that a node process runs: the bundle (scripts/bundle.mjs), from
 * which a node starts with about two thirds of the CPU, unless it is older than the compiled main.js
 * (a `tsc` without the bundling step must never leave nodes running stale code); else the compiled
 * main.js; undefined when there is no build.
 */
export function builtScript(dist: string): string | undefined {
  const compiled = join(dist, 'src', 'main.js');
  const bundled = join(dist, 'bundle', 'main.js');
  if (!existsSync(compiled)) return undefined;
  const fresh = existsSync(bundled) && statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs;
  return fresh ? bundled : compiled;
}

export class Supervisor {
  private readonly children = new Map<string, Child>();

  constructor(private readonly options: SupervisorOptions) {
    for (const member of options.cluster.members) this.add(member);
  }

  add(member: LocalMember): void {
    this.children.set(member.id, { member, process: undefined, state: 'stopped', expectedExit: false });
  }

  remove(id: string): void {
    this.children.delete(id);
  }

  ids(): string[] {
    return [...this.children.keys()];
  }

  member(id: string): LocalMember | undefined {
    return this.children.get(id)?.member;
  }

  stateOf(id: string): ProcessState | undefined {
    return this.children.get(id)?.state;
  }

  runningIds(): string[] {
    return [...this.children.values()].filter((c) => c.state !== 'stopped').map((c) => c.member.id);
  }

  pid(id: string): number | undefined {
    return this.children.get(id)?.process?.pid;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.start(id)));
  }

  /** Starts the member's process and waits until its HTTP API answers. */
  async start(id: string, joinVia?: string): Promise<void> {
    const child = this.children.get(id);
    if (!child) throw new Error(`no node ${id}`);
    if (child.state !== 'stopped') return;
    const { cluster, dataDir } = this.options;
    const dir = nodeDataDir(dataDir, id);
    const args = [
      ...mainCommand(),
      'node',
      '--id', id,
      '--http', child.member.http,
      '--peer', child.member.peer,
      '--resp', child.member.resp,
      '--data', dir,
      '--fsync', this.options.fsync,
      '--preset', 'local',
      '--log-file', join(dir, 'node.log'),
      '--exit-with-parent',
    ];
    if (joinVia) args.push('--join', joinVia);
    else {
      args.push(
        '--initial-cluster',
        cluster.members.map((m) => `${m.id}/${m.peer}/${m.http}/${m.resp}`).join(','),
        '--strategy', cluster.strategy,
        '--rf', String(cluster.rf),
        '--vnodes', String(cluster.vnodes),
      );
    }
    for (const setting of this.options.settings) args.push('--set', setting);
    // Secrets go in the environment, not the command line, which every user of the machine can read.
    const env: NodeJS.ProcessEnv = { ...process.env, QUORUMKV_CLUSTER_SECRET: cluster.clusterSecret };
    for (const [name, value] of [['QUORUMKV_TOKEN', this.options.token], ['QUORUMKV_ADMIN_TOKEN', this.options.adminToken]] as const) {
      if (value) env[name] = value;
      else delete env[name];
    }
    const errFile = join(dataDir, `node-${id}.stderr`);
    const errFd = openSync(errFile, 'a');
    const errStart = fstatSync(errFd).size;
    const v8Threads = `--v8-pool-size=${v8ThreadsPerNode(this.children.size)}`;
    const proc = spawn(process.execPath, [v8Threads, ...args], { env, stdio: ['ignore', errFd, errFd, 'ipc'] });
    closeSync(errFd);
    child.process = proc;
    child.state = 'starting';
    child.expectedExit = false;
    proc.on('exit', (code, signal) => {
      if (child.process !== proc) return;
      child.state = 'stopped';
      child.process = undefined;
      if (!child.expectedExit) this.options.onExit?.(id, code, signal);
    });
    await this.waitHealthy(child, proc, errFile, errStart);
    child.state = 'running';
  }

  /** SIGKILL, like a crash: nothing is flushed or said goodbye. */
  async kill(id: string): Promise<void> {
    const child = this.children.get(id);
    if (!child) throw new Error(`no node ${id}`);
    const proc = child.process;
    if (!proc || child.state === 'stopped') return;
    child.expectedExit = true;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.stop(id)));
  }

  /** SIGTERM, then SIGKILL if the process has not exited within 5 s. */
  async stop(id: string): Promise<void> {
    const child = this.children.get(id);
    const proc = child?.process;
    if (!child || !proc) return;
    child.expectedExit = true;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }

  /** Synchronous last resort (process 'exit' handlers cannot wait). */
  killAllNow(): void {
    for (const child of this.children.values()) child.process?.kill('SIGKILL');
  }

  private async waitHealthy(child: Child, proc: ChildProcess, errFile: string, errStart: number): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (child.process !== proc || proc.exitCode !== null || proc.signalCode !== null) {
        const said = lastErrorSince(errFile, errStart);
        throw new Error(`node ${child.member.id} exited while starting${said ? `: ${said}` : ''} (see ${errFile})`);
      }
      try {
        const response = await fetch(`http://${child.member.http}/v1/health`, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`node ${child.member.id} did not answer on http://${child.member.http} within ${startTimeoutMs / 1000} s (see ${errFile})`);
  }
}

/**
 * The last error a node reported (a line `quorumkv: ...`) in its stderr file since `offset`; the file
 * is kept across restarts. Empty when it reported none, say after a crash with a stack trace.
 */
function lastErrorSince(file: string, offset: number): string {
  const lines = readFileSync(file).subarray(offset).toString('utf8').split('\n');
  const reported = lines.filter((line) => line.startsWith('quorumkv: ')).at(-1);
  return reported?.slice('quorumkv: '.length) ?? '';
}
