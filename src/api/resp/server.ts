// Placeholder until the Redis-protocol server lands (issue "Every way a user reaches the store").
import type { NodeRuntime } from '../../runtime/nodeRuntime.js';
import type { HostPort } from '../../runtime/address.js';
import type { ApiAuth } from '../auth.js';

export interface RespServerHandle {
  readonly address: HostPort;
  close(): Promise<void>;
}

export async function startRespServer(_runtime: NodeRuntime, address: HostPort, _auth: ApiAuth): Promise<RespServerHandle> {
  return { address, close: async () => {} };
}
