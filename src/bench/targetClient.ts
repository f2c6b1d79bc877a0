// quorumkv through its typed client library (src/client): `client:` for the local cluster's front, or
// `client:http://a:5001,http://b:5002` for several nodes (the client goes round-robin over them and
// fails over). Measures what a Node.js program using `connect()` sees, failover logic included.

import { connect, isQuorumKvError, type QuorumKvClient } from '../client/index.js';
import { BenchError, type BenchTarget, type ReadOutcome, type TargetOptions } from './target.js';

export const clientUrlDefault = 'http://127.0.0.1:5000';

export class ClientTarget implements BenchTarget {
  readonly system = 'quorumkv' as const;
  readonly protocol = 'client';
  readonly url: string;
  readonly consistencyLabel: string;
  private readonly client: QuorumKvClient;

  constructor(urls: readonly string[], options: TargetOptions) {
    this.url = 'client:' + urls.join(',');
    this.consistencyLabel = options.consistency ?? 'default';
    this.client = connect({
      urls,
      token: options.token,
      timeoutMs: options.timeoutMs,
      consistency: options.consistency,
      // Every benchmark client may have a request in flight on the same node.
      connectionsPerNode: options.clients,
    });
  }

  static parse(url: string, options: TargetOptions): ClientTarget {
    const rest = url.slice('client:'.length).replace(/^\/\//, '');
    const urls = rest === '' ? [clientUrlDefault] : rest.split(',').map((part) => (part.includes('://') ? part : `http://${part}`));
    return new ClientTarget(urls, options);
  }

  async get(key: string): Promise<ReadOutcome> {
    try {
      return (await this.client.get(key)) === null ? 'miss' : 'hit';
    } catch (error) {
      throw clientError(error);
    }
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    try {
      await this.client.put(key, value);
    } catch (error) {
      throw clientError(error);
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.delete(key);
    } catch (error) {
      throw clientError(error);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** `client UNAVAILABLE (503)`: the client's stable error code and the HTTP status, when one came. */
function clientError(error: unknown): unknown {
  if (!isQuorumKvError(error)) return error;
  const kind = error.status !== undefined ? `client ${error.code} (${error.status})` : `client ${error.code}`;
  return new BenchError(kind, error.message);
}
