// Replay: a seed is the whole run. The same seed gives the same trace, byte for byte (compared by
// sha256), and the same client history; different seeds give different runs. Also: an exception the
// core throws fails the run with the seed, never the simulator.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/sim/random.js';
import { replayCommand, runSeed } from '../../src/sim/runner.js';
import { traceHash } from '../../src/sim/trace.js';

describe('determinism', () => {
  it('the same seed twice gives the same trace hash and the same history', () => {
    for (const seed of [7, 12345, 4_000_000_000]) {
      const first = runSeed(seed);
      const second = runSeed(seed);
      assert.equal(first.traceHash, second.traceHash, `seed ${seed}`);
      assert.equal(first.traceHash, traceHash(first.trace));
      assert.deepEqual(first.history.toJepsen(), second.history.toJepsen());
      assert.ok(first.trace.includes(`seed ${seed}\n`));
    }
  });

  it('different seeds give different traces', () => {
    const hashes = new Set([1, 2, 3, 4, 5].map((seed) => runSeed(seed).traceHash));
    assert.equal(hashes.size, 5);
  });

  it('the trace holds no wall-clock figure: only virtual times from 0', () => {
    const { trace } = runSeed(3);
    for (const line of trace.split('\n')) {
      const time = /^t=(\d+)ms /.exec(line);
      if (time) assert.ok(Number(time[1]) < 10 * 60 * 1000, line);
    }
    assert.ok(!/\d{4}-\d\d-\d\dT/.test(trace), 'no ISO dates');
  });

  it('forked generators are independent of each other and of the order they are made in', () => {
    const root = new Prng(99);
    const a = root.fork('network');
    const b = new Prng(99).fork('network');
    assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
    assert.notEqual(new Prng(99).fork('workload').next(), new Prng(99).fork('network').next());
    assert.notEqual(new Prng(1).next(), new Prng(2).next());
  });

  it('an assertion thrown by the core fails the run, names the seed, and still returns the trace', () => {
    const result = runSeed(5, {
      inject: (sim) => {
        const node = sim.cluster.node('n2');
        assert.ok(node);
        const tick = node.tick.bind(node);
        let ticks = 0;
        node.tick = () => {
          ticks += 1;
          if (ticks === 50) throw new AssertionError('assertion failed: planted by the test');
          tick();
        };
      },
    });
    assert.equal(result.ok, false);
    assert.equal(result.violations[0]?.checker, 'core-assertions');
    assert.match(result.violations[0]?.message ?? '', /n2 threw: assertion failed: planted by the test/);
    assert.match(result.trace, /core assertion: n2 threw/);
    assert.equal(replayCommand(5), 'npm run sim -- --seed 5 --trace');
  });
});
