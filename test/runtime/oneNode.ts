// A one-node cluster (RF 1) in this process, whose fdatasync can be made to hang the way a disk's can:
// every write's acknowledgement, from the node to itself, then waits for it (nodeRuntime.ts, flush).

import { fdatasync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { localPreset, resolveConfig } from '../../src/core/config.js';
import { freePort } from '../../src/bench/processes.js';
import { NodeRuntime, type NodeRuntimeOptions } from '../../src/runtime/nodeRuntime.js';
import type { AsyncSync } from '../../src/storage/walSync.js';

export interface OneNode {
  readonly runtime: NodeRuntime;
  /** The node's log lines at level warn and above. */
  readonly warnings: string[];
  /** From now on fdatasync hangs (until `release`). */
  hang(): void;
  /** Lets the fdatasync under way return, and the next ones run; false when none was under way. */
  release(): boolean;
  stop(): Promise<void>;
}

export async function startOneNode(options: { requestTimeoutMs: number; hanging?: boolean } & Partial<Pick<NodeRuntimeOptions, 'heldMessagesMax'>>): Promise<OneNode> {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-one-node-'));
  const warnings: string[] = [];
  let hanging = options.hanging ?? false;
  let pending: ((error: Error | null) => void) | undefined;
  const sync: AsyncSync = (fd, done) => {
    if (hanging) pending = done;
    else fdatasync(fd, done);
  };
  const port = await freePort();
  const runtime = await NodeRuntime.start({
    id: 'a',
    peer: { host: '127.0.0.1', port },
    dataDir: dir,
    clusterSecret: 'one-node-test',
    config: resolveConfig({ ...localPreset, requestTimeoutMs: options.requestTimeoutMs }),
    fsync: 'commit',
    initialLayout: { version: 1, members: [{ id: 'a', peer: `127.0.0.1:${port}`, http: '127.0.0.1:1', role: 'active' }], strategy: 'consistent', rf: 1, vnodes: 8 },
    logger: pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) }),
    ...(options.heldMessagesMax === undefined ? {} : { heldMessagesMax: options.heldMessagesMax }),
    syncFileAsync: sync,
  });
  return {
    runtime,
    warnings,
    hang: () => {
      hanging = true;
    },
    release: () => {
      hanging = false;
      const done = pending;
      pending = undefined;
      done?.(null);
      return done !== undefined;
    },
    stop: async () => {
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
