// quorumkv over its HTTP API (/v1/kv/<key>), with keep-alive connection pools. Given several
// addresses (`http://a:5001,b:5002`), requests go round-robin over them, the way a client spreads its
// load over the nodes; given the local cluster's front (http://127.0.0.1:5000), the front spreads them.

import { Pool } from 'undici';
import { BenchError, formatAddress, splitAddresses, type BenchTarget, type ReadOutcome, type TargetOptions } from './target.js';

export class HttpTarget implements BenchTarget {
  readonly system = 'quorumkv' as const;
  readonly protocol = 'http';
  readonly url: string;
  readonly consistencyLabel: string;
  private readonly pools: Pool[];
  private readonly query: string;
  private readonly headers: Record<string, string>;
  private readonly putHeaders: Record<string, string>;
  private cursor = 0;

  constructor(
    addresses: readonly { host: string; port: number }[],
    private readonly options: TargetOptions,
  ) {
    this.url = 'http://' + addresses.map(formatAddress).join(',');
    this.pools = addresses.map(
      (address) =>
        new Pool(`http://${formatAddress(address)}`, {
          connections: options.clients,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        }),
    );
    this.query = options.consistency ? `?consistency=${options.consistency}` : '';
    this.consistencyLabel = options.consistency ?? 'default';
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.putHeaders = { ...this.headers, 'content-type': 'application/octet-stream' };
  }

  static parse(url: string, options: TargetOptions): HttpTarget {
    return new HttpTarget(splitAddresses(url.slice('http://'.length), 'http'), options);
  }

  private pool(): Pool {
    const pool = this.pools[this.cursor % this.pools.length] as Pool;
    this.cursor = (this.cursor + 1) % this.pools.length;
    return pool;
  }

  private path(key: string): string {
    return `/v1/kv/${encodeURIComponent(key)}${this.query}`;
  }

  async get(key: string): Promise<ReadOutcome> {
    const response = await this.pool().request({ method: 'GET', path: this.path(key), headers: this.headers });
    if (response.statusCode === 200) {
      await response.body.arrayBuffer();
      return 'hit';
    }
    const text = await response.body.text();
    if (response.statusCode === 404 && text.includes('"NOT_FOUND"')) return 'miss';
    throw httpError(response.statusCode, text);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const response = await this.pool().request({ method: 'PUT', path: this.path(key), headers: this.putHeaders, body: value });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw httpError(response.statusCode, text);
  }

  async remove(key: string): Promise<void> {
    const response = await this.pool().request({ method: 'DELETE', path: this.path(key), headers: this.headers });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw httpError(response.statusCode, text);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()));
  }
}

/** `HTTP 503 UNAVAILABLE`: the status and the stable error code of quorumkv's error body. */
export function httpError(status: number, body: string): BenchError {
  let code = '';
  let message = body;
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON
  }
  return new BenchError(code ? `HTTP ${status} ${code}` : `HTTP ${status}`, message);
}
