// A node whose fdatasync hangs holds every acknowledgement and read answer until it returns
// (nodeRuntime.ts, flush). Held, they are bounded: past heldMessagesMax they are dropped, counted and
// warned of once, and the node works as before once the disk answers again.

import assert from 'node:assert/strict';
import { fdatasync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { localPreset, resolveConfig } from '../../src/core/config.js';
import { NodeRuntime } from '../../src/runtime/nodeRuntime.js';
import type { AsyncSync } from '../../src/storage/walSync.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('messages held behind an fdatasync that hangs are bounded, and flow again once it returns', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumkv-held-'));
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  let hanging = true;
  let release: ((error: Error | null) => void) | undefined;
  const sync: AsyncSync = (fd, done) => {
    if (hanging) release = done;
    else fdatasync(fd, done);
  };
  const port = await freePort();
  const runtime = await NodeRuntime.start({
    id: 'a',
    peer: { host: '127.0.0.1', port },
    dataDir: dir,
    clusterSecret: 'held-test',
    config: resolveConfig({ ...localPreset, requestTimeoutMs: 300 }),
    fsync: 'commit',
    initialLayout: { version: 1, members: [{ id: 'a', peer: `127.0.0.1:${port}`, http: '127.0.0.1:1', role: 'active' }], strategy: 'consistent', rf: 1, vnodes: 8 },
    logger,
    heldMessagesMax: 5,
    syncFileAsync: sync,
  });
  try {
    // Each write's acknowledgement (from this node to itself) waits for the sync: none arrives.
    const writes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => runtime.put(`k${i}`, new Uint8Array([i]), { consistency: 'quorum' })));
    assert.ok(writes.every((write) => write.status === 'rejected'), 'no write is acknowledged before its fdatasync');
    assert.equal(runtime.messagesHeld, 5);
    assert.ok(runtime.messagesHeldDropped >= 15, `dropped ${runtime.messagesHeldDropped}`);
    const dropWarnings = warnings.filter((line) => line.includes('dropping messages'));
    assert.equal(dropWarnings.length, 1, 'warned of once per stall');
    assert.match(await runtime.metrics.registry.metrics(), /quorumkv_messages_held_dropped\{node="a"\} (1[5-9]|[2-9]\d)/);

    hanging = false;
    assert.ok(release, 'a sync was under way');
    release(null);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(runtime.messagesHeld, 0, 'sent once the sync returned');
    const after = await runtime.put('after', new Uint8Array([1]), { consistency: 'quorum' });
    assert.ok(after.version, 'writes are acknowledged again');
    assert.equal((await runtime.get('after', { consistency: 'quorum' })).entry?.value?.[0], 1);
  } finally {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
