// Binary framing for node-to-node traffic: every frame is a 4-byte big-endian body length followed by
// a MessagePack body. The codec is generic (any plain value), so new message kinds need no changes
// here; the shape of an envelope is checked separately by `isEnvelope`, because a decoded frame comes
// from another process and is checked again before it reaches the core.

import { Packr, RESERVE_START_SPACE, type Options } from 'msgpackr';
import type { Envelope } from '../core/messages.js';

export const frameHeaderBytes = 4;
/** Default bound on one frame body; a value is at most 1 MiB, so this leaves room for batches of them. */
export const frameBytesMaxDefault = 16 * 1024 * 1024;
/** The length header is a uint32, so no bound can exceed it. */
export const frameBytesLimit = 0xffff_ffff;

export class FrameError extends Error {
  override name = 'FrameError';
}

// `undefined` (an optional field that is present but unset) is encoded as msgpackr's undefined
// extension and decodes as `undefined`, so the receiver sees what the sender had. (Omitting such fields
// with msgpackr's `skipValues` costs about a fifth of the encoding time.) `copyBuffers` makes every
// decoded Uint8Array an independent copy: otherwise it would be a view into the received chunk,
// keeping the whole chunk (up to a full batch of frames) alive for as long as the core holds one small
// value. The copy costs about half a microsecond per binary value. `structuredClone: false` refuses the
// reference extensions, which a peer has no reason to send.
const packrOptions: Options = {
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  copyBuffers: true,
};
const packr = new Packr(packrOptions);

/** Returns `frameBytesMax` if it is a usable frame bound, else throws. */
export function checkFrameBytesMax(frameBytesMax: number): number {
  if (!Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > frameBytesLimit) {
    throw new RangeError(`frameBytesMax must be an integer in [1, ${frameBytesLimit}]`);
  }
  return frameBytesMax;
}

/** Encodes `body` as one frame. Throws if the body cannot be encoded (a bug, not a network failure). */
export function encodeFrame(body: unknown): Buffer {
  // Reserving the header space inside msgpackr's own output buffer saves a copy per frame.
  const frame = packr.pack(body, RESERVE_START_SPACE | frameHeaderBytes);
  frame.writeUInt32BE(frame.length - frameHeaderBytes, 0);
  return frame;
}

export interface FrameDecoderOptions {
  frameBytesMax?: number;
}

/**
 * Reassembles frames from a byte stream cut at arbitrary points. Chunks are kept as a list and joined
 * only once a whole frame is present, so a large frame arriving in many chunks is copied once, not once
 * per chunk. After a `FrameError` the stream is unusable (its framing is lost) and so is the decoder.
 */
export class FrameDecoder {
  readonly frameBytesMax: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next frame (or its header) can be decoded. */
  private neededBytes = frameHeaderBytes;
  private failure: FrameError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.frameBytesMax = checkFrameBytesMax(options.frameBytesMax ?? frameBytesMaxDefault);
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns the bodies of all frames it completed, in order. */
  push(chunk: Uint8Array): unknown[] {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return [];
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.buffered += chunk.length;
    if (this.buffered < this.neededBytes) return [];
    try {
      return this.drain();
    } catch (error) {
      this.failure = error instanceof FrameError ? error : new FrameError(String(error));
      this.chunks = [];
      this.buffered = 0;
      throw this.failure;
    }
  }

  private drain(): unknown[] {
    const data = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const bodies: unknown[] = [];
    let offset = 0;
    this.neededBytes = frameHeaderBytes;
    while (data.length - offset >= frameHeaderBytes) {
      const bodyBytes = this.readBodyBytes(data, offset);
      const end = offset + frameHeaderBytes + bodyBytes;
      if (end > data.length) {
        this.neededBytes = end - offset;
        break;
      }
      bodies.push(decodeBody(data, offset + frameHeaderBytes, end));
      offset = end;
    }
    const rest = offset === data.length ? null : data.subarray(offset);
    this.chunks = rest ? [rest] : [];
    this.buffered = rest ? rest.length : 0;
    return bodies;
  }

  private readBodyBytes(data: Buffer, offset: number): number {
    const bodyBytes = data.readUInt32BE(offset);
    // Checked as soon as the header arrives, so an oversized frame is refused before it is buffered.
    if (bodyBytes > this.frameBytesMax) {
      throw new FrameError(`frame of ${bodyBytes} bytes exceeds the limit of ${this.frameBytesMax} bytes`);
    }
    // No MessagePack value is encoded in zero bytes.
    if (bodyBytes === 0) throw new FrameError('empty frame');
    return bodyBytes;
  }
}

function decodeBody(data: Buffer, start: number, end: number): unknown {
  try {
    // msgpackr throws if the value ends before `end` (trailing bytes) or runs past it (truncated).
    return packr.unpack(data, { start, end });
  } catch (error) {
    throw new FrameError(`undecodable frame body: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Shape check for an envelope that arrived from outside this process. It checks the envelope frame,
 * not each message kind's fields: those are the core's to check.
 */
export function isEnvelope(value: unknown): value is Envelope {
  if (!isObject(value)) return false;
  const { from, to, clock, message } = value;
  return (
    isNonEmptyString(from) &&
    isNonEmptyString(to) &&
    isObject(clock) &&
    isCount(clock['wallMs']) &&
    isCount(clock['counter']) &&
    isObject(message) &&
    typeof message['kind'] === 'string'
  );
}
