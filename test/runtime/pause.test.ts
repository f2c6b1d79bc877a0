// A paused node (a simulated crash) answers at once, with an error, the requests it was coordinating
// and the topology changes it asked for, as a crashed process's clients see their connections drop;
// and it fails those it is handed while paused. Paused, its core runs no deadlines: before, they all
// waited for the resume.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuorumError } from '../../src/core/errors.js';
import { startNodes, startOneNode } from './inProcessNodes.js';

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(() => true, () => true);
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function assertPausedError(error: unknown, message: RegExp): void {
  assert.ok(error instanceof QuorumError, String(error));
  assert.equal(error.code, 'UNAVAILABLE');
  assert.equal(error.details['paused'], true);
  assert.match(error.message, message);
}

test('pausing a node fails the requests in flight on it, and those it is handed while paused', { timeout: 60_000 }, async () => {
  // The request timeout is far beyond the test's waits: an answer cannot be a timeout's.
  const node = await startOneNode({ requestTimeoutMs: 60_000 });
  const { runtime } = node;
  try {
    await runtime.put('before', new Uint8Array([1]), { consistency: 'quorum' });

    // The write's own acknowledgement waits for an fdatasync that hangs: the write is in flight.
    node.hang();
    const inFlight = runtime.put('in-flight', new Uint8Array([2]), { consistency: 'quorum' });
    assert.equal(await settlesWithin(inFlight, 200), false, 'the write waits for its fdatasync');
    // Its commit is not on disk yet, so a read is not answered from the store at once: it asks the
    // node by message, and the answer waits for the fdatasync too.
    const inFlightRead = runtime.get('before', { consistency: 'quorum' });
    assert.equal(await settlesWithin(inFlightRead, 100), false, 'the read waits for the fdatasync');

    runtime.pause();
    assert.ok(await settlesWithin(inFlight, 1000), 'the write is answered once the node pauses');
    await assert.rejects(inFlight, (error) => (assertPausedError(error, /in flight: it may still take effect \(a write may have been applied\)/), true));
    await assert.rejects(inFlightRead, (error) => (assertPausedError(error, /in flight/), true));

    const whilePaused = runtime.get('before', { consistency: 'one' });
    assert.ok(await settlesWithin(whilePaused, 1000), 'a request handed to a paused node is answered');
    await assert.rejects(whilePaused, (error) => (assertPausedError(error, /is failed \(simulated crash\)/), true));
    await assert.rejects(runtime.put('while-paused', new Uint8Array([3]), { consistency: 'quorum' }), QuorumError);

    runtime.resume();
    runtime.resume(); // the front's /recover resumes nodes that are not paused: not logged again
    assert.equal(node.warnings.filter((line) => line.includes('"msg":"resumed"')).length, 1, node.warnings.join('\n'));
    node.release();
    const after = await runtime.put('after', new Uint8Array([4]), { consistency: 'quorum' });
    assert.ok(after.version, 'writes are acknowledged after the resume');
    assert.equal((await runtime.get('before', { consistency: 'quorum' })).entry?.value?.[0], 1);
  } finally {
    await node.stop();
  }
});

test('pausing a node fails the topology change it is waiting on', { timeout: 60_000 }, async () => {
  const nodes = await startNodes(['a', 'b'], { requestTimeoutMs: 30_000 });
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  try {
    // 'a' is the layout coordinator (the lowest id); paused, it never answers b's request, which b
    // would wait on for two request timeouts.
    a.runtime.pause();
    const change = b.runtime.proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 });
    assert.equal(await settlesWithin(change, 300), false, 'the change waits for the layout coordinator');
    b.runtime.pause();
    assert.ok(await settlesWithin(change, 1000), 'the change is answered once its node pauses');
    await assert.rejects(change, (error) => (assertPausedError(error, /in flight: it may still take effect/), true));
    await assert.rejects(b.runtime.proposeChange({ type: 'replication', strategy: 'consistent', rf: 2 }), (error) => (assertPausedError(error, /is failed/), true));
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
