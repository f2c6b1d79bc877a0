// The nemesis's storage failures and clock jumps (storageFaults.ts, nemesis.ts): a run that enables
// them injects them, says so in its trace, and replays byte for byte; scripted, a failed storage
// write rolls back its whole transaction and the node runs on, as the runtime's does.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ceilingMarginMs } from '../../src/core/hlc.js';
import { inTransition } from '../../src/core/layout.js';
import { clockDriftMaxMs } from '../../src/sim/nemesis.js';
import { describeFailure, runSeed, type RunOptions } from '../../src/sim/runner.js';
import type { SwarmParameters } from '../../src/sim/swarm.js';
import { scenario } from './scenario.js';

function withFaults(faults: Partial<SwarmParameters['faults']>): RunOptions {
  return { adjust: (p) => ({ ...p, faults: { ...p.faults, ...faults } }) };
}

describe('storage failures', () => {
  it('a run with storage failures fills disks and fails writes, the nodes run on, and the run replays exactly', () => {
    const options = withFaults({ storageFaults: true, clockJumps: false, intervalMaxMs: 600 });
    for (const seed of [7000000, 7000005]) {
      const first = runSeed(seed, options);
      assert.ok(first.ok, describeFailure(first));
      assert.match(first.trace, /^faults=.*storage-failures/m);
      assert.match(first.trace, / disk full for \d+ms\n/);
      assert.match(first.trace, / failed: SQLITE_FULL: database or disk is full \(write\); rolled back\n/);
      assert.match(first.trace, / disk no longer full\n/);
      const second = runSeed(seed, options);
      assert.equal(second.traceHash, first.traceHash, `seed ${seed}`);
      assert.deepEqual(second.history.toJepsen(), first.history.toJepsen());
    }
  });

  it('a replica whose disk is full takes nothing of a write; the write succeeds on the others and reaches it after the disk frees', () => {
    const s = scenario({ nodes: 3 });
    s.put('k', 'v1', { at: 'n1' });
    s.sim.cluster.fillDisk('n3', 1000);
    const write = s.put('k', 'v2', { at: 'n1', level: 'quorum' });
    assert.equal(write.outcome, 'ok');
    assert.equal(s.stored('n3', 'k')?.value, 'v1', 'the failed transaction kept nothing');
    assert.match(s.trace, /n3 batch of \d+ messages failed: SQLITE_FULL/);
    assert.equal(s.sim.cluster.stateOf('n3'), 'up');
    s.runFor(1000);
    assert.deepEqual(s.settle(), []);
    assert.equal(s.stored('n3', 'k')?.value, 'v2');
    assert.deepEqual(s.check(), []);
  });

  it('a coordinator that cannot store its clock ceiling rejects the write: the client gets an error, recorded as unknown', () => {
    const s = scenario({ nodes: 3 });
    s.sim.cluster.fillDisk('n2', 500);
    const write = s.put('k', 'v1', { at: 'n2' });
    assert.equal(write.outcome, 'info');
    assert.equal(write.error, 'STORAGE_FAILURE');
    assert.equal(write.completeMs, write.invokeMs, 'rejected at once');
    assert.match(s.trace, /n2 client request failed: SQLITE_FULL/);
    s.runFor(500);
    assert.equal(s.put('k', 'v2', { at: 'n2' }).outcome, 'ok');
    assert.deepEqual(s.settle(), []);
    assert.deepEqual(s.check(), []);
  });

  it('a single failing write fails one transaction only', () => {
    const s = scenario({ nodes: 3 });
    s.put('k', 'v1', { at: 'n1' });
    s.sim.cluster.armStorageFailure('n3', 1);
    assert.equal(s.put('k', 'v2', { at: 'n1' }).outcome, 'ok');
    assert.match(s.trace, /n3 storage write #1 from now will fail\n.*\n?.*n3 (batch of \d+ messages|tick) failed: SQLITE_IOERR/);
    assert.equal(s.put('k', 'v3', { at: 'n1' }).outcome, 'ok');
    assert.deepEqual(s.settle(), []);
    assert.equal(s.stored('n3', 'k')?.value, 'v3');
    assert.deepEqual(s.check(), []);
  });

  it('a node restarted while its disk is full fails to start and stays down until the disk frees', () => {
    const s = scenario({ nodes: 3 });
    s.put('k', 'v1', { at: 'n1' });
    s.crash('n3');
    s.sim.cluster.fillDisk('n3', 300);
    s.restart('n3');
    assert.equal(s.sim.cluster.stateOf('n3'), 'crashed');
    assert.match(s.trace, /n3 fails to start: SQLITE_FULL/);
    s.runFor(300);
    s.restart('n3');
    assert.equal(s.sim.cluster.stateOf('n3'), 'up');
    assert.deepEqual(s.settle(), []);
    assert.deepEqual(s.check(), []);
  });
});

describe('clock jumps', () => {
  it('a run with clock jumps steps clocks forward and back, and replays exactly', () => {
    // Windows of minutes: steps may go past the hybrid clock's ceiling margin.
    const long: RunOptions = {
      adjust: (p) => ({
        ...p,
        config: { ...p.config, hintWindowMs: 60 * 60_000, tombstoneGraceMs: 10 * 60_000 },
        faults: { ...p.faults, clockJumps: true, storageFaults: false, intervalMaxMs: 600 },
      }),
    };
    const steps: number[] = [];
    for (const seed of [7000002, 7000004, 7000032]) {
      const first = runSeed(seed, long);
      assert.ok(first.ok, describeFailure(first));
      assert.match(first.trace, /^faults=.*clock-jumps/m);
      const jumps = [...first.trace.matchAll(/ clock jumps ([+-]\d+)ms to clock[+-]\d+ms\n/g)];
      assert.ok(jumps.length >= 1, `seed ${seed}: no jump`);
      steps.push(...jumps.map((jump) => Number(jump[1])));
      const second = runSeed(seed, long);
      assert.equal(second.traceHash, first.traceHash, `seed ${seed}`);
    }
    assert.ok(steps.some((step) => step > 0) && steps.some((step) => step < 0), `steps ${steps.join(' ')}`);
    assert.ok(steps.some((step) => Math.abs(step) > ceilingMarginMs), `steps ${steps.join(' ')}: none past the ceiling margin`);
  });

  it('steps keep a clock within a tenth of the shorter of the hint window and the grace of where it started', () => {
    // Hints and grace are timed on the wall clock (a known limitation): a drift near them brings
    // deleted values back by design, so runs stay within what the design claims.
    const short: RunOptions = {
      adjust: (p) => ({
        ...p,
        config: { ...p.config, hintWindowMs: 3000, tombstoneGraceMs: 2000 },
        faults: { ...p.faults, clockJumps: true, storageFaults: false, intervalMaxMs: 300 },
      }),
    };
    assert.equal(clockDriftMaxMs({ hintWindowMs: 3000, tombstoneGraceMs: 2000 }), 200);
    for (const seed of [7000002, 7000004]) {
      const run = runSeed(seed, short);
      assert.ok(run.ok, describeFailure(run));
      const start = new Map([...run.trace.matchAll(/ (n\d+) start clock([+-]\d+)ms\n/g)].map((m) => [m[1], Number(m[2])]));
      const jumps = [...run.trace.matchAll(/ (n\d+) clock jumps [+-]\d+ms to clock([+-]\d+)ms\n/g)];
      assert.ok(jumps.length >= 2, `seed ${seed}: ${jumps.length} jumps`);
      for (const [, id, offset] of jumps) {
        const drift = Number(offset) - (start.get(id as string) as number);
        assert.ok(Math.abs(drift) <= 200, `seed ${seed}: ${id} drifted ${drift} ms`);
      }
    }
  });

  // Deadlines run on the monotonic clock: on the wall clock, the step back held this write 5 s
  // past its timeout.
  it(
    'a request is answered within its timeout when its coordinator\'s clock steps back',
    () => {
      const s = scenario({ nodes: 3 });
      s.partition(['n1'], ['n2', 'n3']);
      const write = s.beginPut('k', 'v1', { at: 'n1', level: 'quorum' });
      s.runFor(100);
      s.sim.cluster.jumpClock('n1', -5000);
      s.runFor(6000);
      const tookMs = (write.completeMs as number) - write.invokeMs;
      assert.equal(write.error, 'UNAVAILABLE', `${write.outcome} ${write.error} after ${tookMs}ms: ${write.errorMessage}`);
      assert.ok(tookMs <= write.timeoutMs + 21, `answered after ${tookMs}ms`);
    },
  );

  // Failure detection runs on the monotonic clock. On the wall clock, a step back held off every
  // probe of that node for the length of the step.
  it('a node whose clock steps back still finds a crashed peer dead in the usual time', () => {
    // Two nodes: no third one to find the crash and tell n1 of it.
    const s = scenario({ nodes: 2, rf: 2 });
    s.runFor(1000);
    s.crash('n2');
    s.sim.cluster.jumpClock('n1', -60_000);
    s.waitUntil('n1', 'n2', 'dead', 8000);
  });

  it('a node whose clock steps back still delivers its hints in the usual time', () => {
    const s = scenario({ nodes: 3 });
    s.runFor(1000);
    s.pause('n3');
    assert.equal(s.put('k', 'v', { at: 'n1', level: 'quorum' }).outcome, 'ok');
    const pending = () => Object.values(s.sim.cluster.node('n1')?.hintsPending() ?? {}).reduce((sum, n) => sum + n, 0);
    s.runFor(2000); // past the write's timeout: n1 keeps a hint for n3
    assert.equal(pending(), 1);
    // The first round's write is lost: n1 sends the hint again once that round times out.
    let lost = 0;
    const restore = s.dropWhere((e) => e.from === 'n1' && e.to === 'n3' && e.message.kind === 'write' && ++lost === 1);
    s.resume('n3');
    s.runFor(500);
    assert.equal(lost, 1, 'the first round went out');
    restore();
    s.sim.cluster.jumpClock('n1', -60_000);
    s.runFor(5000);
    assert.equal(pending(), 0, 'delivered');
    assert.equal(s.stored('n3', 'k')?.value, 'v');
  });

  it("a topology change is answered within its timeout when its coordinator's clock steps back", () => {
    const s = scenario({ nodes: 3 });
    s.runFor(1000);
    // The vote gets no answer: n1, the layout coordinator, gives up after a request timeout.
    s.dropWhere((envelope) => envelope.message.kind === 'layout-promise');
    let answer: { error?: string; atMs: number } | undefined;
    const startMs = s.nowMs;
    s.sim.cluster.propose('n1', { type: 'replication', strategy: 'consistent', rf: 2 }, (_layout, error) => {
      answer = { ...(error === undefined ? {} : { error }), atMs: s.nowMs };
    });
    s.runFor(50);
    s.sim.cluster.jumpClock('n1', -60_000);
    s.sim.runUntil(() => answer !== undefined, 30_000);
    assert.ok(answer, 'answered');
    assert.equal(answer.error, 'UNAVAILABLE');
    assert.ok(answer.atMs - startMs <= s.sim.cluster.config.requestTimeoutMs + 50, `answered after ${answer.atMs - startMs} ms`);
  });

  // Anti-entropy's schedule, pacing and timeouts run on the monotonic clock. On the wall clock, a step
  // back held off every scheduled session for the length of the step.
  it('anti-entropy keeps its schedule when every clock steps back', () => {
    const s = scenario({ nodes: 3 });
    s.runFor(1000);
    // Only anti-entropy can bring k to n3: the write and every hint delivery to it are lost.
    s.dropWhere((e) => e.to === 'n3' && e.message.kind === 'write');
    assert.equal(s.put('k', 'v', { at: 'n1', level: 'quorum' }).outcome, 'ok');
    for (const id of ['n1', 'n2', 'n3']) s.sim.cluster.jumpClock(id, -60_000);
    s.runFor(3 * s.sim.cluster.config.antiEntropyIntervalMs);
    assert.equal(s.stored('n3', 'k')?.value, 'v');
  });

  // A topology change's fill streams through anti-entropy sessions; a session whose answer is lost
  // fails once it has heard nothing for two request timeouts, and the fill starts another. On the
  // wall clock, a step back made that wait as long as the step.
  it("a join completes in the usual time when the joining node's clock steps back", () => {
    const s = scenario({ nodes: 3, spares: 1 });
    for (let i = 0; i < 20; i++) s.put(`k${i}`, `v${i}`, { level: 'all' });
    let lost = 0;
    s.dropWhere((e) => e.to === 'n4' && e.message.kind === 'ae-diff' && ++lost === 1);
    assert.ok(s.change({ type: 'join', member: { id: 'n4', peer: 'sim:n4', http: 'sim:n4' } }).layout);
    assert.ok(s.sim.runUntil(() => lost === 1, 5000), "the fill's first answer was lost");
    s.sim.cluster.jumpClock('n4', -60_000);
    const settled = () => ['n1', 'n2', 'n3', 'n4'].every((id) => {
      const layout = s.sim.cluster.node(id)?.layout;
      return layout !== undefined && !inTransition(layout) && layout.members.some((m) => m.id === 'n4');
    });
    const startMs = s.nowMs;
    assert.ok(s.sim.runUntil(settled, 10_000), 'the join completed');
    assert.ok(s.nowMs - startMs <= 5000, `completed after ${s.nowMs - startMs} ms`);
    for (let i = 0; i < 20; i++) assert.equal(s.get(`k${i}`, { at: 'n4', level: 'one' }).read, `v${i}`);
  });

  // A tombstone's age is read on the wall clock (it is kept in the store); the purger's rounds and
  // the deadlines of its checks run on the monotonic clock. On the wall clock, a step back held a
  // round whose checks went unanswered, and every round after it, for the length of the step.
  it('tombstones long past their grace are purged in the usual time when every clock steps back', () => {
    const s = scenario({ nodes: 3, config: { tombstoneGraceMs: 500, tombstonePurgeIntervalMs: 200 } });
    assert.equal(s.put('k', 'v', { level: 'all' }).outcome, 'ok');
    assert.equal(s.del('k', { level: 'all' }).outcome, 'ok');
    const answerChecks = s.dropWhere((e) => e.message.kind === 'purge-check');
    s.runFor(70_000); // the tombstone is 70 s old; every round so far went unanswered
    assert.equal(s.stored('n1', 'k')?.value, null, 'not purged while its checks are lost');
    answerChecks();
    for (const id of ['n1', 'n2', 'n3']) s.sim.cluster.jumpClock(id, -60_000); // still 10 s old
    s.runFor(3000);
    for (const id of ['n1', 'n2', 'n3']) assert.equal(s.stored(id, 'k'), undefined, `${id} purged it`);
  });

  it('a node whose clock steps back past the ceiling margin keeps issuing versions above its old ones', () => {
    const s = scenario({ nodes: 3 });
    const first = s.put('k', 'v1', { at: 'n1' });
    s.sim.cluster.jumpClock('n1', -60_000);
    const second = s.put('k', 'v2', { at: 'n1' });
    assert.equal(second.outcome, 'ok');
    assert.ok((second.version as string) > (first.version as string), `${second.version} > ${first.version}`);
    s.sim.cluster.jumpClock('n2', 60_000);
    assert.equal(s.put('k', 'v3', { at: 'n2' }).outcome, 'ok');
    assert.equal(s.get('k', { at: 'n1' }).read, 'v3');
    assert.deepEqual(s.settle(), []);
    assert.deepEqual(s.check(), []);
  });
});
