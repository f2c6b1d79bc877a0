// Scriptable client commands against a running cluster: put, get, del, status, and what the admin
// commands and the shell share: the --url/--token/--json options, the typed client behind them, and
// exit codes scripts can rely on:
//   0 success, 1 not found (key or node), 2 usage error (bad arguments, or a request the server
//   calls malformed), 3 cluster unreachable (no node answered in time), 4 the cluster refused
//   (unavailable, exists, too large, unauthorized...).

import type { Command, CommanderError } from 'commander';
import { connect, QuorumKvError, type QuorumKvClient, type WriteCondition } from '../client/index.js';

export const exitCodes = { ok: 0, notFound: 1, usage: 2, unreachable: 3, refused: 4, conditionFailed: 5 } as const;

export interface ClientOptions {
  readonly url: string;
  readonly token?: string | undefined;
  /** The admin token (`--admin-token`): sent instead of `token` when given; nodes take it on every route. */
  readonly adminToken?: string | undefined;
  readonly json?: boolean;
  readonly consistency?: string;
  /** put: time to live in seconds (`--ttl 30`, `--ttl 0.5`). */
  readonly ttl?: string;
  /** put, del: a conditional write (`--if-absent`, `--if-present`, `--if-version V`). */
  readonly ifAbsent?: boolean;
  readonly ifPresent?: boolean;
  readonly ifVersion?: string;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export function clientDefaults(): { url: string; token: string | undefined; adminToken: string | undefined } {
  return {
    // An empty variable counts as unset (`QUORUMKV_URL= quorumkv get k`).
    url: process.env.QUORUMKV_URL || 'http://127.0.0.1:5000',
    token: process.env.QUORUMKV_TOKEN || undefined,
    adminToken: process.env.QUORUMKV_ADMIN_TOKEN || undefined,
  };
}

/**
 * The token a command sends: the admin token when given, since nodes accept it on every route, and
 * the same shell that started a cluster with QUORUMKV_ADMIN_TOKEN then runs its admin commands.
 */
export function bearerToken(options: Pick<ClientOptions, 'token' | 'adminToken'>): string | undefined {
  return options.adminToken || options.token || undefined;
}

/** A client for one command: the given URL only (no discovery: the user named where to go). */
export function openClient(options: ClientOptions): QuorumKvClient {
  try {
    return connect({ url: options.url, token: bearerToken(options), timeoutMs: 30_000 });
  } catch (error) {
    throw asCliError(error, options);
  }
}

/** Runs `work` with a fresh client, closing it after; client errors become CliErrors. */
export async function withClient<T>(options: ClientOptions, work: (client: QuorumKvClient) => Promise<T>): Promise<T> {
  const client = openClient(options);
  try {
    return await work(client);
  } catch (error) {
    throw asCliError(error, options);
  } finally {
    await client.close();
  }
}

export function exitCodeOf(error: QuorumKvError): number {
  switch (error.code) {
    case 'NOT_FOUND':
    case 'UNKNOWN_NODE':
      return exitCodes.notFound;
    case 'BAD_REQUEST':
      return exitCodes.usage;
    case 'UNREACHABLE':
    case 'TIMEOUT':
      return exitCodes.unreachable;
    default:
      return exitCodes.refused;
  }
}

/** A CliError with a message for people; other errors pass through unchanged. */
export function asCliError(error: unknown, options: Pick<ClientOptions, 'url'>): unknown {
  if (error instanceof CliError || !(error instanceof QuorumKvError)) return error;
  const body = { code: error.code, ...(error.status !== undefined ? { status: error.status } : {}), ...error.details };
  if (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT') {
    const attempts = (error.details.attempts ?? []) as { reason: string }[];
    const reason = [...new Set(attempts.map((a) => a.reason))].join(', ') || error.message;
    return new CliError(`cannot reach the cluster at ${options.url} (${reason}); is it running? (quorumkv start)`, exitCodeOf(error), body);
  }
  const prefix = error.status !== undefined ? `${error.status} ${error.code}: ` : `${error.code}: `;
  return new CliError(prefix + error.message, exitCodeOf(error), body);
}

/** Prints a command's failure (JSON on stdout with --json, else a line on stderr) and sets the exit code. */
export function reportFailure(error: unknown, options: ClientOptions): never {
  const failure = asCliError(error, options);
  if (!(failure instanceof CliError)) throw failure;
  if (options.json) {
    const body = (failure.body ?? null) as { code?: unknown } | null;
    process.stdout.write(JSON.stringify({ error: failure.message, code: body?.code ?? null, exitCode: failure.exitCode, body }) + '\n');
  } else {
    process.stderr.write(`quorumkv: ${failure.message}\n`);
  }
  process.exit(failure.exitCode);
}

/** Runs one scriptable command: prints its failure and exits with its code. */
export async function runCommand(options: ClientOptions, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    reportFailure(error, options);
  }
}

export async function putCommand(options: ClientOptions, key: string, value: string): Promise<unknown> {
  const ttl = ttlOf(options);
  const condition = conditionOf(options);
  if (condition) {
    return withClient(options, async (client) => ({ status: 'success', ...heldOrRefused(key, await client.putIf(key, value, condition, ttl)) }));
  }
  return withClient(options, async (client) => ({ status: 'success', ...(await client.put(key, value, { ...levelOf(options), ...ttl })) }));
}

/** The condition of a conditional put or del, if one was asked for; more than one, or with --consistency, is a usage error. */
function conditionOf(options: ClientOptions): WriteCondition | undefined {
  const given = [options.ifAbsent && '--if-absent', options.ifPresent && '--if-present', options.ifVersion !== undefined && '--if-version'].filter(Boolean);
  if (given.length === 0) return undefined;
  const usage = (message: string) => new CliError(message, exitCodes.usage, { code: 'BAD_REQUEST' });
  if (given.length > 1) throw usage(`give one condition, not ${given.join(' and ')}`);
  if (options.consistency !== undefined) throw usage(`${given[0]} runs a consensus round on a majority of the replicas: --consistency does not apply`);
  if (options.ifAbsent) return { ifAbsent: true };
  if (options.ifPresent) return { ifPresent: true };
  if (options.ifVersion === '') throw usage('--if-version needs a version (as get --json shows it)');
  return { ifVersion: options.ifVersion as string };
}

/** A conditional write's result, or exit 5 when its condition did not hold. */
function heldOrRefused<T>(key: string, result: T | null): T {
  if (result === null) throw new CliError(`the condition did not hold for key ${key}: nothing written`, exitCodes.conditionFailed, { code: 'PRECONDITION_FAILED', key });
  return result;
}

/** --ttl in seconds as the client's ttlMs. */
function ttlOf(options: ClientOptions): { ttlMs?: number } {
  if (options.ttl === undefined) return {};
  return { ttlMs: ttlMsOf(options.ttl, '--ttl') };
}

/** Seconds as typed: digits and a fraction; not `0x10`, `1e3` or `+5`, which Number() reads (api/params.ts). */
const decimalSeconds = /^\d{1,15}(\.\d{1,9})?$/;

/** A time to live typed in seconds (`30`, `0.5`), in ms; anything but a positive number is a usage error. */
export function ttlMsOf(text: string, label: string): number {
  const seconds = decimalSeconds.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new CliError(`${label} must be a positive number of seconds, got "${text}"`, exitCodes.usage, { code: 'BAD_REQUEST' });
  }
  return Math.ceil(seconds * 1000);
}

export async function getCommand(options: ClientOptions, key: string): Promise<{ key: string; value: string; version: string | null; expiresAt?: string }> {
  return withClient(options, async (client) => {
    const entry = await client.get(key, levelOf(options));
    if (!entry) throw new CliError(`Key ${key} not found`, exitCodes.notFound, { code: 'NOT_FOUND', key });
    return { key, value: entry.text(), version: entry.version, ...(entry.expiresAtMs === null ? {} : { expiresAt: new Date(entry.expiresAtMs).toISOString() }) };
  });
}

export async function delCommand(options: ClientOptions, key: string): Promise<unknown> {
  const condition = conditionOf(options);
  if (condition) return withClient(options, async (client) => ({ status: 'success', ...heldOrRefused(key, await client.deleteIf(key, condition)) }));
  return withClient(options, async (client) => ({ status: 'success', ...(await client.delete(key, levelOf(options))) }));
}

export async function statusCommand(options: ClientOptions): Promise<unknown> {
  return withClient(options, (client) => client.admin.clusterStatus());
}

function levelOf(options: ClientOptions): { consistency?: 'one' | 'quorum' | 'all' } {
  return options.consistency ? { consistency: options.consistency as 'one' | 'quorum' | 'all' } : {};
}

/**
 * --url, --token, --admin-token, --json, and usage errors (missing argument, unknown option) exiting with 2 rather
 * than commander's 1, which scripts would read as "not found".
 */
export function addClientOptions(command: Command): Command {
  const defaults = clientDefaults();
  return command
    .option('--url <url>', 'cluster address (env QUORUMKV_URL)', defaults.url)
    .option('--token <token>', 'API token (env QUORUMKV_TOKEN)', defaults.token)
    .option('--admin-token <token>', 'admin token, for fail, recover and layout changes; sent instead of --token (env QUORUMKV_ADMIN_TOKEN)', defaults.adminToken)
    .option('--json', 'print JSON for scripts', false)
    .exitOverride(usageExit);
}

export function usageExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : exitCodes.usage);
}

// ---- raw requests, for routes the typed client does not cover -------------------------------------

/**
 * `timeoutMs`: how long to wait for the answer (30 s; add-node, which starts a process and joins it,
 * waits longer). A timeout is said as one: "cannot reach the cluster" made a probe think the front
 * had stopped, when a node was hung and the add took longer than 30 s.
 */
export async function request(options: ClientOptions, method: string, path: string, body?: Uint8Array | string, timeoutMs = 30_000): Promise<Response> {
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  const token = bearerToken(options);
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'application/json' : 'application/octet-stream';
  try {
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
    if (body !== undefined) init.body = body as unknown as NonNullable<RequestInit['body']>;
    return await fetch(base + path, init);
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') {
      throw new CliError(`${base} did not answer ${method} ${path} within ${timeoutMs / 1000} s; it may still be carrying it out`, exitCodes.unreachable);
    }
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(`cannot reach the cluster at ${base} (${cause}); is it running? (quorumkv start)`, exitCodes.unreachable);
  }
}

export async function failOn(response: Response): Promise<never> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  const message = typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : text;
  const code = response.status === 404 ? exitCodes.notFound : response.status === 400 ? exitCodes.usage : exitCodes.refused;
  throw new CliError(`${response.status}: ${message}`, code, body);
}
