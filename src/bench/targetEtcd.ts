// An etcd cluster through its v3 JSON gateway on the client port (POST /v3/kv/put, /v3/kv/range,
// /v3/kv/deleterange, keys and values in base64). Requests go round-robin over the given members, as
// etcd's own client balancer does; a member that is not the leader forwards writes to it.
//
// Consistency: `one` asks for a serializable range (answered by the member from its local state,
// possibly stale, like quorumkv at `one`); `quorum` and `all` (and no level) ask for etcd's default,
// a linearizable range (confirmed with the leader through a quorum).

import { HttpPools } from './httpPools.js';
import { BenchError, formatAddress, splitAddresses, type BenchTarget, type ReadOutcome, type TargetOptions } from './target.js';

export class EtcdTarget implements BenchTarget {
  readonly system = 'etcd' as const;
  readonly protocol = 'etcd';
  readonly url: string;
  readonly consistencyLabel: string;
  private readonly pools: HttpPools;
  private readonly serializable: boolean;
  private lastValue: Uint8Array | undefined;
  private lastValueBase64 = '';

  constructor(addresses: readonly { host: string; port: number }[], options: TargetOptions) {
    this.url = 'etcd://' + addresses.map(formatAddress).join(',');
    this.serializable = options.consistency === 'one';
    this.consistencyLabel = this.serializable ? 'serializable' : 'linearizable';
    this.pools = new HttpPools(addresses, options);
  }

  static parse(url: string, options: TargetOptions): EtcdTarget {
    return new EtcdTarget(splitAddresses(url.slice('etcd://'.length), 'etcd'), options);
  }

  private async call(path: string, request: Record<string, unknown>): Promise<Buffer> {
    const { status, body } = await this.pools.send({ method: 'POST', path, headers: jsonHeaders, body: JSON.stringify(request) });
    if (status !== 200) throw etcdError(status, body.toString('utf8'));
    return body;
  }

  async get(key: string): Promise<ReadOutcome> {
    const body: Record<string, unknown> = { key: base64(key) };
    if (this.serializable) body.serializable = true;
    const answer = await this.call('/v3/kv/range', body);
    return answer.includes('"kvs"') ? 'hit' : 'miss';
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
    await this.pools.close();
  }
}

const jsonHeaders = { 'content-type': 'application/json' };

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
