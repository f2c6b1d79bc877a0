// Conditional writes through a consensus round per key (keyPaxos.ts), step by step on a 3-node
// cluster: they see the current value, racing creates and increments do not both win, an earlier
// round's chosen proposal is completed before a new decision, and a proposal a round passed over is
// never completed later.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadOutcome, Result, WriteOutcome } from '../../src/core/coordinator.js';
import { QuorumError } from '../../src/core/errors.js';
import type { Decide, UpdateOutcome } from '../../src/core/keyPaxos.js';
import { paxosStateKeepMs } from '../../src/core/paxosAcceptor.js';
import type { Layout } from '../../src/core/layout.js';
import type { Envelope } from '../../src/core/messages.js';
import type { Entry } from '../../src/core/version.js';
import { HeldNetwork, TestCluster, bytes, text } from './harness.js';

const createOnly = (value: string): Decide => (current) =>
  current === undefined || current.value === null ? { value: bytes(value) } : undefined;

const increment: Decide = (current) => ({ value: bytes(String(Number(text(current?.value) ?? '0') + 1)) });

function readValue(cluster: TestCluster, via: string, key: string): string | undefined {
  const read = cluster.run<ReadOutcome>((cb) => cluster.node(via).get(key, { consistency: 'quorum' }, cb));
  assert.ok(read.ok);
  return text(read.value.entry?.value);
}

test('an update sees the current value and writes only when its condition holds', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const created = cluster.run<UpdateOutcome>((cb) => cluster.node('a').updateHere('k', createOnly('first'), {}, cb));
  assert.ok(created.ok);
  assert.equal(created.value.applied, true);
  assert.equal(created.value.previous, undefined);
  const again = cluster.run<UpdateOutcome>((cb) => cluster.node('b').updateHere('k', createOnly('second'), {}, cb));
  assert.ok(again.ok);
  assert.equal(again.value.applied, false, 'the key exists: nothing written');
  assert.equal(text(again.value.previous?.value), 'first');
  assert.equal(readValue(cluster, 'c', 'k'), 'first');
  // A plain write is seen by the next update.
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('c').put('k', bytes('41'), { consistency: 'quorum' }, cb)).ok);
  const incremented = cluster.run<UpdateOutcome>((cb) => cluster.node('a').updateHere('k', increment, {}, cb));
  assert.ok(incremented.ok);
  assert.equal(text(incremented.value.written?.value), '42');
  assert.equal(readValue(cluster, 'b', 'k'), '42');
  // A delete through an update, then a create succeeds again.
  const removed = cluster.run<UpdateOutcome>((cb) => cluster.node('b').updateHere('k', () => ({ value: null }), {}, cb));
  assert.ok(removed.ok && removed.value.applied);
  assert.equal(readValue(cluster, 'a', 'k'), undefined);
  const recreated = cluster.run<UpdateOutcome>((cb) => cluster.node('c').updateHere('k', createOnly('third'), {}, cb));
  assert.ok(recreated.ok && recreated.value.applied);
  assert.equal(text(recreated.value.previous?.value), undefined, 'it saw the tombstone');
});

test('racing increments through every node all count', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const results: Result<UpdateOutcome>[] = [];
  // Started together: their prepares interleave, so rounds meet higher ballots and go again.
  for (let i = 0; i < 9; i++) cluster.node(['a', 'b', 'c'][i % 3] as string).updateHere('n', increment, { timeoutMs: 10_000 }, (r) => results.push(r));
  for (let i = 0; i < 2000 && results.length < 9; i++) {
    cluster.deliverAll();
    cluster.advance(10);
  }
  assert.equal(results.length, 9);
  const applied = results.filter((r) => r.ok && r.value.applied).length;
  const unknown = results.filter((r) => !r.ok);
  for (const r of unknown) assert.match(r.ok ? '' : r.error.message, /may (still )?(have )?take?n? effect/);
  const count = Number(readValue(cluster, 'a', 'n'));
  assert.ok(count >= applied && count <= applied + unknown.length, `every acknowledged increment counted once: ${count} for ${applied} + ${unknown.length} unknown`);
  assert.ok(applied >= 1);
});

test('racing creates: exactly one wins', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const results: Result<UpdateOutcome>[] = [];
  for (const id of ['a', 'b', 'c']) cluster.node(id).updateHere('once', createOnly(`by-${id}`), { timeoutMs: 10_000 }, (r) => results.push(r));
  for (let i = 0; i < 2000 && results.length < 3; i++) {
    cluster.deliverAll();
    cluster.advance(10);
  }
  const winners = results.filter((r) => r.ok && r.value.applied);
  assert.equal(winners.length, 1, JSON.stringify(results.map((r) => (r.ok ? r.value.applied : r.error.code))));
  const winner = winners[0] as { ok: true; value: UpdateOutcome };
  assert.equal(readValue(cluster, 'b', 'once'), text(winner.value.written?.value));
});

const kind = (k: string) => (e: Envelope) => e.message.kind === k;

test('a proposal chosen by a round that stopped before its commit is completed by the next round first', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const net = new HeldNetwork(cluster);
  let first: Result<UpdateOutcome> | undefined;
  cluster.node('a').updateHere('k', () => ({ value: bytes('chosen') }), {}, (r) => (first = r));
  net.deliver(kind('paxos-prepare'));
  net.deliver(kind('paxos-promise'));
  net.deliver(kind('paxos-accept')); // every replica accepts
  net.discard(kind('paxos-accepted')); // a never hears: no commit
  assert.equal(first, undefined);
  // b's update must see "chosen", not the absent key.
  const seen: (Entry | undefined)[] = [];
  let second: Result<UpdateOutcome> | undefined;
  cluster.node('b').updateHere('k', (current) => (seen.push(current), { value: bytes('after') }), {}, (r) => (second = r));
  for (let i = 0; i < 20 && second === undefined; i++) net.deliver(() => true);
  assert.ok(second?.ok && second.value.applied);
  assert.deepEqual(seen.map((e) => text(e?.value)), ['chosen']);
  assert.equal(text(second.value.previous?.value), 'chosen');
});

test('a proposer whose proposal another round completed, then decided over, hears that it took effect', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const net = new HeldNetwork(cluster);
  let first: Result<UpdateOutcome> | undefined;
  cluster.node('a').updateHere('n', increment, {}, (r) => (first = r));
  net.deliver(kind('paxos-prepare'));
  net.deliver(kind('paxos-promise'));
  // Only b takes a's proposal; a hears from nobody (its accept phase waits for every answer).
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.to === 'b');
  net.discard((e) => e.message.kind === 'paxos-accept' || e.message.kind === 'paxos-accepted');
  // c's update completes a's proposal (b reports it), writes it to a quorum, then decides over it.
  let second: Result<UpdateOutcome> | undefined;
  cluster.node('c').updateHere('n', increment, {}, (r) => (second = r));
  let notices = 0;
  for (let i = 0; i < 40 && (first === undefined || second === undefined); i++) {
    notices += net.held(kind('update-committed')).length;
    net.deliver(() => true);
  }
  assert.equal(notices, 1, 'c told a');
  assert.ok(first?.ok && first.value.applied, `a's increment took effect once: ${JSON.stringify(first)}`);
  assert.equal(text(first.value.written?.value), '1');
  assert.ok(second?.ok && second.value.applied);
  assert.equal(text(second.value.written?.value), '2');
  assert.equal(readValue(cluster, 'b', 'n'), '2');
});

test('a proposal accepted by one replica and passed over is not completed after a later decision', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const net = new HeldNetwork(cluster);
  cluster.node('a').updateHere('k', () => ({ value: bytes('stale') }), {}, () => {});
  net.deliver(kind('paxos-prepare'));
  net.deliver(kind('paxos-promise'));
  // Only c accepts a's proposal; the accepts to a and b are lost.
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.to === 'c');
  net.discard((e) => e.message.kind === 'paxos-accept' || e.message.kind === 'paxos-accepted');
  // b decides on a and b (c cut off), and commits to them.
  cluster.isolated.add('c');
  const decided = cluster.run<UpdateOutcome>((cb) => cluster.node('b').updateHere('k', () => ({ value: bytes('decided') }), {}, cb));
  assert.ok(decided.ok && decided.value.applied, JSON.stringify(decided));
  cluster.isolated.delete('c');
  // A round that hears from c (its stale acceptance) and from b must not write "stale" over "decided".
  cluster.isolated.add('a');
  const seen: (string | undefined)[] = [];
  const next = cluster.run<UpdateOutcome>((cb) => cluster.node('c').updateHere('k', (current) => (seen.push(text(current?.value)), undefined), {}, cb));
  assert.ok(next.ok);
  assert.deepEqual(seen, ['decided']);
  cluster.isolated.delete('a');
  assert.equal(readValue(cluster, 'a', 'k'), 'decided');
});

test('an update fails clearly when too few replicas are reachable, and checks what it writes', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { valueBytesMax: 8 });
  cluster.isolated.add('b');
  cluster.isolated.add('c');
  cluster.advance(10_000); // a sees them dead
  const lonely = cluster.run<UpdateOutcome>((cb) => cluster.node('a').updateHere('k', increment, {}, cb));
  assert.ok(!lonely.ok);
  assert.equal(lonely.error.code, 'UNAVAILABLE');
  cluster.isolated.clear();
  cluster.advance(10_000);
  const big = cluster.run<UpdateOutcome>((cb) => cluster.node('a').updateHere('k', () => ({ value: bytes('far too long') }), {}, cb));
  assert.ok(!big.ok);
  assert.equal(big.error.code, 'VALUE_TOO_LARGE');
  const bad = cluster.run<UpdateOutcome>((cb) => cluster.node('a').updateHere('', increment, {}, cb));
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, 'BAD_REQUEST');
});

test('a replica keeps its promises across a restart', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const net = new HeldNetwork(cluster);
  cluster.node('a').updateHere('k', () => ({ value: bytes('x') }), {}, () => {});
  net.deliver(kind('paxos-prepare'));
  const promised = cluster.storages.get('b')?.paxosState('k')?.promised;
  assert.ok(promised);
  net.discard(() => true);
  cluster.restart('b');
  assert.equal(cluster.storages.get('b')?.paxosState('k')?.promised, promised);
});

test('every replica forgets the consensus state of a key once it is older than the grace period, and updates go on counting once', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], {}, { hintWindowMs: 1_000, tombstoneGraceMs: 2_000, tombstonePurgeIntervalMs: 500 });
  for (const via of ['a', 'b']) assert.ok(cluster.run<UpdateOutcome>((cb) => cluster.node(via).updateHere('n', increment, {}, cb)).ok);
  const held = () => ['a', 'b', 'c'].filter((id) => cluster.storages.get(id)?.paxosState('n') !== undefined);
  assert.deepEqual(held(), ['a', 'b', 'c']);
  cluster.advance(paxosStateKeepMs(cluster.node('a').config) - 1_000);
  assert.deepEqual(held(), ['a', 'b', 'c'], 'kept for the grace period');
  cluster.advance(2_000);
  assert.deepEqual(held(), [], 'forgotten by every replica');
  // Back to a round of its own, above the floor every replica now answers with.
  const third = cluster.run<UpdateOutcome>((cb) => cluster.node('c').updateHere('n', increment, {}, cb));
  assert.ok(third.ok && third.value.applied);
  assert.equal(readValue(cluster, 'a', 'n'), '3');
  assert.deepEqual(held(), ['a', 'b', 'c']);
});

test('updates queued behind a round go together in the next, each deciding on the value the one before left', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const net = new HeldNetwork(cluster);
  const answers: Result<UpdateOutcome>[] = [];
  const notANumber: Decide = () => {
    throw new QuorumError('BAD_REQUEST', 'value is not an integer');
  };
  // The first goes at once; the rest queue behind it, and go as one batch.
  for (const decide of [increment, ...Array<Decide>(9).fill(increment), createOnly('x'), notANumber, increment]) {
    cluster.node('a').updateHere('n', decide, {}, (r) => answers.push(r));
  }
  let prepares = 0;
  for (let i = 0; i < 50 && answers.length < 13; i++) {
    prepares += net.held(kind('paxos-prepare')).length;
    net.deliver(() => true);
  }
  assert.equal(answers.length, 13);
  assert.equal(prepares, 6, 'two rounds of three prepares: one for the first update, one for the other twelve');
  const written = answers.map((r) => (r.ok && r.value.applied ? text(r.value.written?.value) : undefined));
  assert.deepEqual(written, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', undefined, undefined, '11']);
  const versions = answers.flatMap((r) => (r.ok && r.value.written ? [r.value.written.version] : []));
  assert.deepEqual([...versions].sort(), versions, 'each write stamped above the one before it');
  assert.equal(new Set(versions).size, versions.length);
  const absentOnly = answers[10];
  assert.ok(absentOnly?.ok && !absentOnly.value.applied);
  assert.equal(text(absentOnly.value.previous?.value), '10', 'a condition that failed saw the value before it');
  const failed = answers[11];
  assert.ok(failed !== undefined && !failed.ok);
  assert.equal(failed.error.code, 'BAD_REQUEST');
  const last = answers[12];
  assert.ok(last?.ok);
  assert.equal(text(last.value.previous?.value), '10');
  assert.equal(readValue(cluster, 'b', 'n'), '11');
});

test('an update queued behind another of its key answers by its own deadline, not when its turn comes', () => {
  const cluster = new TestCluster(['a', 'b', 'c']);
  const net = new HeldNetwork(cluster);
  const answers = new Map<string, Result<UpdateOutcome>>();
  for (const [name, timeoutMs] of [['first', 2_000], ['second', 200], ['third', 5_000]] as const) {
    cluster.node('a').updateHere('k', increment, { timeoutMs }, (r) => answers.set(name, r));
  }
  // Every message is held: the first update never hears a promise.
  net.tick(['a'], 300);
  assert.deepEqual([...answers.keys()], ['second'], 'answered at its own deadline; the others still wait');
  const second = answers.get('second');
  assert.ok(second !== undefined && !second.ok);
  assert.equal(second.error.code, 'UNAVAILABLE');
  assert.match(second.error.message, /timed out behind earlier updates/);
  net.discard(() => true);
  net.tick(['a'], 1_800);
  assert.equal(answers.get('first')?.ok, false);
  // The third, whose turn came, runs its own round once its messages get through.
  for (let i = 0; i < 200 && !answers.has('third'); i++) {
    net.deliver(() => true);
    cluster.advance(10);
  }
  const third = answers.get('third');
  assert.ok(third?.ok && third.value.applied, JSON.stringify(third));
});

/**
 * On a counter at 1, runs `a`'s increment until its accept phase, with b and c promising c's higher
 * ballot (for c's own increment) first. `finish` then delivers everything until both have answered.
 */
function racedIncrement() {
  const cluster = new TestCluster(['a', 'b', 'c']);
  assert.ok(cluster.run<WriteOutcome>((cb) => cluster.node('a').put('n', bytes('1'), { consistency: 'quorum' }, cb)).ok);
  const net = new HeldNetwork(cluster);
  const results: Result<UpdateOutcome>[] = [];
  const decisions = { count: 0 };
  cluster.node('a').updateHere('n', (current) => (decisions.count++, increment(current)), { timeoutMs: 5_000 }, (r) => results.push(r));
  net.deliver((e) => e.message.kind === 'paxos-prepare' && e.from === 'a');
  net.deliver((e) => e.message.kind === 'paxos-promise' && e.to === 'a'); // a decides and sends its accepts
  // c's update prepares with a higher ballot at b and c before a's accepts reach them.
  cluster.node('c').updateHere('n', increment, { timeoutMs: 5_000 }, (r) => results.push(r));
  net.deliver((e) => e.message.kind === 'paxos-prepare' && e.from === 'c' && e.to !== 'a');
  const finish = (): void => {
    for (let i = 0; i < 300 && results.length < 2; i++) {
      net.tick(['a', 'b', 'c'], 10);
      net.deliver(() => true);
    }
    assert.equal(results.length, 2);
  };
  /** `finish`, then: both increments applied, and the counter at 3, each counted once. */
  const bothCountedOnce = (): void => {
    finish();
    for (const r of results) assert.ok(r.ok && r.value.applied, r.ok ? 'not applied' : r.error.message);
    assert.equal(readValue(cluster, 'b', 'n'), '3', 'both increments counted, once each');
  };
  return { cluster, net, results, decisions, finish, bothCountedOnce };
}

test('an update whose proposal only its own node accepted takes it back, and goes again deciding once', () => {
  const { cluster, net, bothCountedOnce } = racedIncrement();
  // a's own acceptor takes a's proposal; b and c refuse it (they promised c's ballot).
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.from === 'a');
  net.deliver((e) => e.message.kind === 'paxos-accepted' && e.to === 'a');
  assert.equal(cluster.storages.get('a')?.paxosState('n')?.accepted, undefined, 'a took its acceptance back');
  bothCountedOnce();
});

test("an update refused by replicas that accepted a racer's higher proposal takes its own back too: they know they never took it", () => {
  const { cluster, net, decisions, bothCountedOnce } = racedIncrement();
  // c decides and b and c accept c's proposal, under a ballot above a's, and c hears so (until then
  // c's acceptor holds other nodes' rounds back); only then do a's accepts come.
  net.deliver((e) => e.message.kind === 'paxos-promise' && e.to === 'c');
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.from === 'c' && e.to !== 'a');
  net.deliver((e) => e.message.kind === 'paxos-accepted' && e.to === 'c');
  const racer = cluster.storages.get('b')?.paxosState('n')?.accepted?.ballot;
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.from === 'a');
  const refusals = net.held((e) => e.message.kind === 'paxos-accepted' && e.to === 'a' && e.from !== 'a');
  assert.equal(refusals.length, 2);
  for (const { message } of refusals) {
    assert.ok(message.kind === 'paxos-accepted' && !message.ok && message.accepted === racer, 'refused, holding the racer\'s proposal');
    assert.equal(message.neverAccepted, true);
  }
  net.deliver((e) => e.message.kind === 'paxos-accepted' && e.to === 'a');
  assert.equal(cluster.storages.get('a')?.paxosState('n')?.accepted, undefined, 'a took its acceptance back');
  bothCountedOnce();
  assert.equal(decisions.count, 2, 'a decided again, knowing its first proposal was held nowhere');
});

test('while its accept awaits answers, a racer\'s prepare waits at its node, so an update refused everywhere else takes its proposal back', () => {
  const { cluster, net, decisions, bothCountedOnce } = racedIncrement();
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.from === 'a' && e.to === 'a');
  // c's prepare reaches a after a accepted its own proposal: held back, not answered (a promise would
  // report a's proposal to c, which might complete it).
  net.deliver((e) => e.message.kind === 'paxos-prepare' && e.from === 'c' && e.to === 'a');
  assert.equal(net.held((e) => e.message.kind === 'paxos-promise' && e.from === 'a' && e.to === 'c').length, 0, 'held back');
  // b and c refuse a's proposal: a takes it back, then answers c.
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.from === 'a');
  net.deliver((e) => e.message.kind === 'paxos-accepted' && e.to === 'a');
  assert.equal(cluster.storages.get('a')?.paxosState('n')?.accepted, undefined, 'a took its acceptance back');
  const promise = net.held((e) => e.message.kind === 'paxos-promise' && e.from === 'a' && e.to === 'c')[0]?.message;
  assert.ok(promise?.kind === 'paxos-promise' && promise.ok && promise.accepted === undefined, 'then promised, reporting nothing');
  bothCountedOnce();
  assert.equal(decisions.count, 2, 'a decided again');
});

test('an update whose accepted proposal was reported to a racer does not take it back, nor decide twice', () => {
  const { cluster, net, results, decisions, finish } = racedIncrement();
  net.deliver((e) => e.message.kind === 'paxos-accept' && e.from === 'a' && e.to === 'a');
  // a's answers are late: its acceptor holds racers back only so long, then c's prepare reaches a after
  // a accepted its own proposal, and a's promise reports it to c.
  net.tick(['a'], 150);
  net.deliver((e) => e.message.kind === 'paxos-prepare' && e.from === 'c' && e.to === 'a');
  assert.equal(net.held((e) => e.message.kind === 'paxos-promise' && e.from === 'a' && e.to === 'c').length, 1, 'answered');
  net.deliver(() => true);
  finish();
  assert.ok(decisions.count <= 1 || results.every((r) => r.ok), 'a decided again only if it knew its first proposal was not held');
  const applied = results.filter((r) => r.ok && r.value.applied).length;
  const unknown = results.filter((r) => !r.ok).length;
  const count = Number(readValue(cluster, 'b', 'n')) - 1;
  assert.ok(count >= applied && count <= applied + unknown, `${count} counted for ${applied} applied and ${unknown} unknown`);
});

/**
 * `updates` increments through three nodes (those queued behind one at the same node go as a batch);
 * each step delivers one held message at random (3% are lost, 3% delivered twice) or moves time on.
 * Every acknowledged increment must count once, with a value of its own, and no other but those that
 * failed (their outcome is unknown).
 */
function racingIncrements(seed: number, layout: Partial<Layout>, updates = 9): void {
  let state = seed;
  const random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
  const cluster = new TestCluster(['a', 'b', 'c'], layout);
  const net = new HeldNetwork(cluster);
  const results: Result<UpdateOutcome>[] = [];
  for (let i = 0; i < updates; i++) cluster.node(['a', 'b', 'c'][i % 3] as string).updateHere('k', increment, { timeoutMs: 20_000 }, (r) => results.push(r));
  for (let step = 0; step < 20_000 && results.length < updates; step++) {
    const held = net.held(() => true);
    if (held.length === 0 || random() < 0.05) {
      net.tick(['a', 'b', 'c'], 10);
      continue;
    }
    const pick = held[Math.floor(random() * held.length)] as Envelope;
    const draw = random();
    if (draw < 0.03) net.discard((e) => e === pick);
    else if (draw < 0.06) cluster.node(pick.to).receive([pick]); // a duplicate: the original stays held
    else net.deliver((e) => e === pick);
  }
  for (let i = 0; i < 200; i++) {
    net.tick(['a', 'b', 'c'], 10);
    net.deliver(() => true);
  }
  assert.equal(results.length, updates, `seed ${seed}: every update answered`);
  const values = results.flatMap((r) => (r.ok && r.value.applied ? [text(r.value.written?.value)] : []));
  assert.equal(new Set(values).size, values.length, `seed ${seed}: two increments answered the same value: ${values.join(', ')}`);
  const applied = values.length;
  const failed = results.length - applied;
  const count = Number(readValue(cluster, 'a', 'k') ?? '0');
  assert.ok(count >= applied && count <= applied + failed, `seed ${seed}: ${count} counted for ${applied} acknowledged and ${failed} failed`);
}

test('in random interleavings with lost and duplicated messages, every acknowledged increment counts once, and no other but unknown ones', () => {
  // 3,000 seeds found three faults while this was written: 255, 953 and 1209 (703 finds the second
  // again as the code is now). They are kept with the first 250 (the whole range passes: 100 s).
  // 2837 counts an increment twice if a refusal claims "never accepted" for a duplicate it took
  // (acceptedBallots.ts; seeds 1-4,000 pass).
  for (const seed of [...Array.from({ length: 250 }, (_, i) => i + 1), 703, 953, 1209, 2837]) racingIncrements(seed, {});
  // One replica: a duplicated accept taken, then refused, is still held (seed 764; simulator seed
  // 29006060). 1,500 seeds pass.
  for (const seed of [...Array.from({ length: 100 }, (_, i) => i + 1), 764]) racingIncrements(seed, { rf: 1 });
});
