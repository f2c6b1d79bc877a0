// The local cluster as `npm start` runs it (issue 2): a restart on the same data directory brings back
// the same cluster and its data, and stopping it (Ctrl-C, SIGTERM) or killing it (SIGKILL) leaves no
// node process behind.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { v8ThreadsPerNode } from '../../src/cluster/supervisor.js';
import {
  compiledMain,
  assertBuilt,
  expectStatus,
  get,
  http,
  localEntryMap,
  processAlive,
  projectRoot,
  put,
  stderrTail,
  tempDataDir,
  versionOf,
  waitFor,
  withCluster,
} from './harness.js';
import { freeBasePort } from '../ports.js';

describe('the local cluster', () => {
  it('stopping it and starting it again on the same data directory brings back the same data', async () => {
    await withCluster({ nodes: 3, strategy: 'consistent', rf: 2 }, async (cluster) => {
      const front = cluster.front;
      const versions = new Map<string, string>();
      for (let i = 0; i < 12; i++) {
        const key = `keep-${i}`;
        versions.set(key, versionOf(expectStatus(await put(front, key, `value ${i}`, 'all'), 200, `write ${key}`)));
      }
      expectStatus(await http('DELETE', `${front}/v1/kv/keep-0?consistency=all`), 200, 'delete keep-0');
      const listingsBefore = await Promise.all(cluster.nodes.map((n) => localEntryMap(n.url)));
      const pidsBefore = cluster.ids.map((id) => cluster.pid(id));
      for (const pid of pidsBefore) {
        // Each node's share of the cores for V8's background threads (supervisor.ts).
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        assert.ok(args.includes(`--v8-pool-size=${v8ThreadsPerNode(3)}`), `node process ${pid} runs with ${args.join(' ')}`);
      }

      await cluster.restart();
      assert.equal(cluster.front, front, 'the front comes back on the same address');
      const pidsAfter = cluster.ids.map((id) => cluster.pid(id));
      for (const [i, pid] of pidsAfter.entries()) assert.notEqual(pid, pidsBefore[i], `node ${i} is a new process`);

      const listingsAfter = await Promise.all(cluster.nodes.map((n) => localEntryMap(n.url)));
      assert.deepEqual(listingsAfter, listingsBefore, 'every node holds exactly what it held before');
      for (const [key, version] of versions) {
        const read = await get(front, key, 'quorum');
        if (key === 'keep-0') {
          assert.equal(read.status, 404, 'the deleted key stays deleted');
          continue;
        }
        expectStatus(read, 200, `read ${key} after the restart`);
        assert.equal(read.text(), `value ${key.slice('keep-'.length)}`);
        assert.equal(versionOf(read), version);
      }
      const nodes = (await http('GET', `${front}/nodes`)).json();
      assert.equal(nodes.nodes.length, 3, 'the same members');
      const replicas = (await http('GET', `${front}/v1/cluster`)).json();
      assert.equal(replicas.strategy, 'consistent');
      assert.equal(replicas.rf, 2, 'the same replication factor');
      assert.equal(replicas.cleanupPending, false, 'no topology change left copies to drop or hand over');
    });
  });

  /** `quorumkv start` as a user runs it, on free ports in a temp directory; resolves with the node pids. */
  async function startCommand(options: { detached: boolean }): Promise<{ child: ChildProcess; pids: number[]; dataDir: string; output: () => string }> {
    assertBuilt();
    const dataDir = tempDataDir();
    const port = await freeBasePort(3);
    const child = spawn(process.execPath, [compiledMain, 'start', '--nodes', '3', '--port', String(port), '--data', dataDir, '--set', 'probeIntervalMs=200', '--set', 'probeTimeoutMs=80'], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached,
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      await waitFor(() => output.includes('Press Ctrl-C to stop.') || child.exitCode !== null, 30_000, { what: '`quorumkv start` to be ready' });
      assert.equal(child.exitCode, null, `quorumkv start exited early:\n${output}`);
    } catch (error) {
      child.kill('SIGKILL');
      if (error instanceof Error) error.message += `\n${output}${stderrTail(dataDir)}`;
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
    const pids = [...output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 3, `three node pids are printed:\n${output}`);
    for (const pid of pids) assert.ok(processAlive(pid), `node process ${pid} runs`);
    return { child, pids, dataDir, output: () => output };
  }

  function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Stops the command one way, then requires every node process gone within `withinMs`. */
  async function stopsEveryNode(how: (child: ChildProcess) => void, withinMs: number, detached = false): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const { child, pids, dataDir, output } = await startCommand({ detached });
    try {
      how(child);
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([exited(child), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10_000)))]);
      clearTimeout(timer);
      assert.ok(exit, `quorumkv start did not exit within 10 s:\n${output()}`);
      await waitFor(() => pids.every((pid) => !processAlive(pid)), withinMs, {
        what: `node processes ${pids.join(', ')} to exit`,
        intervalMs: 50,
      });
      return exit;
    } finally {
      child.kill('SIGKILL');
      for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('SIGTERM to `quorumkv start` stops every node process and exits cleanly', async () => {
    const exit = await stopsEveryNode((child) => child.kill('SIGTERM'), 1000);
    assert.equal(exit.code, 0, 'exits with code 0');
  });

  it('Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops every node process', async () => {
    const exit = await stopsEveryNode((child) => process.kill(-child.pid!, 'SIGINT'), 1000, true);
    assert.equal(exit.code, 0, 'exits with code 0');
  });

  it('SIGKILL of `quorumkv start` leaves no orphan: the nodes exit when their parent goes away', async () => {
    const exit = await stopsEveryNode((child) => child.kill('SIGKILL'), 3000);
    assert.equal(exit.signal, 'SIGKILL');
  });
});
