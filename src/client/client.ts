// The typed client: keys (get/put/delete/create/batch/list), the cluster view, and `admin` for the
// operator's actions. Every call takes an AbortSignal and a deadline; failover is the transport's.

import { AdminApi } from './admin.js';
import { runBatch } from './batch.js';
import { errorFromResponse, parseJsonObject, QuorumKvError } from './errors.js';
import { connectionsPerNodeDefault, memberUrl, NodeSet } from './nodes.js';
import { Transport, unlessAborted, type Method, type RawResponse, type RequestSpec } from './transport.js';
import {
  consistencyLevels,
  type BatchOp,
  type Consistency,
  type BatchResult,
  type ClusterView,
  type ConnectOptions,
  type DeleteResult,
  type GetResult,
  type ListOptions,
  type ListPage,
  type NodeStatus,
  type PrototypeRead,
  type ReplicasView,
  type RequestOptions,
  type PutOptions,
  type WriteOptions,
  type WriteCondition,
  type WriteResult,
} from './types.js';

export const timeoutMsDefault = 10_000;
/** The server accepts ?timeout= up to this (src/api/params.ts). */
const serverTimeoutMsMax = 60_000;
export const versionHeader = 'x-quorumkv-version';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export class QuorumKvClient {
  readonly admin: AdminApi;
  private readonly transport: Transport;
  private readonly timeoutMs: number;
  private readonly consistency: ConnectOptions['consistency'];
  private readonly discover: boolean;
  private discovered: Promise<void> | undefined;

  constructor(options: ConnectOptions) {
    const urls = [...(options.urls ?? []), ...(options.url !== undefined ? [options.url] : [])];
    this.timeoutMs = positiveMs(options.timeoutMs, timeoutMsDefault, 'timeoutMs');
    this.consistency = checkConsistency(options.consistency);
    this.discover = options.discover ?? false;
    const nodes = new NodeSet(urls, {
      connectionsPerNode: options.connectionsPerNode ?? connectionsPerNodeDefault,
      connectTimeoutMs: Math.min(this.timeoutMs, 5_000),
      ca: options.ca,
    });
    this.transport = new Transport(nodes, options.token);
    this.admin = new AdminApi(this);
  }

  /** The node URLs requests go to now (given, plus discovered ones). */
  nodeUrls(): string[] {
    return this.transport.nodes.urls();
  }

  /** The value and version of `key`, or null when it is absent (never stored, or deleted). */
  async get(key: string, options: RequestOptions = {}): Promise<GetResult | null> {
    const response = await this.send({ method: 'GET', path: kvPath(key, this.query(options)), retry: 'always' }, options);
    if (response.status === 404) {
      const error = errorFromResponse(response.status, response.body, response.node);
      if (error.code === 'NOT_FOUND') return null;
      throw error;
    }
    if (response.status !== 200) throw errorFromResponse(response.status, response.body, response.node);
    const version = header(response, versionHeader);
    if (version === undefined) throw badResponse(response, `no ${versionHeader} header`);
    const expires = header(response, 'x-quorumkv-expires-at');
    return getResult(key, response.body, version, Number(header(response, 'x-quorumkv-replicas-answered') ?? 0), expires === undefined ? null : Number(expires));
  }

  /** The value of `key` as UTF-8 text, or null when absent. */
  async getText(key: string, options: RequestOptions = {}): Promise<string | null> {
    return (await this.get(key, options))?.text() ?? null;
  }

  /**
   * Writes `value` (a string is stored as UTF-8). When a node fails mid-request the write is sent to
   * the next node; if the first had in fact applied it, the second stores the same value again with a
   * newer version, which last-writer-wins makes harmless.
   */
  async put(key: string, value: string | Uint8Array, options: PutOptions = {}): Promise<WriteResult> {
    const body = valueBytes(value);
    const query = this.query(options, true, ttlSecondsOf(options.ttlMs));
    const json = await this.json({ method: 'PUT', path: kvPath(key, query), body, retry: 'always' }, options);
    return writeResult(key, json);
  }

  /** Deletes `key` (writes a tombstone); succeeds whether or not the key was present. */
  async delete(key: string, options: WriteOptions = {}): Promise<DeleteResult> {
    const json = await this.json({ method: 'DELETE', path: kvPath(key, this.query(options, true)), retry: 'always' }, options);
    return { ...writeResult(key, json), deleted: true };
  }

  /**
   * Writes `value` only if `condition` holds (compare-and-set, create-only): atomic, through a
   * consensus round on a majority of the key's replicas. Answers the write's result, or null when the
   * condition did not hold. Never sent again to another node once it may have arrived: a retry could
   * find its own write and answer null.
   */
  async putIf(key: string, value: string | Uint8Array, condition: WriteCondition, options: RequestOptions & { readonly ttlMs?: number } = {}): Promise<WriteResult | null> {
    const path = kvPath(key, this.query(options, false, ttlSecondsOf(options.ttlMs), false));
    return this.conditional({ method: 'PUT', path, body: valueBytes(value), headers: conditionHeaders(condition), retry: 'unsent', affinity: key }, key, options);
  }

  /** Deletes `key` only if `condition` holds; null when it did not (see putIf). */
  async deleteIf(key: string, condition: WriteCondition, options: RequestOptions = {}): Promise<DeleteResult | null> {
    const path = kvPath(key, this.query(options, false, undefined, false));
    const result = await this.conditional({ method: 'DELETE', path, headers: conditionHeaders(condition), retry: 'unsent', affinity: key }, key, options);
    return result === null ? null : { ...result, deleted: true };
  }

  private async conditional(spec: RequestSpec, key: string, options: RequestOptions): Promise<WriteResult | null> {
    const response = await this.send(spec, options);
    if (response.status === 412) return null;
    return writeResult(key, this.parse(response));
  }

  /**
   * The prototype's create-only write (POST /write): fails with EXISTS when the key is present. Of two
   * racing creates of one key one wins, while a majority of its replicas is up (docs/api.md). Never
   * retried on another node once it may have been sent, so a success is never reported as EXISTS.
   */
  async create(key: string, value: string, options: RequestOptions = {}): Promise<{ message: string }> {
    if (typeof value !== 'string' || value === '') throw new QuorumKvError('BAD_REQUEST', 'value must be a non-empty string', undefined);
    const body = textEncoder.encode(JSON.stringify({ key, value }));
    const path = `/write${this.query(options)}`;
    const json = await this.json({ method: 'POST', path, body, contentType: 'application/json', retry: 'unsent', affinity: key }, options);
    return { message: String(json.message) };
  }

  /** The prototype's read (GET /read/<key>): the newest value among the replicas that answer at `one`. */
  async read(key: string, options: RequestOptions = {}): Promise<PrototypeRead | null> {
    const response = await this.send({ method: 'GET', path: `/read/${encodeKey(key)}${this.query(options)}`, retry: 'always' }, options);
    if (response.status === 404 && errorFromResponse(404, response.body, response.node).code === 'NOT_FOUND') return null;
    const json = this.parse(response);
    return { key: String(json.key), value: String(json.value), message: String(json.message), version: String(json.version) };
  }

  /**
   * The prototype's delete (DELETE /delete/<key>): true when the key was there and is now deleted,
   * false when it was absent. Not retried once it may have been sent (a retry would answer "absent").
   */
  async deleteExisting(key: string, options: RequestOptions = {}): Promise<boolean> {
    if (key === '') throw new QuorumKvError('BAD_REQUEST', 'key must be a non-empty string', undefined);
    const path = `/delete/${encodeKey(key)}${this.query(options)}`;
    const response = await this.send({ method: 'DELETE', path, retry: 'unsent' }, options);
    if (response.status === 404 && errorFromResponse(404, response.body, response.node).code === 'NOT_FOUND') return false;
    this.parse(response);
    return true;
  }

  /** Several operations in one call; not atomic: each op succeeds or fails on its own (see BatchResult). */
  async batch(ops: readonly BatchOp[], options: RequestOptions = {}): Promise<BatchResult[]> {
    return runBatch(this, ops, options);
  }

  /**
   * One page of live keys across the cluster, in key order (GET /v1/keys). It lists what the
   * replicas hold; it is not a quorum read.
   */
  async list(options: ListOptions = {}): Promise<ListPage> {
    const params = new URLSearchParams();
    if (options.prefix) params.set('prefix', options.prefix);
    if (options.match) params.set('match', options.match);
    if (options.cursor) params.set('cursor', options.cursor);
    if (options.limit !== undefined) params.set('limit', String(options.limit));
    const query = params.size > 0 ? `?${params}` : '';
    const json = await this.json({ method: 'GET', path: `/v1/keys${query}`, retry: 'always' }, options);
    if (!Array.isArray(json.keys)) throw new QuorumKvError('BAD_RESPONSE', 'GET /v1/keys answered no keys array', 200);
    const next = json.next;
    return { keys: json.keys.map(String), cursor: typeof next === 'string' && next !== '' ? next : null };
  }

  /** Every key (with the prefix), page after page. */
  async *keys(options: Omit<ListOptions, 'cursor'> = {}): AsyncGenerator<string> {
    let cursor: string | null = null;
    do {
      const page: ListPage = await this.list({ ...options, cursor });
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== null);
  }

  /** Members, their state, strategy and replication factor, as the answering node sees them. */
  async cluster(options: RequestOptions = {}): Promise<ClusterView> {
    return (await this.json({ method: 'GET', path: '/v1/cluster', retry: 'always' }, options)) as unknown as ClusterView;
  }

  /** The replicas that hold `key` (the preference list). */
  async replicas(key: string, options: RequestOptions = {}): Promise<ReplicasView> {
    const path = `/v1/keys/${encodeKey(key)}/replicas`;
    return (await this.json({ method: 'GET', path, retry: 'always' }, options)) as unknown as ReplicasView;
  }

  /** GET /v1/status of the answering node, or of the node at `nodeUrl`. */
  async status(options: RequestOptions & { nodeUrl?: string } = {}): Promise<NodeStatus> {
    return (await this.json({ method: 'GET', path: '/v1/status', retry: 'always', target: options.nodeUrl }, options)) as unknown as NodeStatus;
  }

  /** Closes every connection; calls after this fail with CLOSED. */
  async close(): Promise<void> {
    await this.transport.nodes.close();
  }

  // ---- plumbing shared with admin.ts and batch.ts ------------------------------------------------

  /** Sends with failover and the client's defaults, discovering the cluster's nodes first if asked. */
  async send(spec: RequestSpec, options: RequestOptions = {}): Promise<RawResponse> {
    // The discovery is shared by the calls that wait for it; each still answers to its own signal.
    if (this.discover && spec.target === undefined) await unlessAborted(this.discoverOnce(options.signal), options.signal);
    const timeoutMs = positiveMs(options.timeoutMs, this.timeoutMs, 'timeoutMs');
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new QuorumKvError('BAD_REQUEST', 'signal must be an AbortSignal', undefined);
    }
    try {
      return await this.transport.send(spec, { timeoutMs, signal: options.signal });
    } catch (error) {
      // A node list gone stale (a node replaced, the cluster grown) shows as unreachable nodes.
      if (this.discover && error instanceof QuorumKvError && error.code === 'UNREACHABLE') this.discovered = undefined;
      throw error;
    }
  }

  /** Sends and parses a JSON object answer; any non-2xx answer becomes its QuorumKvError. */
  async json(spec: RequestSpec, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    return this.parse(await this.send(spec, options));
  }

  parse(response: RawResponse): Record<string, unknown> {
    if (response.status < 200 || response.status > 299) throw errorFromResponse(response.status, response.body, response.node);
    const json = parseJsonObject(response.body);
    if (!json) throw badResponse(response, 'the body is not a JSON object');
    return json;
  }

  /** `?consistency=&timeout=&sloppy=` from the call's options and the client's defaults. */
  /** `withLevel` false: a conditional write's query, whose level is a consensus round's (none is sent). */
  query(options: WriteOptions, write = false, ttlSeconds?: string, withLevel = true): string {
    const params = new URLSearchParams();
    if (ttlSeconds !== undefined) params.set('ttl', ttlSeconds);
    const consistency = withLevel ? this.levelFor(options) : undefined;
    if (consistency) params.set('consistency', consistency);
    const timeout = this.serverTimeoutFor(options);
    if (timeout !== undefined) params.set('timeout', String(timeout));
    if (write && options.sloppy !== undefined) params.set('sloppy', String(options.sloppy));
    return params.size > 0 ? `?${params}` : '';
  }

  levelFor(options: RequestOptions): Consistency | undefined {
    return checkConsistency(options.consistency) ?? this.consistency;
  }

  /**
   * The coordinator's deadline for a call with its own timeoutMs: a little under ours, so that its
   * UNAVAILABLE (which says how many replicas answered) arrives before we give up with a bare TIMEOUT.
   */
  serverTimeoutFor(options: RequestOptions): number | undefined {
    if (options.timeoutMs === undefined) return undefined;
    return Math.min(serverTimeoutMsMax, Math.max(1, Math.floor(positiveMs(options.timeoutMs, this.timeoutMs, 'timeoutMs') * 0.9)));
  }

  private discoverOnce(signal: AbortSignal | undefined): Promise<void> {
    this.discovered ??= (async () => {
      try {
        const view = (await this.transport.send({ method: 'GET', path: '/v1/cluster', retry: 'always' }, { timeoutMs: this.timeoutMs, signal })) as RawResponse;
        const cluster = this.parse(view) as unknown as ClusterView;
        const answeredBy = new URL(view.node);
        this.transport.nodes.replaceDiscovered(cluster.members.map((m) => memberUrl(m.http, answeredBy)));
      } catch {
        // Discovery is an optimisation: the given URLs still work; try again on the next failure.
        this.discovered = undefined;
      }
    })();
    return this.discovered;
  }
}

export function kvPath(key: string, query: string): string {
  return `/v1/kv/${encodeKey(key)}${query}`;
}

/**
 * A value as bytes (a string as UTF-8). Anything else is a BAD_REQUEST: from JavaScript, null was
 * written as an empty value, and a number failed inside undici as UNREACHABLE, every node marked down.
 */
function valueBytes(value: unknown): Uint8Array {
  if (typeof value === 'string') return textEncoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new QuorumKvError('BAD_REQUEST', `value must be a string or a Uint8Array, got ${value === null ? 'null' : typeof value}`, undefined);
}

/** A key as a path segment; a key that is not text (a lone UTF-16 surrogate) is a BAD_REQUEST. */
export function encodeKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new QuorumKvError('BAD_REQUEST', 'key must be a non-empty string', undefined);
  try {
    return encodeURIComponent(key);
  } catch {
    throw new QuorumKvError('BAD_REQUEST', 'key must be valid UTF-8 text (it holds a lone UTF-16 surrogate)', undefined);
  }
}

export function getResult(key: string, value: Uint8Array, version: string, replicasAnswered: number, expiresAtMs: number | null): GetResult {
  return { key, value, version, replicasAnswered, expiresAtMs, text: () => textDecoder.decode(value) };
}

/** A put's ttlMs as the route's `ttl` (seconds); a bad one is refused here, before anything is sent. */
export function ttlSecondsOf(ttlMs: number | undefined): string | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new QuorumKvError('BAD_REQUEST', `ttlMs must be a positive whole number of milliseconds, got ${ttlMs}`, undefined);
  }
  return String(ttlMs / 1000);
}

function writeResult(key: string, json: Record<string, unknown>): WriteResult {
  return {
    key,
    version: String(json.version),
    replicasAcked: Number(json.replicasAcked ?? 0),
    hintsAcked: Number(json.hintsAcked ?? 0),
  };
}

function conditionHeaders(condition: WriteCondition): Record<string, string> {
  if ('ifAbsent' in condition && condition.ifAbsent === true) return { 'if-none-match': '*' };
  if ('ifPresent' in condition && condition.ifPresent === true) return { 'if-match': '*' };
  if ('ifVersion' in condition && typeof condition.ifVersion === 'string' && condition.ifVersion !== '') return { 'if-match': `"${condition.ifVersion}"` };
  throw new QuorumKvError('BAD_REQUEST', 'a write condition is { ifAbsent: true }, { ifPresent: true } or { ifVersion: "<version>" }', undefined);
}

function header(response: RawResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function badResponse(response: RawResponse, why: string): QuorumKvError {
  return new QuorumKvError('BAD_RESPONSE', `unexpected answer from ${response.node}: ${why}`, response.status, { node: response.node });
}

/** The longest delay a timer can wait (2^31 - 1 ms, about 24.8 days); beyond it Node fires at once. */
const timerMsMax = 2 ** 31 - 1;

function positiveMs(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || value > timerMsMax) {
    throw new QuorumKvError('BAD_REQUEST', `${name} must be a positive number of ms, at most ${timerMsMax}`, undefined);
  }
  return value;
}

function checkConsistency(value: string | undefined): ConnectOptions['consistency'] {
  if (value === undefined) return undefined;
  if (!(consistencyLevels as readonly string[]).includes(value)) {
    throw new QuorumKvError('BAD_REQUEST', `consistency must be one, quorum or all, got "${value}"`, undefined);
  }
  return value as ConnectOptions['consistency'];
}

export type { Method };
