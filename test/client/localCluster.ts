// A real local cluster for the client, CLI and shell tests: node processes plus the front, on free
// ports in a temp directory. It is started from the compiled tree (build first: `npm run build`), so
// the nodes run from the build, as `npm start` runs them, and start fast.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StartedCluster, StartOptions } from '../../src/cluster/startCluster.js';
import { freeBasePort } from '../ports.js';

export const host = '127.0.0.1';
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const compiledMain = join(projectRoot, 'dist', 'src', 'main.js');
/** Failure detection and request deadlines fast enough for tests that last seconds. */
export const fastSettings: readonly string[] = ['probeIntervalMs=200', 'probeTimeoutMs=80', 'requestTimeoutMs=1000'];

export interface LocalCluster {
  readonly started: StartedCluster;
  readonly front: string;
  /** http://host:port of each node, by id. */
  readonly nodeUrls: Map<string, string>;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export function assertBuilt(): void {
  if (!existsSync(compiledMain)) throw new Error(`${compiledMain} is missing: run \`npm run build\` first`);
}

export async function startLocalCluster(options: Partial<StartOptions> = {}): Promise<LocalCluster> {
  assertBuilt();
  const url = pathToFileURL(join(projectRoot, 'dist', 'src', 'cluster', 'startCluster.js')).href;
  const { startCluster } = (await import(url)) as typeof import('../../src/cluster/startCluster.js');
  const nodes = options.nodes ?? 3;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'quorumkv-client-'));
    try {
      const started = await startCluster({
        nodes,
        strategy: 'consistent',
        rf: Math.min(3, nodes),
        vnodes: 64,
        host,
        data: dataDir,
        fsync: 'commit',
        settings: fastSettings,
        quiet: true,
        ...options,
        port: await freeBasePort(nodes),
      });
      const nodeUrls = new Map(started.cluster.members.map((m) => [m.id, `http://${m.http}`]));
      return {
        started,
        front: started.frontUrl,
        nodeUrls,
        dataDir,
        async stop() {
          await started.stop().catch(() => undefined);
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

/** A port nothing listens on (for "unreachable" tests): bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
