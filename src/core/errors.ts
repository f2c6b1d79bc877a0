// Errors that clients and operators see, each with a stable code (undici's habit). Broken invariants
// are assertions (assert.ts), never these.

export type ErrorCode =
  | 'UNAVAILABLE' // too few replicas answered for the requested level
  | 'OVERLOADED' // too many requests in flight on this coordinator
  | 'WRITE_CONTENTION' // the write kept meeting newer versions and gave up re-stamping
  | 'NOT_FOUND'
  | 'EXISTS'
  | 'PRECONDITION_FAILED' // a conditional write whose condition did not hold (If-Match, If-None-Match)
  | 'BAD_REQUEST'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'LAYOUT_CONFLICT'
  | 'UNKNOWN_NODE';

const httpStatusByCode: Record<ErrorCode, number> = {
  UNAVAILABLE: 503,
  OVERLOADED: 503,
  WRITE_CONTENTION: 503,
  NOT_FOUND: 404,
  EXISTS: 409,
  PRECONDITION_FAILED: 412,
  BAD_REQUEST: 400,
  KEY_TOO_LARGE: 413,
  VALUE_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  LAYOUT_CONFLICT: 409,
  UNKNOWN_NODE: 404,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(httpStatusByCode, value);
}

export class QuorumError extends Error {
  override name = 'QuorumError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  get httpStatus(): number {
    return httpStatusByCode[this.code];
  }
}

export function unavailable(operation: 'read' | 'write', answered: number, needed: number, total: number): QuorumError {
  return new QuorumError(
    'UNAVAILABLE',
    `${operation} failed: ${answered} of ${total} replicas answered, ${needed} needed`,
    { answered, needed, replicas: total },
  );
}

/**
 * Said of a change whose answer did not come: it may have been voted in, and be published once its
 * coordinator is back. A topology probe was told a removal had failed that completed a minute later.
 */
export const mayStillTakeEffect = 'the change may still take effect (quorumkv topology shows whether it did)';
