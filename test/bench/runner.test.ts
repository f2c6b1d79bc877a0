// The benchmark driver against an in-process target: closed loop runs as fast as the target answers;
// with a rate, requests follow a fixed schedule (exactly duration x rate of them), and a request that
// had to wait behind a stalled one is charged from when it was due (no coordinated omission).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizeLatency } from '../../src/bench/latency.js';
import { runClients, type OperationSource, type RequestRecord } from '../../src/bench/runner.js';
import type { BenchTarget } from '../../src/bench/target.js';

/** A target whose n-th put (from 0) takes delays[n] ms, and every other request none. */
function fakeTarget(delays: readonly number[] = []): BenchTarget & { puts: number } {
  const target = {
    system: 'quorumkv' as const,
    protocol: 'fake',
    url: 'fake:',
    consistencyLabel: '-',
    puts: 0,
    async get() {
      return 'hit' as const;
    },
    async put() {
      const delay = delays[target.puts++] ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    },
    async remove() {},
    async close() {},
  };
  return target;
}

const puts: OperationSource = { next: () => ({ kind: 'update', key: 'k' }) };

describe('bench driver', () => {
  it('with a rate, issues exactly duration x rate requests, whatever the machine does', async () => {
    const target = fakeTarget();
    const result = await runClients(target, puts, new Uint8Array(1), 4, { durationMs: 500, ratePerSec: 200 });
    assert.equal(result.completed, 100);
    assert.equal(target.puts, 100);
  });

  it('charges requests queued behind a stall from when they were due', async () => {
    const records: RequestRecord[] = [];
    // One client, one request due every 10 ms; the first takes 100 ms, so the next nine are late.
    const result = await runClients(fakeTarget([100]), puts, new Uint8Array(1), 1, { durationMs: 300, ratePerSec: 100 }, {
      onRequest: (record) => records.push(record),
    });
    assert.equal(result.completed, 30);
    assert.ok((records[0]?.latencyMs ?? 0) >= 99, `the stalled request took ${records[0]?.latencyMs} ms`);
    const late = records.slice(1, 10);
    assert.ok(late.every((record) => record.latencyMs >= 100 - record.startMs - 1), JSON.stringify(late));
    assert.deepEqual(late.map((record) => Math.round(record.startMs)), [10, 20, 30, 40, 50, 60, 70, 80, 90], 'start times are the schedule');
    // From sending, only the stalled request was slow: the late ones waited to be sent, not for an answer.
    assert.ok((records[0]?.serviceMs ?? 0) >= 99, `the stalled request took ${records[0]?.serviceMs} ms from sending`);
    assert.ok(late.every((record) => record.serviceMs < 5 && record.serviceMs <= record.latencyMs), JSON.stringify(late));
    const service = summarizeLatency(result.serviceLatency!);
    assert.equal(service.count, 30);
    assert.ok(service.maxMs >= 99, `the stalled request took ${service.maxMs} ms from sending`);
    assert.ok(service.p95Ms < 5, `the queued requests were answered at once: p95 ${service.p95Ms} ms from sending`);
    assert.ok(summarizeLatency(result.latency).p95Ms >= 10, 'and are charged from when they were due');
  });

  it("on a schedule, measures how late the client's own timer woke it", async () => {
    // Each put, once sent, holds the event loop for 30 ms; a request is due every 20 ms, so the other
    // client's timer for its request fires about 10 ms late: the benchmark process, not the store,
    // delays it.
    const blockingPuts: BenchTarget = {
      ...fakeTarget(),
      async put() {
        await new Promise((resolve) => setImmediate(resolve));
        const until = performance.now() + 30;
        while (performance.now() < until);
      },
    };
    const result = await runClients(blockingPuts, puts, new Uint8Array(1), 2, { durationMs: 300, ratePerSec: 50 });
    const lag = summarizeLatency(result.timerLag!);
    assert.ok(lag.count > 0, 'clients slept until their requests were due');
    assert.ok(lag.maxMs >= 5, `timer lag max ${lag.maxMs} ms`);
  });

  it('times a request a timer sent before it was due from when it was sent', async () => {
    // Each put keeps the event loop busy for 2 ms, so libuv's loop time, which timers count from,
    // lags the clock, and the sleep until the next due time ends early: up to 2 ms early here.
    const busyPuts: BenchTarget = {
      ...fakeTarget(),
      async put() {
        const until = performance.now() + 2;
        while (performance.now() < until);
      },
    };
    const records: RequestRecord[] = [];
    const result = await runClients(busyPuts, puts, new Uint8Array(1), 2, { durationMs: 400, ratePerSec: 100 }, {
      onRequest: (record) => records.push(record),
    });
    assert.equal(result.completed, 40);
    const short = records.filter((record) => record.latencyMs < 2);
    assert.deepEqual(short, [], 'every put took 2 ms');
  });

  it('closed loop: every client sends its next request when the previous one answers', async () => {
    const target = fakeTarget();
    const result = await runClients(target, puts, new Uint8Array(1), 3, { operations: 40 });
    assert.equal(result.completed, 40);
    assert.equal(result.errors, 0);
    assert.equal(result.serviceLatency, undefined, 'in a closed loop latency is the time from sending');
    assert.equal(result.timerLag, undefined);
  });
});
