// Sends one HTTP request to the cluster with failover: the nodes are tried in turn until one answers.
// A node "does not answer" when it cannot be connected to, drops the connection, stays silent past the
// attempt's deadline, or says it is failed (a paused node's 503) or overloaded. Any other answer,
// errors included (e.g. UNAVAILABLE: too few replicas), comes from a coordinator that saw the cluster
// and is returned as it is: another coordinator would see the same replicas.
//
// Whether a request may be sent again after it may have reached a node is the caller's choice
// (`retry`): reads, PUT and DELETE may (see docs/client.md: a repeated PUT gets a newer version of the
// same value, harmless under last-writer-wins); a create-only write may not, because its first try can
// have succeeded and the second would then answer EXISTS.

import { errors as undiciErrors } from 'undici';
import { QuorumKvError, type AttemptFailure } from './errors.js';
import type { Node, NodeSet } from './nodes.js';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface RequestSpec {
  readonly method: Method;
  /** Path and query, already percent-encoded, starting with '/'. */
  readonly path: string;
  readonly body?: Uint8Array | undefined;
  readonly contentType?: string;
  /** Extra request headers (a conditional write's If-Match / If-None-Match). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * 'always': try the next node after any failure (idempotent or last-writer-wins requests);
   * 'unsent': only when the request surely never reached a node (connection refused).
   */
  readonly retry: 'always' | 'unsent';
  /** Send to this node only (a URL), with no failover: admin reads of one node's own state. */
  readonly target?: string | undefined;
  /** A key: try the nodes in the order it gives them, the same for every client (nodes.ts), not in turn. */
  readonly affinity?: string | undefined;
}

export interface CallOptions {
  /** Deadline of each attempt on one node. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  /** The node that answered. */
  readonly node: string;
}

type FailureKind = 'refused' | 'failed' | 'timeout';

/** Connection errors that prove nothing was sent. */
const notSentCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The header the HTTP API reads a request's deadline from (api/params.ts). */
export const deadlineHeader = 'x-quorumkv-deadline';

export class Transport {
  constructor(
    readonly nodes: NodeSet,
    private readonly token: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async send(spec: RequestSpec, options: CallOptions): Promise<RawResponse> {
    throwIfAborted(options.signal);
    const candidates =
      spec.target !== undefined
        ? [this.nodes.node(spec.target)]
        : spec.affinity !== undefined
          ? this.nodes.orderFor(spec.affinity, this.now())
          : this.nodes.order(this.now());
    // One node alone gets a second try: a kept-alive connection the server just closed fails once.
    const attempts = candidates.length === 1 ? [candidates[0] as Node, candidates[0] as Node] : candidates;
    const failures: AttemptFailure[] = [];
    let lastKind: FailureKind = 'refused';
    for (let index = 0; index < attempts.length; index++) {
      const node = attempts[index] as Node;
      const isLast = index === attempts.length - 1;
      let response: RawResponse;
      try {
        response = await this.attempt(node, spec, options);
      } catch (error) {
        if (error instanceof QuorumKvError) throw error; // the caller's signal: ABORTED or TIMEOUT
        const failure = describeFailure(error, options.timeoutMs);
        failures.push({ node: node.url, reason: failure.reason });
        lastKind = failure.kind;
        this.nodes.markDown(node, this.now());
        if (spec.retry === 'unsent' && failure.kind !== 'refused') break;
        if (failure.kind === 'timeout' && candidates.length === 1) break; // do not wait twice on one node
        continue;
      }
      if (!isLast && refusedByNode(response)) {
        failures.push({ node: node.url, reason: `HTTP ${response.status} (node failed or overloaded)` });
        if (isPaused(response)) this.nodes.markDown(node, this.now());
        continue;
      }
      this.nodes.markUp(node);
      return response;
    }
    const summary = [...new Set(failures.map((f) => `${f.node}: ${f.reason}`))].join('; ');
    if (lastKind === 'timeout') {
      throw new QuorumKvError('TIMEOUT', `no answer within ${options.timeoutMs} ms (${summary})`, undefined, { attempts: failures });
    }
    // A connection that broke after the request went out (a create-only write is not sent again then)
    // is no proof that it failed: "cannot reach" alone read as if nothing had been done.
    const outcome = lastKind === 'failed' ? '; the request was sent before its connection broke, so it may have taken effect' : '';
    throw new QuorumKvError('UNREACHABLE', `cannot reach the cluster (${summary})${outcome}`, undefined, { attempts: failures });
  }

  /** One request to one node, body read in full, under the attempt's deadline and the caller's signal. */
  private async attempt(node: Node, spec: RequestSpec, options: CallOptions): Promise<RawResponse> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // When this attempt gives up, the next node may get the same write: the node that has this one
      // must not start it after that (coordinator.ts, WriteOptions.startBy).
      const headers: Record<string, string> = { 'user-agent': 'quorumkv-client', [deadlineHeader]: String(this.now() + options.timeoutMs) };
      if (this.token) headers.authorization = `Bearer ${this.token}`;
      if (spec.body !== undefined) headers['content-type'] = spec.contentType ?? 'application/octet-stream';
      if (spec.headers) Object.assign(headers, spec.headers);
      const response = await node.pool.request({
        method: spec.method,
        path: node.basePath + spec.path,
        headers,
        body: spec.body ?? null,
        signal: controller.signal,
        // Our timer is the deadline; undici's own would race it with a less telling error.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const body = new Uint8Array(await response.body.arrayBuffer());
      return { status: response.statusCode, headers: response.headers, body, node: node.url };
    } catch (error) {
      if (options.signal?.aborted) throw abortedError(options.signal);
      if (timedOut) throw new AttemptTimeout();
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}

class AttemptTimeout extends Error {}

const textDecoder = new TextDecoder();

/**
 * A 503 that is about this node rather than the cluster: it is failed (paused), overloaded, or just
 * stood still (it refuses writes for a request timeout after a stop or stall).
 */
function refusedByNode(response: RawResponse): boolean {
  if (response.status !== 503) return false;
  const text = textDecoder.decode(response.body);
  return saysNodeIsDown(text) || text.includes('"code":"OVERLOADED"');
}

function isPaused(response: RawResponse): boolean {
  return saysNodeIsDown(textDecoder.decode(response.body));
}

/**
 * Whether a 503's body says its node takes no requests for now: failed by the admin route
 * (`paused`), just stood still (`stoodStill`), removed from the cluster (`removed`), or stopping
 * (`stopping`). The front reads answers the same way.
 */
export function saysNodeIsDown(body: string | Buffer): boolean {
  return body.includes('"paused":true') || body.includes('"stoodStill":true') || body.includes('"removed":true') || body.includes('"stopping":true');
}

function describeFailure(error: unknown, timeoutMs: number): { kind: FailureKind; reason: string } {
  if (error instanceof AttemptTimeout) return { kind: 'timeout', reason: `no answer within ${timeoutMs} ms` };
  const code = errorCode(error);
  if (neverSent(error)) return { kind: 'refused', reason: code ?? 'connect timeout' };
  return { kind: 'failed', reason: code ?? (error as Error)?.message ?? String(error) };
}

/** A connection error that proves the request never reached the server (the front uses it too). */
export function neverSent(error: unknown): boolean {
  if (error instanceof undiciErrors.ConnectTimeoutError) return true;
  const code = errorCode(error);
  return code !== undefined && notSentCodes.has(code);
}

function errorCode(error: unknown): string | undefined {
  const own = (error as { code?: unknown })?.code;
  if (typeof own === 'string') return own;
  const cause = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

/** Waits for `work`, or throws as soon as the caller's `signal` fires (work goes on for others). */
export async function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  throwIfAborted(signal);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

/** The caller's signal fired: TIMEOUT when it was a timeout signal (AbortSignal.timeout), else ABORTED. */
export function abortedError(signal: AbortSignal): QuorumKvError {
  const reason: unknown = signal.reason;
  if ((reason as { name?: unknown })?.name === 'TimeoutError') {
    return new QuorumKvError('TIMEOUT', 'the caller\'s deadline passed (AbortSignal timeout)', undefined, {}, { cause: reason });
  }
  const message = reason instanceof Error ? reason.message : 'the request was aborted';
  return new QuorumKvError('ABORTED', message, undefined, {}, { cause: reason });
}
