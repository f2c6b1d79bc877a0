// Helpers of the dashboard tests: a real local cluster (startCluster from the compiled tree, so that
// the supervisor runs nodes as `node dist/src/main.js`), free ports, polling with a deadline, and
// fetch with a timeout. Build first: `npm run build` (npm test does).
//
// QUORUMKV_DIST points at another build output (default <project>/dist), e.g. a private
// `tsc --outDir` while others rebuild dist/ on the same tree.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StartedCluster, StartOptions } from '../../src/cluster/startCluster.js';
import { freeBasePort } from '../ports.js';

export const host = '127.0.0.1';
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const distRoot = process.env.QUORUMKV_DIST ?? join(projectRoot, 'dist');

export function assertBuilt(): void {
  const main = join(distRoot, 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before the dashboard tests`);
}

export async function importCompiled<T>(relative: string): Promise<T> {
  assertBuilt();
  return (await import(pathToFileURL(join(distRoot, relative)).href)) as T;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws, naming `what`). */
export async function waitFor<T>(check: () => Promise<T | undefined | false | null>, timeoutMs: number, what: string, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

export async function http(
  method: string,
  url: string,
  options: { body?: string; headers?: Record<string, string>; timeoutMs?: number; redirect?: 'manual' | 'follow' } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const response = await fetch(url, {
    method,
    headers: options.headers,
    body: options.body,
    redirect: options.redirect ?? 'follow',
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

export interface DashboardCluster {
  readonly started: StartedCluster;
  readonly frontUrl: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** Three nodes, consistent hashing, RF 2, the local preset (no setting overrides), on free ports. */
export async function startDashboardCluster(extra: Partial<StartOptions> = {}): Promise<DashboardCluster> {
  const { startCluster } = await importCompiled<typeof import('../../src/cluster/startCluster.js')>('src/cluster/startCluster.js');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'quorumkv-dashboard-'));
    const port = await freeBasePort(3);
    try {
      const started = await startCluster({
        nodes: 3,
        strategy: 'consistent',
        rf: 2,
        vnodes: 32,
        port,
        host,
        data: dataDir,
        fsync: 'commit',
        settings: [],
        quiet: true,
        ...extra,
      });
      return {
        started,
        frontUrl: started.frontUrl,
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
