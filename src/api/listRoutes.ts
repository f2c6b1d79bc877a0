// Cluster-wide key listing and batches on the HTTP API.
//
// GET /v1/keys?prefix=&match=&cursor=&limit=
//   Keys of the whole cluster in key order (runtime/clusterScan.ts): live keys starting with `prefix`
//   and matching the Redis glob `match`, after the key `cursor`, at most `limit` (1..10000, default
//   100). Answers {"keys": [...], "next": cursor or null}; pass `next` as `cursor` to continue.
//   Not a quorum read: it lists what the replicas hold.
//
// POST /v1/batch  {"ops": [...], "consistency"?: "one"|"quorum"|"all", "timeout"?: ms}
//   Up to 1000 operations: {"op":"put","key","value"} (UTF-8 text) or {"op":"put","key","valueBase64"}
//   (either with an optional "ttl" in seconds),
//   {"op":"get","key"}, {"op":"delete","key"}. Operations on different keys run concurrently;
//   operations on one key run in the order given. Answers 200 with one result per operation, in
//   order: {"op","key","status":"success",...} or {"op","key","status":"error","code","message"}.
//   A get that finds the key gives "found": true, "version", "valueBase64", "expiresAt" (ms since
//   1970) when the value expires, and, when the value is valid UTF-8, "value". The batch is not atomic: each operation succeeds or fails on its own.

import type { FastifyInstance } from 'fastify';
import { QuorumError } from '../core/errors.js';
import { isConsistencyLevel, type ConsistencyLevel } from '../core/quorum.js';
import { createClusterScan } from '../runtime/clusterScan.js';
import type { NodeRuntime } from '../runtime/nodeRuntime.js';
import { badRequest } from './errors.js';
import { parseJson } from './jsonBody.js';
import { deadlineOf, expiryFromTtl, integerParam, textParam, type Query } from './params.js';
import type { ApiContext } from './server.js';

export const listLimitDefault = 100;
export const listLimitMax = 10_000;
export const batchOpsMax = 1000;

export function registerListRoutes(app: FastifyInstance, context: ApiContext): void {
  const { runtime } = context;
  const scan = createClusterScan(runtime, context.auth.token);

  app.get('/v1/keys', async (request) => {
    const query = request.query as Query;
    const limit = integerParam(query, 'limit', listLimitDefault, 1, listLimitMax);
    const cursor = textParam(query, 'cursor') ?? null;
    const prefix = textParam(query, 'prefix');
    const match = textParam(query, 'match');
    const page = await scan.list({ cursor, limit, ...(prefix ? { prefix } : {}), ...(match ? { match } : {}) });
    return { keys: page.keys, next: page.next };
  });

  app.post('/v1/batch', async (request) => {
    const batch = { ...parseBatch(request.body, Date.now()), ...deadlineOf(request.headers) };
    const results = await runBatch(runtime, batch);
    const failed = results.filter((r) => r.status === 'error').length;
    return { status: failed === 0 ? 'success' : 'partial', failed, results };
  });
}

type BatchOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array; readonly expiresMs?: number }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string };

interface Batch {
  readonly ops: BatchOp[];
  readonly consistency: ConsistencyLevel | undefined;
  readonly timeoutMs: number | undefined;
  /** From the deadline header: writes not started by then are not started (coordinator.ts). */
  readonly startBy?: number;
}

type BatchResult = Record<string, unknown> & { readonly status: 'success' | 'error' };

/** Checks a batch body on its way in; every mistake is a 400 naming the operation. */
export function parseBatch(body: unknown, nowMs: number): Batch {
  const text = body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : typeof body === 'string' ? body : '';
  const parsed = parseJson(text, 'batch body');
  const request = parsed as { ops?: unknown; consistency?: unknown; timeout?: unknown };
  if (typeof request !== 'object' || request === null || !Array.isArray(request.ops)) throw badRequest('batch body needs "ops": [...]');
  if (request.ops.length === 0 || request.ops.length > batchOpsMax) throw badRequest(`"ops" must hold 1 to ${batchOpsMax} operations`);
  if (request.consistency !== undefined && !isConsistencyLevel(request.consistency)) {
    throw badRequest(`consistency must be one, quorum or all, got ${JSON.stringify(request.consistency)}`);
  }
  if (request.timeout !== undefined && (!Number.isInteger(request.timeout) || (request.timeout as number) < 1 || (request.timeout as number) > 60_000)) {
    throw badRequest('timeout must be an integer from 1 to 60000 (milliseconds)');
  }
  const ops = request.ops.map((raw: unknown, index: number): BatchOp => {
    const op = raw as { op?: unknown; key?: unknown; value?: unknown; valueBase64?: unknown; ttl?: unknown };
    if (typeof op !== 'object' || op === null) throw badRequest(`ops[${index}] must be an object`);
    if (typeof op.key !== 'string' || op.key === '') throw badRequest(`ops[${index}].key must be a non-empty string`);
    switch (op.op) {
      case 'get':
      case 'delete':
        return { op: op.op, key: op.key };
      case 'put': {
        if (op.ttl !== undefined && typeof op.ttl !== 'number') throw badRequest(`ops[${index}].ttl must be a number of seconds`);
        // The expiry counts from when the batch arrived; a bad ttl fails the whole batch before any write.
        const ttl = op.ttl === undefined ? {} : { expiresMs: expiryFromTtl(op.ttl, nowMs, `ops[${index}].ttl`) };
        if ((op.value === undefined) === (op.valueBase64 === undefined)) {
          throw badRequest(`ops[${index}] (put) needs exactly one of "value" (text) or "valueBase64"`);
        }
        if (op.value !== undefined) {
          if (typeof op.value !== 'string') throw badRequest(`ops[${index}].value must be a string`);
          return { op: 'put', key: op.key, value: Buffer.from(op.value, 'utf8'), ...ttl };
        }
        // Groups of four, the last of 2 or 3 (padding optional): "e" matched the old pattern and stored nothing.
        if (typeof op.valueBase64 !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/.test(op.valueBase64)) {
          throw badRequest(`ops[${index}].valueBase64 must be base64`);
        }
        return { op: 'put', key: op.key, value: Buffer.from(op.valueBase64, 'base64'), ...ttl };
      }
      default:
        throw badRequest(`ops[${index}].op must be "put", "get" or "delete"`);
    }
  });
  return { ops, consistency: request.consistency, timeoutMs: request.timeout as number | undefined };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function runOp(runtime: NodeRuntime, op: BatchOp, batch: Batch): Promise<BatchResult> {
  const options = {
    ...(batch.consistency ? { consistency: batch.consistency } : {}),
    ...(batch.timeoutMs ? { timeoutMs: batch.timeoutMs } : {}),
  };
  const deadline = batch.startBy === undefined ? {} : { startBy: batch.startBy };
  try {
    switch (op.op) {
      case 'put': {
        const expiry = op.expiresMs === undefined ? {} : { expiresMs: op.expiresMs };
        const outcome = await runtime.put(op.key, op.value, { ...options, ...expiry, ...deadline });
        return { op: 'put', key: op.key, status: 'success', version: outcome.version, replicasAcked: outcome.replicasAcked, hintsAcked: outcome.hintsAcked };
      }
      case 'delete': {
        const outcome = await runtime.remove(op.key, { ...options, ...deadline });
        return { op: 'delete', key: op.key, status: 'success', deleted: true, version: outcome.version };
      }
      case 'get': {
        const outcome = await runtime.get(op.key, options);
        const entry = outcome.entry;
        if (entry === undefined || entry.value === null) return { op: 'get', key: op.key, status: 'success', found: false };
        const bytes = Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength);
        let text: string | undefined;
        try {
          text = utf8.decode(bytes);
        } catch {
          text = undefined;
        }
        return {
          op: 'get',
          key: op.key,
          status: 'success',
          found: true,
          version: entry.version,
          ...(entry.expiresMs !== undefined ? { expiresAt: entry.expiresMs } : {}),
          ...(text !== undefined ? { value: text } : {}),
          valueBase64: bytes.toString('base64'),
        };
      }
    }
  } catch (error) {
    if (!(error instanceof QuorumError)) throw error;
    return { op: op.op, key: op.key, status: 'error', code: error.code, message: error.message };
  }
}

/** Runs the operations concurrently, one key's operations in the order given. */
async function runBatch(runtime: NodeRuntime, batch: Batch): Promise<BatchResult[]> {
  const lastByKey = new Map<string, Promise<unknown>>();
  const results = batch.ops.map((op) => {
    const previous = lastByKey.get(op.key);
    const result = previous === undefined ? runOp(runtime, op, batch) : previous.then(() => runOp(runtime, op, batch));
    lastByKey.set(
      op.key,
      result.catch(() => undefined),
    );
    return result;
  });
  return Promise.all(results);
}
