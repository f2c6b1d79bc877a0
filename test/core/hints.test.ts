// Hinted handoff on its own: a hint handed on to other owners keeps the age of the first, so that no
// copy of a write outlives the hint window as a hint (what a tombstone's grace period must outlast).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig, type CoreConfig } from '../../src/core/config.js';
import { HintDelivery } from '../../src/core/hints.js';
import type { Message } from '../../src/core/messages.js';
import { formatVersion } from '../../src/core/version.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { bytes } from './harness.js';

const hintWindowMs = 60_000;

function delivery(members: readonly string[], settings: Partial<CoreConfig> = {}) {
  const storage = new MemoryStorage();
  const sent: { to: string; message: Message }[] = [];
  let op = 0;
  const hints = new HintDelivery({
    selfId: 'a',
    config: resolveConfig({ hintWindowMs, tombstoneGraceMs: 2 * hintWindowMs, ...settings }),
    storage,
    isAvailable: () => false, // nothing is delivered: only re-homing, expiry and trimming happen
    isMember: (id) => members.includes(id),
    layoutVersion: () => 2,
    owners: () => ['a', 'b', 'c'],
    movesTo: () => [],
    send: (to, message) => sent.push({ to, message }),
    nextOp: () => ++op,
  });
  /** A tick at wall time `wallMs`; nothing steps a clock here, so the monotonic one reads the same. */
  const tick = (wallMs: number) => storage.transaction(() => hints.tick(wallMs, wallMs));
  return { storage, hints, sent, tick };
}

test('hints for a member that left go to the key\'s owners with the age they had, and expire on time', () => {
  const { storage, hints, tick } = delivery(['a', 'b', 'c']); // x left the layout
  const createdMs = 1_700_000_000_000;
  const entry = { key: 'k', version: formatVersion({ wallMs: createdMs, counter: 0, nodeId: 'a' }), value: bytes('v') };
  storage.transaction(() => hints.store('x', entry, createdMs));

  const late = createdMs + hintWindowMs - 1000;
  tick(late);
  assert.equal(storage.hintsFor('x', 10).length, 0, 'the hint for x is handed on');
  assert.equal(storage.get('k')?.version, entry.version, 'a is an owner: it applies the write itself');
  const handedOn = [...storage.hintsFor('b', 10), ...storage.hintsFor('c', 10)];
  assert.equal(handedOn.length, 2);
  for (const hint of handedOn) assert.equal(hint.createdMs, createdMs, 'a handed-on hint keeps the age of the first');

  tick(createdMs + hintWindowMs + 1000);
  assert.equal(storage.hintsFor('b', 10).length + storage.hintsFor('c', 10).length, 0, 'they expire with the first one\'s window');
  assert.equal(hints.expired, 2, 'and are counted as expired');
});

test('hints beyond hintsPerTargetMax are trimmed, oldest first, and counted', () => {
  const { storage, hints, tick } = delivery(['a', 'b'], { hintsPerTargetMax: 3 });
  const createdMs = 1_700_000_000_000;
  storage.transaction(() => {
    for (let i = 0; i < 5; i++) {
      hints.store('b', { key: `k${i}`, version: formatVersion({ wallMs: createdMs + i, counter: 0, nodeId: 'a' }), value: bytes('v') }, createdMs + i);
    }
  });
  tick(createdMs + 1000);
  assert.deepEqual(storage.hintsFor('b', 10).map((hint) => hint.entry.key), ['k2', 'k3', 'k4']);
  assert.equal(hints.trimmed, 2);
});

test('a hint is not handed on when this node holds a newer version of its key', () => {
  const { storage, hints, tick } = delivery(['a', 'b', 'c']);
  const createdMs = 1_700_000_000_000;
  const old = { key: 'k', version: formatVersion({ wallMs: createdMs, counter: 0, nodeId: 'a' }), value: bytes('old') };
  const deleted = { key: 'k', version: formatVersion({ wallMs: createdMs + 5000, counter: 0, nodeId: 'a' }), value: null };
  storage.transaction(() => {
    hints.store('x', old, createdMs);
    storage.apply(deleted);
  });
  tick(createdMs + 10_000);
  assert.equal(storage.hintsFor('b', 10).length + storage.hintsFor('c', 10).length, 0);
  assert.equal(hints.dropped, 2);
  assert.equal(storage.get('k')?.value, null, 'the delete stays');
});

test('a batch of hints that are all out of date sends nothing, and the next batch goes at once', () => {
  const storage = new MemoryStorage();
  const sent: { to: string; message: Message }[] = [];
  let op = 0;
  const config = resolveConfig({ hintWindowMs, tombstoneGraceMs: 2 * hintWindowMs });
  const hints = new HintDelivery({
    selfId: 'a',
    config,
    storage,
    isAvailable: () => true,
    isMember: () => true,
    layoutVersion: () => 2,
    owners: () => ['a', 'b'],
    movesTo: () => [],
    send: (to, message) => sent.push({ to, message }),
    nextOp: () => ++op,
  });
  const createdMs = 1_700_000_000_000;
  const version = (ms: number) => formatVersion({ wallMs: ms, counter: 0, nodeId: 'a' });
  storage.transaction(() => {
    // A first batch of hints whose keys this node has since written again (out of date), then one current.
    for (let i = 0; i < config.hintBatchMax; i++) {
      hints.store('b', { key: `old${i}`, version: version(createdMs), value: bytes('old') }, createdMs);
      storage.apply({ key: `old${i}`, version: version(createdMs + 1000), value: bytes('new') });
    }
    hints.store('b', { key: 'current', version: version(createdMs), value: bytes('v') }, createdMs);
  });
  const tick = (ms: number) => storage.transaction(() => hints.tick(createdMs + ms, createdMs + ms));
  tick(0);
  assert.equal(sent.length, 0, 'the first batch was all out of date');
  assert.equal(hints.dropped, config.hintBatchMax);
  tick(10);
  assert.deepEqual(sent.map(({ to, message }) => [to, message.kind === 'write' ? message.entry.key : '']), [['b', 'current']], 'the next batch went on the next tick');
});
