// Where a key's conditional writes are coordinated (updateRouting.ts): where they arrive, until their
// rounds race another node's; then every node sends them on to the key's first replica up, which runs
// each once, however many copies of it arrive, and answers with its outcome or error. With that
// replica down the next one coordinates, and a forward that gets no answer fails with an unknown
// outcome.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadOutcome, Result } from '../../src/core/coordinator.js';
import type { UpdateOutcome } from '../../src/core/keyPaxos.js';
import type { Envelope, Message, UpdateForwardMessage } from '../../src/core/messages.js';
import { isWellFormed } from '../../src/core/validate.js';
import { contendedHoldMs } from '../../src/core/updateRouting.js';
import { notAnInteger, type UpdateSpec } from '../../src/core/updateSpec.js';
import { HeldNetwork, TestCluster, bytes, text } from './harness.js';

const ids = ['a', 'b', 'c'];
const addOne: UpdateSpec = { then: { op: 'add', by: '1' } };

/** The key's update coordinator and the two others, in ring order. */
function rolesOf(cluster: TestCluster, key: string): { coordinator: string; others: string[] } {
  const [coordinator, ...others] = cluster.node('a').placement.readReplicas(key) as [string, ...string[]];
  return { coordinator, others };
}

function counter(cluster: TestCluster, key: string): number {
  const read = cluster.run<ReadOutcome>((cb) => cluster.node(ids.find((id) => !cluster.isolated.has(id)) as string).get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  return Number(text(read.value.entry?.value) ?? '0');
}

/** Counts the messages of `kind` each node sends, letting them all through. */
function countSent(cluster: TestCluster, kind: string): Map<string, number> {
  const sent = new Map<string, number>();
  cluster.drop = (envelope) => {
    if (envelope.message.kind === kind) sent.set(envelope.from, (sent.get(envelope.from) ?? 0) + 1);
    return false;
  };
  return sent;
}

/**
 * Races increments of `key` through `via`, a wave at a time, until each of them has the key's updates
 * coordinated by `target` (their rounds met one another's, so the key is contended on them).
 */
function contend(cluster: TestCluster, key: string, via: readonly string[], target: string): void {
  for (let wave = 0; wave < 10; wave++) {
    if (via.every((id) => id === target || cluster.node(id).updateCoordinatorOf(key) === target)) return;
    const results: Result<UpdateOutcome>[] = [];
    for (let i = 0; i < 2 * via.length; i++) cluster.node(via[i % via.length] as string).update(key, addOne, { timeoutMs: 10_000 }, (r) => results.push(r));
    for (let i = 0; i < 500 && results.length < 2 * via.length; i++) cluster.advance(10);
  }
  assert.fail(`${key} never became contended on ${via.join(', ')}`);
}

test('a key nobody races is coordinated where its updates arrive', () => {
  const cluster = new TestCluster(ids);
  const prepares = countSent(cluster, 'paxos-prepare');
  for (const id of ids) assert.ok(cluster.run<UpdateOutcome>((cb) => cluster.node(id).update('n', addOne, {}, cb)).ok);
  assert.deepEqual([...prepares.keys()].sort(), ids);
  for (const id of ids) assert.equal(cluster.node(id).consensusStats().forwarded, 0);
  assert.equal(counter(cluster, 'n'), 3);
});

test("once a key's rounds race, every node sends its updates on to the key's first replica, where they go in batches", () => {
  const cluster = new TestCluster(ids);
  const { coordinator, others } = rolesOf(cluster, 'n');
  contend(cluster, 'n', ids, coordinator);
  const start = counter(cluster, 'n');
  const prepares = countSent(cluster, 'paxos-prepare');
  const forwarded = others.map((id) => cluster.node(id).consensusStats().forwarded);
  const updated = cluster.node(coordinator).consensusStats().updates;
  const results: Result<UpdateOutcome>[] = [];
  for (let i = 0; i < 9; i++) cluster.node(ids[i % 3] as string).update('n', addOne, {}, (r) => results.push(r));
  for (let i = 0; i < 100 && results.length < 9; i++) cluster.advance(10);
  assert.equal(results.length, 9);
  const counts = results.map((r) => (assert.ok(r.ok, JSON.stringify(r)), Number(text(r.value.written?.value)) - start));
  assert.deepEqual([...counts].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'each counted once, none the same');
  assert.equal(counter(cluster, 'n'), start + 9);
  assert.deepEqual([...prepares.keys()], [coordinator], 'only the coordinator ran rounds');
  others.forEach((id, i) => assert.equal(cluster.node(id).consensusStats().forwarded - (forwarded[i] as number), 3));
  assert.equal(cluster.node(coordinator).consensusStats().updates - updated, 9);
  // Not updated for a while: coordinated where they arrive again.
  cluster.advance(contendedHoldMs + 100);
  for (const id of others) assert.equal(cluster.node(id).updateCoordinatorOf('n'), id);
});

/** Starts an update through `via` and holds its forward: the envelope, and where the answer lands. */
function heldForward(cluster: TestCluster, network: HeldNetwork, via: string, spec: UpdateSpec) {
  const answers: Result<UpdateOutcome>[] = [];
  cluster.node(via).update('n', spec, {}, (r) => answers.push(r));
  const [forward] = network.held((e) => e.message.kind === 'update-forward');
  assert.ok(forward, 'the update was sent on');
  network.discard((e) => e === forward);
  return { forward: forward as Envelope & { message: UpdateForwardMessage }, answers };
}

/** Delivers everything held, and what it leads to, until nothing is left. */
function settle(network: HeldNetwork): void {
  while (network.deliver(() => true) > 0);
}

test('a forward delivered twice runs once, and a copy too old to run is dropped', () => {
  const cluster = new TestCluster(ids);
  const { coordinator, others } = rolesOf(cluster, 'n');
  contend(cluster, 'n', ids, coordinator);
  const start = counter(cluster, 'n');
  const network = new HeldNetwork(cluster);
  const { forward, answers } = heldForward(cluster, network, others[0] as string, addOne);
  cluster.node(coordinator).receive([forward]);
  cluster.node(coordinator).receive([forward]);
  settle(network);
  assert.equal(answers.length, 1);
  assert.ok(answers[0]?.ok);
  assert.equal(counter(cluster, 'n'), start + 1);
  // A second later (ticks between): remembered still.
  cluster.advance(1_000);
  cluster.node(coordinator).receive([forward]);
  cluster.deliverAll();
  assert.equal(counter(cluster, 'n'), start + 1);
  // Long after (its timeout, the clock's ceiling margin and a second past), and after the coordinator
  // forgot it: dropped, unanswered.
  cluster.advance(14_000);
  const replies = countSent(cluster, 'update-reply');
  cluster.node(coordinator).receive([forward]);
  cluster.deliverAll();
  assert.equal(counter(cluster, 'n'), start + 1);
  assert.equal(replies.size, 0);
});

test('a forward the coordinator may have run before it restarted is refused with an unknown outcome', () => {
  const cluster = new TestCluster(ids);
  const { coordinator, others } = rolesOf(cluster, 'n');
  const via = others[0] as string;
  contend(cluster, 'n', ids, coordinator);
  const start = counter(cluster, 'n');
  const network = new HeldNetwork(cluster);
  // Run once, then the coordinator restarts (forgetting what it ran) and a copy arrives.
  const { forward, answers } = heldForward(cluster, network, via, addOne);
  cluster.node(coordinator).receive([forward]);
  settle(network);
  assert.ok(answers[0]?.ok);
  cluster.restart(coordinator);
  cluster.node(coordinator).receive([forward]);
  cluster.deliverAll();
  assert.equal(counter(cluster, 'n'), start + 1, 'not run again');
  // A forward sent below the clock the coordinator restarts at (its durable ceiling, which its next
  // version raised), and never delivered: refused too, for the coordinator cannot tell it never ran.
  assert.ok(cluster.run<UpdateOutcome>((cb) => cluster.node(coordinator).update('n', addOne, {}, cb)).ok);
  const second = heldForward(cluster, network, via, addOne);
  cluster.restart(coordinator);
  cluster.node(coordinator).receive([second.forward]);
  settle(network);
  assert.equal(second.answers.length, 1);
  const refused = second.answers[0];
  assert.ok(refused && !refused.ok);
  assert.equal(refused.error.details.outcomeUnknown, true);
  assert.match(refused.error.message, /restarted/);
  assert.equal(counter(cluster, 'n'), start + 2);
  // Once the clocks met again, updates through that node go on.
  cluster.advance(1_000);
  const third = cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', addOne, {}, cb));
  assert.ok(third.ok, JSON.stringify(third));
  assert.equal(Number(text(third.value.written?.value)), start + 3);
});

test('the outcome and the errors of a forwarded update come back as they were', () => {
  const cluster = new TestCluster(ids, {}, { valueBytesMax: 8 });
  const { coordinator, others } = rolesOf(cluster, 'n');
  const via = others[0] as string;
  contend(cluster, 'n', ids, coordinator);
  const forwarded = () => cluster.node(via).consensusStats().forwarded;
  const before = forwarded();
  assert.ok(cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', { then: { op: 'set', value: bytes('abc') } }, {}, cb)).ok);
  const refused = cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', addOne, {}, cb));
  assert.ok(refused.ok);
  assert.equal(refused.value.applied, false);
  assert.equal(refused.value.refused, notAnInteger);
  assert.equal(text(refused.value.previous?.value), 'abc');
  const appended = cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', { then: { op: 'append', tail: bytes('defgh') } }, {}, cb));
  assert.ok(appended.ok && appended.value.applied);
  assert.equal(text(appended.value.written?.value), 'abcdefgh');
  // Too long only once decided, at the coordinator: its error, with its code.
  const tooLong = cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', { then: { op: 'append', tail: bytes('i') } }, {}, cb));
  assert.ok(!tooLong.ok);
  assert.equal(tooLong.error.code, 'VALUE_TOO_LARGE');
  assert.equal(forwarded() - before, 4);
  // Too long as sent: refused where it arrived, never sent on.
  const bad = cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', { then: { op: 'set', value: bytes('123456789') } }, {}, cb));
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, 'VALUE_TOO_LARGE');
  assert.equal(forwarded() - before, 4);
});

test("with the key's first replica down, the next one up coordinates; a forward unanswered fails with an unknown outcome", () => {
  const cluster = new TestCluster(ids);
  const { coordinator, others } = rolesOf(cluster, 'n');
  const [via, next] = others as [string, string];
  contend(cluster, 'n', ids, coordinator);
  // Its forwards lost: no answer by the deadline.
  cluster.drop = (envelope) => envelope.message.kind === 'update-forward';
  const lost = cluster.run<UpdateOutcome>((cb) => cluster.node(via).update('n', addOne, { timeoutMs: 500 }, cb));
  assert.ok(!lost.ok);
  assert.equal(lost.error.code, 'UNAVAILABLE');
  assert.equal(lost.error.details.outcomeUnknown, true);
  assert.match(lost.error.message, new RegExp(`sent to ${coordinator}`));
  cluster.drop = undefined;
  // The coordinator cut off until the others suspect it: the next replica up coordinates.
  cluster.isolated.add(coordinator);
  for (let i = 0; i < 300 && cluster.node(next).stateOf(coordinator) === 'alive'; i++) cluster.advance(10);
  assert.notEqual(cluster.node(next).stateOf(coordinator), 'alive', 'suspected: not sent updates');
  contend(cluster, 'n', [via, next], via);
  const prepares = countSent(cluster, 'paxos-prepare');
  const through = [via, next].map((id) => cluster.run<UpdateOutcome>((cb) => cluster.node(id).update('n', addOne, {}, cb)));
  for (const result of through) assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual([...prepares.keys()], [via], 'the first replica up in ring order');
});

test('a malformed forward or answer is dropped, never run', () => {
  const cluster = new TestCluster(ids);
  const { coordinator, others } = rolesOf(cluster, 'n');
  const replies = countSent(cluster, 'update-reply');
  const forward = { kind: 'update-forward', op: 1, key: 'n', spec: addOne, timeoutMs: 1000, sentAtMs: cluster.nowMs } as const;
  const deliver = (message: unknown) =>
    cluster.node(coordinator).receive([{ from: others[0] as string, to: coordinator, clock: { wallMs: cluster.nowMs, counter: 0 }, message } as Envelope]);
  for (const message of [
    { ...forward, spec: { then: { op: 'add', by: 'one' } } },
    { ...forward, spec: { then: { op: 'set', value: 'text, not bytes' } } },
    { ...forward, sentAtMs: -1 },
    { ...forward, timeoutMs: 0 },
    { ...forward, key: '' },
  ]) deliver(message);
  cluster.deliverAll();
  assert.equal(replies.size, 0);
  assert.equal(counter(cluster, 'n'), 0);
  deliver(forward);
  cluster.deliverAll();
  assert.equal(replies.get(coordinator), 1);
  assert.equal(counter(cluster, 'n'), 1);
  const reply = (fields: object) => isWellFormed({ kind: 'update-reply', op: 1, ...fields } as Message);
  assert.equal(reply({ outcome: { applied: true } }), true);
  assert.equal(reply({ error: { code: 'UNAVAILABLE', message: 'why', details: {} } }), true);
  assert.equal(reply({}), false, 'neither an outcome nor an error');
  assert.equal(reply({ outcome: { applied: true }, error: { code: 'UNAVAILABLE', message: 'why', details: {} } }), false);
  assert.equal(reply({ error: { code: 'NO_SUCH_CODE', message: 'why', details: {} } }), false);
  assert.equal(reply({ outcome: { applied: 'yes' } }), false);
  assert.equal(reply({ outcome: { applied: true, written: { key: 'n' } } }), false);
});
