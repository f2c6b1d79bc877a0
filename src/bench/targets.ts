// `--target URL`: which store the benchmark drives, chosen by the URL's scheme.
//   http://host:port[,host:port...]            quorumkv over HTTP (default http://127.0.0.1:5000, the front)
//   quorumkv-resp://host:port[,host:port...]   quorumkv over the Redis protocol, clients spread over the nodes
//   client: | client:http://host:port[,...]    quorumkv through the typed client library
//   redis://host:port                          a Redis server
//   etcd://host:port[,host:port...]            an etcd cluster through its v3 JSON gateway

import type { ConsistencyLevel } from '../core/quorum.js';
import { ClientTarget } from './targetClient.js';
import { EtcdTarget } from './targetEtcd.js';
import { HttpTarget } from './targetHttp.js';
import { RespTarget } from './targetRedis.js';
import { targetSchemes } from './options.js';
import type { BenchTarget, TargetOptions } from './target.js';


/** How a RESP connection asks quorumkv for a consistency level, sent once on each connection. */
export function respConsistencyCommand(level: ConsistencyLevel): string[] {
  return ['QUORUMKV', 'CONSISTENCY', level];
}

export async function openTarget(url: string, options: TargetOptions): Promise<BenchTarget> {
  const lower = url.toLowerCase();
  if (lower.startsWith('http://') || lower.startsWith('https://')) return HttpTarget.parse(url, options);
  if (lower.startsWith('quorumkv-resp://')) {
    return RespTarget.open(url, {
      ...options,
      system: 'quorumkv',
      consistencyCommand: options.consistency ? respConsistencyCommand(options.consistency) : undefined,
    });
  }
  if (lower.startsWith('client:')) return ClientTarget.parse(url, options);
  if (lower.startsWith('redis://')) return RespTarget.open(url, { ...options, consistency: undefined, system: 'redis' });
  if (lower.startsWith('etcd://')) return EtcdTarget.parse(url, options);
  throw new Error(`unknown target "${url}": it must start with one of ${targetSchemes.join(', ')}`);
}
