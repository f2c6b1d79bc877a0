// quorumkv's client library: `import { connect } from 'quorumkv'`. See docs/client.md.
//
//   const kv = connect({ urls: ['http://10.0.0.1:7001', 'http://10.0.0.2:7001'], token });
//   await kv.put('user:1', 'Ada', { consistency: 'quorum' });
//   const entry = await kv.get('user:1');          // { value, text(), version } or null
//   await kv.close();

import { QuorumKvClient } from './client.js';
import type { ConnectOptions } from './types.js';

/** A client for the cluster at `url`/`urls`. No connection is opened until the first request. */
export function connect(options: ConnectOptions | string): QuorumKvClient {
  return new QuorumKvClient(typeof options === 'string' ? { url: options } : options);
}

export { QuorumKvClient, timeoutMsDefault, versionHeader } from './client.js';
export { AdminApi, type RecoverOutcome } from './admin.js';
export { batchOpsMax } from './batch.js';
export {
  QuorumKvError,
  isQuorumKvError,
  serverErrorCodes,
  clientErrorCodes,
  type QuorumKvErrorCode,
  type ServerErrorCode,
  type ClientErrorCode,
  type AttemptFailure,
} from './errors.js';
export { nodeCooldownMs } from './nodes.js';
export type * from './types.js';
export { consistencyLevels } from './types.js';
