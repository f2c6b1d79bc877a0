// How the HTTP server treats connections, the same on the nodes and the front: timeouts, requests
// pipelined on one connection, a client that shuts down its side after its last request, and requests
// that arrive while the server is stopping.

import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { QuorumError } from '../core/errors.js';
import { clientError, sendError } from './errors.js';

const requestTimeoutMs = 30_000;

/**
 * Fastify options: no idle cut-off of a connection with a request in progress, keep-alive a little
 * longer than clients' usual 60 s, and a request that takes over 30 s to arrive answered 408 by
 * `clientError`. The timeouts go to node:http's constructor too: set afterwards (all fastify does),
 * a request whose body stops short was cut off only by the 60 s headers timeout on a node, and never
 * on the front, whose fastify default of 0 turned the limit off. node:http looks for late requests
 * every `connectionsCheckingInterval` (30 s by default, so up to a minute late).
 */
export const httpServerOptions = {
  connectionTimeout: 0,
  keepAliveTimeout: 65_000,
  requestTimeout: requestTimeoutMs,
  http: { requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: 2_000 },
  clientErrorHandler: clientError,
  // Answered by `refuseWhileStopping` instead, in the API's shape.
  return503OnClosing: false,
} as const;

/** Everything below, for a server built with `httpServerOptions`. */
export function handleConnections(app: FastifyInstance): void {
  answerPipelinedRequestsInOrder(app);
  refuseWhileStopping(app);
  answerAfterHalfClose(app.server);
}

/**
 * A request that reaches a server that is stopping (on a keep-alive connection, or pipelined behind
 * one in progress) is answered 503 with `stopping: true`, and the connection closed: the front and
 * the client library then ask another node, as for a failed one. Fastify's own answer had neither the
 * API's shape nor anything to tell a stopping node from too few replicas, so a write sent during a
 * rolling restart failed instead of going to another node (a topology probe saw its body).
 */
function refuseWhileStopping(app: FastifyInstance): void {
  let stopping = false;
  app.addHook('preClose', (done) => {
    stopping = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!stopping) return done();
    reply.header('connection', 'close');
    sendError(reply, new QuorumError('UNAVAILABLE', 'this server is stopping: ask another node', { stopping: true }));
  });
}

/**
 * HTTP/1.1 pipelining, in request order. node:http hands each request of a connection to its
 * handler as soon as it is parsed, so requests pipelined on one connection ran at the same time: a
 * GET could miss the PUT sent just before it on the same connection, and a DELETE overtake both (a
 * probe saw 200 404 200 404 for PUT, GET, DELETE, GET). RFC 9112 §9.3.2 lets a server run only safe
 * requests in parallel; here each connection runs one request at a time, as the Redis protocol does
 * (resp/commandOrder.ts).
 *
 * node:http already queues the responses: a response whose turn has not come has no socket yet, and
 * gets it (the 'socket' event) once the one before it has finished. So a request waits for that
 * before its handler runs, at the cost of one property read for a request that is not pipelined
 * (undici, fetch and curl wait for each answer before the next request). Added before any other
 * onRequest hook: a waiting request is checked when its turn comes.
 */
function answerPipelinedRequestsInOrder(app: FastifyInstance): void {
  app.addHook('onRequest', (_request, reply, done) => {
    if (reply.raw.socket !== null) done();
    else reply.raw.once('socket', () => done());
  });
}

/**
 * A client that shuts down its sending side after its last request (`curl` does not, `nc -N` and
 * some scripts do) gets its answers: by default node:http aborts the requests in progress and ends
 * the socket at once, after the write was applied. `httpAllowHalfOpen` is not in node's documented
 * API, but node's own tests and userland servers (spdy) use it; were it to go, the default returns.
 */
function answerAfterHalfClose(server: Server): void {
  (server as Server & { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
}
