// Seeds that found real bugs, pinned. Each names the bug; the simulator's scenario tests pin the same
// bugs as scripts (test/sim/scenarios.test.ts), which stay meaningful if the swarm's draws change.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeFailure, runSeed } from '../../src/sim/runner.js';

describe('pinned seeds', () => {
  it('seed 2: a node that refuted a rumour of its death is seen alive again by every peer after the heal (membership.ts)', () => {
    // Before the fix, n7 still saw n2 dead 30 s after the heal, so it sent n2 nothing (seed 1 found it
    // first, with the swarm of the time).
    const result = runSeed(2);
    assert.ok(result.ok, describeFailure(result));
  });

  it('seed 48: lowering the replica count keeps acknowledged writes (topology.ts: staying replicas sync before the change completes)', () => {
    // Found when RF-lowering changes were first drawn; the scenario "lowering RF keeps every write
    // acknowledged at quorum" pins the bug itself, whatever this seed draws today.
    const result = runSeed(48);
    assert.ok(result.ok, describeFailure(result));
  });

  it('seed 201216: a value that expired before it was written is purged no earlier than a delete would be (storage tombstonesBefore)', () => {
    // A delete sent as an already-expired write (expiry 0) was a purge candidate at once, so its purge
    // floor lapsed while a duplicated older tombstone was still on its way; the older one came back.
    const result = runSeed(201216);
    assert.ok(result.ok, describeFailure(result));
  });

  it('seed 301298: a write that failed after reaching one replica converges within one anti-entropy rotation (swarm heal budget)', () => {
    // 7 nodes, anti-entropy every 5 s: the pair holding and missing the write met only after 30 s.
    const result = runSeed(301298);
    assert.ok(result.ok, describeFailure(result));
  });

  it(
    'seed 100083: a value a quorum read returned during a topology change stays visible after it (reads need a quorum of both replica sets)',
    () => {
      const result = runSeed(100083);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // n6, still on layout v9, wrote k12 to n5 alone (rf 1); n1 had already streamed n5's ranges for v10
    // (n5 leaving), the change completed, n5 dropped its copy: an acknowledged write was gone. Replicas
    // now refuse writes planned on an older layout, and answer anti-entropy only on the initiator's.
    'seed 20380: a write coordinated on the layout before a change, landing on the old replica after the new one filled, is not lost (node.ts)',
    () => {
      const result = runSeed(20380);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // n3, cut off from n1 and n2, took u19 at `one` (only itself); the RF change 3 -> 2 streamed from
    // n1 and n2 and completed; n3's hints had expired (the simulator's window is 1 s) when it came
    // back, and its clean-up dropped u19, which it no longer replicates. README, Known limitations.
    'seed 402117: a write acknowledged at one by a replica cut off during an RF change survives its clean-up (topology.ts)',
    { todo: 'the clean-up drops unowned copies without asking the new replicas whether they hold them' },
    () => {
      const result = runSeed(402117);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // Topology profile, rf 1, a decommission of n4: a write acknowledged at `one` by n3 is gone after
    // the heal. Fails on the commit this session started from too; likely the same gap as 402117.
    'seed 202813: a write acknowledged at one survives a decommission under way (topology.ts)',
    { todo: 'probably the clean-up gap of seed 402117' },
    () => {
      const result = runSeed(202813);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // Guards the fix of seed 402117 still to come: handing a node's stale copy to a replica that
    // purged a newer tombstone (its floor since expired) brought the deleted key back (README).
    'seed 700075: clean-up never brings back a deleted key by handing over a stale copy (topology.ts)',
    () => {
      const result = runSeed(700075);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // n2's clock ran 259 s slow; its hybrid clock had followed n3's (86 s ahead) and stamped v7 as
    // 01941f27b89c-00000003-n2. n2 crashed and restarted with its hybrid clock back at its own slow
    // clock, observed n3's clock again and stamped v8 with the very same version: the replica took
    // it for v7 (same version) and acknowledged, and v8 was lost. A restarted clock now starts at a
    // durable ceiling above every version it issued.
    'seed 600117: a node restarted with a slow clock never issues a version it issued before its crash (hlc.ts)',
    () => {
      const result = runSeed(600117);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // Topology profile, 5 nodes, rf 3 -> 1 then a join of n6 (clock +78 s) still under way: n6
    // coordinated a sloppy quorum write of u79 acknowledged by fallbacks only (replicas=0), and after
    // the heal no node holds u79. Passes on the commit this session started from and with the clock
    // ceiling alone; fails with the ceiling once the clean-up hand-over was reverted. Not diagnosed:
    // likely the hints or the clean-up around the join (see seed 402117), exposed by other timings.
    'seed 800993: a sloppy write acknowledged by fallbacks during a join survives the heal (hints.ts)',
    { todo: 'a sloppy write acknowledged only by fallbacks during a join is gone after the heal' },
    () => {
      const result = runSeed(800993);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // 30 s after the heal n2 and n3 still see n4 dead. Fails on the commit this session started from.
    'seed 800199: every member sees every other alive after the heal (membership.ts)',
    { todo: 'two members still see a third dead 30 s after the heal' },
    () => {
      const result = runSeed(800199);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // Clocks skewed up to 300 s, crashes, a pause: 30 s after the heal n4 held a delete it stamped
    // (sent as an already-expired write) and n2, its other replica, held nothing and no purge floor.
    // After a restart versions run up to 10 s ahead of their node's clock (hlc.ts), so replicas became
    // ready to purge the delete seconds apart, while floors were kept only 1.8 s here: n2 purged and
    // forgot its floor before n4 could purge, and the delete bounced between them. Floors are now kept
    // a clock-ceiling margin longer (tombstones.ts).
    'seed 703990: replicas of a tombstone stamped on a failed delete converge after the heal (antiEntropy.ts)',
    () => {
      const result = runSeed(703990);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    // Clocks skewed up to 300 s, crashes: 45 s after the heal n1 and n3 held a tombstone n6 stamped
    // (on a failed delete) and n6 held nothing. It passes since purge floors are kept a clock-ceiling
    // margin longer (see seed 703990), though that change also moved the run's timings.
    'seed 500412: replicas agree about a tombstone after the heal though one clock runs minutes ahead (tombstones.ts)',
    () => {
      const result = runSeed(500412);
      assert.ok(result.ok, describeFailure(result));
    },
  );
});
