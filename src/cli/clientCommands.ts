// Scriptable client commands against a running cluster: put, get, del, status. Exit codes scripts can
// rely on: 0 success, 1 not found, 2 usage error, 3 cluster unreachable, 4 the cluster refused
// (unavailable, too large, unauthorized...).

import type { Command } from 'commander';

export const exitCodes = { ok: 0, notFound: 1, usage: 2, unreachable: 3, refused: 4 } as const;

export interface ClientOptions {
  readonly url: string;
  readonly token?: string | undefined;
  readonly json?: boolean;
  readonly consistency?: string;
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

export function clientDefaults(): { url: string; token: string | undefined } {
  return {
    url: process.env.QUORUMKV_URL ?? 'http://127.0.0.1:5000',
    token: process.env.QUORUMKV_TOKEN,
  };
}

export async function request(
  options: ClientOptions,
  method: string,
  path: string,
  body?: Uint8Array | string,
): Promise<Response> {
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'application/json' : 'application/octet-stream';
  let response: Response;
  try {
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(30_000) };
    if (body !== undefined) init.body = body as unknown as NonNullable<RequestInit['body']>;
    response = await fetch(base + path, init);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(`cannot reach the cluster at ${base} (${cause}); is it running? (quorumkv start)`, exitCodes.unreachable);
  }
  return response;
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
  const code = response.status === 404 ? exitCodes.notFound : exitCodes.refused;
  throw new CliError(`${response.status}: ${message}`, code, body);
}

function query(options: ClientOptions): string {
  return options.consistency ? `?consistency=${encodeURIComponent(options.consistency)}` : '';
}

export async function putCommand(options: ClientOptions, key: string, value: string): Promise<unknown> {
  const response = await request(options, 'PUT', `/v1/kv/${encodeURIComponent(key)}${query(options)}`, new TextEncoder().encode(value));
  if (!response.ok) return failOn(response);
  return response.json();
}

export async function getCommand(options: ClientOptions, key: string): Promise<{ key: string; value: string; version: string | null }> {
  const response = await request(options, 'GET', `/v1/kv/${encodeURIComponent(key)}${query(options)}`);
  if (!response.ok) return failOn(response);
  const value = await response.text();
  return { key, value, version: response.headers.get('x-quorumkv-version') };
}

export async function delCommand(options: ClientOptions, key: string): Promise<unknown> {
  const response = await request(options, 'DELETE', `/v1/kv/${encodeURIComponent(key)}${query(options)}`);
  if (!response.ok) return failOn(response);
  return response.json();
}

export async function statusCommand(options: ClientOptions): Promise<unknown> {
  const response = await request(options, 'GET', '/v1/cluster');
  if (!response.ok) return failOn(response);
  return response.json();
}

export function addClientOptions(command: Command): Command {
  const defaults = clientDefaults();
  return command
    .option('--url <url>', 'cluster address (env QUORUMKV_URL)', defaults.url)
    .option('--token <token>', 'API token (env QUORUMKV_TOKEN)', defaults.token)
    .option('--json', 'print JSON for scripts', false);
}
