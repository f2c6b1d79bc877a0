// Stores reached over the Redis protocol through ioredis: a Redis server (`redis://host:port`) or the
// quorumkv nodes' RESP ports (`quorumkv-resp://host:port,host:port`). Like redis-benchmark's `-c`,
// every benchmark client gets its own connection (client i talks to address i mod n), so C clients
// keep at most C requests in flight, one per connection.

import { Redis } from 'ioredis';
import { BenchError, formatAddress, splitAddresses, type BenchTarget, type ReadOutcome, type TargetOptions } from './target.js';

export interface RespTargetOptions extends TargetOptions {
  readonly system: 'redis' | 'quorumkv';
  /** Sent once on each connection to choose the consistency level (quorumkv only). */
  readonly consistencyCommand?: readonly string[] | undefined;
}

export class RespTarget implements BenchTarget {
  readonly system: 'redis' | 'quorumkv';
  readonly protocol: string;
  readonly url: string;
  readonly consistencyLabel: string;
  private readonly connections: Redis[];

  private constructor(addresses: readonly { host: string; port: number }[], options: RespTargetOptions) {
    this.system = options.system;
    this.protocol = options.system === 'redis' ? 'redis' : 'resp';
    const scheme = options.system === 'redis' ? 'redis://' : 'quorumkv-resp://';
    this.url = scheme + addresses.map(formatAddress).join(',');
    this.consistencyLabel = options.system === 'redis' ? '-' : (options.consistency ?? 'default');
    this.connections = Array.from({ length: options.clients }, (_, i) => {
      const address = addresses[i % addresses.length] as { host: string; port: number };
      const connection = new Redis({
        host: address.host,
        port: address.port,
        ...(options.token ? { password: options.token } : {}),
        lazyConnect: true,
        commandTimeout: options.timeoutMs,
        connectTimeout: options.timeoutMs,
        maxRetriesPerRequest: 1,
        retryStrategy: (times: number) => Math.min(times * 100, 1000),
        enableAutoPipelining: false,
      });
      connection.on('error', () => undefined); // failed commands are counted where they fail
      return connection;
    });
  }

  static async open(url: string, options: RespTargetOptions): Promise<RespTarget> {
    const scheme = url.slice(0, url.indexOf('://') + 3);
    const target = new RespTarget(splitAddresses(url.slice(scheme.length), scheme.replace('://', '')), options);
    try {
      await Promise.all(target.connections.map((connection) => connection.connect()));
      if (options.consistencyCommand) {
        const [command, ...args] = options.consistencyCommand;
        await Promise.all(target.connections.map((connection) => connection.call(command as string, ...args)));
      }
    } catch (error) {
      await target.close();
      throw new Error(`cannot connect to ${target.url}: ${(error as Error).message}`);
    }
    return target;
  }

  private connection(client: number): Redis {
    return this.connections[client % this.connections.length] as Redis;
  }

  async get(key: string, client: number): Promise<ReadOutcome> {
    try {
      const value = await this.connection(client).getBuffer(key);
      return value === null ? 'miss' : 'hit';
    } catch (error) {
      throw respError(error);
    }
  }

  async put(key: string, value: Uint8Array, client: number): Promise<void> {
    try {
      await this.connection(client).set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    } catch (error) {
      throw respError(error);
    }
  }

  async remove(key: string, client: number): Promise<void> {
    try {
      await this.connection(client).del(key);
    } catch (error) {
      throw respError(error);
    }
  }

  async increment(key: string, client: number): Promise<void> {
    try {
      await this.connection(client).incr(key);
    } catch (error) {
      throw respError(error);
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.connections.map(async (connection) => {
        try {
          await connection.quit();
        } catch {
          connection.disconnect();
        }
      }),
    );
  }
}

/** `RESP ERR`, `RESP UNAVAILABLE`: an error reply counted by its first word; socket errors by code. */
function respError(error: unknown): BenchError {
  const err = error as Error & { code?: string; name?: string };
  if (err.name === 'ReplyError') {
    const first = /^(\S+)/.exec(err.message)?.[1] ?? 'ERR';
    return new BenchError(`RESP ${first}`, err.message);
  }
  if (typeof err.code === 'string') return new BenchError(err.code, err.message);
  if (/timed? ?out/i.test(err.message)) return new BenchError('timeout', err.message);
  if (/connection is closed|stream isn't writeable|max retries/i.test(err.message)) return new BenchError('connection closed', err.message);
  return new BenchError(err.message.slice(0, 60), err.message);
}
