// A node's read cache shows in its metrics: entries, bytes, and lookups by whether they hit; and the
// hints it stopped holding, by outcome; and its batches of conditional writes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOneNode } from './inProcessNodes.js';

function gauge(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  assert.ok(line, `no ${name}${labels} in the metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

test("a node's metrics show its read cache", { timeout: 30_000 }, async () => {
  const node = await startOneNode({ requestTimeoutMs: 2000 });
  const { runtime } = node;
  try {
    await runtime.put('k', new Uint8Array(100), { consistency: 'quorum' });
    for (let i = 0; i < 3; i++) assert.equal((await runtime.get('k', { consistency: 'one' })).entry?.value?.length, 100);
    const text = await runtime.metrics.registry.metrics();
    assert.equal(gauge(text, 'quorumkv_read_cache_entries'), 1);
    assert.ok(gauge(text, 'quorumkv_read_cache_bytes') > 100);
    // How many lookups a read makes depends on timing: one the node asks itself by message (while
    // its last commit is not yet synced) looks the key up again when the message arrives.
    const misses = gauge(text, 'quorumkv_read_cache_lookups', 'result="miss"');
    const hits = gauge(text, 'quorumkv_read_cache_lookups', 'result="hit"');
    assert.ok(misses >= 1, 'the first read went to SQLite');
    assert.ok(hits >= 1 && hits + misses >= 3, `hits ${hits}, misses ${misses}`);
  } finally {
    await node.stop();
  }
});

test("a node's metrics count the hints it stopped holding, by outcome", { timeout: 30_000 }, async () => {
  const node = await startOneNode({ requestTimeoutMs: 2000 });
  try {
    const text = await node.runtime.metrics.registry.metrics();
    for (const outcome of ['delivered', 'superseded', 'expired', 'trimmed']) {
      assert.equal(gauge(text, 'quorumkv_hints_finished', `outcome="${outcome}"`), 0, outcome);
    }
    assert.deepEqual(node.runtime.node.status().hintsDropped, { superseded: 0, expired: 0, trimmed: 0 });
  } finally {
    await node.stop();
  }
});

test("a node's metrics count its batches of conditional writes, and the updates in them", { timeout: 30_000 }, async () => {
  const node = await startOneNode({ requestTimeoutMs: 2000 });
  const { runtime } = node;
  try {
    const before = await runtime.metrics.registry.metrics();
    assert.equal(gauge(before, 'quorumkv_update_batches'), 0);
    assert.equal(gauge(before, 'quorumkv_consensus_states_forgotten'), 0);
    // Ten increments of one key at once: the first goes alone, the rest queue behind it and go together.
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => runtime.update('n', { then: { op: 'add', by: '1' } })));
    assert.deepEqual(outcomes.map((o) => new TextDecoder().decode(o.written?.value ?? undefined)).sort((a, b) => Number(a) - Number(b)), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    const text = await runtime.metrics.registry.metrics();
    const batches = gauge(text, 'quorumkv_update_batches');
    assert.equal(gauge(text, 'quorumkv_update_batched'), 10);
    assert.ok(batches >= 1 && batches < 10, `${batches} batches for 10 updates`);
  } finally {
    await node.stop();
  }
});
