// The web dashboard of a local cluster, served by its front (DESIGN.md §6): `GET /` redirects to
// `/dashboard/`, which serves one static page (index.html, app.js, style.css: no framework, no external
// asset), and `GET /v1/dashboard/state` aggregates what the page shows in one JSON document. The page
// acts through the front's own routes (fail/recover, keys, replication, add/remove a node).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { checkToken, type ApiAuth } from '../api/auth.js';
import { sendError } from '../api/errors.js';
import type { Supervisor } from '../cluster/supervisor.js';
import { collectState } from './state.js';

export interface DashboardOptions {
  readonly supervisor: Supervisor;
  readonly auth: ApiAuth;
  /** How long to wait for each node when building the state, in ms (default 1500). */
  readonly nodeTimeoutMs?: number;
}

export const dashboardPath = '/dashboard/';
export const dashboardStatePath = '/v1/dashboard/state';

/** Where the page's files may be: beside this module under tsx, or back in the sources from dist/. */
export function dashboardAssetCandidates(): string[] {
  return [
    fileURLToPath(new URL('./public/', import.meta.url)),
    fileURLToPath(new URL('../../../src/dashboard/public/', import.meta.url)),
  ];
}

/** The folder holding index.html, app.js and style.css (tsc does not copy them into dist/). */
export function dashboardAssetsDir(): string {
  const found = dashboardAssetCandidates().find((dir) => existsSync(`${dir}index.html`));
  if (found === undefined) {
    throw new Error(`the dashboard's files are missing (looked in ${dashboardAssetCandidates().join(', ')})`);
  }
  return found;
}

/** Same-origin only: the page loads nothing from elsewhere and talks only to the front. */
const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerDashboard(app: FastifyInstance, options: DashboardOptions): void {
  const root = dashboardAssetsDir();
  const token = options.auth.token || options.auth.adminToken || undefined;
  const timeoutMs = options.nodeTimeoutMs ?? 1500;

  app.get('/', async (_request, reply) => reply.redirect(dashboardPath, 302));
  app.get('/dashboard', async (_request, reply) => reply.redirect(dashboardPath, 302));

  void app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', contentSecurityPolicy);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('cache-control', 'no-cache');
      return payload;
    });
    await scope.register(fastifyStatic, {
      root,
      prefix: dashboardPath,
      decorateReply: false,
      index: 'index.html',
      cacheControl: false,
      dotfiles: 'deny',
    });
  });

  app.get(dashboardStatePath, async (request, reply) => {
    const denied = checkToken(request, options.auth, false);
    if (denied) return sendError(reply, denied);
    // Collected afresh for every request: an answer must reflect an action (fail, recover) that
    // completed before it was asked, so nothing is cached or shared between requests.
    const state = await collectState({ supervisor: options.supervisor, token, timeoutMs });
    return reply.header('cache-control', 'no-store').send(state);
  });
}
