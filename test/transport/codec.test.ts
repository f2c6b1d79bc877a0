import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, FrameDecoder, FrameError, frameHeaderBytes, isEnvelope } from '../../src/transport/codec.js';

/** mulberry32: a small seeded generator, so a failing fuzz case can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInt(random: () => number, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

/** Decoded binaries are Buffers (a Uint8Array subclass); compare them as plain Uint8Arrays. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, normalize(field)]));
  }
  return value;
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = randomInt(random, 256);
  return bytes;
}

function randomBody(random: () => number, index: number): unknown {
  const valueBytes = random() < 0.05 ? randomInt(random, 200_000) : randomInt(random, 300);
  return {
    from: `n${randomInt(random, 5)}`,
    to: `n${randomInt(random, 5)}`,
    clock: { wallMs: 1_732_000_000_000 + index, counter: randomInt(random, 2 ** 32) },
    message: {
      kind: random() < 0.5 ? 'write' : 'some-future-kind',
      op: index,
      entry: { key: `key-${index}-\u00e9\u4e2d`, version: 'v', value: random() < 0.1 ? null : randomBytes(random, valueBytes) },
      flags: [true, false, null, -1.5, 2 ** 40],
      nested: { depth: { deeper: [randomInt(random, 100), 'x'.repeat(randomInt(random, 40))] } },
    },
  };
}

/** Cuts `stream` at random points, including empty and one-byte chunks. */
function randomChunks(random: () => number, stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const roll = random();
    const length = roll < 0.1 ? 0 : roll < 0.3 ? 1 : roll < 0.6 ? randomInt(random, 16) : randomInt(random, 70_000);
    chunks.push(stream.subarray(offset, offset + length));
    offset += length;
  }
  return chunks;
}

test('a frame is a 4-byte big-endian length and a body that round-trips', () => {
  const body = {
    from: 'a',
    to: 'b',
    clock: { wallMs: 1_732_567_890_123, counter: 7 },
    message: { kind: 'write', op: 1, entry: { key: 'k', version: 'v', value: new Uint8Array([0, 1, 255]) } },
  };
  const frame = encodeFrame(body);
  assert.equal(frame.readUInt32BE(0), frame.length - frameHeaderBytes);
  const [decoded] = new FrameDecoder().push(frame);
  assert.deepEqual(normalize(decoded), normalize(body));
});

test('binary values decode as independent Uint8Arrays', () => {
  const value = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
  const frame = Buffer.from(encodeFrame({ value }));
  const [decoded] = new FrameDecoder().push(frame) as [{ value: Uint8Array }];
  assert.ok(decoded.value instanceof Uint8Array);
  assert.deepEqual([...decoded.value], [2, 3]);
  frame.fill(0); // the decoded value must not be a view into the received chunk
  assert.deepEqual([...decoded.value], [2, 3]);
});

test('undefined optional fields round-trip as undefined', () => {
  const body = { kind: 'write', hintFor: undefined, current: 'v', list: [1, undefined] };
  const [decoded] = new FrameDecoder().push(encodeFrame(body)) as [Record<string, unknown>];
  assert.deepStrictEqual(decoded, body);
  assert.equal(decoded['hintFor'], undefined);
  const [omitted] = new FrameDecoder().push(encodeFrame({ kind: 'write' })) as [object];
  assert.equal('hintFor' in omitted, false);
});

test('a 1 MiB value round-trips', () => {
  const value = randomBytes(seededRandom(1), 1024 * 1024);
  const [decoded] = new FrameDecoder().push(encodeFrame({ value })) as [{ value: Uint8Array }];
  assert.ok(Buffer.from(value).equals(decoded.value));
});

test('fuzz: frames survive arbitrary chunk boundaries', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(seed);
    const bodies = Array.from({ length: 1 + randomInt(random, 60) }, (_, i) => randomBody(random, i));
    const stream = Buffer.concat(bodies.map((body) => encodeFrame(body)));
    const decoder = new FrameDecoder();
    const decoded = randomChunks(random, stream).flatMap((chunk) => decoder.push(chunk));
    assert.deepEqual(decoded.map(normalize), bodies.map(normalize), `seed ${seed}`);
    assert.equal(decoder.bufferedBytes, 0, `seed ${seed}`);
  }
});

test('many frames in one chunk decode together, in order', () => {
  const bodies = Array.from({ length: 500 }, (_, i) => ({ i, payload: new Uint8Array([i & 255]) }));
  const decoded = new FrameDecoder().push(Buffer.concat(bodies.map((body) => encodeFrame(body))));
  assert.deepEqual(decoded.map(normalize), bodies.map(normalize));
});

test('a partial frame is held until its last byte arrives', () => {
  const frame = encodeFrame({ hello: 'world' });
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(frame.subarray(0, 2)), []);
  assert.deepEqual(decoder.push(frame.subarray(2, frame.length - 1)), []);
  assert.equal(decoder.bufferedBytes, frame.length - 1);
  assert.deepEqual(decoder.push(frame.subarray(frame.length - 1)), [{ hello: 'world' }]);
});

test('an oversized frame is refused as soon as its header arrives', () => {
  const decoder = new FrameDecoder({ frameBytesMax: 100 });
  const header = Buffer.alloc(4);
  header.writeUInt32BE(101, 0);
  assert.throws(() => decoder.push(header), FrameError);
  // The stream's framing is lost: the decoder stays failed.
  assert.throws(() => decoder.push(encodeFrame({ ok: true })), FrameError);
  // A frame of exactly the bound is fine.
  const overheadBytes = encodeFrame({ blob: new Uint8Array(50) }).length - frameHeaderBytes - 50;
  const atBound = encodeFrame({ blob: new Uint8Array(100 - overheadBytes) });
  assert.equal(atBound.length - frameHeaderBytes, 100);
  assert.equal(new FrameDecoder({ frameBytesMax: 100 }).push(atBound).length, 1);
});

test('the default bound is 16 MiB', () => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(16 * 1024 * 1024 + 1, 0);
  assert.throws(() => new FrameDecoder().push(header), FrameError);
  header.writeUInt32BE(16 * 1024 * 1024, 0);
  assert.deepEqual(new FrameDecoder().push(header), []);
});

function frameOf(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

test('garbage bodies are FrameErrors', () => {
  const cases: [string, Buffer][] = [
    ['trailing bytes', frameOf(Buffer.from('junk junk junk'))],
    ['truncated array', frameOf(Buffer.from([0x92, 0x01]))],
    ['truncated string', frameOf(Buffer.from([0xa5, 0x61]))],
    ['unknown extension', frameOf(Buffer.from([0xd4, 0x42 + 1, 0x00]))],
    ['empty body', frameOf(Buffer.alloc(0))],
  ];
  for (const [name, frame] of cases) {
    assert.throws(() => new FrameDecoder().push(frame), FrameError, name);
  }
});

test('frames before a garbage frame in the same chunk are not returned', () => {
  const decoder = new FrameDecoder();
  const chunk = Buffer.concat([encodeFrame({ ok: 1 }), frameOf(Buffer.from([0x92, 0x01]))]);
  assert.throws(() => decoder.push(chunk), FrameError);
});

test('isEnvelope checks the envelope shape', () => {
  const good = { from: 'a', to: 'b', clock: { wallMs: 1, counter: 0 }, message: { kind: 'anything' } };
  assert.equal(isEnvelope(good), true);
  const bad: unknown[] = [
    null,
    'envelope',
    [],
    { ...good, from: '' },
    { ...good, to: 5 },
    { ...good, clock: null },
    { ...good, clock: { wallMs: -1, counter: 0 } },
    { ...good, clock: { wallMs: 1, counter: Number.NaN } },
    { ...good, clock: { wallMs: Number.POSITIVE_INFINITY, counter: 0 } },
    { ...good, clock: { wallMs: '1', counter: 0 } },
    { ...good, message: null },
    { ...good, message: [] },
    { ...good, message: { kind: 3 } },
    { from: 'a', to: 'b', clock: { wallMs: 1, counter: 0 } },
  ];
  for (const value of bad) assert.equal(isEnvelope(value), false, JSON.stringify(value));
});
