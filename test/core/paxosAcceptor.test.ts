// The replica side of conditional writes (paxosAcceptor.ts): how long it keeps a key's consensus state,
// and what it answers once that state is older than the floor.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../../src/core/config.js';
import type { ReplyMessage } from '../../src/core/coordinator.js';
import { AcceptedBallots } from '../../src/core/acceptedBallots.js';
import type { Message } from '../../src/core/messages.js';
import { PaxosAcceptor, paxosStateKeepMs } from '../../src/core/paxosAcceptor.js';
import { isWellFormed } from '../../src/core/validate.js';
import { formatVersion, makeEntry, type Version } from '../../src/core/version.js';
import { MemoryStorage } from '../../src/storage/memory.js';

const config = resolveConfig({ hintWindowMs: 1_000, tombstoneGraceMs: 2_000, tombstonePurgeIntervalMs: 1_000 });
const keepMs = paxosStateKeepMs(config);
const startMs = 1_700_000_000_000;
const ballot = (ms: number, node = 'p'): Version => formatVersion({ wallMs: ms, counter: 0, nodeId: node });

function acceptor(storage = new MemoryStorage()) {
  const clock = { wallMs: startMs };
  const answered: { from: string; reply: ReplyMessage }[] = [];
  const replica: PaxosAcceptor = new PaxosAcceptor({
    selfId: 'r',
    config,
    storage,
    refusesLayout: () => undefined,
    clockWallMs: () => clock.wallMs,
    answerHeld: (from, message) => answered.push({ from, reply: message.kind === 'paxos-prepare' ? replica.prepare(message) : replica.accept(message) }),
  });
  const prepare = (key: string, at: Version) => replica.prepare({ kind: 'paxos-prepare', op: 1, key, ballot: at, layout: 1 });
  const accept = (key: string, at: Version, value: string) =>
    replica.accept({ kind: 'paxos-accept', op: 2, ballot: at, entry: makeEntry(key, at, new TextEncoder().encode(value)), layout: 1 });
  return { replica, storage, clock, prepare, accept, answered };
}

function promise(reply: ReplyMessage) {
  assert.equal(reply.kind, 'paxos-promise');
  return reply as Extract<ReplyMessage, { kind: 'paxos-promise' }>;
}

test('the keep is the tombstone grace period, a request timeout and the clock-ceiling margin', () => {
  assert.equal(keepMs, 2_000 + config.requestTimeoutMs + 10_000);
  assert.ok(paxosStateKeepMs(resolveConfig({})) >= 10 * 24 * 3_600_000, 'ten days by default');
});

test('state older than the keep reads as forgotten: older ballots are refused at the floor, and promises report it as a commit', () => {
  const { replica, storage, clock, prepare, accept } = acceptor();
  const old = ballot(startMs);
  assert.equal(promise(prepare('k', old)).ok, true);
  assert.deepEqual(accept('k', old, 'stale'), { kind: 'paxos-accepted', op: 2, ok: true });
  // Within the keep, the acceptance is reported to the next round, and a lower ballot is refused at it.
  clock.wallMs = startMs + keepMs - 1;
  const within = promise(prepare('k', ballot(startMs + 5)));
  assert.equal(within.ok, true);
  assert.equal(within.accepted?.ballot, old);
  // Past it: what this replica promised and accepted is older than the floor. A ballot below the floor
  // is refused with the floor as the promise, so its proposer goes again above it.
  clock.wallMs = startMs + keepMs + 1_000;
  const floor = ballot(startMs + 1_000, 'r');
  const refused = promise(prepare('k', ballot(startMs + 999)));
  assert.equal(refused.ok, false);
  assert.equal(refused.promised, floor);
  const refusedAccept = accept('k', ballot(startMs + 10), 'late');
  assert.equal(refusedAccept.kind === 'paxos-accepted' && refusedAccept.ok, false);
  assert.equal(refusedAccept.kind === 'paxos-accepted' ? refusedAccept.committed : undefined, floor, 'below the floor it may have been accepted and forgotten');
  // A fresh round hears no acceptance, and the floor as a commit: another replica's older acceptance
  // is passed over.
  const fresh = promise(prepare('k', ballot(clock.wallMs)));
  assert.equal(fresh.ok, true);
  assert.equal(fresh.accepted, undefined);
  assert.equal(fresh.committed, floor);
  assert.deepEqual(storage.paxosState('k'), { promised: ballot(clock.wallMs) }, 'the new promise replaces the old state');
  // A commit below the floor (a late hint) changes nothing; one above it is kept.
  replica.committed('k', ballot(startMs + 500));
  assert.deepEqual(storage.paxosState('k'), { promised: ballot(clock.wallMs) });
  replica.committed('k', ballot(clock.wallMs));
  assert.deepEqual(storage.paxosState('k'), { promised: ballot(clock.wallMs), committed: ballot(clock.wallMs) });
});

test('a young clock (a simulated one near 0) has no floor: nothing is refused or forgotten for age', () => {
  const storage = new MemoryStorage();
  const replica = new PaxosAcceptor({ selfId: 'r', config, storage, refusesLayout: () => undefined, clockWallMs: () => keepMs - 1, answerHeld: () => undefined });
  const reply = promise(replica.prepare({ kind: 'paxos-prepare', op: 1, key: 'k', ballot: ballot(1), layout: 1 }));
  assert.equal(reply.ok, true);
  assert.equal(reply.committed, undefined);
  replica.sweep(0);
  assert.equal(replica.forgotten, 0);
  assert.deepEqual(storage.paxosState('k'), { promised: ballot(1) });
});

test('the sweep walks the store a batch a step, a pass every purge interval, and forgets what is expired', () => {
  const { replica, storage, clock, prepare } = acceptor();
  for (let i = 0; i < 2_500; i++) prepare(`old${i}`, ballot(startMs + i));
  prepare('young', ballot(startMs + 5_000));
  // A whole pass before anything expired: three steps of up to 1,000 keys, one a call.
  clock.wallMs = startMs + keepMs - 1;
  for (let t = 0; t < 3; t++) replica.sweep(t);
  assert.equal(replica.forgotten, 0, 'nothing older than the floor yet');
  clock.wallMs = startMs + keepMs + 3_000;
  replica.sweep(500);
  assert.equal(replica.forgotten, 0, 'the pass ended: the next waits for the purge interval');
  replica.sweep(1_002);
  assert.equal(replica.forgotten, 1_000);
  replica.sweep(1_003);
  replica.sweep(1_004);
  assert.equal(replica.forgotten, 2_500);
  assert.equal(storage.paxosState('old0'), undefined);
  assert.deepEqual(storage.paxosState('young'), { promised: ballot(startMs + 5_000) });
  clock.wallMs += 10_000;
  replica.sweep(1_005);
  assert.equal(replica.forgotten, 2_500, 'waiting for the interval again');
  replica.sweep(2_004);
  assert.equal(replica.forgotten, 2_501);
});

test('a refused accept says it was never taken only when the replica remembers every ballot it accepted since before it', () => {
  const storage = new MemoryStorage();
  const { prepare, accept } = acceptor(storage);
  const refusal = (reply: ReplyMessage) => {
    assert.ok(reply.kind === 'paxos-accepted' && !reply.ok, 'refused');
    return reply;
  };
  const [mine, racer, later] = [ballot(startMs + 1, 'a'), ballot(startMs + 2, 'c'), ballot(startMs + 3, 'c')];
  assert.equal(promise(prepare('k', mine)).ok, true);
  assert.equal(promise(prepare('k', racer)).ok, true);
  assert.equal(accept('k', racer, 'c').kind === 'paxos-accepted', true);
  // a's accept comes after the racer's was taken: refused, holding a higher ballot, and never taken here.
  const never = refusal(accept('k', mine, 'a'));
  assert.equal(never.accepted, racer);
  assert.equal(never.neverAccepted, true);
  assert.ok(isWellFormed(never), 'the claim passes the message checks');
  for (const neverAccepted of [false, 'yes', 1]) assert.equal(isWellFormed({ ...never, neverAccepted } as unknown as Message), false);
  // A duplicate of an accept that was taken, refused once a higher ballot is promised, makes no such claim.
  assert.equal(promise(prepare('k', later)).ok, true);
  assert.equal(refusal(accept('k', racer, 'c')).neverAccepted, undefined);
  // A restarted replica remembers nothing: no claim for any ballot up to what it had promised.
  const restarted = acceptor(storage);
  assert.equal(refusal(restarted.accept('k', mine, 'a')).neverAccepted, undefined);
  assert.equal(promise(restarted.prepare('k', ballot(startMs + 5, 'c'))).ok, true);
  assert.equal(refusal(restarted.accept('k', ballot(startMs + 4, 'a'), 'a')).neverAccepted, true, 'above it, it remembers again');
});

test('the memory of accepted ballots forgets the oldest keys and ballots, and then claims less, never more', () => {
  const memory = new AcceptedBallots(2, 2);
  const at = (ms: number) => ballot(startMs + ms);
  assert.equal(memory.neverAccepted('k', at(1)), false, 'a key not remembered: no claim');
  memory.seen('k', at(1));
  assert.equal(memory.neverAccepted('k', at(1)), false, 'at or below the promise held when the memory began: no claim');
  assert.equal(memory.neverAccepted('k', at(2)), true);
  for (const ms of [2, 3, 4]) memory.accepted('k', at(ms));
  assert.equal(memory.neverAccepted('k', at(2)), false, 'forgotten, so the floor rose over it');
  assert.equal(memory.neverAccepted('k', at(3)), false);
  assert.equal(memory.neverAccepted('k', at(5)), true);
  memory.seen('j', undefined);
  memory.seen('k', at(9)); // seen again: kept as it was, and now the latest
  memory.seen('i', undefined); // over the bound: j, the oldest, goes
  assert.equal(memory.neverAccepted('j', at(1)), false);
  assert.equal(memory.neverAccepted('k', at(5)), true);
  assert.equal(memory.neverAccepted('i', at(1)), true);
});

test('while its own accept awaits answers, other nodes\' rounds of the key wait, and are answered when it ends or its time is up', () => {
  const { replica, answered } = acceptor();
  const own = ballot(startMs + 1, 'r');
  const prepareOf = (key: string, at: Version) => ({ kind: 'paxos-prepare' as const, op: 7, key, ballot: at, layout: 1 });
  const acceptOf = (key: string, at: Version) => ({ kind: 'paxos-accept' as const, op: 8, ballot: at, entry: makeEntry(key, at, new TextEncoder().encode('v')), layout: 1 });
  replica.guard('k', own, 100);
  assert.equal(replica.hold('c', prepareOf('k', ballot(startMs + 2, 'c'))), true, "another node's prepare waits");
  assert.equal(replica.hold('c', acceptOf('k', ballot(startMs + 3, 'c'))), true, "and its accept");
  assert.equal(replica.hold('r', acceptOf('k', own)), false, 'its own round goes on');
  assert.equal(replica.hold('r', prepareOf('k', ballot(startMs + 4, 'r'))), false);
  assert.equal(replica.hold('c', prepareOf('j', ballot(startMs + 2, 'c'))), false, 'other keys go on');
  replica.unguard('k', ballot(startMs, 'r'));
  assert.equal(answered.length, 0, 'only the guard of its ballot ends it');
  replica.unguard('k', own);
  assert.equal(answered.length, 0, 'answered only when the node says (not inside the round that ended it)');
  replica.answerReleased();
  assert.deepEqual(answered.map(({ from, reply }) => [from, reply.kind, 'ok' in reply && reply.ok]), [['c', 'paxos-promise', true], ['c', 'paxos-accepted', true]]);
  // A guard whose answers never come ends at its time, on the node's timer; at most 64 messages wait.
  replica.guard('k', ballot(startMs + 10, 'r'), 100);
  for (let i = 0; i < 64; i++) assert.equal(replica.hold('c', prepareOf('k', ballot(startMs + 20 + i, 'c'))), true);
  assert.equal(replica.hold('c', prepareOf('k', ballot(startMs + 100, 'c'))), false, 'past the bound, answered at once');
  replica.releaseExpired(99);
  replica.answerReleased();
  assert.equal(answered.length, 2);
  replica.releaseExpired(100);
  replica.answerReleased();
  assert.equal(answered.length, 2 + 64);
});

test('under an unbreached guard its own acceptance was never reported: taken back even past a commit, and not once another round was answered', () => {
  const { replica, storage, prepare, accept, answered } = acceptor();
  const own = ballot(startMs + 1, 'r');
  const later = ballot(startMs + 2, 'c');
  replica.guard('k', own, 100);
  assert.equal(promise(prepare('k', own)).ok, true);
  accept('k', own, 'mine');
  // Another round, which went on without this replica, commits: its write clears the acceptance.
  replica.committed('k', later);
  assert.equal(storage.paxosState('k')?.accepted, undefined);
  assert.equal(replica.withdraw('k', own), true, 'held nowhere, and never reported');
  // Once a held round is answered during the guard, the rule is the old one again.
  const next = ballot(startMs + 3, 'r');
  replica.guard('j', next, 100);
  assert.equal(promise(prepare('j', next)).ok, true);
  accept('j', next, 'mine');
  assert.equal(replica.hold('c', { kind: 'paxos-prepare', op: 9, key: 'j', ballot: ballot(startMs + 4, 'c'), layout: 1 }), true);
  replica.guard('j', next, 100); // a guard started again lets what it held go
  replica.answerReleased();
  assert.equal(answered.length, 1);
  assert.equal(replica.withdraw('j', next), false, 'reported to c, which may complete it');
  assert.equal(storage.paxosState('j')?.accepted?.ballot, next);
});
