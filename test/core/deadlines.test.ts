// The deadline heap pops exactly the due ids, earliest first, whatever the insertion order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DeadlineQueue } from '../../src/core/deadlines.js';

test('popDue returns the due ids in deadline order and keeps the rest', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }), fc.integer({ min: 0, max: 1000 }), (deadlines, now) => {
      const queue = new DeadlineQueue();
      deadlines.forEach((d, id) => queue.push(d, id));
      const due = queue.popDue(now);
      const expected = deadlines
        .map((d, id) => ({ d, id }))
        .filter((x) => x.d <= now)
        .sort((a, b) => a.d - b.d);
      assert.deepEqual(due.map((id) => deadlines[id]), expected.map((x) => x.d));
      assert.deepEqual(new Set(due), new Set(expected.map((x) => x.id)));
      assert.equal(queue.size, deadlines.length - due.length);
      assert.deepEqual(queue.popDue(now), []);
    }),
  );
});
