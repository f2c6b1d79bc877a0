// The layout vote (layoutVote.ts): a layout is published only once a majority of the members accepted
// it, and a layout a majority accepted is never replaced by another of the same version.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutDigest, parseLayout, type Layout } from '../../src/core/layout.js';
import { TestCluster } from './harness.js';

const lowerRf = { type: 'replication', strategy: 'consistent', rf: 2 } as const;

test('a coordinator whose vote reaches no majority publishes nothing, though it sees every member alive', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 });
  // a's view is whole (pings flow), but its prepares are lost: a one-way fault on the vote alone.
  cluster.drop = (envelope) => envelope.from === 'a' && envelope.to !== 'a' && envelope.message.kind === 'layout-prepare';
  const change = cluster.run<Layout>((cb) => cluster.node('a').proposeChange(lowerRf, cb));
  assert.ok(!change.ok);
  assert.equal(change.error.code, 'UNAVAILABLE');
  for (const id of ['a', 'b', 'c']) assert.equal(cluster.node(id).layout.version, 1, `${id} still runs layout 1`);
});

test('a layout a majority accepted is completed by the next coordinator instead of its own change', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 });
  // The first change is accepted by every voter, but a never hears so (as if it stopped right then).
  cluster.drop = (envelope) => envelope.to === 'a' && envelope.message.kind === 'layout-accepted';
  const first = cluster.run<Layout>((cb) => cluster.node('a').proposeChange(lowerRf, cb));
  assert.ok(!first.ok);
  for (const id of ['a', 'b', 'c']) assert.equal(cluster.node(id).layout.version, 1, `${id}: nothing published yet`);
  cluster.drop = undefined;
  // Another change for the same version: the vote finds the accepted layout and publishes it instead.
  const second = cluster.run<Layout>((cb) => cluster.node('a').proposeChange({ type: 'replication', strategy: 'consistent', rf: 1 }, cb));
  assert.ok(!second.ok);
  assert.equal(second.error.code, 'LAYOUT_CONFLICT');
  cluster.deliverAll();
  for (const id of ['a', 'b', 'c']) {
    assert.equal(cluster.node(id).layout.version, 2, `${id} runs layout 2`);
    assert.deepEqual(cluster.node(id).layout.pending, { strategy: 'consistent', rf: 2 }, `${id}: layout 2 is the change a majority accepted`);
  }
});

test('a layout has one digest whatever order its fields were built in (a parsed copy and the original agree)', () => {
  const built: Layout = {
    version: 3,
    members: [{ id: 'a', peer: 'pa', http: 'ha', resp: 'ra', role: 'active' }],
    strategy: 'consistent',
    rf: 1,
    vnodes: 8,
    pending: { strategy: 'full', rf: 1 },
  };
  const reordered = parseLayout(JSON.parse(JSON.stringify({ pending: { rf: 1, strategy: 'full' }, vnodes: 8, rf: 1, strategy: 'consistent', members: [{ role: 'active', resp: 'ra', http: 'ha', peer: 'pa', id: 'a' }], version: 3 })));
  assert.ok(reordered);
  assert.equal(layoutDigest(reordered), layoutDigest(built));
  assert.notEqual(layoutDigest({ ...built, rf: 2 }), layoutDigest(built));
});

test('a restarted proposer never reuses a ballot round it proposed with', () => {
  const cluster = new TestCluster(['a', 'b', 'c'], { rf: 3 });
  // a's prepares reach no one, itself included: only the round it keeps in meta remembers them.
  const rounds: number[] = [];
  cluster.drop = (envelope) => {
    if (envelope.message.kind !== 'layout-prepare') return false;
    rounds.push(envelope.message.ballot.round);
    return true;
  };
  assert.ok(!cluster.run<Layout>((cb) => cluster.node('a').proposeChange(lowerRf, cb)).ok);
  cluster.restart('a');
  assert.ok(!cluster.run<Layout>((cb) => cluster.node('a').proposeChange(lowerRf, cb)).ok);
  const distinct = new Set(rounds);
  assert.ok(distinct.size >= 2, `the two proposals used rounds ${[...distinct].join(', ')}`);
});
