// Placeholder: cluster-wide key listing routes land with the Redis-protocol work.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './server.js';

export function registerListRoutes(_app: FastifyInstance, _context: ApiContext): void {}
