// SWIM failure detection (membership.ts) driven directly: when a silent peer is declared dead, and
// that a node which stood still reads what came meanwhile before it decides anything.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../../src/core/config.js';
import { Membership, type MemberState } from '../../src/core/membership.js';
import type { Envelope, Message } from '../../src/core/messages.js';

const config = { ...defaultConfig, probeIntervalMs: 100, probeTimeoutMs: 40, suspicionMultiplier: 4 };

/** Member `a` of `ids`, whose peers never answer; records what it sends and the states it sees. */
function observer(ids: string[]) {
  const sent: Omit<Envelope, 'clock'>[] = [];
  const changes: { id: string; state: MemberState; atMs: number }[] = [];
  const waiting: { to: string; seq: number }[] = [];
  let nowMs = 0;
  let draws = 0;
  const ack = (from: string, seq: number) => membership.handleAck(from, { kind: 'ack', seq, updates: [], layoutVersion: 1 }, nowMs);
  const membership = new Membership({
    selfId: 'a',
    incarnation: 1,
    config,
    random: { next: () => ((draws++ * 0.618) % 1) },
    send: (to: string, message: Message) => sent.push({ from: 'a', to, message }),
    layoutVersion: () => 1,
    layoutDigest: () => 0,
    onStateChange: (id, state) => changes.push({ id, state, atMs: nowMs }),
    onIncarnation: () => undefined,
  });
  membership.setMembers(ids, 0);
  return {
    membership,
    sent,
    changes,
    /**
     * Runs the clock to `untilMs` in 10 ms ticks; `answer` says which peers ack the pings they get
     * at once. The pings of the others wait (`answerWaiting`); what else is sent is dropped.
     */
    runTo(untilMs: number, answer: (to: string) => boolean = () => false): void {
      for (; nowMs < untilMs; nowMs += 10) {
        membership.tick(nowMs);
        for (const envelope of sent.splice(0)) {
          if (envelope.message.kind !== 'ping') continue;
          if (answer(envelope.to)) ack(envelope.to, envelope.message.seq);
          else waiting.push({ to: envelope.to, seq: envelope.message.seq });
        }
      }
    },
    /** The node stands still until `untilMs`: no tick runs meanwhile. */
    standStillTo(untilMs: number): void {
      nowMs = untilMs;
    },
    /** Acks every ping that waited, as if the answers had come in while the node stood still. */
    answerWaiting(): void {
      for (const { to, seq } of waiting.splice(0)) ack(to, seq);
    },
    /** Gossip from `from` saying `about` is in `state`. */
    hear(from: string, about: string, state: MemberState): void {
      membership.handlePing(from, { kind: 'ping', seq: 1, updates: [{ id: about, state, incarnation: 0 }], layoutVersion: 1 }, nowMs);
    },
    firstAt(id: string, state: MemberState): number | undefined {
      return changes.find((c) => c.id === id && c.state === state)?.atMs;
    },
  };
}

const usualMs = config.suspicionMultiplier * config.probeIntervalMs; // log10 of 3 members scales by 1

test('a silent member is suspected at the end of its probe and declared dead after the suspicion timeout', () => {
  const a = observer(['a', 'b', 'c']);
  a.runTo(3000, (to) => to === 'c'); // c acks a's pings; the probes of b a asks it for come to nothing
  const suspectedAt = a.firstAt('b', 'suspect');
  const deadAt = a.firstAt('b', 'dead');
  assert.ok(suspectedAt !== undefined && deadAt !== undefined, 'b suspected, then dead');
  assert.ok(deadAt - suspectedAt >= usualMs && deadAt - suspectedAt < usualMs + 50, `dead ${deadAt - suspectedAt} ms after the suspicion`);
  assert.equal(a.membership.stateOf('c'), 'alive');
});

test('a node that stood still past a probe\'s end reads the ack that came meanwhile before it suspects anyone', () => {
  const a = observer(['a', 'b', 'c']);
  a.runTo(10); // the first probe goes out; its ack is on its way
  a.standStillTo(500); // a GC pause, or the CPU taken by other processes
  a.runTo(510); // the first tick after: the ack is still unread in the socket
  assert.equal(a.changes.length, 0, 'nobody suspected on the tick that ends the pause');
  a.answerWaiting(); // read after that tick, as the event loop reads sockets after its timers
  a.runTo(3000, () => true);
  assert.deepEqual(a.changes, [], 'nobody suspected at all');
});

test('a node that stood still past a suspicion\'s timeout takes a refutation that came meanwhile', () => {
  const a = observer(['a', 'b', 'c']);
  let suspectedAt: number | undefined;
  for (let t = 10; suspectedAt === undefined && t < 3000; t += 10) {
    a.runTo(t, (to) => to === 'c');
    suspectedAt = a.firstAt('b', 'suspect');
  }
  assert.ok(suspectedAt !== undefined);
  a.standStillTo(suspectedAt + usualMs + 200);
  a.runTo(suspectedAt + usualMs + 210, (to) => to === 'c');
  assert.equal(a.membership.stateOf('b'), 'suspect', 'not declared dead on the tick that ends the pause');
  a.membership.handleAck('b', { kind: 'ack', seq: 0, updates: [{ id: 'b', state: 'alive', incarnation: 1 }], layoutVersion: 1 }, suspectedAt + usualMs + 215);
  a.runTo(suspectedAt + usualMs + 300, () => true);
  assert.equal(a.membership.stateOf('b'), 'alive', 'its refutation, read after that tick, keeps it');
});
