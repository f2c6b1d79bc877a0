// How errors look on the HTTP API: JSON `{"error", "message", "code", ...details}` with the status
// that the error's code maps to. The prototype's shape (`error` + `message`) is kept, `code` is stable.

import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QuorumError } from '../core/errors.js';

const shortNames: Record<string, string> = {
  UNAVAILABLE: 'Unavailable',
  OVERLOADED: 'Overloaded',
  WRITE_CONTENTION: 'Write contention',
  NOT_FOUND: 'Key not found',
  EXISTS: 'Key already exists',
  PRECONDITION_FAILED: 'Precondition Failed',
  BAD_REQUEST: 'Bad Request',
  KEY_TOO_LARGE: 'Key too large',
  VALUE_TOO_LARGE: 'Value too large',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Unauthorized',
  LAYOUT_CONFLICT: 'Layout conflict',
  UNKNOWN_NODE: 'Unknown node',
};

export function sendError(reply: FastifyReply, error: QuorumError): FastifyReply {
  return reply
    .code(error.httpStatus)
    .type('application/json')
    .send({ status: 'error', error: shortNames[error.code] ?? error.code, message: error.message, code: error.code, ...error.details });
}

/** fastify's not-found handler: a route (or a method, such as WebDAV's PROPFIND) the API does not have. */
export function noRoute(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send({ status: 'error', error: 'Not Found', message: `no route ${request.method} ${request.url}`, code: 'NO_ROUTE' });
}

/**
 * fastify's `frameworkErrors`: a URL it cannot route (bad percent-encoding, a path parameter over its
 * bound) answered in fastify's own shape, without `status`, and a long key as 414 rather than the
 * 413 KEY_TOO_LARGE every other route gives.
 */
export function frameworkError(error: Error & { code?: string }, _request: unknown, reply: FastifyReply): FastifyReply {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, new QuorumError('KEY_TOO_LARGE', 'key is too long'));
  const message = error.code === 'FST_ERR_BAD_URL' ? 'the URL path is not valid percent-encoded UTF-8' : error.message;
  return sendError(reply, new QuorumError('BAD_REQUEST', message));
}

export function badRequest(message: string): QuorumError {
  return new QuorumError('BAD_REQUEST', message);
}

/** Turns anything thrown by a handler into a QuorumError (unknown failures become 500s upstream). */
export function asQuorumError(error: unknown): QuorumError | undefined {
  return error instanceof QuorumError ? error : undefined;
}

/**
 * fastify's `clientErrorHandler`: a request node:http could not parse (headers over its limit, bytes
 * that are not HTTP, a request that took too long to arrive) answered in the API's error shape
 * rather than fastify's, then the connection closed, as node:http and fastify do.
 */
export function clientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', `the request headers are over ${maxHeaderSize} bytes`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', `not a valid HTTP request (${error.code ?? error.message})`];
  const body = JSON.stringify({ status: 'error', error: STATUS_CODES[status], message, code });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

/**
 * What a node removed from the layout answers (over HTTP and RESP) until it is stopped: 503 with
 * `removed`, so that the front and the client library send the request to a member instead. It was a
 * 404 UNKNOWN_NODE, which a client of a GET read as "no such key" (the CLI's `get` exited 1, "not
 * found"), and the client library did not try its next node (found by a topology probe).
 */
export function removedError(id: string): QuorumError {
  return new QuorumError('UNAVAILABLE', `node ${id} was removed from the cluster; it serves nothing`, { removed: true });
}
