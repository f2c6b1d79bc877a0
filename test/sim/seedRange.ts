// The fixed CI seeds (1..520 over seeds-1..4.test.ts; issue 5 asks for at least 500), split over a few test files so that node's runner spreads them over processes.
// Each seed is its own test: a failure names the seed and the exact command that replays it.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeFailure, failureTraceTailLines, runSeed } from '../../src/sim/runner.js';

export function testSeeds(first: number, last: number): void {
  for (let seed = first; seed <= last; seed++) {
    it(`seed ${seed}`, () => {
      const result = runSeed(seed);
      if (!result.ok) {
        const tail = result.trace.trimEnd().split('\n').slice(-failureTraceTailLines).join('\n');
        assert.fail(`${describeFailure(result)}\n--- trace tail ---\n${tail}`);
      }
    });
  }
}
