// What the benchmark drives: a store reached one way (quorumkv over HTTP, RESP or the typed client; a
// Redis server; an etcd cluster). Each target turns get/put/remove into that store's requests; a
// failed request throws a BenchError whose `kind` is what the error table counts (an HTTP status and
// error code, a Redis error prefix, a socket error code).

import type { ConsistencyLevel } from '../core/quorum.js';

export type SystemName = 'quorumkv' | 'redis' | 'etcd';

/** A read found a value ('hit') or found none ('miss'); both are successful operations. */
export type ReadOutcome = 'hit' | 'miss';

export interface BenchTarget {
  readonly system: SystemName;
  /** How the store is reached: 'http', 'resp', 'client', 'redis', 'etcd'. */
  readonly protocol: string;
  /** The target as given on the command line (normalized). */
  readonly url: string;
  /** The consistency the requests ask for, as the store names it ('-' when it has no such choice). */
  readonly consistencyLabel: string;
  /** `client` is the benchmark client's index (0..clients-1): targets may pin it to a connection. */
  get(key: string, client: number): Promise<ReadOutcome>;
  put(key: string, value: Uint8Array, client: number): Promise<void>;
  remove(key: string, client: number): Promise<void>;
  /** A counter's INCR; only stores reached over the Redis protocol have it (the incr workload). */
  increment?(key: string, client: number): Promise<void>;
  close(): Promise<void>;
}

export interface TargetOptions {
  readonly consistency?: ConsistencyLevel | undefined;
  readonly token?: string | undefined;
  /** Concurrent benchmark clients: targets open up to this many connections. */
  readonly clients: number;
  /** Per-request timeout in milliseconds. */
  readonly timeoutMs: number;
}

export class BenchError extends Error {
  override name = 'BenchError';
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/** The kind an error is counted under. */
export function errorKind(error: unknown): string {
  if (error instanceof BenchError) return error.kind;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  const message = (error as Error | null)?.message ?? String(error);
  if (/timed? ?out/i.test(message)) return 'timeout';
  if (/connection is closed/i.test(message)) return 'connection closed';
  return message.length > 60 ? message.slice(0, 57) + '...' : message;
}

/** `host:port,host:port` after a scheme, with 127.0.0.1 for a missing host. */
export function splitAddresses(rest: string, scheme: string): { host: string; port: number }[] {
  const addresses = rest
    .replace(/\/+$/, '')
    .split(',')
    .map((part) => part.trim().replace(/^[a-z-]+:\/\//, ''))
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(?:\[([^\]]+)\]|([^:/]*)):(\d{1,5})$/.exec(part);
      if (!match) throw new Error(`${scheme} target address must be host:port, got "${part}"`);
      const port = Number(match[3]);
      if (port < 1 || port > 65535) throw new Error(`port out of range in "${part}"`);
      return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
    });
  if (addresses.length === 0) throw new Error(`${scheme} target names no address`);
  return addresses;
}

export function formatAddress(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
