// The local cluster's front on http://127.0.0.1:5000 (the prototype's address). It forwards every
// client request to a running node (any node coordinates), trying the next one when a node is down,
// and handles the process-level actions itself: fail kills a node's process with SIGKILL, recover
// restarts it on the same data directory.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { rendezvousOrder } from '../client/nodes.js';
import { deadlineHeader, neverSent, saysNodeIsDown } from '../client/transport.js';
import { startBySkewMs } from '../core/coordinator.js';
import { QuorumError } from '../core/errors.js';
import { frameworkError, noRoute, sendError } from '../api/errors.js';
import { checkToken, type ApiAuth } from '../api/auth.js';
import { handleConnections, httpServerOptions } from '../api/httpConnections.js';
import { lazySchemaController } from '../api/schemaCompilers.js';
import { prototypeId } from '../api/seedRoutes.js';
import { parseHostPort } from '../runtime/address.js';
import type { Supervisor } from './supervisor.js';

export interface FrontOptions {
  readonly supervisor: Supervisor;
  readonly auth: ApiAuth;
  readonly bodyLimitBytes: number;
  /** The nodes' `requestTimeoutMs`: how long a coordinator takes at most when `?timeout=` is not given. */
  readonly requestTimeoutMs: number;
  /** The layout the nodes reported at start: what `/nodes` says while no node is running. */
  readonly layout: { readonly strategy: string; readonly rf: number };
  readonly registerExtraRoutes?: (app: FastifyInstance) => void;
}

// Headers that describe one connection, not the request, so not forwarded. `expect: 100-continue`
// was already answered (the front reads the whole body before forwarding), and undici refuses it.
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'host',
  'content-length',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-connection',
]);

/** What the front reads of a node's GET /v1/cluster (src/api/views.ts). */
interface ClusterView {
  node: string;
  strategy: string;
  rf: number;
  members: { id: string; state: string }[];
}

export class Front {
  readonly app: FastifyInstance;
  private readonly pools = new Map<string, Pool>();
  private cursor = 0;
  /** Nodes that did not answer (or answered "paused"), tried last; each with its next health check. */
  private readonly down = new Map<string, NodeJS.Timeout>();
  private closed = false;
  /** The strategy and replication factor of the last `/nodes` or `/v1/cluster` a node answered. */
  private lastLayout: { strategy: string; rf: number };

  constructor(private readonly options: FrontOptions) {
    this.lastLayout = { ...options.layout };
    this.app = Fastify({
      bodyLimit: options.bodyLimitBytes,
      logger: false,
      routerOptions: { maxParamLength: 4096 },
      ...httpServerOptions,
      schemaController: lazySchemaController,
      frameworkErrors: frameworkError,
    });
    handleConnections(this.app);
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    this.app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
      if (error instanceof QuorumError) return sendError(reply, error);
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return sendError(reply, new QuorumError('VALUE_TOO_LARGE', `request body is over ${options.bodyLimitBytes} bytes`));
      }
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return sendError(reply, new QuorumError('BAD_REQUEST', error.message));
      return reply.code(500).send({ status: 'error', error: 'Internal Server Error', message: error.message, code: 'INTERNAL' });
    });
    this.app.setNotFoundHandler(noRoute); // methods the catch-all route does not take (PROPFIND, MKCOL)
    this.routes();
    options.registerExtraRoutes?.(this.app);
  }

  private routes(): void {
    const { supervisor } = this.options;
    const admin = (request: FastifyRequest, reply: FastifyReply): boolean => {
      const denied = checkToken(request, this.options.auth, true);
      if (denied) sendError(reply, denied);
      return denied === undefined;
    };

    this.app.post('/fail/:id', async (request, reply) => {
      if (!admin(request, reply)) return reply;
      const id = (request.params as { id: string }).id;
      if (!supervisor.member(id)) throw new QuorumError('UNKNOWN_NODE', `Node ${id} does not exist`);
      await supervisor.kill(id);
      return { status: 'success', message: `Node ${id} failed` };
    });

    this.app.post('/recover/:id', async (request, reply) => {
      if (!admin(request, reply)) return reply;
      const id = (request.params as { id: string }).id;
      if (!supervisor.member(id)) throw new QuorumError('UNKNOWN_NODE', `Node ${id} does not exist`);
      await supervisor.start(id);
      // Its process may have run all along, paused by a node's own /fail route: resume it too.
      await this.resume(id);
      return { status: 'success', message: `Node ${id} recovered` };
    });

    this.app.get('/nodes', async (request, reply) => {
      // With every process stopped no node can describe the cluster, but the front knows its members
      // and that they are down: "node status" and "recover all" still work.
      if (supervisor.runningIds().length === 0) return this.stoppedNodes();
      const upstream = await this.forward(request, 'GET', '/nodes', undefined);
      if (upstream.status !== 200) return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
      const view = JSON.parse(upstream.body.toString('utf8')) as {
        strategy: string;
        replication_factor: number;
        nodes: { node_id: number | string; status: string }[];
      };
      this.lastLayout = { strategy: view.strategy, rf: view.replication_factor };
      for (const node of view.nodes) {
        const process = supervisor.stateOf(String(node.node_id));
        Object.assign(node, { process: process ?? 'unknown' });
        // A process the front killed is dead whatever the others have noticed yet.
        if (process === 'stopped') node.status = 'dead';
      }
      return view;
    });

    // Forwarded like every other route, and the layout kept for /nodes while every node is down.
    this.app.get('/v1/cluster', async (request, reply) => {
      let upstream = await this.forward(request, 'GET', request.url, undefined);
      let view = upstream.status === 200 ? (JSON.parse(upstream.body.toString('utf8')) as ClusterView) : undefined;
      // A removed node still answers this route (whoever runs it waits there for its clean-up), with
      // a layout it no longer follows: `status` through the front showed an old layout, with the
      // members it never heard of as dead, about one time in four (a topology probe). A member's, then.
      for (let tries = 1; view && !view.members.some((m) => m.id === view?.node) && tries < supervisor.runningIds().length; tries++) {
        upstream = await this.forward(request, 'GET', request.url, undefined, view.node);
        view = upstream.status === 200 ? (JSON.parse(upstream.body.toString('utf8')) as ClusterView) : undefined;
      }
      if (view === undefined) return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
      this.lastLayout = { strategy: view.strategy, rf: view.rf };
      // A process the front killed is dead whatever the nodes have noticed yet, as on /nodes: `status`
      // said "alive" for some seconds after `fail` while `nodes` said dead.
      for (const member of view.members) if (supervisor.stateOf(member.id) === 'stopped') member.state = 'dead';
      return reply.code(200).headers(upstream.headers).send(view);
    });

    this.app.all('/*', async (request, reply) => {
      const upstream = await this.forward(request, request.method, request.url, request.body as Buffer | undefined);
      return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
    });
  }

  /** The prototype's `/nodes` answered by the front itself, every member down. */
  private stoppedNodes(): object {
    const { supervisor } = this.options;
    return {
      status: 'success',
      strategy: this.lastLayout.strategy,
      replication_factor: this.lastLayout.rf,
      nodes: supervisor.ids().flatMap((id) => {
        const member = supervisor.member(id);
        if (!member) return [];
        const { port } = parseHostPort(member.http);
        return [{ node_id: prototypeId(id), status: 'dead', port, address: member.http, process: supervisor.stateOf(id) ?? 'unknown' }];
      }),
    };
  }

  /** Sends the request to a running node, trying the others when one cannot be reached. */
  async forward(
    request: FastifyRequest,
    method: string,
    path: string,
    body: Buffer | undefined,
    avoid?: string,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const all = this.options.supervisor.runningIds();
    // Prefer a node other than `avoid` (the one a request is about), when there is one.
    const running = all.length > 1 && avoid !== undefined ? all.filter((id) => id !== avoid) : all;
    if (running.length === 0) {
      throw new QuorumError('UNAVAILABLE', 'no node of the local cluster is running');
    }
    const headers = forwardedHeaders(request);
    // A request that may go to a second node waits on each about as long as a coordinator takes,
    // not 30 s (a hung node would hold every third request that long). It carries a deadline, so that
    // the node it gave up on does not apply it later, over a newer write that another node took
    // meanwhile (the client library does the same: client/transport.ts).
    const repeatable = mayRepeat(method, path, headers);
    const waitMs = repeatable ? attemptWaitMs(request, this.options.requestTimeoutMs) : slowWaitMs;
    const ownDeadline = repeatable && headers[deadlineHeader] === undefined;
    let lastError: unknown;
    const key = conditionalKey(method, path, headers, body);
    const order = key === undefined ? this.inTurn(running) : this.downLast(rendezvousOrder(key, running, (id) => id));
    for (let attempt = 0; attempt < order.length; attempt++) {
      const id = order[attempt] as string;
      const member = this.options.supervisor.member(id);
      if (!member) continue;
      // Each attempt's own: before the front gives up on it, by the skew a node allows (coordinator.ts).
      if (ownDeadline) headers[deadlineHeader] = String(Date.now() + waitMs - startBySkewMs);
      try {
        const response = await this.pool(member.http).request({
          method: method as 'GET',
          path,
          headers,
          body: body && body.length > 0 ? body : null,
          headersTimeout: waitMs,
          bodyTimeout: waitMs,
        });
        const bytes = Buffer.from(await response.body.arrayBuffer());
        const outHeaders = withoutHopByHop(response.headers);
        // A node failed by the admin route answers 503 "paused", one that just stood still refuses
        // writes for a while ("stoodStill"), and one just removed from the layout serves nothing until
        // the front stops it ("removed"): let another node coordinate.
        if (response.statusCode === 503 && saysNodeIsDown(bytes) && attempt + 1 < order.length) {
          this.markDown(id);
          continue;
        }
        this.markUp(id);
        return { status: response.statusCode, headers: outHeaders, body: bytes };
      } catch (error) {
        lastError = error;
        this.markDown(id);
        // A request that may have reached the node is sent again only if sending it twice is harmless:
        // a create-only write applied by the first node would answer "exists" from the second, a
        // delete-existing "absent" (the client library makes the same distinction: transport.ts).
        if (!repeatable && !neverSent(error)) {
          throw new QuorumError('UNAVAILABLE', `node ${id} did not answer, and ${method} ${path.split('?')[0]} may have been applied there: not sent again (${errorText(error)})`);
        }
      }
    }
    throw new QuorumError('UNAVAILABLE', `no running node answered: ${errorText(lastError)}`);
  }

  /** The running nodes from the next in turn, those that failed to answer and have not answered since last. */
  private inTurn(running: readonly string[]): string[] {
    const first = this.cursor++;
    return this.downLast(running.map((_, i) => running[(first + i) % running.length] as string));
  }

  private downLast(ids: readonly string[]): string[] {
    return [...ids.filter((id) => !this.down.has(id)), ...ids.filter((id) => this.down.has(id))];
  }

  /**
   * Tries `id` last until it answers a health check again, asked every second in the background. A
   * hung node (SIGSTOP, a long pause) then costs the one request that found it so; with a cool-down
   * instead, one request waited on it every few seconds, long after the cluster saw it dead.
   */
  private markDown(id: string): void {
    if (this.down.has(id) || this.closed) return;
    this.down.set(id, setTimeout(() => void this.checkBack(id), downCheckMs).unref());
  }

  private async checkBack(id: string): Promise<void> {
    const member = this.options.supervisor.member(id);
    let answered = false;
    if (member && !this.closed) {
      try {
        const response = await this.pool(member.http).request({ method: 'GET', path: '/v1/health', headersTimeout: downCheckMs, bodyTimeout: downCheckMs });
        // A node failed by the admin route answers its health, paused: it is still down.
        answered = response.statusCode === 200 && !(await response.body.text()).includes('"paused":true');
      } catch {
        // still down
      }
    }
    if (!this.down.has(id)) return; // a request found it answering meanwhile
    // A member gone from the cluster, or a front closing, checks no more.
    if (answered || !member || this.closed) this.down.delete(id);
    else this.down.set(id, setTimeout(() => void this.checkBack(id), downCheckMs).unref());
  }

  private markUp(id: string): void {
    clearTimeout(this.down.get(id));
    this.down.delete(id);
  }

  /**
   * Asks every running node (GET `path`, with the request's headers) and returns the bodies of those
   * that answered 200. For questions one node may answer from a stale view (is a change under way?).
   */
  async askEach(request: FastifyRequest, path: string): Promise<Buffer[]> {
    const headers = forwardedHeaders(request);
    const answers = await Promise.allSettled(
      this.options.supervisor.runningIds().map(async (id) => {
        const member = this.options.supervisor.member(id);
        if (!member) return undefined;
        const response = await this.pool(member.http).request({ method: 'GET', path, headers, headersTimeout: 5_000, bodyTimeout: 5_000 });
        const bytes = Buffer.from(await response.body.arrayBuffer());
        return response.statusCode === 200 ? bytes : undefined;
      }),
    );
    return answers.flatMap((a) => (a.status === 'fulfilled' && a.value !== undefined ? [a.value] : []));
  }

  /** GET `path` of node `id` alone, with the request's headers; undefined if it did not answer. */
  async askOne(request: FastifyRequest, id: string, path: string): Promise<{ status: number; headers: Record<string, string>; body: Buffer } | undefined> {
    const member = this.options.supervisor.member(id);
    if (!member || !this.options.supervisor.runningIds().includes(id)) return undefined;
    try {
      const response = await this.pool(member.http).request({ method: 'GET', path, headers: forwardedHeaders(request), headersTimeout: 5_000, bodyTimeout: 5_000 });
      const body = Buffer.from(await response.body.arrayBuffer());
      return { status: response.statusCode, headers: withoutHopByHop(response.headers), body };
    } catch {
      return undefined;
    }
  }

  /** Asks node `id` to resume (a no-op for a node that is not paused). */
  private async resume(id: string): Promise<void> {
    const member = this.options.supervisor.member(id);
    if (!member) return;
    const { adminToken, token } = this.options.auth;
    const bearer = adminToken ?? token;
    const response = await this.pool(member.http).request({
      method: 'POST',
      path: '/v1/admin/resume',
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const body = await response.body.text();
    if (response.statusCode !== 200) {
      throw new QuorumError('UNAVAILABLE', `node ${id} did not resume: it answered ${response.statusCode} ${body}`);
    }
  }

  private pool(address: string): Pool {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = new Pool(`http://${address}`, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
      this.pools.set(address, pool);
    }
    return pool;
  }

  async listen(host: string, port: number): Promise<void> {
    await this.app.listen({ host, port });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.down.values()) clearTimeout(timer);
    this.down.clear();
    await this.app.close();
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }
}

/** The request's headers that describe the request itself, for sending it on to a node. */
function forwardedHeaders(request: FastifyRequest): Record<string, string> {
  return withoutHopByHop(request.headers);
}

/** Headers of a request or an answer without those that describe one connection. */
function withoutHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!hopByHop.has(name) && typeof value === 'string') kept[name] = value;
  }
  return kept;
}

/** How long the front waits for a node's answer to anything it does not send twice (admin changes). */
const slowWaitMs = 30_000;
/** How often a node that failed to answer is asked whether it answers again (and how long it has). */
const downCheckMs = 1_000;
/** Beyond the coordinator's own timeout: the hop, a queue on a busy node. */
const attemptMarginMs = 3_000;

/** A repeatable request's wait on one node: its `?timeout=` (or the nodes' default) and a margin. */
function attemptWaitMs(request: FastifyRequest, requestTimeoutMs: number): number {
  const given = Number((request.query as Record<string, unknown> | undefined)?.timeout);
  const timeoutMs = Number.isInteger(given) && given >= 1 && given <= 60_000 ? given : requestTimeoutMs;
  return Math.min(slowWaitMs, timeoutMs + attemptMarginMs);
}

/**
 * The key of a conditional write (If-Match / If-None-Match on /v1/kv/<key>, the prototype's POST
 * /write): sent to the node the key picks, as the client library does (client/nodes.ts), so that the
 * updates of one key queue at one node and go in batches, without a hop to the key's coordinator.
 */
function conditionalKey(method: string, path: string, headers: Record<string, unknown>, body: Buffer | undefined): string | undefined {
  const route = path.split('?')[0] ?? '';
  if ((method === 'PUT' || method === 'DELETE') && route.startsWith('/v1/kv/')) {
    if (headers['if-match'] === undefined && headers['if-none-match'] === undefined) return undefined;
    try {
      return decodeURIComponent(route.slice('/v1/kv/'.length));
    } catch {
      return undefined; // the node answers the malformed path
    }
  }
  if (method !== 'POST' || route !== '/write' || body === undefined) return undefined;
  try {
    const key = (JSON.parse(body.toString('utf8')) as { key?: unknown } | null)?.key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Requests whose repetition changes nothing a reader can tell apart: reads, and blind writes (LWW). */
function mayRepeat(method: string, path: string, headers: Record<string, unknown>): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  // A conditional write applied by the first node would find its own value on the second (412).
  if (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined) return false;
  const route = path.split('?')[0] ?? '';
  return ((method === 'PUT' || method === 'DELETE') && route.startsWith('/v1/kv/')) || (method === 'POST' && route === '/v1/batch');
}

function errorText(error: unknown): string {
  return (error as Error | undefined)?.message ?? 'unknown error';
}
