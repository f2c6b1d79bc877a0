// HTTP/1.1 pipelining, in request order. node:http hands each request of a connection to its handler
// as soon as it is parsed, so requests pipelined on one connection ran at the same time: a GET could
// miss the PUT sent just before it on the same connection, and a DELETE overtake both (a probe saw
// 200 404 200 404 for PUT, GET, DELETE, GET). RFC 9112 §9.3.2 lets a server run only safe requests
// in parallel; here each connection runs one request at a time, as the Redis protocol does
// (resp/commandOrder.ts).
//
// node:http already queues the responses: a response whose turn has not come has no socket yet, and
// gets it (the 'socket' event) once the one before it has finished. So a request waits for that
// before its handler runs, at the cost of one property read for a request that is not pipelined
// (undici, fetch and curl wait for each answer before the next request).

import type { FastifyInstance } from 'fastify';

export function answerPipelinedRequestsInOrder(app: FastifyInstance): void {
  // Added before any other onRequest hook: a waiting request is checked when its turn comes.
  app.addHook('onRequest', (_request, reply, done) => {
    if (reply.raw.socket !== null) done();
    else reply.raw.once('socket', () => done());
  });
}
