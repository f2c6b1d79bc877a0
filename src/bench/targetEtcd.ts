// An etcd cluster through its v3 JSON gateway on the client port (POST /v3/kv/put, /v3/kv/range,
// /v3/kv/deleterange, keys and values in base64). Requests go round-robin over the given members, as
// etcd's own client balancer does; a member that is not the leader forwards writes to it.
//
// Consistency: `one` asks for a serializable range (answered by the member from its local state,
// possibly stale, like quorumkv at `one`); `quorum` and `all` (and no level) ask for etcd's default,
// a linearizable range (confirmed with the leader through a quorum).

import { Pool } from 'undici';
import { BenchError, formatAddress, splitAddresses, type BenchTarget, type ReadOutcome, type TargetOptions } from './target.js';

export class EtcdTarget implements BenchTarget {
  readonly system = 'etcd' as const;
  readonly protocol = 'etcd';
  readonly url: string;
  readonly consistencyLabel: string;
  private readonly pools: Pool[];
  private readonly serializable: boolean;
  private cursor = 0;
  private lastValue: Uint8Array | undefined;
  private lastValueBase64 = '';

  constructor(addresses: readonly { host: string; port: number }[], options: TargetOptions) {
    this.url = 'etcd://' + addresses.map(formatAddress).join(',');
    this.serializable = options.consistency === 'one';
    this.consistencyLabel = this.serializable ? 'serializable' : 'linearizable';
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
  }

  static parse(url: string, options: TargetOptions): EtcdTarget {
    return new EtcdTarget(splitAddresses(url.slice('etcd://'.length), 'etcd'), options);
  }

  private async call(path: string, body: Record<string, unknown>): Promise<string> {
    const pool = this.pools[this.cursor % this.pools.length] as Pool;
    this.cursor = (this.cursor + 1) % this.pools.length;
    const response = await pool.request({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw etcdError(response.statusCode, text);
    return text;
  }

  async get(key: string): Promise<ReadOutcome> {
    const body: Record<string, unknown> = { key: base64(key) };
    if (this.serializable) body.serializable = true;
    const text = await this.call('/v3/kv/range', body);
    return text.includes('"kvs"') ? 'hit' : 'miss';
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    if (value !== this.lastValue) {
      this.lastValue = value;
      this.lastValueBase64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    }
    await this.call('/v3/kv/put', { key: base64(key), value: this.lastValueBase64 });
  }

  async remove(key: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: base64(key) });
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()));
  }
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** `HTTP 503 grpc 14`: the status and the gRPC code of the gateway's error body. */
function etcdError(status: number, body: string): BenchError {
  let code: number | undefined;
  let message = body;
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown; error?: unknown };
    if (typeof parsed.code === 'number') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
    else if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON
  }
  return new BenchError(code !== undefined ? `HTTP ${status} grpc ${code}` : `HTTP ${status}`, message);
}
