import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Envelope } from '../../src/core/messages.js';
import type { Version } from '../../src/core/version.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/codec.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/transport/tcp.js';

const host = '127.0.0.1';
// This file doubles as a child process that must exit by itself after stopping its transports (the
// last test); in that role it defines no tests.
const childVariable = 'QUORUMKV_TRANSPORT_EXIT_CHILD';
const isChild = Boolean(process.env[childVariable]);
const scenario: typeof test = isChild ? ((() => undefined) as unknown as typeof test) : test;
const secret = 'test-cluster-secret';

interface Warning {
  obj: object;
  msg: string;
}

/** A transport plus everything it received and logged. */
interface Harness {
  transport: TcpTransport;
  batches: Envelope[][];
  received: Envelope[];
  warnings: Warning[];
}

async function open(t: TestContext | null, nodeId: string, options: Partial<TcpTransportOptions> = {}): Promise<Harness> {
  const warnings: Warning[] = [];
  const transport = new TcpTransport({
    nodeId,
    listen: { host, port: 0 },
    clusterSecret: secret,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    ...options,
  });
  const harness: Harness = { transport, batches: [], received: [], warnings };
  transport.onBatch((batch) => {
    harness.batches.push(batch);
    harness.received.push(...batch);
  });
  t?.after(() => transport.stop());
  await transport.start();
  return harness;
}

function connectAll(harnesses: Harness[]): void {
  for (const from of harnesses) {
    for (const to of harnesses) from.transport.setPeer(nodeIdOf(to), to.transport.address());
  }
}

function nodeIdOf(harness: Harness): string {
  return (harness.transport as unknown as { nodeId: string }).nodeId;
}

function writeEnvelope(from: string, to: string, op: number, value: Uint8Array | null = bytesFor(op)): Envelope {
  return {
    from,
    to,
    clock: { wallMs: 1_732_000_000_000 + op, counter: op % 7 },
    message: { kind: 'write', op, entry: { key: `key-${op}`, version: `v${op}` as Version, value }, layout: 1 },
  };
}

function bytesFor(op: number): Uint8Array {
  const bytes = new Uint8Array(1 + (op % 50));
  bytes.fill(op & 255);
  return bytes;
}

function opOf(envelope: Envelope): number {
  return (envelope.message as { op: number }).op;
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function assertWriteFrom(envelope: Envelope, from: string, op: number): void {
  assert.equal(envelope.from, from);
  assert.equal(opOf(envelope), op);
  const entry = (envelope.message as { entry: { value: Uint8Array } }).entry;
  assert.ok(entry.value instanceof Uint8Array);
  assert.deepEqual([...entry.value], [...bytesFor(op)]);
}

scenario('two transports exchange envelopes with binary values, in order', { timeout: 10_000 }, async (t) => {
  const a = await open(t, 'a');
  const b = await open(t, 'b');
  connectAll([a, b]);
  const count = 2000;
  for (let op = 0; op < count; op++) {
    a.transport.send(writeEnvelope('a', 'b', op));
    b.transport.send(writeEnvelope('b', 'a', op));
  }
  await waitUntil(() => a.received.length === count && b.received.length === count, 'both directions');
  b.received.forEach((envelope, op) => assertWriteFrom(envelope, 'a', op));
  a.received.forEach((envelope, op) => assertWriteFrom(envelope, 'b', op));
  assert.equal(a.transport.stats().sent, count);
  assert.equal(b.transport.stats().received, count);
  assert.deepEqual(a.transport.stats().peers['b'], { connected: true, queued: 0 });
  assert.equal(a.transport.stats().dropped, 0);
  assert.deepEqual([...a.warnings, ...b.warnings], []);
});

scenario('three transports deliver to every peer and to themselves, in order per sender', { timeout: 10_000 }, async (t) => {
  const nodes = [await open(t, 'a'), await open(t, 'b'), await open(t, 'c')];
  connectAll(nodes);
  const perPair = 300;
  for (let op = 0; op < perPair; op++) {
    for (const from of nodes) {
      for (const to of nodes) from.transport.send(writeEnvelope(nodeIdOf(from), nodeIdOf(to), op));
    }
  }
  await waitUntil(() => nodes.every((node) => node.received.length === perPair * nodes.length), 'all deliveries');
  for (const node of nodes) {
    for (const from of nodes) {
      const sender = nodeIdOf(from);
      const ops = node.received.filter((envelope) => envelope.from === sender).map(opOf);
      assert.deepEqual(ops, [...Array(perPair).keys()], `${sender} -> ${nodeIdOf(node)}`);
      node.received.filter((envelope) => envelope.from === sender).forEach((envelope, op) => assertWriteFrom(envelope, sender, op));
    }
  }
});

scenario('messages to self are delivered asynchronously, batched, without a peer entry', { timeout: 5000 }, async (t) => {
  const a = await open(t, 'a');
  for (let op = 0; op < 100; op++) a.transport.send(writeEnvelope('a', 'a', op));
  assert.equal(a.received.length, 0, 'not delivered inside send');
  await waitUntil(() => a.received.length === 100, 'local delivery');
  assert.equal(a.batches.length, 1);
  assert.deepEqual(a.received.map(opOf), [...Array(100).keys()]);
  assert.deepEqual(a.transport.stats().peers, {});
});

scenario('many messages sent in one turn arrive in few batches', { timeout: 10_000 }, async (t) => {
  const a = await open(t, 'a');
  const b = await open(t, 'b');
  connectAll([a, b]);
  // Warm the connection up so the burst below is not simply queued behind the handshake.
  a.transport.send(writeEnvelope('a', 'b', 0));
  await waitUntil(() => b.received.length === 1, 'warm-up message');
  b.batches.length = 0;
  const count = 10_000;
  for (let op = 1; op <= count; op++) a.transport.send(writeEnvelope('a', 'b', op));
  await waitUntil(() => b.received.length === count + 1, 'the burst');
  // ~40 bytes per frame: one write of ~1 MiB, read back in socket-sized chunks, not 10,000 events.
  assert.ok(b.batches.length <= 100, `${b.batches.length} batches`);
  assert.deepEqual(b.received.slice(1).map(opOf), Array.from({ length: count }, (_, i) => i + 1));
});

scenario('a peer that starts later receives what was queued for it, up to the queue bound', { timeout: 10_000 }, async (t) => {
  const port = await freePort();
  const a = await open(t, 'a', { queueMessagesMax: 50, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port });
  for (let op = 0; op < 80; op++) a.transport.send(writeEnvelope('a', 'b', op));
  assert.deepEqual(a.transport.stats().peers['b'], { connected: false, queued: 50 });
  assert.equal(a.transport.stats().dropped, 30);
  // Let a few connection attempts fail (and be retried with backoff) before the peer appears.
  await waitUntil(() => a.warnings.length > 0, 'a failed connection attempt');
  await delay(150);
  assert.equal(a.warnings.length, 1, 'one warning per outage, not one per retry');
  const b = await open(t, 'b', { listen: { host, port } });
  await waitUntil(() => b.received.length === 50, 'the queued messages');
  assert.deepEqual(b.received.map(opOf), [...Array(50).keys()]);
  assert.deepEqual(a.transport.stats().peers['b'], { connected: true, queued: 0 });
});

scenario('frames queued longer than queueAgeMaxMs are dropped, not sent, when the peer comes back', { timeout: 10_000 }, async (t) => {
  const port = await freePort();
  const a = await open(t, 'a', { queueAgeMaxMs: 300, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port });
  for (let op = 0; op < 20; op++) a.transport.send(writeEnvelope('a', 'b', op));
  await delay(400);
  // Younger frames behind the stale ones are still sent, in order.
  for (let op = 20; op < 25; op++) a.transport.send(writeEnvelope('a', 'b', op));
  assert.equal(a.transport.stats().peers['b']?.connected, false);
  const b = await open(t, 'b', { listen: { host, port } });
  await waitUntil(() => b.received.length === 5, 'the frames queued within the age bound');
  assert.deepEqual(b.received.map(opOf), [20, 21, 22, 23, 24]);
  assert.equal(a.transport.stats().dropped, 20);
  // Once connected, frames go out at once and none is too old.
  for (let op = 25; op < 30; op++) a.transport.send(writeEnvelope('a', 'b', op));
  await waitUntil(() => b.received.length === 10, 'the frames sent while connected');
  assert.equal(a.transport.stats().dropped, 20);
});

scenario('frames for a peer that stays unreachable are dropped once too old, and the dialling stops', { timeout: 10_000 }, async (t) => {
  const port = await freePort();
  const a = await open(t, 'a', { queueAgeMaxMs: 200, reconnectDelayMs: 20, reconnectDelayMaxMs: 50 });
  a.transport.setPeer('b', { host, port });
  for (let op = 0; op < 10; op++) a.transport.send(writeEnvelope('a', 'b', op));
  await waitUntil(() => a.transport.stats().peers['b']?.queued === 0, 'the stale frames to go');
  assert.equal(a.transport.stats().dropped, 10);
  // With nothing left to send, no more attempts: a listener opened now is not dialled.
  await delay(100);
  const b = await open(t, 'b', { listen: { host, port } });
  await delay(300);
  assert.equal(b.received.length, 0);
  assert.equal(a.transport.stats().peers['b']?.connected, false);
});

scenario('a queue full of stale frames makes room for new ones', { timeout: 10_000 }, async (t) => {
  const port = await freePort();
  const a = await open(t, 'a', { queueMessagesMax: 5, queueAgeMaxMs: 200, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port });
  for (let op = 0; op < 5; op++) a.transport.send(writeEnvelope('a', 'b', op));
  a.transport.send(writeEnvelope('a', 'b', 5));
  assert.equal(a.transport.stats().dropped, 1, 'full of fresh frames: the new one is dropped');
  await delay(300);
  for (let op = 6; op < 9; op++) a.transport.send(writeEnvelope('a', 'b', op));
  assert.deepEqual(a.transport.stats().peers['b'], { connected: false, queued: 3 });
  assert.equal(a.transport.stats().dropped, 6);
  const b = await open(t, 'b', { listen: { host, port } });
  await waitUntil(() => b.received.length === 3, 'the fresh frames');
  assert.deepEqual(b.received.map(opOf), [6, 7, 8]);
});

scenario('a wrong cluster secret is rejected and nothing is delivered', { timeout: 10_000 }, async (t) => {
  const a = await open(t, 'a', { clusterSecret: 'wrong-secret' });
  const b = await open(t, 'b');
  a.transport.setPeer('b', b.transport.address());
  a.transport.send(writeEnvelope('a', 'b', 1));
  await waitUntil(() => b.warnings.some((w) => JSON.stringify(w.obj).includes('authentication failed')), 'the rejection');
  await waitUntil(() => a.warnings.length > 0, 'the client to notice');
  await delay(100);
  assert.equal(b.received.length, 0);
  // Nothing was written before the welcome, so the message is still queued, not lost.
  assert.deepEqual(a.transport.stats().peers['b'], { connected: false, queued: 1 });
});

/** Opens a raw socket to `harness` and resolves when the server closes it. */
function rawConnection(harness: Harness): { socket: net.Socket; closed: Promise<void> } {
  const socket = net.connect(harness.transport.address());
  socket.on('error', () => {});
  socket.resume(); // a paused socket would never see the server's FIN
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, closed };
}

scenario('garbage connections are closed and the server keeps working', { timeout: 10_000 }, async (t) => {
  const a = await open(t, 'a');
  const b = await open(t, 'b');
  connectAll([a, b]);
  const attacks: Buffer[] = [
    Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'), // header reads as a ~1 GB frame
    Buffer.from([0, 0, 0, 3, 0x92, 0x01, 0x02]), // small frame, undecodable body
    encodeFrame({ handshake: 'proof', nodeId: 'a', proof: Buffer.alloc(32) }), // wrong proof
    encodeFrame(writeEnvelope('a', 'b', 1)), // an envelope without a handshake
  ];
  for (const bytes of attacks) {
    const { socket, closed } = rawConnection(b);
    socket.write(bytes);
    await closed;
  }
  // A client that never speaks is dropped at the handshake timeout (shortened here).
  const slow = await open(t, 'slow', { handshakeTimeoutMs: 50 });
  await rawConnection(slow).closed;
  assert.ok(slow.warnings.some((w) => JSON.stringify(w.obj).includes('handshake timed out')));

  assert.equal(b.warnings.length, attacks.length);
  a.transport.send(writeEnvelope('a', 'b', 7));
  await waitUntil(() => b.received.length === 1, 'a real message after the garbage');
  assertWriteFrom(b.received[0] as Envelope, 'a', 7);
});

/** Completes the handshake by hand, as node `nodeId` would, and returns the authenticated socket. */
async function authenticatedConnection(harness: Harness, nodeId: string): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const { socket, closed } = rawConnection(harness);
  const decoder = new FrameDecoder();
  const frames: unknown[] = [];
  socket.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  await waitUntil(() => frames.length === 1, 'the challenge');
  const { nonce } = frames[0] as { nonce: Uint8Array };
  const proof = createHmac('sha256', secret).update(nonce).digest();
  socket.write(encodeFrame({ handshake: 'proof', nodeId, proof }));
  await waitUntil(() => frames.length === 2, 'the welcome');
  assert.deepEqual(frames[1], { handshake: 'welcome', nodeId: nodeIdOf(harness) });
  return { socket, closed };
}

scenario('an authenticated connection is closed on a bad frame, without delivering it', { timeout: 10_000 }, async (t) => {
  const b = await open(t, 'b');
  const bad: unknown[] = [
    { not: 'an envelope' },
    writeEnvelope('a', 'c', 1), // addressed to another node
    writeEnvelope('c', 'b', 1), // from a node other than the authenticated one
  ];
  for (const body of bad) {
    const { socket, closed } = await authenticatedConnection(b, 'a');
    // A good envelope in the same chunk is not delivered either: the batch is refused whole.
    socket.write(Buffer.concat([encodeFrame(writeEnvelope('a', 'b', 0)), encodeFrame(body)]));
    await closed;
  }
  const { socket, closed } = await authenticatedConnection(b, 'a');
  socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff])); // oversized
  await closed;
  assert.equal(b.received.length, 0);
  assert.equal(b.warnings.length, bad.length + 1);

  const good = await authenticatedConnection(b, 'a');
  good.socket.write(Buffer.concat([encodeFrame(writeEnvelope('a', 'b', 1)), encodeFrame(writeEnvelope('a', 'b', 2))]));
  await waitUntil(() => b.received.length === 2, 'hand-made envelopes');
  assert.equal(b.batches.length, 1, 'frames of one data event form one batch');
  good.socket.destroy();
});

scenario('a new connection from a peer closes its older one, which that peer has given up on', { timeout: 10_000 }, async (t) => {
  const b = await open(t, 'b');
  const old = await authenticatedConnection(b, 'a');
  const other = await authenticatedConnection(b, 'c');
  let oldClosed = false;
  void old.closed.then(() => (oldClosed = true));
  await delay(50);
  assert.equal(oldClosed, false, 'one connection per peer stays open');
  const fresh = await authenticatedConnection(b, 'a');
  await old.closed;
  fresh.socket.write(encodeFrame(writeEnvelope('a', 'b', 1)));
  other.socket.write(encodeFrame(writeEnvelope('c', 'b', 2)));
  await waitUntil(() => b.received.length === 2, 'envelopes on the new connection and on the other peer\'s');
  assert.equal(b.warnings.length, 0, 'a superseded connection is routine, not a warning');
  fresh.socket.destroy();
  other.socket.destroy();
});

scenario('unknown peers, full queues and oversized messages are dropped and counted', { timeout: 5000 }, async (t) => {
  const port = await freePort();
  const a = await open(t, 'a', { queueMessagesMax: 3, frameBytesMax: 1024 });
  a.transport.send(writeEnvelope('a', 'nobody', 1));
  assert.equal(a.transport.stats().dropped, 1);
  a.transport.setPeer('b', { host, port }); // nobody listens there
  for (let op = 0; op < 5; op++) a.transport.send(writeEnvelope('a', 'b', op));
  assert.equal(a.transport.stats().dropped, 1 + 2);
  a.transport.removePeer('c'); // unknown: a no-op
  a.transport.removePeer('b'); // its queue goes with it
  assert.equal(a.transport.stats().dropped, 1 + 2 + 3);
  assert.deepEqual(a.transport.stats().peers, {});
  a.transport.setPeer('b', { host, port });
  a.transport.send(writeEnvelope('a', 'b', 10, new Uint8Array(2048)));
  assert.equal(a.transport.stats().dropped, 1 + 2 + 3 + 1);
  assert.ok(a.warnings.some((w) => w.msg === 'dropping oversized message'));
  assert.deepEqual(a.transport.stats().peers['b'], { connected: false, queued: 0 });
});

scenario('a peer that takes in nothing is dialled again, and a new process at its address is reached', { timeout: 20_000 }, async (t) => {
  // A "b" that completes the handshake, then reads nothing more: its host froze or vanished without a
  // reset. The link waited for 'drain' for ever, so nothing reached b's next process (found in review).
  const stalled: net.Socket[] = [];
  const frozen = net.createServer((socket) => {
    stalled.push(socket);
    socket.write(encodeFrame({ handshake: 'challenge', protocolVersion: 1, nonce: Buffer.alloc(32, 7) }));
    socket.once('data', () => {
      socket.write(encodeFrame({ handshake: 'welcome', nodeId: 'b' }));
      socket.pause();
    });
  });
  await new Promise<void>((resolve) => frozen.listen(0, host, resolve));
  t.after(() => {
    for (const socket of stalled) socket.destroy();
    frozen.close();
  });
  const { port } = frozen.address() as net.AddressInfo;
  const a = await open(t, 'a', { stallTimeoutMs: 300, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port });
  a.transport.send(writeEnvelope('a', 'b', 0));
  await waitUntil(() => a.transport.stats().peers['b']?.connected === true, 'the frozen link');
  const big = new Uint8Array(256 * 1024);
  for (let op = 1; op < 64; op++) a.transport.send(writeEnvelope('a', 'b', op, big)); // more than the socket takes

  frozen.close(); // b's next process listens at the same address; the frozen socket stays open
  const b = await open(t, 'b', { listen: { host, port } });
  for (let op = 1000; !b.received.some((e) => opOf(e) >= 1000); op++) {
    a.transport.send(writeEnvelope('a', 'b', op));
    await delay(100);
    assert.ok(op < 1050, 'b is reached within 5 s');
  }
  assert.ok(a.warnings.some((w) => /took in nothing/.test(JSON.stringify(w.obj))), JSON.stringify(a.warnings));
});

/**
 * A "b" that completes the handshake agreeing to acknowledge (as a node of this build does), reads
 * everything, and answers with `onFrame` (nothing by default): what a peer behind a network cut looks
 * like to the sender, whose writes keep succeeding into the kernel's buffer.
 */
async function ackingStandIn(t: TestContext, onFrame: (socket: net.Socket, count: number) => void = () => undefined) {
  const sockets: net.Socket[] = [];
  const proofs: Record<string, unknown>[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const decoder = new FrameDecoder();
    let count = -1; // the proof comes first
    socket.on('error', () => undefined);
    socket.write(encodeFrame({ handshake: 'challenge', protocolVersion: 1, nonce: Buffer.alloc(32, 7) }));
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (count++ === -1) {
          proofs.push(frame as Record<string, unknown>);
          socket.write(encodeFrame({ handshake: 'welcome', nodeId: 'b', acks: true }));
        } else onFrame(socket, count);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, sockets, proofs };
}

scenario('a peer that takes frames in but acknowledges none is dialled again (a network cut)', { timeout: 10_000 }, async (t) => {
  // Across a real cut the frames sit unacknowledged in the kernel and `write` goes on succeeding; the
  // link stayed "connected" until the kernel's retransmission, backed off to a minute and more
  // (test/integration/partition.test.ts).
  const standIn = await ackingStandIn(t);
  const a = await open(t, 'a', { stallTimeoutMs: 300, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port: standIn.port });
  a.transport.send(writeEnvelope('a', 'b', 0));
  await waitUntil(() => a.warnings.length > 0, 'the link given up', 3000);
  assert.match(JSON.stringify(a.warnings[0]?.obj), /acknowledged nothing for 300 ms/);
  a.transport.send(writeEnvelope('a', 'b', 1)); // the next message dials again
  await waitUntil(() => standIn.sockets.length === 2, 'a second connection', 3000);
  assert.equal(standIn.proofs[0]?.['ackWithinMs'], 75, 'acks asked for within a quarter of the stall timeout');
});

scenario('acks that keep coming keep the link; an ack of frames never sent ends it', { timeout: 10_000 }, async (t) => {
  const acking = await ackingStandIn(t, (socket, count) => socket.write(encodeFrame({ ack: count })));
  const a = await open(t, 'a', { stallTimeoutMs: 300, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port: acking.port });
  for (let op = 0; op < 30; op++) {
    a.transport.send(writeEnvelope('a', 'b', op));
    await delay(50); // 1.5 s, five stall timeouts
  }
  assert.equal(acking.sockets.length, 1, JSON.stringify(a.warnings));
  assert.equal(a.warnings.length, 0, JSON.stringify(a.warnings));

  const lying = await ackingStandIn(t, (socket) => socket.write(encodeFrame({ ack: 99 })));
  a.transport.setPeer('b', { host, port: lying.port });
  a.transport.send(writeEnvelope('a', 'b', 100));
  await waitUntil(() => a.warnings.length > 0, 'the refusal');
  assert.match(JSON.stringify(a.warnings[0]?.obj), /ack of 99 frames, 0 acked and 1 sent/);
});

scenario('a sender that stood still past the ack deadline reads the ack that came meanwhile before it gives up the link', { timeout: 10_000 }, async (t) => {
  // The stand-in acks at once and then holds the whole process (both ends are in it) for longer
  // than the deadline: the ack is in a's socket when a's timer fires, and timers run before sockets
  // are read.
  let stand = true;
  const acking = await ackingStandIn(t, (socket, count) => {
    socket.write(encodeFrame({ ack: count }));
    if (stand) {
      stand = false;
      const until = performance.now() + 500;
      while (performance.now() < until); // a GC pause, or SIGSTOP
    }
  });
  const a = await open(t, 'a', { stallTimeoutMs: 300, reconnectDelayMs: 20 });
  a.transport.setPeer('b', { host, port: acking.port });
  a.transport.send(writeEnvelope('a', 'b', 0));
  await waitUntil(() => !stand, 'the stand-still');
  await delay(100);
  a.transport.send(writeEnvelope('a', 'b', 1));
  await delay(400);
  assert.deepEqual(a.warnings, [], 'the link is kept');
  assert.equal(acking.sockets.length, 1, 'and not dialled again');
});

scenario('a node acknowledges the frames of a client that asks, and sends nothing to one that does not', { timeout: 10_000 }, async (t) => {
  const b = await open(t, 'b');
  const { socket } = rawConnection(b);
  const decoder = new FrameDecoder();
  const frames: unknown[] = [];
  socket.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  await waitUntil(() => frames.length === 1, 'the challenge');
  const proof = createHmac('sha256', secret).update((frames[0] as { nonce: Uint8Array }).nonce).digest();
  socket.write(encodeFrame({ handshake: 'proof', nodeId: 'a', proof, ackWithinMs: 20 }));
  await waitUntil(() => frames.length === 2, 'the welcome');
  assert.deepEqual(frames[1], { handshake: 'welcome', nodeId: 'b', acks: true });
  socket.write(Buffer.concat([1, 2, 3].map((op) => encodeFrame(writeEnvelope('a', 'b', op)))));
  await waitUntil(() => frames.length === 3, 'an ack');
  assert.deepEqual(frames[2], { ack: 3 });
  socket.destroy();

  // A node of an older build asks for nothing, and gets nothing but the welcome (it would take any
  // other frame for a protocol violation).
  const old = await authenticatedConnection(b, 'a');
  const after: unknown[] = [];
  const oldDecoder = new FrameDecoder();
  old.socket.on('data', (chunk: Buffer) => after.push(...oldDecoder.push(chunk)));
  old.socket.write(encodeFrame(writeEnvelope('a', 'b', 4)));
  await waitUntil(() => b.received.length === 4, 'delivery');
  await delay(200);
  assert.deepEqual(after, []);
  old.socket.destroy();
});

scenario('setPeer with a new address moves the connection there', { timeout: 10_000 }, async (t) => {
  const a = await open(t, 'a');
  const oldB = await open(t, 'b');
  connectAll([a, oldB]);
  a.transport.send(writeEnvelope('a', 'b', 1));
  await waitUntil(() => oldB.received.length === 1, 'delivery to the old address');
  const newB = await open(t, 'b');
  a.transport.setPeer('b', newB.transport.address());
  a.transport.send(writeEnvelope('a', 'b', 2));
  await waitUntil(() => newB.received.length === 1, 'delivery to the new address');
  assert.equal(oldB.received.length, 1);
  assert.deepEqual(a.warnings, []);
});

scenario('a peer address that answers as another node is refused', { timeout: 10_000 }, async (t) => {
  const a = await open(t, 'a', { reconnectDelayMs: 1000 });
  const c = await open(t, 'c');
  a.transport.setPeer('b', c.transport.address()); // misconfigured: that is c
  a.transport.send(writeEnvelope('a', 'b', 1));
  await waitUntil(() => a.warnings.length > 0, 'the refusal');
  assert.match(JSON.stringify(a.warnings[0]?.obj), /is node \\"c\\"/);
  assert.equal(c.received.length, 0);
});

scenario('start rejects clearly when the address is in use', { timeout: 5000 }, async (t) => {
  const a = await open(t, 'a');
  const b = new TcpTransport({ nodeId: 'b', listen: a.transport.address(), clusterSecret: secret });
  await assert.rejects(b.start(), /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
  await b.stop();
});

// ---- stop() leaves nothing behind -------------------------------------------------------------
// The real check is that a process using transports exits on its own once they are stopped.

/** Resources still held once closing handles have finished closing (a few turns of the loop). */
async function settledResources(): Promise<string[]> {
  const relevant = (): string[] => process.getActiveResourcesInfo().filter((resource) => /TCP|Timeout|Immediate/.test(resource));
  for (let turn = 0; turn < 100 && relevant().length > 0; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  return relevant();
}

async function exerciseAndStop(): Promise<void> {
  const nodes = [await open(null, 'a'), await open(null, 'b'), await open(null, 'c')];
  connectAll(nodes);
  nodes[0]?.transport.setPeer('down', { host, port: await freePort() }); // a reconnect timer pending
  for (let op = 0; op < 100; op++) {
    for (const from of nodes) {
      for (const to of ['a', 'b', 'c', 'down']) from.transport.send(writeEnvelope(nodeIdOf(from), to, op));
    }
  }
  await waitUntil(() => nodes.every((node) => node.received.length === 300), 'all deliveries');
  // Leave traffic in flight and a connection half-open while stopping.
  for (const from of nodes) from.transport.send(writeEnvelope(nodeIdOf(from), 'b', 1000));
  const raw = net.connect(nodes[1]!.transport.address());
  raw.on('error', () => {});
  await Promise.all(nodes.map((node) => node.transport.stop()));
  raw.destroy();
  const leftovers = await settledResources();
  console.log(`stopped; leftover resources: ${JSON.stringify(leftovers)}`);
}

if (isChild) {
  await exerciseAndStop();
} else {
  scenario('after stop() no handles remain: a process using transports exits by itself', { timeout: 20_000 }, async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    // Without the test runner's context variable the child runs as a plain script.
    const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      cwd: root,
      env: { ...env, [childVariable]: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitTimeoutMs = 15_000;
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, exitTimeoutMs);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    assert.notEqual(code, null, `child did not exit within ${exitTimeoutMs} ms:\n${output}`);
    assert.equal(code, 0, output);
    // Exiting at all is the real test; a timer that fires once more after stop() would still let the
    // process exit, so the child also lists what is left the moment stop() has resolved.
    assert.match(output, /stopped; leftover resources: \[\]/);
  });
}
