// batch(): several key operations in one call. It uses POST /v1/batch (in chunks of the server's
// limit) and, with a server that lacks the route (it answers NO_ROUTE), sends them as single requests,
// a bounded number at a time. Either way it is not a transaction: each operation succeeds or fails on
// its own, and one key's operations run in the order given.

import { errorFromResponse, QuorumKvError, serverErrorCodes, type ServerErrorCode } from './errors.js';
import type { QuorumKvClient } from './client.js';
import { getResult, ttlSecondsOf } from './client.js';
import type { BatchOp, BatchResult, RequestOptions } from './types.js';

/** Operations in one batch() call, sent in chunks; bounds the client's memory. */
export const batchOpsMax = 100_000;
/** Operations per POST /v1/batch: the server takes at most 1000 (src/api/listRoutes.ts). */
export const batchChunkOps = 1000;
/**
 * Bytes of operations per POST /v1/batch: a node takes bodies of twice its largest value plus 64 KiB
 * (2 MiB + 64 KiB by default). An operation larger than this goes alone.
 */
export const batchChunkBytes = 1024 * 1024;
/** Single requests in flight at once when the server has no batch route. */
export const batchFallbackConcurrency = 16;

const textEncoder = new TextEncoder();
/** Servers seen without the batch route (by the client), so the fallback is chosen at once next time. */
const withoutBatchRoute = new WeakSet<QuorumKvClient>();

export async function runBatch(client: QuorumKvClient, ops: readonly BatchOp[], options: RequestOptions): Promise<BatchResult[]> {
  if (ops.length > batchOpsMax) throw new QuorumKvError('BAD_REQUEST', `a batch holds at most ${batchOpsMax} operations`, undefined);
  for (const op of ops) checkOp(op);
  if (ops.length === 0) return [];
  if (!withoutBatchRoute.has(client)) {
    const results = await viaBatchRoute(client, ops, options);
    if (results) return results;
    withoutBatchRoute.add(client);
  }
  return viaSingleRequests(client, ops, options);
}

/**
 * Results from POST /v1/batch (chunks of at most `batchChunkOps` operations and about `batchChunkBytes`
 * of JSON, in order), or undefined without the route. Chunks cut by count alone could exceed the
 * node's body limit: 413 for the chunk, after earlier chunks were applied (found in review).
 */
async function viaBatchRoute(client: QuorumKvClient, ops: readonly BatchOp[], options: RequestOptions): Promise<BatchResult[] | undefined> {
  const results: BatchResult[] = [];
  const encoded = ops.map(encodeOp);
  const sizes = encoded.map((json) => Buffer.byteLength(json));
  // Chunks go one after another, so one key's operations keep their order across chunks too.
  for (let start = 0; start < ops.length; ) {
    let end = start + 1;
    let bytes = sizes[start] as number;
    while (end < ops.length && end - start < batchChunkOps && bytes + (sizes[end] as number) <= batchChunkBytes) {
      bytes += sizes[end] as number;
      end += 1;
    }
    const chunk = await sendChunk(client, ops.slice(start, end), encoded.slice(start, end), options);
    if (!chunk) return undefined;
    results.push(...chunk);
    start = end;
  }
  return results;
}

function encodeOp(op: BatchOp): string {
  return JSON.stringify(
    op.op === 'put'
      ? {
          op: 'put',
          key: op.key,
          ...(typeof op.value === 'string' ? { value: op.value } : { valueBase64: Buffer.from(op.value).toString('base64') }),
          ...(op.ttlMs === undefined ? {} : { ttl: Number(ttlSecondsOf(op.ttlMs)) }),
        }
      : { op: op.op, key: op.key },
  );
}

async function sendChunk(
  client: QuorumKvClient,
  ops: readonly BatchOp[],
  encoded: readonly string[],
  options: RequestOptions,
): Promise<BatchResult[] | undefined> {
  const consistency = client.levelFor(options);
  const timeout = client.serverTimeoutFor(options);
  const level = consistency ? `,"consistency":${JSON.stringify(consistency)}` : '';
  const deadline = timeout !== undefined ? `,"timeout":${timeout}` : '';
  const body = textEncoder.encode(`{"ops":[${encoded.join(',')}]${level}${deadline}}`);
  const only = ops.length === 1 ? (ops[0] as BatchOp) : undefined;
  const response = await sendBatch(client, body, options).catch((error: unknown) => {
    // An operation too large for any request fails alone, as in the single-request fallback.
    if (only && error instanceof QuorumKvError && error.code === 'VALUE_TOO_LARGE') return error;
    throw error;
  });
  if (response instanceof QuorumKvError) return [{ op: (only as BatchOp).op, key: (only as BatchOp).key, ok: false, error: response }];
  if (response.status === 404) {
    const error = errorFromResponse(response.status, response.body, response.node);
    if (error.code === 'NO_ROUTE') return undefined;
    throw error;
  }
  const results = client.parse(response).results;
  if (!Array.isArray(results) || results.length !== ops.length) {
    const count = Array.isArray(results) ? results.length : 'no';
    throw new QuorumKvError('BAD_RESPONSE', `POST /v1/batch answered ${count} results for ${ops.length} ops`, response.status, { node: response.node });
  }
  return results.map((raw, index) => batchResult(ops[index] as BatchOp, raw as Record<string, unknown>, response.node));
}

/** POST /v1/batch; an error status other than 404 (a missing route, decided by the caller) throws. */
async function sendBatch(client: QuorumKvClient, body: Uint8Array, options: RequestOptions) {
  // Every op is a read, a last-writer-wins put or a delete, so sending it again elsewhere is safe.
  const response = await client.send({ method: 'POST', path: '/v1/batch', body, contentType: 'application/json', retry: 'always' }, options);
  if (response.status >= 400 && response.status !== 404) throw errorFromResponse(response.status, response.body, response.node);
  return response;
}

/** One result of the route: {"status":"success",...} or {"status":"error","code","message"}. */
function batchResult(op: BatchOp, raw: Record<string, unknown>, node: string): BatchResult {
  if (raw.status !== 'success') {
    const code = typeof raw.code === 'string' && (serverErrorCodes as readonly string[]).includes(raw.code) ? (raw.code as ServerErrorCode) : 'INTERNAL';
    const message = typeof raw.message === 'string' ? raw.message : `${op.op} ${op.key} failed`;
    return { op: op.op, key: op.key, ok: false, error: new QuorumKvError(code, message, undefined, { node }) };
  }
  if (op.op === 'get') {
    if (raw.found !== true) return { op: 'get', key: op.key, ok: true, value: null };
    const bytes = typeof raw.valueBase64 === 'string' ? new Uint8Array(Buffer.from(raw.valueBase64, 'base64')) : textEncoder.encode(String(raw.value ?? ''));
    const expiresAtMs = typeof raw.expiresAt === 'number' ? raw.expiresAt : null;
    return { op: 'get', key: op.key, ok: true, value: getResult(op.key, bytes, String(raw.version), Number(raw.replicasAnswered ?? 0), expiresAtMs) };
  }
  return { op: op.op, key: op.key, ok: true, version: String(raw.version) };
}

/**
 * Operations on different keys run concurrently; operations on one key run in the order given, so
 * that `put k` then `get k` reads the put (concurrent writes to one key would get versions in
 * whatever order their coordinators stamp them).
 */
async function viaSingleRequests(client: QuorumKvClient, ops: readonly BatchOp[], options: RequestOptions): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array(ops.length);
  const byKey = new Map<string, number[]>();
  ops.forEach((op, index) => byKey.set(op.key, [...(byKey.get(op.key) ?? []), index]));
  const chains = [...byKey.values()];
  let next = 0;
  const worker = async () => {
    while (next < chains.length) {
      for (const index of chains[next++] as number[]) results[index] = await single(client, ops[index] as BatchOp, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(batchFallbackConcurrency, chains.length) }, worker));
  return results;
}

async function single(client: QuorumKvClient, op: BatchOp, options: RequestOptions): Promise<BatchResult> {
  try {
    if (op.op === 'get') return { op: 'get', key: op.key, ok: true, value: await client.get(op.key, options) };
    if (op.op === 'put') return { op: 'put', key: op.key, ok: true, version: (await client.put(op.key, op.value, options)).version };
    return { op: 'delete', key: op.key, ok: true, version: (await client.delete(op.key, options)).version };
  } catch (error) {
    // The caller's abort ends the whole batch; anything else belongs to this op.
    if (!(error instanceof QuorumKvError) || options.signal?.aborted || error.code === 'CLOSED') throw error;
    return { op: op.op, key: op.key, ok: false, error };
  }
}

function checkOp(op: BatchOp): void {
  const valid =
    typeof op === 'object' &&
    op !== null &&
    (op.op === 'get' || op.op === 'delete' || (op.op === 'put' && (typeof op.value === 'string' || op.value instanceof Uint8Array))) &&
    typeof op.key === 'string' &&
    op.key !== '';
  if (!valid) throw new QuorumKvError('BAD_REQUEST', `not a batch operation: ${JSON.stringify(op)}`, undefined);
}
