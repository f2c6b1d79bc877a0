// One peer's queue of frames: order, byte count, batches bounded by bytes, and ageing out.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameQueue } from '../../src/transport/frameQueue.js';

const frame = (tag: number, bytes: number) => Buffer.alloc(bytes, tag);
const tags = (frames: Buffer[]) => frames.map((f) => f[0]);

describe('FrameQueue', () => {
  it('counts frames and bytes as they are pushed and taken', () => {
    const queue = new FrameQueue();
    queue.push(frame(1, 10), 0);
    queue.push(frame(2, 20), 0);
    assert.equal(queue.length, 2);
    assert.equal(queue.bytes, 30);
    const taken = queue.take(100);
    assert.deepEqual(tags(taken.frames), [1, 2]);
    assert.equal(taken.bytes, 30);
    assert.equal(queue.length, 0);
    assert.equal(queue.bytes, 0);
  });

  it('takes a batch of at most the bytes asked for, oldest first, and at least one frame', () => {
    const queue = new FrameQueue();
    for (const [tag, bytes] of [[1, 40], [2, 40], [3, 40], [4, 200]] as const) queue.push(frame(tag, bytes), 0);
    const first = queue.take(100);
    assert.deepEqual(tags(first.frames), [1, 2]);
    assert.equal(first.bytes, 80);
    assert.equal(queue.bytes, 240);
    const second = queue.take(100);
    assert.deepEqual(tags(second.frames), [3], 'the next frame would pass the bound');
    const third = queue.take(100);
    assert.deepEqual(tags(third.frames), [4], 'a frame larger than the bound still goes, alone');
    assert.equal(third.bytes, 200);
    assert.equal(queue.length, 0);
  });

  it('drops the frames queued before a time and keeps the younger ones in order', () => {
    const queue = new FrameQueue();
    queue.push(frame(1, 10), 100);
    queue.push(frame(2, 10), 200);
    queue.push(frame(3, 10), 300);
    assert.equal(queue.dropQueuedBefore(100), 0, 'a frame queued at the time itself stays');
    assert.equal(queue.dropQueuedBefore(250), 2);
    assert.equal(queue.length, 1);
    assert.equal(queue.bytes, 10);
    queue.push(frame(4, 10), 400);
    assert.deepEqual(tags(queue.take(1000).frames), [3, 4]);
  });

  it('clears everything and says how many frames it held', () => {
    const queue = new FrameQueue();
    queue.push(frame(1, 10), 0);
    queue.push(frame(2, 10), 0);
    assert.equal(queue.clear(), 2);
    assert.equal(queue.length, 0);
    assert.equal(queue.bytes, 0);
    assert.deepEqual(queue.take(100).frames, []);
  });
});
