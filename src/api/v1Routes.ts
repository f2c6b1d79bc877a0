// The quorumkv HTTP API (v1): keys, cluster view, replicas of a key, each node's local entries, and
// the admin routes for simulated crashes. Keys may contain any characters (percent-encode them).

import type { FastifyInstance } from 'fastify';
import { QuorumError } from '../core/errors.js';
import { badRequest } from './errors.js';
import type { UpdateOutcome } from '../core/keyPaxos.js';
import { wallMsOf, type Entry } from '../core/version.js';
import { booleanParam, consistencyParam, deadlineOf, integerParam, keyParam, preconditionOf, textParam, timeoutParam, ttlParam, type Query } from './params.js';
import type { ApiContext } from './server.js';
import { clusterView } from './views.js';

export const versionHeader = 'x-quorumkv-version';
/** On a read of an expiring value: the wall-clock millisecond (since 1970) it expires at. */
export const expiresHeader = 'x-quorumkv-expires-at';

export function registerV1Routes(app: FastifyInstance, context: ApiContext): void {
  const { runtime } = context;

  app.put('/v1/kv/*', async (request, reply) => {
    const key = keyParam(request.params);
    const query = request.query as Query;
    const body = request.body;
    const value = body instanceof Uint8Array ? body : new Uint8Array(0);
    const expiry = ttlParam(query, Date.now());
    const condition = preconditionOf(request.headers);
    if (condition) {
      const outcome = await runtime.update(key, { when: condition, then: { op: 'set', value, ...expiry } }, timeoutOf(query));
      const written = appliedOrRefused(key, outcome);
      return reply.header(versionHeader, written.version).send({ status: 'success', key, version: written.version, conditional: true, ...expiry });
    }
    const outcome = await runtime.put(key, value, { ...writeOptions(query), ...expiry, ...deadlineOf(request.headers) });
    return reply.header(versionHeader, outcome.version).send({ status: 'success', key, ...outcome, ...expiry });
  });

  app.get('/v1/kv/*', async (request, reply) => {
    const key = keyParam(request.params);
    const query = request.query as Query;
    const consistency = consistencyParam(query);
    const timeoutMs = timeoutParam(query);
    const outcome = await runtime.get(key, {
      ...(consistency ? { consistency } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    });
    const entry = outcome.entry;
    if (entry === undefined || entry.value === null) {
      if (entry) reply.header(versionHeader, entry.version);
      return reply.code(404).send({ status: 'error', error: 'Key not found', message: `Key ${key} not found`, code: 'NOT_FOUND' });
    }
    if (entry.expiresMs !== undefined) reply.header(expiresHeader, String(entry.expiresMs));
    return reply
      .header(versionHeader, entry.version)
      .header('x-quorumkv-replicas-answered', String(outcome.replicasAnswered))
      .type('application/octet-stream')
      .send(Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength));
  });

  app.delete('/v1/kv/*', async (request, reply) => {
    const key = keyParam(request.params);
    const condition = preconditionOf(request.headers);
    if (condition) {
      const outcome = await runtime.update(key, { when: condition, then: { op: 'set', value: null } }, timeoutOf(request.query as Query));
      const written = appliedOrRefused(key, outcome);
      return reply.header(versionHeader, written.version).send({ status: 'success', key, deleted: true, version: written.version, conditional: true });
    }
    const outcome = await runtime.remove(key, { ...writeOptions(request.query as Query), ...deadlineOf(request.headers) });
    return reply.header(versionHeader, outcome.version).send({ status: 'success', key, deleted: true, ...outcome });
  });

  app.get('/v1/cluster', async () => clusterView(runtime));

  app.get('/metrics', async (_request, reply) => {
    const registry = runtime.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.get('/v1/health', async () => ({
    status: 'ok',
    id: runtime.node.id,
    paused: runtime.node.isPaused,
    // Still 200: the process is alive. A removed node refuses data (503 `removed`); a load balancer
    // that reads the body can drop it before the front or its operator stops it.
    removed: !runtime.node.isMember,
    recovery: runtime.node.recoveryStatus().phase,
  }));

  app.get('/v1/status', async () => {
    const status = runtime.node.status();
    return { ...status, transport: runtime.transport.stats() };
  });

  app.get('/v1/keys/:key/replicas', async (request) => {
    const key = keyParam(request.params);
    const problem = runtime.node.checkKey(key); // no read or write checks it here
    if (problem) throw problem;
    const placement = runtime.node.placement;
    return {
      key,
      strategy: placement.layout.strategy,
      rf: placement.servingCount,
      replicas: placement.readReplicas(key),
      writeReplicaSets: placement.writeReplicaSets(key),
    };
  });

  app.get('/v1/admin/local-entries', async (request) => {
    const query = request.query as Query;
    const limit = integerParam(query, 'limit', 1000, 1, 10_000);
    const cursor = textParam(query, 'cursor') ?? null;
    const entries = runtime.node.localEntries(cursor, limit + 1);
    const page = entries.slice(0, limit);
    const next = entries.length > limit ? (page[page.length - 1]?.key ?? null) : null;
    return {
      node: runtime.node.id,
      entries: page.map((e) => ({ key: e.key, version: e.version, tombstone: e.value === null, wallMs: wallMsOf(e.version) })),
      next,
    };
  });

  // Anti-entropy with every live co-replica now; `?wait=true` answers when the sessions end. No session
  // starts while the node still counts its leaves after a start (Storage.leavesBuilt): with `wait`, the
  // route waits for that first.
  app.post('/v1/admin/anti-entropy', async (request) => {
    const query = request.query as Query;
    const wait = booleanParam(query, 'wait', false);
    const deadline = Date.now() + integerParam(query, 'timeout', 60_000, 1, 600_000);
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    while (wait && !runtime.storage.leavesBuilt && Date.now() < deadline) await pause();
    const sessions = runtime.repairNow();
    while (wait && sessions.some((s) => s.state === 'running') && Date.now() < deadline) await pause();
    return { status: 'success', sessions, leavesBuilt: runtime.storage.leavesBuilt };
  });

  app.post('/v1/admin/pause', async () => {
    runtime.pause();
    return { status: 'success', message: `Node ${runtime.node.id} paused (simulated crash)` };
  });

  app.post('/v1/admin/resume', async () => {
    runtime.resume();
    return { status: 'success', message: `Node ${runtime.node.id} resumed` };
  });
}

/** A conditional write's options: its timeout. Its level is a consensus round's, never another. */
function timeoutOf(query: Query): { timeoutMs?: number } {
  if (query.consistency !== undefined || query.sloppy !== undefined) {
    throw badRequest('a conditional write (If-Match, If-None-Match) runs a consensus round on a majority of the replicas: consistency and sloppy do not apply');
  }
  const timeoutMs = timeoutParam(query);
  return timeoutMs ? { timeoutMs } : {};
}

/** What a conditional write wrote; a 412 naming the current version when its condition did not hold. */
function appliedOrRefused(key: string, outcome: UpdateOutcome): Entry {
  if (outcome.applied && outcome.written) return outcome.written;
  const current = outcome.previous !== undefined && outcome.previous.value !== null ? outcome.previous.version : null;
  throw new QuorumError(
    'PRECONDITION_FAILED',
    current === null ? `the condition did not hold: key ${key} is absent` : `the condition did not hold: key ${key} is at version ${current}`,
    { version: current },
  );
}

function writeOptions(query: Query) {
  const consistency = consistencyParam(query);
  const timeoutMs = timeoutParam(query);
  return {
    ...(consistency ? { consistency } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    sloppy: booleanParam(query, 'sloppy', false),
  };
}
