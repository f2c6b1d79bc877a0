// Bearer-token checks shared by the nodes' API and the local cluster's front (DESIGN.md §7): a
// missing token is 401, a wrong one 403 (the prototype's answer). Compared in constant time.

import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { QuorumError } from '../core/errors.js';

export interface ApiAuth {
  /** Client token (`Authorization: Bearer <token>`); none configured means open. */
  readonly token?: string | undefined;
  /** Admin token for fail/recover/pause/layout changes; falls back to the client token. */
  readonly adminToken?: string | undefined;
}

export function checkToken(request: FastifyRequest, auth: ApiAuth, admin: boolean): QuorumError | undefined {
  const accepted = admin ? [auth.adminToken ?? auth.token] : [auth.token, auth.adminToken];
  const expected = accepted.filter((t): t is string => typeof t === 'string' && t !== '');
  if (expected.length === 0 || (!admin && !auth.token)) return undefined;
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
    return new QuorumError('UNAUTHORIZED', 'Missing API token: send Authorization: Bearer <token>');
  }
  const given = bearerToken(header);
  if (given === undefined) {
    return new QuorumError('UNAUTHORIZED', 'The Authorization header must be "Bearer <token>"');
  }
  if (expected.some((token) => sameSecret(given, token))) return undefined;
  // The client token on an admin route is valid, only not enough: say so (it read "Invalid API token").
  if (admin && auth.token && auth.adminToken && sameSecret(given, auth.token)) {
    return new QuorumError('FORBIDDEN', 'This route needs the admin token (--admin-token); the API token is for reads and writes');
  }
  return new QuorumError('FORBIDDEN', 'Invalid API token');
}

/** The token of a Bearer credential (RFC 6750: the scheme is case-insensitive); undefined for any other. */
function bearerToken(header: string): string | undefined {
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match ? match[1] : undefined;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
