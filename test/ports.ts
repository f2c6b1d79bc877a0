// Ports for the test clusters: one helper for every test file, so that the files `npm test` runs side
// by side never hand the same ports to two clusters.
//
// A cluster whose front listens on P puts node i on P+1+i (HTTP), P+101+i (peers) and P+201+i
// (RESP) (src/cluster/clusterFile.ts `memberAt`): a block of 300 ports. Blocks are taken from below
// Linux's ephemeral range (32768-60999 by default), where the kernel picks the local port of every
// outgoing connection and of every listen(0): a port there can be taken by some connection between
// our check and the node's bind, which no check can rule out. Each test process claims a region of
// blocks of its own with a lock file (the first free one; a region whose process is gone is free), and
// hands out its blocks in turn. The check that every port is free covers what runs outside the tests.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const host = '127.0.0.1';
const blockSize = 300;
const blocksPerRegion = 8;
const firstPort = 10_000;
const regions = Math.floor((32_000 - firstPort) / (blockSize * blocksPerRegion)); // 9
const lockDir = join(tmpdir(), 'quorumkv-test-ports');

let region: number | undefined;
let nextBlock = 0;

/** A front port P whose cluster ports for `nodes` nodes are free, in this process's own region. */
export async function freeBasePort(nodes: number): Promise<number> {
  const mine = claimRegion();
  for (let attempt = 0; attempt < 4 * blocksPerRegion; attempt++) {
    const base = mine === undefined ? anyBlock() : firstPort + (mine * blocksPerRegion + (nextBlock++ % blocksPerRegion)) * blockSize;
    const ports = [base];
    for (let i = 0; i < nodes; i++) ports.push(base + 1 + i, base + 101 + i, base + 201 + i);
    if (await allFree(ports)) return base;
  }
  throw new Error('found no free block of ports for a test cluster');
}

/** Is nothing listening on `port` (127.0.0.1), and could we bind it right now? */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function allFree(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await portFree(port))) return false;
  return true;
}

/** More test processes than regions at once: any block, found free by the check alone. */
function anyBlock(): number {
  return firstPort + Math.floor(Math.random() * regions * blocksPerRegion) * blockSize;
}

function claimRegion(): number | undefined {
  if (region !== undefined) return region;
  mkdirSync(lockDir, { recursive: true });
  const start = process.pid % regions; // spreads the first tries; the lock decides
  for (let i = 0; i < regions; i++) {
    const candidate = (start + i) % regions;
    if (tryLock(candidate)) {
      region = candidate;
      nextBlock = Math.floor(Math.random() * blocksPerRegion);
      const path = lockPath(candidate);
      process.once('exit', () => rmSync(path, { force: true }));
      return region;
    }
  }
  return undefined;
}

function lockPath(candidate: number): string {
  return join(lockDir, `region-${candidate}`);
}

/** Creates the region's lock file, or takes it over when the process that made it has exited. */
function tryLock(candidate: number): boolean {
  const path = lockPath(candidate);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' }); // fails if another process holds it
      return true;
    } catch {
      if (ownerAlive(path)) return false;
      rmSync(path, { force: true }); // its process has exited: take it over
    }
  }
  return false;
}

function ownerAlive(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
