// quorumkv over its HTTP API (/v1/kv/<key>), with keep-alive connection pools. Given several
// addresses (`http://a:5001,b:5002`), requests go round-robin over them, the way a client spreads its
// load over the nodes; given the local cluster's front (http://127.0.0.1:5000), the front spreads them.

import { HttpPools } from './httpPools.js';
import { BenchError, formatAddress, splitAddresses, type BenchTarget, type ReadOutcome, type TargetOptions } from './target.js';

export class HttpTarget implements BenchTarget {
  readonly system = 'quorumkv' as const;
  readonly protocol: 'http' | 'https';
  readonly url: string;
  readonly consistencyLabel: string;
  private readonly pools: HttpPools;
  private readonly query: string;
  private readonly headers: Record<string, string>;
  private readonly putHeaders: Record<string, string>;

  constructor(addresses: readonly { host: string; port: number }[], options: TargetOptions, scheme: 'http' | 'https' = 'http') {
    this.protocol = scheme;
    this.url = `${scheme}://` + addresses.map(formatAddress).join(',');
    this.pools = new HttpPools(addresses, options, scheme);
    this.query = options.consistency ? `?consistency=${options.consistency}` : '';
    this.consistencyLabel = options.consistency ?? 'default';
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.putHeaders = { ...this.headers, 'content-type': 'application/octet-stream' };
  }

  static parse(url: string, options: TargetOptions): HttpTarget {
    const scheme = url.toLowerCase().startsWith('https://') ? 'https' : 'http';
    return new HttpTarget(splitAddresses(url.slice(`${scheme}://`.length), scheme), options, scheme);
  }

  private path(key: string): string {
    return `/v1/kv/${encodeURIComponent(key)}${this.query}`;
  }

  async get(key: string): Promise<ReadOutcome> {
    const { status, body } = await this.pools.send({ method: 'GET', path: this.path(key), headers: this.headers });
    if (status === 200) return 'hit';
    if (status === 404 && body.includes('"NOT_FOUND"')) return 'miss';
    throw httpError(status, body.toString('utf8'));
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const { status, body } = await this.pools.send({ method: 'PUT', path: this.path(key), headers: this.putHeaders, body: value });
    if (status !== 200) throw httpError(status, body.toString('utf8'));
  }

  async remove(key: string): Promise<void> {
    const { status, body } = await this.pools.send({ method: 'DELETE', path: this.path(key), headers: this.headers });
    if (status !== 200) throw httpError(status, body.toString('utf8'));
  }

  async close(): Promise<void> {
    await this.pools.close();
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
