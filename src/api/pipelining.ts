// HTTP/1.1 pipelining, in request order. node:http hands each request of a connection to its handler
// as soon as it is parsed, so requests pipelined on one connection ran at the same time: a GET could
// miss the PUT sent just before it on the same connection, and a DELETE overtake both (a probe saw
// 200 404 200 404 for PUT, GET, DELETE, GET). RFC 9112 §9.3.2 lets a server run only safe requests
// in parallel; here each connection runs one request at a time, the next once the one before it
// has been answered, as the Redis protocol does (resp/commandOrder.ts). A client that waits for each
// answer before the next request (undici, fetch, curl) never waits here.

import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const turns = Symbol('quorumkv.requestTurns');

interface Turns {
  running: boolean;
  readonly waiting: (() => void)[];
}

type TrackedSocket = Socket & { [turns]?: Turns };

export function answerPipelinedRequestsInOrder(app: FastifyInstance): void {
  // Added before any other onRequest hook: a waiting request is checked when its turn comes.
  app.addHook('onRequest', (request, _reply, done) => {
    const socket = request.raw.socket as TrackedSocket;
    let state = socket[turns];
    if (state === undefined) {
      state = { running: false, waiting: [] };
      socket[turns] = state;
    }
    if (state.running) state.waiting.push(done);
    else {
      state.running = true;
      done();
    }
  });
  app.addHook('onResponse', (request, _reply, done) => {
    nextTurn(request);
    done();
  });
}

function nextTurn(request: FastifyRequest): void {
  const state = (request.raw.socket as TrackedSocket)[turns];
  if (state === undefined) return;
  const next = state.waiting.shift();
  if (next) next();
  else state.running = false;
}
