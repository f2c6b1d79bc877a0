// Redis protocol requests on the wire: decoded by redis-parser (a maintained RESP parser) with the
// limits and the inline form that a Redis server accepts (replies are encoded in replies.ts).
//
// Clients send commands as RESP2 arrays of bulk strings, under RESP3 too. A request that
// does not start with '*' is an inline command (a line of space-separated words, as typed in telnet).
// redis-parser knows no inline form, so the decoder hands it only frames that start with '*' and
// reads inline lines itself. Whatever breaks a limit or the grammar is a protocol error: the decoder
// stops for good and the connection answers `-ERR Protocol error: ...` and closes (Redis does the same).

import RedisParser from 'redis-parser';

// ---- limits ---------------------------------------------------------------------------------------

export interface DecoderLimits {
  /** Longest bulk string argument, in bytes (Redis: proto-max-bulk-len). */
  readonly bulkBytesMax: number;
  /** Most arguments in one command (Redis: 1024 * 1024). */
  readonly argumentCountMax: number;
  /** Longest inline command line or header line, in bytes (Redis: 64 KiB). */
  readonly inlineBytesMax: number;
  /**
   * Most bytes of one command still incomplete (Redis: client-query-buffer-limit). Each argument is
   * bounded, but a million of them were not: one unfinished command could fill the node's memory.
   */
  readonly commandBytesMax: number;
  /** Set while the connection has not authenticated: the limits are then Redis's for that case. */
  readonly unauthenticated?: boolean;
}

export const argumentCountMaxDefault = 1024 * 1024;
export const commandBytesMaxDefault = 64 * 1024 * 1024;
export const inlineBytesMaxDefault = 64 * 1024;

/**
 * What a connection may send before it authenticates, as in Redis since 6.2 (CVE-2021-32675):
 * commands of at most 10 arguments of at most 16 KiB. Without it, anyone who can connect could make a
 * node hold 64 MiB per connection in unfinished commands that AUTH would have refused.
 */
export function unauthenticatedLimits(limits: DecoderLimits): DecoderLimits {
  return { ...limits, argumentCountMax: 10, bulkBytesMax: Math.min(limits.bulkBytesMax, 16 * 1024), unauthenticated: true };
}

// ---- request decoding -----------------------------------------------------------------------------

export interface DecoderSink {
  /** A complete command: args[0] is its name. Never empty. */
  command(args: Buffer[]): void;
  /** The stream broke the protocol; nothing more is decoded. `message` follows "Protocol error: ". */
  protocolError(message: string): void;
}

/** The parts of redis-parser 3.0.0's state the decoder reads (checked against its source). */
interface ParserState {
  buffer: Buffer | null;
  offset: number;
  bigStrSize: number;
  /** Partial arrays, innermost first; arrayPos holds how many elements of each are filled. */
  arrayCache: unknown[][];
  arrayPos: number[];
}

const asterisk = 0x2a;
const newline = 0x0a;
const carriageReturn = 0x0d;
/** A header line "*<count>\r\n" or "$<length>\r\n" longer than this is garbage. */
const headerDigitsMax = 20;

export class RequestDecoder {
  private readonly parser: RedisParser;
  private readonly state: ParserState;
  /** The start of a request (an inline line, or a "*<count>" header line) not yet complete. */
  private held: Buffer | null = null;
  /** Input after a complete frame, taken back from the parser to start the next request here. */
  private handedBack: Buffer | null = null;
  private stopped = false;
  /** Elements of the partial top-level array already checked. */
  private elementsChecked = 0;
  /** Bytes pushed since the last complete command (short by at most the chunk that completed it). */
  private pendingBytes = 0;

  constructor(
    private readonly sink: DecoderSink,
    private limits: DecoderLimits,
  ) {
    this.parser = new RedisParser({
      returnReply: (reply: unknown) => this.onFrame(reply),
      returnError: () => this.fail("expected '$', got '-'"),
      // "Protocol error, got "!" as reply type byte": an element that is not a bulk string.
      returnFatalError: (error: Error) => this.fail(`expected '$', got '${/got "(.*)" as reply type/.exec(error.message)?.[1] ?? '?'}'`),
      returnBuffers: true,
    });
    this.state = this.parser as unknown as ParserState;
  }

  /** The limits for what follows (the connection authenticated: the full ones). */
  setLimits(limits: DecoderLimits): void {
    this.limits = limits;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops decoding (after QUIT, or when the connection goes away). */
  stop(): void {
    this.stopped = true;
    this.skipRestOfParserInput();
  }

  push(chunk: Buffer): void {
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > this.limits.commandBytesMax && !this.stopped) {
      this.fail(`command over ${this.limits.commandBytesMax} bytes`);
      return;
    }
    let data: Buffer | null = chunk;
    while (data !== null && data.length > 0 && !this.stopped) {
      if (this.state.buffer !== null) {
        data = this.execute(data); // the rest of a frame the parser started
        continue;
      }
      if (this.held !== null) {
        data = Buffer.concat([this.held, data]);
        this.held = null;
      }
      data = data[0] === asterisk ? this.startFrame(data) : this.pushInline(data);
    }
  }

  /**
   * A request starting with '*': its "*<count>\r\n" header is checked before redis-parser allocates
   * an array for it (digits only, or a negative count that Redis ignores; at most argumentCountMax).
   */
  private startFrame(data: Buffer): Buffer | null {
    const end = data.indexOf(carriageReturn);
    if (end < 0 || end + 1 >= data.length) {
      if (data.length > headerDigitsMax + 3) return this.failed('invalid multibulk length');
      this.held = Buffer.from(data);
      return null;
    }
    let index = 1;
    const negative = data[index] === 0x2d;
    if (negative) index += 1;
    let count = 0;
    if (index === end || end - index > headerDigitsMax || data[end + 1] !== newline) return this.failed('invalid multibulk length');
    for (; index < end; index++) {
      const byte = data[index] as number;
      if (byte < 0x30 || byte > 0x39) return this.failed('invalid multibulk length');
      count = count * 10 + (byte - 0x30);
    }
    if (!negative && count > this.limits.argumentCountMax) return this.failed(this.tooManyArguments());
    return this.execute(data);
  }

  /** Feeds the parser; returns what follows the frame it completed, if anything. */
  private execute(data: Buffer): Buffer | null {
    this.handedBack = null;
    try {
      this.parser.execute(data);
    } catch (error) {
      // redis-parser throws on absurd lengths (new Array(2^40)).
      return this.failed(`invalid multibulk length (${(error as Error).message})`);
    }
    if (this.stopped || !this.checkPartialFrame()) return null;
    const rest = this.handedBack;
    this.handedBack = null;
    return rest;
  }

  /** Consumes one inline line if it is complete; returns what follows it, or null to wait for more. */
  private pushInline(data: Buffer): Buffer | null {
    const end = data.indexOf(newline);
    if (end < 0) {
      if (data.length > this.limits.inlineBytesMax) return this.failed('too big inline request');
      this.held = Buffer.from(data);
      return null;
    }
    if (end > this.limits.inlineBytesMax) return this.failed('too big inline request');
    const args = splitInlineArguments(data.subarray(0, end));
    if (args === undefined) return this.failed('unbalanced quotes in request');
    if (args.length > 0) this.deliver(args);
    return data.subarray(end + 1);
  }

  private onFrame(reply: unknown): void {
    if (this.stopped) return;
    this.elementsChecked = 0;
    const state = this.state;
    const buffer = state.buffer;
    // Take back whatever follows this frame (the parser's loop ends when offset reaches the end):
    // the next request, inline or not, starts in push().
    if (buffer !== null && state.offset < buffer.length) {
      this.handedBack = buffer.subarray(state.offset);
      state.offset = buffer.length;
    }
    if (reply === null) return; // "*-1\r\n": Redis ignores it
    if (!Array.isArray(reply)) {
      this.fail(`expected '*', got '${typeof reply}'`);
      return;
    }
    if (reply.length === 0) return; // "*0\r\n": Redis ignores it
    if (reply.length > this.limits.argumentCountMax) {
      this.fail(this.tooManyArguments());
      return;
    }
    for (const arg of reply) {
      const problem = this.checkElement(arg);
      if (problem !== undefined) {
        this.fail(problem);
        return;
      }
    }
    this.deliver(reply as Buffer[]);
  }

  /** What is wrong with one element of a request array, if anything. */
  private checkElement(element: unknown): string | undefined {
    if (!Buffer.isBuffer(element)) return element === null ? 'invalid bulk length' : `expected '$', got '${describeElement(element)}'`;
    if (element.length > this.limits.bulkBytesMax) return this.overLimit(element.length);
    return undefined;
  }

  /** Redis's words for a bulk over its limit, and then ours: which limit (a value too big to store). */
  private overLimit(bytes: number): string {
    if (this.limits.unauthenticated) return 'unauthenticated bulk length';
    return `invalid bulk length: ${bytes} bytes, the limit is ${this.limits.bulkBytesMax}`;
  }

  private tooManyArguments(): string {
    return this.limits.unauthenticated ? 'unauthenticated multibulk length' : 'invalid multibulk length';
  }

  private deliver(args: Buffer[]): void {
    this.pendingBytes = 0;
    this.sink.command(args);
  }

  /** Limits on a frame the parser is still waiting for the rest of. */
  private checkPartialFrame(): boolean {
    const state = this.state;
    if (state.buffer === null) return true;
    if (state.arrayCache.length > 1) {
      this.fail("expected '$', got '*'");
      return false;
    }
    const top = state.arrayCache[0];
    if (top !== undefined) {
      if (top.length > this.limits.argumentCountMax) {
        this.fail(this.tooManyArguments());
        return false;
      }
      const filled = state.arrayPos[0] ?? 0;
      for (let i = this.elementsChecked; i < filled; i++) {
        const problem = this.checkElement(top[i]);
        if (problem !== undefined) {
          this.fail(problem);
          return false;
        }
      }
      this.elementsChecked = filled;
    }
    if (state.bigStrSize > 0) {
      // redis-parser keeps offset at the start of the bulk data and bigStrSize at its end + 2.
      const declared = state.bigStrSize - state.offset - 2;
      if (declared < 0 || !isBulkHeaderBefore(state.buffer, state.offset)) {
        this.fail('invalid bulk length');
        return false;
      }
      if (declared > this.limits.bulkBytesMax) {
        this.fail(this.overLimit(declared));
        return false;
      }
      return true;
    }
    // Waiting for the rest of a header line: it must end soon.
    if (state.buffer.length - state.offset > this.limits.inlineBytesMax) {
      this.fail('too big bulk count string');
      return false;
    }
    return true;
  }

  private failed(message: string): null {
    this.fail(message);
    return null;
  }

  private fail(message: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.skipRestOfParserInput();
    this.sink.protocolError(message);
  }

  private skipRestOfParserInput(): void {
    const state = this.state;
    if (state.buffer !== null) state.offset = state.buffer.length;
    this.held = null;
    this.handedBack = null;
  }
}

/** Whether "$<digits>\r\n" ends right before `offset` (where redis-parser left a pending bulk's data). */
function isBulkHeaderBefore(buffer: Buffer, offset: number): boolean {
  if (offset < 4 || buffer[offset - 1] !== newline || buffer[offset - 2] !== carriageReturn) return false;
  let index = offset - 3;
  const digitsEnd = index;
  while (index >= 0 && (buffer[index] as number) >= 0x30 && (buffer[index] as number) <= 0x39) index--;
  return index >= 0 && index < digitsEnd && buffer[index] === 0x24 && digitsEnd - index <= headerDigitsMax;
}

function describeElement(element: unknown): string {
  if (element === null) return '$-1';
  if (typeof element === 'number') return ':';
  if (Array.isArray(element)) return '*';
  return typeof element;
}

/**
 * Splits an inline command line like Redis's sdssplitargs: words separated by blanks, "double
 * quoted" words with \n \r \t \b \a \\ \" \xHH escapes, 'single quoted' words with \'. Returns
 * undefined for unbalanced quotes. A trailing "\r" is dropped.
 */
export function splitInlineArguments(line: Buffer): Buffer[] | undefined {
  let end = line.length;
  if (end > 0 && line[end - 1] === carriageReturn) end -= 1;
  const args: Buffer[] = [];
  let index = 0;
  const isBlank = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0b || byte === 0x0c;
  while (index < end) {
    while (index < end && isBlank(line[index] as number)) index++;
    if (index >= end) break;
    const bytes: number[] = [];
    let inDouble = false;
    let inSingle = false;
    for (;;) {
      if (index >= end) {
        if (inDouble || inSingle) return undefined;
        break;
      }
      const byte = line[index] as number;
      if (inDouble) {
        if (byte === 0x5c && index + 3 < end && line[index + 1] === 0x78 && isHex(line[index + 2]) && isHex(line[index + 3])) {
          bytes.push(parseInt(String.fromCharCode(line[index + 2] as number, line[index + 3] as number), 16));
          index += 4;
          continue;
        }
        if (byte === 0x5c && index + 1 < end) {
          const next = line[index + 1] as number;
          bytes.push(escapes.get(next) ?? next);
          index += 2;
          continue;
        }
        if (byte === 0x22) {
          // A closing quote must be followed by a blank or the end.
          if (index + 1 < end && !isBlank(line[index + 1] as number)) return undefined;
          index += 1;
          break;
        }
        bytes.push(byte);
        index += 1;
        continue;
      }
      if (inSingle) {
        if (byte === 0x5c && index + 1 < end && line[index + 1] === 0x27) {
          bytes.push(0x27);
          index += 2;
          continue;
        }
        if (byte === 0x27) {
          if (index + 1 < end && !isBlank(line[index + 1] as number)) return undefined;
          index += 1;
          break;
        }
        bytes.push(byte);
        index += 1;
        continue;
      }
      if (isBlank(byte)) break;
      if (byte === 0x22 && bytes.length === 0) inDouble = true;
      else if (byte === 0x27 && bytes.length === 0) inSingle = true;
      else bytes.push(byte);
      index += 1;
    }
    args.push(Buffer.from(bytes));
  }
  return args;
}

const escapes = new Map<number, number>([
  [0x6e, 0x0a], // n
  [0x72, 0x0d], // r
  [0x74, 0x09], // t
  [0x62, 0x08], // b
  [0x61, 0x07], // a
]);

function isHex(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46));
}
