// Redis protocol replies on the wire, in RESP2 or RESP3, whichever the connection negotiated with
// HELLO. Hot replies (OK, null, a bulk value, an integer) have direct encoders; everything else goes
// through `encodeReply`, which takes a small value model (`RespValue`).

export type Protocol = 2 | 3;

/** `+text`: a status reply. */
export class SimpleString {
  constructor(readonly text: string) {}
}

/** `-CODE message`: an error reply. The text's first word is the error code (ERR, NOAUTH, ...). */
export class ErrorReply {
  constructor(readonly text: string) {}
}

/** RESP3 `%` map; in RESP2 a flat array of key, value, key, value... */
export class MapReply {
  constructor(readonly entries: readonly (readonly [RespValue, RespValue])[]) {}
}

/** RESP3 `~` set; in RESP2 an array. */
export class SetReply {
  constructor(readonly items: readonly RespValue[]) {}
}

/** RESP3 `=` verbatim string (INFO, CLIENT INFO); in RESP2 a bulk string. */
export class VerbatimReply {
  constructor(
    readonly text: string,
    readonly format = 'txt',
  ) {}
}

/** RESP3 `,` double; in RESP2 a bulk string. */
export class DoubleReply {
  constructor(readonly value: number) {}
}

/**
 * A reply: null (RESP2 null bulk, RESP3 `_`), an integer (number or bigint), a boolean (RESP3 `#`,
 * RESP2 integer 1/0), a bulk string (string or bytes), an array, or one of the classes above.
 */
export type RespValue =
  | null
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | readonly RespValue[]
  | SimpleString
  | ErrorReply
  | MapReply
  | SetReply
  | VerbatimReply
  | DoubleReply;

const crlf = '\r\n';
const carriageReturn = 0x0d;
const newline = 0x0a;

export const replyOk = Buffer.from('+OK\r\n');
export const replyPong = Buffer.from('+PONG\r\n');
export const replyQueued = Buffer.from('+QUEUED\r\n');
export const replyZero = Buffer.from(':0\r\n');
export const replyOne = Buffer.from(':1\r\n');
const nullBulk2 = Buffer.from('$-1\r\n');
const nullArray2 = Buffer.from('*-1\r\n');
const null3 = Buffer.from('_\r\n');
const emptyBulk = Buffer.from('$0\r\n\r\n');

/** The null reply: `$-1` in RESP2, `_` in RESP3. */
export function encodeNull(protocol: Protocol): Buffer {
  return protocol === 3 ? null3 : nullBulk2;
}

/** The null array (RESP2 `*-1`), for replies that Redis gives as a null array. */
export function encodeNullArray(protocol: Protocol): Buffer {
  return protocol === 3 ? null3 : nullArray2;
}

const smallIntegers: Buffer[] = Array.from({ length: 128 }, (_, n) => Buffer.from(`:${n}\r\n`));

export function encodeInteger(value: number | bigint): Buffer {
  if (typeof value === 'number' && value >= 0 && value < smallIntegers.length && Number.isInteger(value)) {
    return smallIntegers[value] as Buffer;
  }
  return Buffer.from(`:${typeof value === 'bigint' ? value.toString() : Math.trunc(value).toString()}\r\n`, 'latin1');
}

/** A bulk string holding `bytes`, copied once into the reply. */
export function encodeBulk(bytes: Uint8Array): Buffer {
  const length = bytes.length;
  if (length === 0) return emptyBulk;
  const header = `$${length}\r\n`;
  const out = Buffer.allocUnsafe(header.length + length + 2);
  out.write(header, 0, 'latin1');
  out.set(bytes, header.length);
  out[header.length + length] = carriageReturn;
  out[header.length + length + 1] = newline;
  return out;
}

export function encodeBulkString(text: string): Buffer {
  return encodeBulk(Buffer.from(text, 'utf8'));
}

/**
 * `-text`; every CR and LF inside becomes a space (one each, as Redis does) so that they cannot break
 * the stream. `latin1` when the text holds a client's bytes one per character (see `echoed`).
 */
export function encodeError(text: string, encoding: 'utf8' | 'latin1' = 'utf8'): Buffer {
  return Buffer.from(`-${text.replace(/[\r\n]/g, ' ')}\r\n`, encoding);
}

export function encodeSimple(text: string): Buffer {
  return Buffer.from(`+${text.replace(/[\r\n]+/g, ' ')}\r\n`, 'utf8');
}

/** Encodes any reply value in the given protocol. */
export function encodeReply(value: RespValue, protocol: Protocol): Buffer {
  const parts: Buffer[] = [];
  let text = '';
  const flushText = () => {
    if (text !== '') {
      parts.push(Buffer.from(text, 'utf8'));
      text = '';
    }
  };
  const bulkBytes = (bytes: Uint8Array) => {
    text += `$${bytes.length}${crlf}`;
    flushText();
    parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    text += crlf;
  };
  const visit = (item: RespValue): void => {
    if (item === null) {
      text += protocol === 3 ? `_${crlf}` : `$-1${crlf}`;
    } else if (typeof item === 'number' || typeof item === 'bigint') {
      text += `:${typeof item === 'number' ? Math.trunc(item) : item}${crlf}`;
    } else if (typeof item === 'boolean') {
      text += protocol === 3 ? `#${item ? 't' : 'f'}${crlf}` : `:${item ? 1 : 0}${crlf}`;
    } else if (typeof item === 'string') {
      const length = Buffer.byteLength(item, 'utf8');
      text += `$${length}${crlf}${item}${crlf}`;
    } else if (item instanceof Uint8Array) {
      bulkBytes(item);
    } else if (Array.isArray(item)) {
      text += `*${item.length}${crlf}`;
      for (const element of item as readonly RespValue[]) visit(element);
    } else if (item instanceof SimpleString) {
      text += `+${item.text.replace(/[\r\n]+/g, ' ')}${crlf}`;
    } else if (item instanceof ErrorReply) {
      text += `-${item.text.replace(/[\r\n]/g, ' ')}${crlf}`;
    } else if (item instanceof MapReply) {
      text += protocol === 3 ? `%${item.entries.length}${crlf}` : `*${item.entries.length * 2}${crlf}`;
      for (const [key, entry] of item.entries) {
        visit(key);
        visit(entry);
      }
    } else if (item instanceof SetReply) {
      text += `${protocol === 3 ? '~' : '*'}${item.items.length}${crlf}`;
      for (const element of item.items) visit(element);
    } else if (item instanceof VerbatimReply) {
      if (protocol === 3) {
        const body = `${item.format}:${item.text}`;
        text += `=${Buffer.byteLength(body, 'utf8')}${crlf}${body}${crlf}`;
      } else {
        text += `$${Buffer.byteLength(item.text, 'utf8')}${crlf}${item.text}${crlf}`;
      }
    } else if (item instanceof DoubleReply) {
      const number = formatDouble(item.value);
      text += protocol === 3 ? `,${number}${crlf}` : `$${number.length}${crlf}${number}${crlf}`;
    }
  };
  visit(value);
  flushText();
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}
