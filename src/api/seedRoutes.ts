// The prototype's routes (shared/seed/SEED-BEHAVIOUR.md), with its status codes and JSON shapes, on
// every node and on the local cluster's front. They keep its promise that a key stays readable and
// writable while any of its replicas lives: reads ask every reachable replica at `one` and return the
// newest answer (repairing the others); writes need a quorum but count hinted fallback nodes (sloppy
// quorum). `?consistency=` overrides both.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { QuorumError } from '../core/errors.js';
import { isStrategy } from '../core/layout.js';
import type { ConsistencyLevel } from '../core/quorum.js';
import { badRequest } from './errors.js';
import { parseJsonBody } from './jsonBody.js';
import { consistencyParam, keyParam, type Query } from './params.js';
import type { ApiContext } from './server.js';
import { clusterView } from './views.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** The prototype's node ids are integers; quorumkv's local cluster names its nodes "0", "1", ... */
export function prototypeId(id: string): number | string {
  return /^\d+$/.test(id) ? Number(id) : id;
}

export function registerSeedRoutes(app: FastifyInstance, context: ApiContext): void {
  const { runtime } = context;
  const readLevel = (query: Query): ConsistencyLevel => consistencyParam(query, 'one') as ConsistencyLevel;
  const writeOptions = (query: Query) => {
    const consistency = consistencyParam(query);
    return consistency ? { consistency, sloppy: false } : { consistency: 'quorum' as const, sloppy: true };
  };
  /** The newest value among the replicas that answer, or undefined when absent. */
  const readNewest = async (key: string, query: Query) => {
    const outcome = await runtime.get(key, { consistency: readLevel(query), waitForAll: true });
    return outcome.entry?.value === null || outcome.entry === undefined ? undefined : outcome;
  };

  app.post('/write', async (request, reply) => {
    const body = parseJsonBody(request.body);
    const key = body.key;
    const value = body.value;
    if (typeof key !== 'string' || key.trim() === '' || value === undefined || value === null || value === '') {
      throw badRequest('Key and value are required');
    }
    const query = request.query as Query;
    const bytes = textEncoder.encode(typeof value === 'string' ? value : JSON.stringify(value, finiteNumbers));
    const created = () => reply.send({ status: 'success', message: `Key ${key} written successfully` });
    const exists = () => new QuorumError('EXISTS', `Key ${key} already exists`);
    // Create-only, through a consensus round on the key's replicas: of two racing creates, one wins.
    // With fewer than a majority of them up, the round cannot run; the prototype's promise (writable
    // while any replica lives) is kept by checking with a read first, as before (not atomic then).
    try {
      const outcome = await runtime.update(key, { when: { live: false }, then: { op: 'set', value: bytes } });
      if (!outcome.applied) throw exists();
      return created();
    } catch (error) {
      if (!(error instanceof QuorumError) || !roundCouldNotRun(error)) throw error;
    }
    if (await readNewest(key, query)) throw exists();
    await runtime.put(key, bytes, writeOptions(query));
    return created();
  });

  app.get('/read/:key', async (request, reply) => {
    const key = keyParam(request.params);
    const outcome = await readNewest(key, request.query as Query);
    if (!outcome?.entry?.value) return notFound(reply, key);
    return reply.send({
      key,
      value: textDecoder.decode(outcome.entry.value),
      message: `Read from replica ${outcome.source ?? runtime.node.id}`,
      status: 'success',
      version: outcome.entry.version,
    });
  });

  app.delete('/delete/:key', async (request, reply) => {
    const key = keyParam(request.params);
    const query = request.query as Query;
    if (!(await readNewest(key, query))) return notFound(reply, key);
    await runtime.remove(key, writeOptions(query));
    return reply.send({ status: 'success', message: `Key ${key} deleted successfully` });
  });

  app.get('/nodes', async () => {
    const view = clusterView(runtime);
    return {
      status: 'success',
      strategy: view.strategy,
      replication_factor: view.replicas,
      nodes: view.members.map((m) => ({
        node_id: prototypeId(m.id),
        status: m.state,
        port: Number(m.http.slice(m.http.lastIndexOf(':') + 1)),
        address: m.http,
      })),
    };
  });

  app.get('/nodes_for_key/:key', async (request, reply) => {
    const key = keyParam(request.params);
    const problem = runtime.node.checkKey(key); // no read or write checks it here
    if (problem) throw problem;
    const placement = runtime.node.placement;
    if (placement.layout.strategy !== 'consistent') {
      return reply.code(400).send({
        status: 'error',
        error: 'Bad Request',
        message: 'Consistent hashing is not enabled (the strategy is full: every node holds every key)',
        code: 'BAD_REQUEST',
      });
    }
    return { status: 'success', key, nodes: placement.readReplicas(key).map(prototypeId) };
  });

  app.post('/set_replication_strategy', async (request) => {
    const body = parseJsonBody(request.body);
    const strategy = body.strategy;
    if (strategy === undefined || strategy === null || strategy === '') throw badRequest('Strategy is required');
    if (!isStrategy(strategy)) throw badRequest(`Strategy must be "full" or "consistent", got ${JSON.stringify(strategy)}`);
    const rfRaw = body.replication_factor;
    let rf: number | undefined;
    if (rfRaw !== undefined && rfRaw !== null && rfRaw !== '') {
      rf = typeof rfRaw === 'number' ? rfRaw : Number(rfRaw);
      if (!Number.isInteger(rf) || rf < 1) throw badRequest('replication_factor must be a positive integer');
    }
    const layout = await runtime.proposeChange({ type: 'replication', strategy, rf });
    const target = layout.pending ?? layout;
    const replicas = target.strategy === 'full' ? layout.members.length : Math.min(target.rf, layout.members.length);
    return {
      status: 'success',
      message: `Replication strategy set to ${target.strategy} with replication factor ${replicas}${
        layout.pending ? ' (data is moving to the new replicas in the background)' : ''
      }`,
      strategy: target.strategy,
      replication_factor: replicas,
      layoutVersion: layout.version,
    };
  });

  app.post('/fail/:id', async (request) => {
    const id = nodeIdParam(request.params);
    await context.control.fail(id);
    return { status: 'success', message: `Node ${id} failed` };
  });

  app.post('/recover/:id', async (request) => {
    const id = nodeIdParam(request.params);
    await context.control.recover(id);
    return { status: 'success', message: `Node ${id} recovered` };
  });
}

/** JSON.stringify would turn a number out of a double's range (`1e400`, read as Infinity) into null. */
function finiteNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw badRequest('value holds a number out of range (over 1.8e308)');
  return value;
}

function notFound(reply: FastifyReply, key: string): FastifyReply {
  return reply.code(404).send({ status: 'error', error: 'Key not found', message: `Key ${key} not found`, code: 'NOT_FOUND' });
}

function nodeIdParam(params: unknown): string {
  const id = (params as { id?: string }).id ?? '';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw badRequest(`not a node id: "${id}"`);
  return id;
}

/** A conditional write that failed before it proposed anything: too few replicas up (nothing was written). */
function roundCouldNotRun(error: QuorumError): boolean {
  return error.code === 'UNAVAILABLE' && error.details.outcomeUnknown !== true && error.details.paused !== true && error.details.stoodStill !== true;
}
