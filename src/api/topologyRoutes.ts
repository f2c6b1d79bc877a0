// Admin routes for topology changes on every node: join, leave (decommission or removal of a dead
// node), strategy / RF changes, and the progress of the change under way. Changes go through the
// layout coordinator; a change asked for while another runs answers 409 LAYOUT_CONFLICT.

import type { FastifyInstance } from 'fastify';
import { QuorumError } from '../core/errors.js';
import type { LayoutChange } from '../core/layoutChange.js';
import { joinProofHeader, joinProofMatches } from '../transport/handshake.js';
import { isLayoutChange } from '../core/validate.js';
import { badRequest } from './errors.js';
import { booleanParam, type Query } from './params.js';
import { parseJsonBody } from './jsonBody.js';
import type { ApiContext } from './server.js';

export function registerTopologyRoutes(app: FastifyInstance, context: ApiContext): void {
  const { runtime } = context;

  app.post('/v1/admin/join', async (request) => {
    const member = parseJsonBody(request.body);
    const change = { type: 'join', member };
    if (!isLayoutChange(change)) throw badRequest('a joining member needs id (letters, digits, . _ -), peer and http addresses');
    checkAddresses(change);
    // A joining node sends its proof of the cluster secret (quorumkv node --join does); a hand-made
    // request without one is taken on the admin token alone.
    const proof = request.headers[joinProofHeader];
    if (typeof proof === 'string' && change.type === 'join' && !joinProofMatches(runtime.options.clusterSecret, change.member.id, change.member.peer, proof)) {
      throw new QuorumError('FORBIDDEN', `node ${change.member.id} was not started with this cluster's --cluster-secret: its members would refuse its connections`);
    }
    const layout = await runtime.proposeChange(change);
    return { status: 'success', layout };
  });

  app.post('/v1/admin/layout', async (request) => {
    const change = parseJsonBody(request.body);
    if (!isLayoutChange(change)) {
      throw badRequest('expected {"type":"join","member":{...}}, {"type":"leave","id","force"?} or {"type":"replication","strategy","rf"}');
    }
    checkAddresses(change);
    const layout = await runtime.proposeChange(change);
    return { status: 'success', layout };
  });

  app.delete('/v1/admin/nodes/:id', async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const force = booleanParam(request.query as Query, 'force', false);
    const layout = await runtime.proposeChange({ type: 'leave', id, ...(force ? { force } : {}) });
    const message = force ? forcedRemovalMessage(id) : `Node ${id} is leaving; its ranges move to their new owners`;
    return reply.code(202).send({ status: 'success', message, layout });
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
    return { node: runtime.node.id, layout: status.layout, ...status.topology };
  });
}

/**
 * A joining member's addresses must be ones every node can dial (host:port, port 1 to 65535). The
 * core takes addresses as opaque names (the simulator's are not host:port); voted into a layout, one
 * the transport cannot use only showed when each node applied it.
 */
function checkAddresses(change: LayoutChange): void {
  if (change.type !== 'join') return;
  const { peer, http, resp } = change.member;
  for (const [name, address] of [['peer', peer], ['http', http], ['resp', resp]] as const) {
    if (address === undefined) continue;
    const port = Number(/^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(address)?.[1] ?? 0);
    if (port < 1 || port > 65535) throw badRequest(`member ${name} address "${address}" is not host:port with a port from 1 to 65535`);
  }
}

/** What a forced removal gives up, said wherever one is asked for (the HTTP answer, the CLI). */
export function forcedRemovalMessage(id: string): string {
  return (
    `Node ${id} is being removed by force: its ranges are re-replicated from the live replicas only, and a write ` +
    'that only dead nodes held (acknowledged at quorum on them alone) is lost'
  );
}
