// TLS for a node (DESIGN.md §7, "optional TLS for clients and peers"). One certificate and key per
// node, and the certificate authority that signed the members' certificates:
// - clients reach the HTTP API and the Redis protocol over TLS (they authenticate with tokens, not
//   certificates);
// - peer connections are mutual TLS: each side presents its certificate and checks the other's
//   against the CA, and the dialling side checks that the certificate names the member's peer
//   address. The cluster secret's HMAC handshake still runs inside (transport/handshake.ts);
// - a node's own HTTP requests to members (a join, a scan of every member's keys, fail and recover
//   passed on) go over https and trust the same CA.
// The local cluster of `quorumkv start` listens on loopback and does not use it.

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Agent } from 'undici';

/** PEM contents, read once at start. */
export interface NodeTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

export interface TlsFileOptions {
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsCa?: string | undefined;
}

/**
 * Reads `--tls-cert`, `--tls-key` and `--tls-ca` (all three, or none: TLS off). Throws a message that
 * names the flag and the file for a missing partner, an unreadable file, or PEM that TLS cannot use
 * (a key that does not match the certificate included).
 */
export function loadNodeTls(options: TlsFileOptions): NodeTls | undefined {
  const given = { '--tls-cert': options.tlsCert, '--tls-key': options.tlsKey, '--tls-ca': options.tlsCa };
  const present = Object.entries(given).filter(([, path]) => path !== undefined && path !== '');
  if (present.length === 0) return undefined;
  if (present.length < 3) {
    const missing = Object.entries(given).filter(([, path]) => path === undefined || path === '').map(([flag]) => flag);
    throw new Error(`TLS needs --tls-cert, --tls-key and --tls-ca together: ${missing.join(' and ')} missing`);
  }
  const read = (flag: keyof typeof given): Buffer => {
    const path = given[flag] as string;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const tls = { cert: read('--tls-cert'), key: read('--tls-key'), ca: read('--tls-ca') };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new Error(`--tls-cert ${given['--tls-cert']}, --tls-key ${given['--tls-key']}, --tls-ca ${given['--tls-ca']}: ${(error as Error).message}`);
  }
  return tls;
}

/**
 * How a node sends HTTP requests to members: https with the cluster's CA under TLS, else http.
 * Plain http goes through Node's own fetch; under TLS, undici's, with an agent that trusts the CA.
 * undici is loaded only then: importing it costs a node about 0.1 s of its start.
 */
export class MemberHttp {
  private tlsClient: Promise<{ fetch: typeof fetch; agent: Agent }> | undefined;

  constructor(private readonly tls: NodeTls | undefined) {}

  get scheme(): 'http' | 'https' {
    return this.tls ? 'https' : 'http';
  }

  /** `address` is a member's `host:port`; `path` starts with a slash. */
  url(address: string, path: string): string {
    return `${this.scheme}://${address}${path}`;
  }

  async fetch(address: string, path: string, init: RequestInit = {}): Promise<Response> {
    const url = this.url(address, path);
    const { tls } = this;
    if (!tls) return fetch(url, init);
    this.tlsClient ??= import('undici').then((undici) => ({
      fetch: undici.fetch as unknown as typeof fetch,
      agent: new undici.Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } }),
    }));
    const client = await this.tlsClient;
    return client.fetch(url, { ...init, dispatcher: client.agent } as RequestInit);
  }

  async close(): Promise<void> {
    if (this.tlsClient) await (await this.tlsClient).agent.close();
  }
}
