// Issue 4 (streaming "throttled by a setting so that client traffic keeps its latency") and the
// setting's own promise: antiEntropyKeysMax is "keys exchanged per anti-entropy step (a named bound on
// message size)". The smallest case where it did not hold: a node that holds nothing in the ranges it
// fills (a joining node). The initiator counted only its own keys toward the bound, so with none it sent
// every differing segment of a whole chunk of ranges in one step, and the source answered with all of
// their entries in one message: 1553 keys at once in the crash-during-move test, and with a large store
// a message past the transport's frame limit (16 MB), which is dropped, so the fill never completes.
// In-process (one AntiEntropy on each side of a direct message pump), no real processes needed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AntiEntropy } from '../../src/core/antiEntropy.js';
import { resolveConfig } from '../../src/core/config.js';
import type { Layout } from '../../src/core/layout.js';
import type { Message } from '../../src/core/messages.js';
import { Placement } from '../../src/core/placement.js';
import { formatVersion } from '../../src/core/version.js';
import { MemoryStorage } from '../../src/storage/memory.js';

describe('topology: streaming moves a bounded number of keys per step', () => {
  it('a node that holds nothing in a range receives it at most antiEntropyKeysMax keys per exchange', () => {
    const keysMax = 100;
    const config = resolveConfig({ antiEntropyKeysMax: keysMax, antiEntropyKeysPerSecondMax: 0, antiEntropyIntervalMs: 0 });
    const layout: Layout = {
      version: 1,
      members: ['source', 'filler'].map((id) => ({ id, peer: id, http: id, role: 'active' as const })),
      strategy: 'consistent',
      rf: 2,
      vnodes: 32,
    };
    const placement = new Placement(layout);
    const storages = { source: new MemoryStorage(), filler: new MemoryStorage() };
    storages.source.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        storages.source.apply({ key: `k${i}`, version: formatVersion({ wallMs: 1_700_000_000_000 + i, counter: 0, nodeId: 'source' }), value: new TextEncoder().encode(`v${i}`) });
      }
    });
    const queue: { from: 'source' | 'filler'; to: 'source' | 'filler'; message: Message }[] = [];
    let lastId = 0;
    const sides = Object.fromEntries(
      (['source', 'filler'] as const).map((id) => [
        id,
        new AntiEntropy({
          selfId: id,
          config,
          storage: storages[id],
          random: { next: () => 0.5 },
          placement: () => placement,
          isAvailable: () => true,
          send: (to, message) => queue.push({ from: id, to: to as 'source' | 'filler', message }),
          nextId: () => ++lastId,
          wallMs: () => 1_700_000_100_000,
        }),
      ]),
    ) as Record<'source' | 'filler', AntiEntropy>;

    const nowMs = 1_700_000_100_000;
    const session = sides.filler.start('source', 'stream', nowMs);
    assert.ok(session, 'the session starts');
    const perExchange: number[] = [];
    for (let steps = 0; steps < 100_000 && (queue.length > 0 || sides.filler.running().length > 0); steps++) {
      const next = queue.shift();
      if (!next) {
        sides.filler.tick(nowMs); // unpaced: the next step goes at once
        continue;
      }
      const { from, to, message } = next;
      const side = sides[to];
      switch (message.kind) {
        case 'ae-ranges':
          side.handleRanges(from, message);
          break;
        case 'ae-diff':
          side.handleDiff(from, message, nowMs);
          break;
        case 'ae-keys':
          side.handleKeys(from, message);
          break;
        case 'ae-sync':
          perExchange.push(message.entries.length);
          side.handleSync(from, message, nowMs);
          break;
        case 'ae-push':
          side.handlePush(message);
          break;
        default:
          break;
      }
    }
    assert.equal(session.state, 'done');
    assert.equal(sides.filler.running().length, 0, 'every session (a step cut at the bound continues in another) ended');
    assert.equal(storages.filler.counts().live, 3000, 'the filler received every key');
    const largest = Math.max(...perExchange);
    assert.ok(largest <= keysMax, `at most ${keysMax} keys per exchange, got ${largest} in one (exchanges: ${perExchange.join(', ')})`);
  });
});
