// The HTTP server of a node: fastify with raw-bytes bodies, token checks, size limits and one error
// shape. Routes live in v1Routes.ts (the quorumkv API) and seedRoutes.ts (the prototype's routes).

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { QuorumError } from '../core/errors.js';
import type { NodeRuntime } from '../runtime/nodeRuntime.js';

export type { ApiAuth };
import { checkToken, type ApiAuth } from './auth.js';
import { frameworkError, noRoute, removedError, sendError } from './errors.js';
import { handleConnections, httpServerOptions } from './httpConnections.js';
import { registerListRoutes } from './listRoutes.js';
import { registerOpenApiRoute } from './openapi.js';
import { lazySchemaController } from './schemaCompilers.js';
import { registerSeedRoutes } from './seedRoutes.js';
import { registerTopologyRoutes } from './topologyRoutes.js';
import { registerV1Routes } from './v1Routes.js';

/** Simulated crash and recovery of a member, by id. */
export interface NodeControl {
  fail(id: string): Promise<void>;
  recover(id: string): Promise<void>;
}

export interface ApiContext {
  readonly runtime: NodeRuntime;
  readonly auth: ApiAuth;
  readonly control: NodeControl;
  /** Serve https with this certificate (runtime/tls.ts); plain http without. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

/** Routes a paused node still answers (so that it can be resumed and watched). */
const answeredWhilePaused = new Set(['/v1/admin/resume', '/v1/admin/pause', '/v1/health', '/recover/:id']);

export function buildServer(context: ApiContext): FastifyInstance {
  const { config } = context.runtime.node;
  const { tls } = context;
  // Under TLS the server is node:https's, which serves requests as node:http's does (with the same
  // timeouts); typed as http so that routes and hooks need not carry the server's type. Fastify
  // reads `https: null` as plain node:http.
  const app = Fastify({
    // JSON bodies of /write escape bytes; the exact value limit is checked by the core.
    bodyLimit: config.valueBytesMax * 2 + 64 * 1024,
    routerOptions: { maxParamLength: config.keyBytesMax * 3 + 16 },
    ...httpServerOptions,
    https: tls ? { ...httpServerOptions.http, cert: tls.cert, key: tls.key } : null,
    logger: false,
    schemaController: lazySchemaController,
    frameworkErrors: frameworkError,
  }) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  handleConnections(app);
  // A callback hook, not an async one: it runs on every request, and a promise per request shows.
  app.addHook('onRequest', (request, reply, done) => {
    const refused = refusal(request, context);
    if (refused) sendError(reply, refused); // a hook that replies does not call done
    else done();
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof QuorumError) return sendError(reply, error);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new QuorumError('VALUE_TOO_LARGE', `request body is over ${app.initialConfig.bodyLimit} bytes`));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(reply, new QuorumError('BAD_REQUEST', error.message));
    }
    context.runtime.options.logger.error({ err: error }, 'request failed');
    return reply.code(500).send({ status: 'error', error: 'Internal Server Error', message: error.message, code: 'INTERNAL' });
  });

  app.setNotFoundHandler(noRoute);

  registerV1Routes(app, context);
  registerSeedRoutes(app, context);
  registerListRoutes(app, context);
  registerTopologyRoutes(app, context);
  registerOpenApiRoute(app);
  return app;
}

/** Why this node does not serve `request` (token, removed from the cluster, paused), if it does not. */
function refusal(request: FastifyRequest, context: ApiContext): QuorumError | undefined {
  const url = request.routeOptions.url ?? '';
  if (url === '/v1/health') return undefined;
  const denied = checkToken(request, context.auth, isAdminRoute(request));
  if (denied) return denied;
  const { node } = context.runtime;
  if (!node.isMember && url !== '/v1/cluster') return removedError(node.id);
  if (node.isPaused && !answeredWhilePaused.has(url)) {
    return new QuorumError('UNAVAILABLE', `node ${node.id} is failed (simulated crash)`, { paused: true });
  }
  return undefined;
}

function isAdminRoute(request: FastifyRequest): boolean {
  const url = request.routeOptions.url ?? '';
  // Reads: the client token is enough (the admin token is for changes).
  if (url === '/v1/admin/local-entries' || url === '/v1/admin/topology') return false;
  return url.startsWith('/v1/admin/') || url.startsWith('/fail/') || url.startsWith('/recover/') || url === '/set_replication_strategy';
}

export type { FastifyInstance, FastifyReply, FastifyRequest };
