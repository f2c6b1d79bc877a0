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

  it(
    'seed 48 with --lower-rf: lowering the replica count keeps acknowledged writes (staying replicas sync before the change completes)',
    () => {
      const result = runSeed(48, { lowerReplication: true });
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    'seed 822: a partitioned minority still on a transition layout does not serve stale quorum reads (topology.ts / placement.ts)',
    {
      todo:
        'core bug, reported: n1 and n3, cut off on layout v2 (n6 joining), read at quorum from the old replica set {n1,n2,n3} while the majority, on the finalized v3, acknowledges quorum writes on {n2,n6}: disjoint quorums',
    },
    () => {
      const result = runSeed(822);
      assert.ok(result.ok, describeFailure(result));
    },
  );

  it(
    'seed 100083: a value a quorum read returned during a topology change stays visible after it (coordinator.ts / topology.ts)',
    {
      todo:
        'core bug, reported: during a change, reads (and their repair) use the serving replicas only; a failed write that reached only the serving replica was read at quorum, then lost when the new replica took over',
    },
    () => {
      const result = runSeed(100083);
      assert.ok(result.ok, describeFailure(result));
    },
  );
});
