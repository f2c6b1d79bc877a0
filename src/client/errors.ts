// Typed errors of the client library, each with a stable `code` that programs can switch on (undici's
// habit). Codes the server sends are kept as they are; the client adds its own for failures that
// never reached an answer: TIMEOUT, ABORTED, UNREACHABLE, BAD_RESPONSE.

/** Codes the server puts in its error JSON (src/core/errors.ts, src/api/server.ts). */
export const serverErrorCodes = [
  'UNAVAILABLE', // too few replicas answered for the requested level (details: answered, needed, replicas)
  'OVERLOADED', // too many requests in flight on the coordinator
  'WRITE_CONTENTION', // the write kept meeting newer versions
  'NOT_FOUND',
  'EXISTS', // create-only write of a key that is present
  'BAD_REQUEST',
  'KEY_TOO_LARGE',
  'VALUE_TOO_LARGE',
  'UNAUTHORIZED', // no token sent
  'FORBIDDEN', // wrong token
  'LAYOUT_CONFLICT',
  'UNKNOWN_NODE',
  'NO_ROUTE', // the server does not know the route (an older server, or a typo in a raw path)
  'HEADERS_TOO_LARGE', // request headers over node:http's limit (16 KiB by default)
  'REQUEST_TIMEOUT', // the request took too long to arrive
  'INTERNAL',
] as const;

/** Codes for what happened on the client's side of the wire. */
export const clientErrorCodes = [
  'TIMEOUT', // no answer within timeoutMs from any node tried
  'ABORTED', // the caller's AbortSignal fired
  'UNREACHABLE', // no node could be connected to
  'BAD_RESPONSE', // an answer that is not what the API promises
  'CLOSED', // the client was closed
] as const;

export type ServerErrorCode = (typeof serverErrorCodes)[number];
export type ClientErrorCode = (typeof clientErrorCodes)[number];
export type QuorumKvErrorCode = ServerErrorCode | ClientErrorCode;

/** One failed attempt on one node, kept in `details.attempts` of TIMEOUT and UNREACHABLE errors. */
export interface AttemptFailure {
  readonly node: string;
  readonly reason: string;
}

export class QuorumKvError extends Error {
  override name = 'QuorumKvError';
  constructor(
    readonly code: QuorumKvErrorCode,
    message: string,
    /** The HTTP status of the answer, or undefined when no answer came (TIMEOUT, ABORTED, UNREACHABLE). */
    readonly status: number | undefined,
    /** Everything else the server said (e.g. answered/needed/replicas for UNAVAILABLE), plus `node`. */
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isQuorumKvError(error: unknown, code?: QuorumKvErrorCode): error is QuorumKvError {
  return error instanceof QuorumKvError && (code === undefined || error.code === code);
}

const codeByStatus: Record<number, ServerErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'EXISTS',
  413: 'VALUE_TOO_LARGE',
  503: 'UNAVAILABLE',
};

const textDecoder = new TextDecoder();

/** The error for a non-2xx answer: the server's code when it sent a known one, else one by status. */
export function errorFromResponse(status: number, body: Uint8Array, node: string): QuorumKvError {
  const parsed = parseJsonObject(body);
  const sent = parsed?.code;
  const code: QuorumKvErrorCode =
    typeof sent === 'string' && (serverErrorCodes as readonly string[]).includes(sent)
      ? (sent as ServerErrorCode)
      : (codeByStatus[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_RESPONSE'));
  const message =
    typeof parsed?.message === 'string' ? parsed.message : `HTTP ${status}${body.length > 0 ? `: ${textDecoder.decode(body.subarray(0, 200))}` : ''}`;
  const details: Record<string, unknown> = { node };
  if (parsed) {
    for (const [name, value] of Object.entries(parsed)) {
      if (name !== 'status' && name !== 'message' && name !== 'code') details[name] = value;
    }
  }
  return new QuorumKvError(code, message, status, details);
}

export function parseJsonObject(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(textDecoder.decode(body));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
