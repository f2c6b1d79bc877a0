// A node whose fdatasync hangs holds every acknowledgement and read answer until it returns
// (nodeRuntime.ts, flush). Held, they are bounded: past heldMessagesMax they are dropped, counted and
// warned of once, and the node works as before once the disk answers again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOneNode } from './inProcessNodes.js';

test('messages held behind an fdatasync that hangs are bounded, and flow again once it returns', { timeout: 60_000 }, async () => {
  const node = await startOneNode({ requestTimeoutMs: 300, heldMessagesMax: 5, hanging: true });
  const { runtime, warnings } = node;
  try {
    // Each write's acknowledgement (from this node to itself) waits for the sync: none arrives.
    const writes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => runtime.put(`k${i}`, new Uint8Array([i]), { consistency: 'quorum' })));
    assert.ok(writes.every((write) => write.status === 'rejected'), 'no write is acknowledged before its fdatasync');
    assert.equal(runtime.messagesHeld, 5);
    assert.ok(runtime.messagesHeldDropped >= 15, `dropped ${runtime.messagesHeldDropped}`);
    const dropWarnings = warnings.filter((line) => line.includes('dropping messages'));
    assert.equal(dropWarnings.length, 1, 'warned of once per stall');
    assert.match(await runtime.metrics.registry.metrics(), /quorumkv_messages_held_dropped\{node="a"\} (1[5-9]|[2-9]\d)/);

    assert.ok(node.release(), 'a sync was under way');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(runtime.messagesHeld, 0, 'sent once the sync returned');
    const after = await runtime.put('after', new Uint8Array([1]), { consistency: 'quorum' });
    assert.ok(after.version, 'writes are acknowledged again');
    assert.equal((await runtime.get('after', { consistency: 'quorum' })).entry?.value?.[0], 1);
  } finally {
    await node.stop();
  }
});
