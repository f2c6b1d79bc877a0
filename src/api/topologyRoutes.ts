// Admin routes for topology changes on every node: join, leave (decommission or removal of a dead
// node), strategy / RF changes, and the progress of the change under way. Changes go through the
// layout coordinator; a change asked for while another runs answers 409 LAYOUT_CONFLICT.

import type { FastifyInstance } from 'fastify';
import { isLayoutChange } from '../core/validate.js';
import { badRequest } from './errors.js';
import { parseJsonBody } from './seedRoutes.js';
import type { ApiContext } from './server.js';

export function registerTopologyRoutes(app: FastifyInstance, context: ApiContext): void {
  const { runtime } = context;

  app.post('/v1/admin/join', async (request) => {
    const member = parseJsonBody(request.body);
    const change = { type: 'join', member };
    if (!isLayoutChange(change)) throw badRequest('a joining member needs id (letters, digits, . _ -), peer and http addresses');
    const layout = await runtime.proposeChange(change);
    return { status: 'success', layout };
  });

  app.post('/v1/admin/layout', async (request) => {
    const change = parseJsonBody(request.body);
    if (!isLayoutChange(change)) {
      throw badRequest('expected {"type":"join","member":{...}}, {"type":"leave","id"} or {"type":"replication","strategy","rf"}');
    }
    const layout = await runtime.proposeChange(change);
    return { status: 'success', layout };
  });

  app.delete('/v1/admin/nodes/:id', async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const layout = await runtime.proposeChange({ type: 'leave', id });
    return reply.code(202).send({ status: 'success', message: `Node ${id} is leaving; its ranges move to their new owners`, layout });
  });

  app.post('/v1/admin/replication', async (request) => {
    const body = parseJsonBody(request.body);
    const change = { type: 'replication', strategy: body.strategy, rf: body.rf ?? body.replication_factor };
    if (!isLayoutChange(change)) throw badRequest('expected {"strategy":"consistent"|"full","rf":N}');
    const layout = await runtime.proposeChange(change);
    return { status: 'success', layout };
  });

  app.get('/v1/admin/topology', async () => {
    const status = runtime.node.status();
    return { layout: status.layout, ...status.topology };
  });
}
