// The integration tests' harness: real local clusters of node processes on free loopback ports in a
// temp directory, a tiny HTTP client with timeouts, a node's whole local listing, polling with a
// deadline, and cleanup that always stops every process and removes the directory, also when a test
// fails. Node processes run the build (dist/bundle/, else dist/src/main.js): run `npm run build` first
// (npm test does).
//
// A failing test's message ends with what the node processes wrote to stderr. Set QUORUMKV_TEST_LOGS=1
// to add the tail of each node's log, QUORUMKV_TEST_KEEP=1 to keep a failed test's data directory
// (node logs are in node-<id>/node.log).

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StartedCluster, StartOptions } from '../../src/cluster/startCluster.js';
import type { Strategy } from '../../src/core/layout.js';
import { freeBasePort } from '../ports.js';

export const host = '127.0.0.1';
/** The project root (where dist/ lives), whatever directory the tests run from. */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const compiledMain = join(projectRoot, 'dist', 'src', 'main.js');

/** Failure detection and request deadlines fast enough for tests that last seconds. */
export const fastSettings: readonly string[] = ['probeIntervalMs=200', 'probeTimeoutMs=80', 'requestTimeoutMs=1000'];
/** How long a node process may take to start (the supervisor gives up after 60 s). */
export const restartTimeoutMs = 65_000;
/** Hints dropped 1 ms after they are kept: a replica that misses a write only gets it by repair. */
export const hintsOff = 'hintWindowMs=1';

export function assertBuilt(): void {
  if (!existsSync(compiledMain)) {
    throw new Error(`${compiledMain} is missing: run \`npm run build\` before the integration tests`);
  }
}

/**
 * startCluster from the compiled tree, so that the supervisor starts its nodes from the build, as
 * `npm start` does (from the sources it would run them through tsx, slower to start and not what
 * users run). Typed by the sources.
 */
async function startCluster(options: StartOptions): Promise<StartedCluster> {
  assertBuilt();
  const url = pathToFileURL(join(projectRoot, 'dist', 'src', 'cluster', 'startCluster.js')).href;
  const compiled = (await import(url)) as typeof import('../../src/cluster/startCluster.js');
  return compiled.startCluster(options);
}

// ---- time ---------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Falsy = false | 0 | '' | null | undefined;

export interface WaitOptions {
  /** Pause between polls. */
  readonly intervalMs?: number;
  /** Says what was awaited, in the error when the deadline passes. */
  readonly what?: string;
}

/**
 * Polls `condition` until it returns a truthy value (returned) or `timeoutMs` passes (throws, naming
 * the last falsy value or error). Errors thrown by `condition` count as "not yet".
 */
export async function waitFor<T>(
  condition: () => Falsy | T | Promise<Falsy | T>,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const intervalMs = options.intervalMs ?? 100;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as T;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

// ---- HTTP ---------------------------------------------------------------------------------------

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  text(): string;
  json<T = any>(): T;
}

export interface HttpOptions {
  readonly body?: string | Uint8Array | object;
  readonly headers?: Record<string, string>;
  readonly token?: string;
  readonly timeoutMs?: number;
}

/**
 * One HTTP request on a fresh connection (no pooled socket survives a killed node), failing after
 * `timeoutMs`. Objects are sent as JSON. Non-2xx statuses are answers, not errors.
 */
export function http(method: string, url: string, options: HttpOptions = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let payload: Buffer | undefined;
  if (typeof options.body === 'string') payload = Buffer.from(options.body);
  else if (options.body instanceof Uint8Array) payload = Buffer.from(options.body);
  else if (options.body !== undefined) {
    payload = Buffer.from(JSON.stringify(options.body));
    headers['content-type'] ??= 'application/json';
  }
  if (payload) headers['content-length'] = String(payload.length);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<HttpResponse>((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')),
        });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} got no answer within ${timeoutMs} ms`)));
    // A server may answer early (a 413 before the body is read) and close: the answer is what counts.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.end(payload);
  });
}

/**
 * Sends only the request line and headers (say, a Content-Length far over a limit) and returns the
 * status the server answers with before any body is sent; then drops the connection.
 */
export function headersOnly(method: string, url: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} did not answer its headers within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.flushHeaders();
  });
}

export const keyPath = (key: string) => `/v1/kv/${encodeURIComponent(key)}`;

export function put(nodeUrl: string, key: string, value: string | Uint8Array, consistency?: string, token?: string) {
  const query = consistency ? `?consistency=${consistency}` : '';
  return http('PUT', `${nodeUrl}${keyPath(key)}${query}`, { body: value, ...(token ? { token } : {}), headers: { 'content-type': 'application/octet-stream' } });
}

export function get(nodeUrl: string, key: string, consistency?: string, token?: string) {
  const query = consistency ? `?consistency=${consistency}` : '';
  return http('GET', `${nodeUrl}${keyPath(key)}${query}`, token ? { token } : {});
}

export function del(nodeUrl: string, key: string, consistency?: string, token?: string) {
  const query = consistency ? `?consistency=${consistency}` : '';
  return http('DELETE', `${nodeUrl}${keyPath(key)}${query}`, token ? { token } : {});
}

/** Throws with the answer's body unless the status is `expected`. */
export function expectStatus(response: HttpResponse, expected: number, what: string): HttpResponse {
  if (response.status !== expected) {
    throw new Error(`${what}: expected HTTP ${expected}, got ${response.status} ${response.text().slice(0, 500)}`);
  }
  return response;
}

export function versionOf(response: HttpResponse): string {
  const version = response.headers['x-quorumkv-version'];
  if (typeof version !== 'string') throw new Error(`no x-quorumkv-version header (HTTP ${response.status})`);
  return version;
}

// ---- what the nodes say -------------------------------------------------------------------------

export interface LocalEntry {
  readonly key: string;
  readonly version: string;
  readonly tombstone: boolean;
}

/** Every entry a node itself stores, paging through GET /v1/admin/local-entries. */
export async function localEntries(nodeUrl: string, token?: string): Promise<LocalEntry[]> {
  const all: LocalEntry[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const query: string = `?limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const response = expectStatus(
      await http('GET', `${nodeUrl}/v1/admin/local-entries${query}`, token ? { token } : {}),
      200,
      `local entries of ${nodeUrl}`,
    );
    const body = response.json<{ entries: LocalEntry[]; next: string | null }>();
    for (const entry of body.entries) all.push({ key: entry.key, version: entry.version, tombstone: entry.tombstone });
    if (body.next === null || body.next === undefined) return all;
    cursor = body.next;
  }
  throw new Error(`local entries of ${nodeUrl} did not end after 10,000 pages`);
}

export async function localEntryMap(nodeUrl: string, token?: string): Promise<Map<string, LocalEntry>> {
  return new Map((await localEntries(nodeUrl, token)).map((e) => [e.key, e]));
}

/** The key's preference list as `nodeUrl` sees it. */
export async function replicasOf(nodeUrl: string, key: string): Promise<string[]> {
  const response = expectStatus(await http('GET', `${nodeUrl}/v1/keys/${encodeURIComponent(key)}/replicas`), 200, `replicas of ${key}`);
  return response.json<{ replicas: string[] }>().replicas;
}

/** Member id -> state (alive, suspect, dead) as `nodeUrl` sees the cluster. */
export async function memberStates(nodeUrl: string, token?: string): Promise<Map<string, string>> {
  const response = expectStatus(await http('GET', `${nodeUrl}/v1/cluster`, { timeoutMs: 2000, ...(token ? { token } : {}) }), 200, `cluster view of ${nodeUrl}`);
  const members = response.json<{ members: { id: string; state: string }[] }>().members;
  return new Map(members.map((m) => [m.id, m.state]));
}

/**
 * Runs one anti-entropy round on the node now, if the node offers POST /v1/admin/anti-entropy.
 * Returns false when the route does not exist (yet).
 */
export async function triggerAntiEntropy(nodeUrl: string, token?: string): Promise<boolean> {
  const response = await http('POST', `${nodeUrl}/v1/admin/anti-entropy`, { timeoutMs: 10_000, ...(token ? { token } : {}) });
  if (response.status === 404) return false;
  expectStatus(response, 200, `anti-entropy on ${nodeUrl}`);
  return true;
}

// ---- clusters -----------------------------------------------------------------------------------

export interface ClusterOptions {
  readonly nodes?: number;
  readonly strategy?: Strategy;
  readonly rf?: number;
  readonly vnodes?: number;
  /** `name=value` node settings; `fastSettings` when not given. */
  readonly settings?: readonly string[];
  readonly token?: string;
  /** Start on this existing data directory (a restart) instead of a new temp one. */
  readonly dataDir?: string;
  /**
   * Wait after the start until every node sees every member alive (default true). Nodes start in
   * parallel, and the first ones up suspect the others for a moment.
   */
  readonly settle?: boolean;
}

export interface TestNode {
  readonly id: string;
  /** The node's own HTTP address, http://127.0.0.1:port. */
  readonly url: string;
}

export class TestCluster {
  private current: StartedCluster | undefined;
  readonly ids: readonly string[];

  constructor(
    started: StartedCluster,
    readonly dataDir: string,
    readonly options: ClusterOptions,
  ) {
    this.current = started;
    this.ids = started.cluster.members.map((m) => m.id);
  }

  get started(): StartedCluster {
    if (!this.current) throw new Error('the cluster is stopped');
    return this.current;
  }

  /** The front (the prototype's single address). */
  get front(): string {
    return this.started.frontUrl;
  }

  get nodes(): TestNode[] {
    return this.started.cluster.members.map((m) => ({ id: m.id, url: `http://${m.http}` }));
  }

  url(id: string): string {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node.url;
  }

  pid(id: string): number | undefined {
    return this.started.supervisor.pid(id);
  }

  /** SIGKILL of the node's process. */
  kill(id: string): Promise<void> {
    return this.started.supervisor.kill(id);
  }

  /** Restarts the node's process on its data directory; resolves when its HTTP API answers. */
  start(id: string): Promise<void> {
    return this.started.supervisor.start(id);
  }

  /** Nodes other than `ids`. */
  others(...ids: string[]): TestNode[] {
    return this.nodes.filter((n) => !ids.includes(n.id));
  }

  /** Waits until every node in `observers` sees `id` in `state`. */
  async waitForState(id: string, state: string, timeoutMs: number, observers: TestNode[] = this.others(id)): Promise<void> {
    await waitFor(
      async () => {
        const views = await Promise.all(observers.map((o) => memberStates(o.url, this.options.token)));
        return views.every((view) => view.get(id) === state);
      },
      timeoutMs,
      { what: `node ${id} to be ${state} in the view of ${observers.map((o) => o.id).join(', ')}`, intervalMs: 50 },
    );
  }

  /** Waits until every running node sees every member alive. */
  async waitForAllAlive(timeoutMs = 10_000): Promise<void> {
    await waitFor(
      async () => {
        const running = new Set(this.started.supervisor.runningIds());
        const observers = this.nodes.filter((n) => running.has(n.id));
        const views = await Promise.all(observers.map((o) => memberStates(o.url, this.options.token)));
        return views.every((view) => this.ids.every((id) => view.get(id) === 'alive'));
      },
      timeoutMs,
      { what: 'every node to see every member alive', intervalMs: 50 },
    );
  }

  /** Hints kept on `nodes` (default: all) for anyone, per their /v1/cluster. */
  async hintsPending(nodes: TestNode[] = this.nodes): Promise<number> {
    let total = 0;
    for (const node of nodes) {
      const view = expectStatus(await http('GET', `${node.url}/v1/cluster`, this.options.token ? { token: this.options.token } : {}), 200, 'cluster view').json();
      for (const count of Object.values(view.hintsPending as Record<string, number>)) total += count;
    }
    return total;
  }

  /** Runs an anti-entropy round on every running node; false when the route does not exist. */
  async antiEntropyEverywhere(): Promise<boolean> {
    const running = new Set(this.started.supervisor.runningIds());
    let offered = true;
    for (const node of this.nodes.filter((n) => running.has(n.id))) {
      offered = (await triggerAntiEntropy(node.url, this.options.token)) && offered;
    }
    return offered;
  }

  /** Stops every process (idempotent). The data directory stays until `cleanup`. */
  async stop(): Promise<void> {
    const started = this.current;
    this.current = undefined;
    if (started) await started.stop();
  }

  /** stop(), then a new local cluster on the same data directory (same members and ports). */
  async restart(): Promise<void> {
    await this.stop();
    this.current = await startCluster(startOptions(this.options, this.dataDir));
    if (this.options.settle ?? true) await this.waitForAllAlive();
  }

  /** What the node processes wrote to stderr (crashes, startup errors), for a failing test's message. */
  stderrTail(lines = 20): string {
    return stderrTail(this.dataDir, lines);
  }

  /** Tail of every node's log, for a failing test's message. */
  logTail(lines = 30): string {
    const parts: string[] = [];
    for (const node of this.ids) {
      for (const file of [join(this.dataDir, `node-${node}`, 'node.log'), join(this.dataDir, `node-${node}.stderr`)]) {
        if (!existsSync(file)) continue;
        const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
        if (text) parts.push(`--- ${file}\n${text}`);
      }
    }
    return parts.join('\n');
  }
}

/** The last lines of every node-<id>.stderr under `dataDir` that is not empty. */
export function stderrTail(dataDir: string, lines = 20): string {
  const parts: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(dataDir).filter((name) => /^node-.*\.stderr$/.test(name)).sort();
  } catch {
    return '';
  }
  for (const name of files) {
    const text = readFileSync(join(dataDir, name), 'utf8').trimEnd();
    if (text) parts.push(`--- ${name}\n${text.split('\n').slice(-lines).join('\n')}`);
  }
  return parts.join('\n');
}

function startOptions(options: ClusterOptions, dataDir: string, port = 0): StartOptions {
  return {
    nodes: options.nodes ?? 3,
    strategy: options.strategy ?? ('consistent' as Strategy),
    rf: options.rf ?? Math.min(3, options.nodes ?? 3),
    vnodes: options.vnodes ?? 64,
    port,
    host,
    data: dataDir,
    fsync: 'commit' as const,
    settings: options.settings ?? fastSettings,
    quiet: true,
    ...(options.token !== undefined ? { token: options.token } : {}),
  };
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'quorumkv-it-'));
}

/** A start that failed because a port was taken between the check and the bind: worth a retry. */
function portTaken(error: unknown): boolean {
  const text = `${(error as NodeJS.ErrnoException)?.code ?? ''} ${(error as Error)?.message ?? ''}`;
  return /EADDRINUSE|exited while starting/.test(text);
}

/** Starts a local cluster on free ports in a new temp directory (retrying if a port was taken). */
export async function startTestCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  assertBuilt();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0 && !portTaken(lastError)) break;
    const dataDir = options.dataDir ?? tempDataDir();
    const port = await freeBasePort(options.nodes ?? 3);
    try {
      const started = await startCluster(startOptions(options, dataDir, port));
      const cluster = new TestCluster(started, dataDir, options);
      if (options.settle ?? true) {
        try {
          await cluster.waitForAllAlive();
        } catch (error) {
          await cluster.stop();
          throw error;
        }
      }
      return cluster;
    } catch (error) {
      lastError = error;
      const crashed = stderrTail(dataDir);
      if (crashed && error instanceof Error) error.message += `\n${crashed}`;
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

/**
 * Adds to a failed test's error the nodes' stderr, and with QUORUMKV_TEST_LOGS=1 the tail of their
 * logs: what a node said before a check failed is usually why.
 */
export function addNodeOutput(error: unknown, cluster: { stderrTail(): string; logTail(): string }): void {
  if (!(error instanceof Error)) return;
  const said = cluster.stderrTail();
  if (said) error.message += `\n${said}`;
  if (process.env.QUORUMKV_TEST_LOGS === '1') error.message += `\n${cluster.logTail()}`;
}

/**
 * Runs `body` against a fresh cluster, then always stops it and removes its directory. A failure's
 * message gets the tail of the nodes' logs.
 */
export async function withCluster(options: ClusterOptions, body: (cluster: TestCluster) => Promise<void>): Promise<void> {
  const cluster = await startTestCluster(options);
  let failed = false;
  try {
    await body(cluster);
  } catch (error) {
    failed = true;
    addNodeOutput(error, cluster);
    throw error;
  } finally {
    await cluster.stop().catch(() => undefined);
    if (failed && process.env.QUORUMKV_TEST_KEEP === '1') {
      process.stderr.write(`kept the failed test's cluster data in ${cluster.dataDir}\n`);
    } else {
      rmSync(cluster.dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * One cluster shared by the tests of a `describe` block: started before the first, stopped (and its
 * directory removed) after the last, also when one fails. Call inside `describe`.
 */
export function sharedCluster(options: ClusterOptions): () => TestCluster {
  let cluster: TestCluster | undefined;
  before(async () => {
    cluster = await startTestCluster(options);
  });
  after(async () => {
    if (!cluster) return;
    await cluster.stop().catch(() => undefined);
    rmSync(cluster.dataDir, { recursive: true, force: true });
  });
  return () => {
    if (!cluster) throw new Error('the shared cluster did not start');
    return cluster;
  };
}

// ---- processes ----------------------------------------------------------------------------------

/** Whether `pid` still runs (a zombie waiting to be reaped counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
