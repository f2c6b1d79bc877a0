// The HTTP side of the benchmark targets that speak HTTP (quorumkv's API, etcd's JSON gateway): a
// keep-alive pool per address, requests round-robin over them, each answered with its status and body.
//
// Requests go through undici's `dispatch` with a handler of our own rather than `request`, which wraps
// every response body in a stream. The client shares the machine's cores with the systems it
// measures. In a bare loop against node:http, `request` cost the client 25-28 µs a request and
// `dispatch` 18-21 µs. The handler has undici's classic shape (onConnect, onHeaders, onData, ...),
// which its types mark deprecated: in 7.30, a pool's `dispatch` still refuses the newer one
// (onResponseStart and the rest); an upgrade that changes this fails the bench smoke tests.

import { Pool, type Dispatcher } from 'undici';
import { formatAddress, type TargetOptions } from './target.js';

export interface HttpAnswer {
  readonly status: number;
  /** The response body, undecoded: most answers are only checked for their status. */
  readonly body: Buffer;
}

export type HttpCall = Pick<Dispatcher.DispatchOptions, 'method' | 'path' | 'headers' | 'body'>;

export class HttpPools {
  private readonly pools: Pool[];
  private cursor = 0;

  /** `scheme` https: nodes started with --tls-cert, their CA trusted through NODE_EXTRA_CA_CERTS. */
  constructor(addresses: readonly { host: string; port: number }[], options: TargetOptions, scheme: 'http' | 'https' = 'http') {
    this.pools = addresses.map(
      (address) =>
        new Pool(`${scheme}://${formatAddress(address)}`, {
          connections: options.clients,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        }),
    );
  }

  /** Sends `call` to the next address in turn; resolves once the whole response body is in. */
  send(call: HttpCall): Promise<HttpAnswer> {
    const pool = this.pools[this.cursor] as Pool;
    this.cursor = (this.cursor + 1) % this.pools.length;
    return new Promise((resolve, reject) => {
      let status = 0;
      const chunks: Buffer[] = [];
      pool.dispatch(call, {
        onConnect: () => undefined,
        onHeaders: (statusCode) => {
          status = statusCode;
          return true;
        },
        onData: (chunk) => {
          chunks.push(chunk);
          return true;
        },
        onComplete: () => {
          resolve({ status, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
        },
        onError: reject,
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()));
  }
}
