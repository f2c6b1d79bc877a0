// Shared by the Redis-protocol tests: a real local cluster on free ports (started with startCluster,
// like `quorumkv start`), raw socket exchanges, and whether Debian's redis-tools are installed.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startCluster, type StartedCluster } from '../../src/cluster/startCluster.js';
import { freeBasePort } from '../ports.js';

export const host = '127.0.0.1';

export interface RespCluster {
  readonly started: StartedCluster;
  /** RESP port of each node, by index. */
  readonly respPorts: number[];
  /** HTTP base URL of each node, by index. */
  readonly httpUrls: string[];
  stop(): Promise<void>;
}

export interface RespClusterOptions {
  readonly nodes?: number;
  readonly rf?: number;
  readonly token?: string;
  readonly settings?: readonly string[];
}

export async function startRespCluster(options: RespClusterOptions = {}): Promise<RespCluster> {
  // Node processes start slowly on a loaded machine (tsx compiles on the fly): one retry.
  try {
    return await startOnce(options);
  } catch {
    return await startOnce(options);
  }
}

async function startOnce(options: RespClusterOptions): Promise<RespCluster> {
  const nodes = options.nodes ?? 3;
  const data = mkdtempSync(join(tmpdir(), 'quorumkv-resp-'));
  let started: StartedCluster | undefined;
  try {
    const port = await freeBasePort(nodes);
    started = await startCluster({
      nodes,
      strategy: 'consistent',
      rf: options.rf ?? Math.min(3, nodes),
      vnodes: 64,
      port,
      host,
      data,
      fsync: 'commit',
      settings: options.settings ?? [],
      quiet: true,
      ...(options.token ? { token: options.token } : {}),
    });
    const respPorts = started.cluster.members.map((m) => Number(m.resp.split(':').pop()));
    const httpUrls = started.cluster.members.map((m) => `http://${m.http}`);
    // The RESP listener opens right after the HTTP API that startCluster waits for.
    for (const respPort of respPorts) await waitForListener(respPort, 20_000);
    const running = started;
    return {
      started: running,
      respPorts,
      httpUrls,
      async stop() {
        await running.stop();
        rmSync(data, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await started?.stop().catch(() => undefined);
    rmSync(data, { recursive: true, force: true });
    throw error;
  }
}

async function waitForListener(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await delay(100);
  }
}

export interface Exchange {
  /** Everything the server sent. */
  readonly text: string;
  /** The server closed the connection (within the wait). */
  readonly closed: boolean;
}

/**
 * Writes `chunks` (with a pause between them) on a fresh connection and collects the answer until
 * the server closes, `expect` bytes arrived, or `waitMs` passed.
 */
export async function exchange(
  port: number,
  chunks: readonly (string | Buffer)[],
  options: { waitMs?: number; pauseMs?: number; until?: (text: string) => boolean } = {},
): Promise<Exchange> {
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let closed = false;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (data: Buffer) => {
      text += data.toString('latin1');
      if (options.until?.(text)) resolve();
    });
    socket.on('close', () => {
      closed = true;
      resolve();
    });
    socket.on('error', () => undefined);
  });
  for (const chunk of chunks) {
    socket.write(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    if (options.pauseMs) await delay(options.pauseMs);
  }
  await Promise.race([done, delay(options.waitMs ?? 3000)]);
  socket.destroy();
  return { text, closed };
}

/** A command as a RESP array of bulk strings. */
export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Whether a program is on the PATH (Debian's redis-tools: redis-cli, redis-benchmark). */
export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}
