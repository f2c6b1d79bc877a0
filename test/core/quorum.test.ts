// Quorum sizes derive from N and a named level; quorum reads overlap quorum writes (R + W > N).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requiredReplicas } from '../../src/core/quorum.js';

test('one, quorum and all for N = 1..7', () => {
  const table: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [2, 1, 2, 2],
    [3, 1, 2, 3],
    [4, 1, 3, 4],
    [5, 1, 3, 5],
    [6, 1, 4, 6],
    [7, 1, 4, 7],
  ];
  for (const [n, one, quorum, all] of table) {
    assert.equal(requiredReplicas('one', n), one, `one of ${n}`);
    assert.equal(requiredReplicas('quorum', n), quorum, `quorum of ${n}`);
    assert.equal(requiredReplicas('all', n), all, `all of ${n}`);
  }
});

test('a quorum read always overlaps a quorum write, and one+all overlap too', () => {
  for (let n = 1; n <= 64; n++) {
    assert.ok(requiredReplicas('quorum', n) * 2 > n);
    assert.ok(requiredReplicas('one', n) + requiredReplicas('all', n) > n);
  }
});
