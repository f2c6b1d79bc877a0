// Cluster members as NodeRuntimes in this process, whose fdatasync can be made to hang the way a
// disk's can: every acknowledgement and read answer then waits for it (nodeRuntime.ts, flush).

import { fdatasync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { localPreset, resolveConfig } from '../../src/core/config.js';
import { freePort } from '../../src/bench/processes.js';
import { NodeRuntime, type NodeRuntimeOptions } from '../../src/runtime/nodeRuntime.js';
import type { AsyncSync } from '../../src/storage/walSync.js';

export interface TestNode {
  readonly runtime: NodeRuntime;
  /** The node's log lines at level warn and above. */
  readonly warnings: string[];
  /** From now on fdatasync hangs (until `release`). */
  hang(): void;
  /** Lets the fdatasync under way return, and the next ones run; false when none was under way. */
  release(): boolean;
  stop(): Promise<void>;
}

export interface TestNodeOptions extends Partial<Pick<NodeRuntimeOptions, 'heldMessagesMax'>> {
  readonly requestTimeoutMs: number;
  /** fdatasync hangs from the start. */
  readonly hanging?: boolean;
}

/** A one-node cluster (RF 1), id 'a'. */
export async function startOneNode(options: TestNodeOptions): Promise<TestNode> {
  return (await startNodes(['a'], options))[0] as TestNode;
}

/** A cluster of these nodes (RF 1), each a NodeRuntime in this process with its own data directory. */
export async function startNodes(ids: readonly string[], options: TestNodeOptions): Promise<TestNode[]> {
  const ports = new Map<string, number>();
  for (const id of ids) ports.set(id, await freePort());
  const members = ids.map((id) => ({ id, peer: `127.0.0.1:${ports.get(id)}`, http: '127.0.0.1:1', role: 'active' as const }));
  const nodes: TestNode[] = [];
  try {
    for (const id of ids) nodes.push(await startNode(id, ports.get(id) as number, members, options));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return nodes;
}

async function startNode(id: string, port: number, members: NonNullable<NodeRuntimeOptions['initialLayout']>['members'], options: TestNodeOptions): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-test-node-'));
  const warnings: string[] = [];
  let hanging = options.hanging ?? false;
  let pending: ((error: Error | null) => void) | undefined;
  const sync: AsyncSync = (fd, done) => {
    if (hanging) pending = done;
    else fdatasync(fd, done);
  };
  const runtime = await NodeRuntime.start({
    id,
    peer: { host: '127.0.0.1', port },
    dataDir: dir,
    clusterSecret: 'test-nodes',
    config: resolveConfig({ ...localPreset, requestTimeoutMs: options.requestTimeoutMs }),
    fsync: 'commit',
    initialLayout: { version: 1, members, strategy: 'consistent', rf: 1, vnodes: 8 },
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
