// JSON views of the cluster as one node sees it, shared by /v1/cluster and the prototype's /nodes.

import type { NodeRuntime } from '../runtime/nodeRuntime.js';

export interface MemberJson {
  id: string;
  http: string;
  peer: string;
  resp: string | null;
  role: string;
  state: string;
  incarnation: number;
  sinceMs: number;
}

export interface ClusterJson {
  node: string;
  layoutVersion: number;
  strategy: string;
  rf: number;
  replicas: number;
  vnodes: number;
  pending: { strategy: string; rf: number } | null;
  members: MemberJson[];
  hintsPending: Record<string, number>;
  /** The layout this node runs no longer lists it: it serves nothing but this route (api/server.ts). */
  removed: boolean;
  /** This node still drops or hands over copies a topology change moved away (a removed node too). */
  cleanupPending: boolean;
  /** Nodes a leave removed that this member still waits for: it asks them before purging (departed.ts). */
  departed: { id: string; removedIn: number }[];
  /** This node's own catching up after a (re)start. */
  recovery: { phase: string; peersSynced: string[]; peersPending: string[] };
}

export function clusterView(runtime: NodeRuntime): ClusterJson {
  const node = runtime.node;
  const layout = node.layout;
  const states = new Map(node.memberViews().map((m) => [m.id, m]));
  return {
    node: node.id,
    layoutVersion: layout.version,
    strategy: layout.strategy,
    rf: layout.rf,
    replicas: runtime.node.placement.servingCount,
    vnodes: layout.vnodes,
    pending: layout.pending ?? null,
    members: layout.members.map((member) => {
      const view = states.get(member.id);
      return {
        id: member.id,
        http: member.http,
        peer: member.peer,
        resp: member.resp ?? null,
        role: member.role,
        state: view?.state ?? 'dead',
        incarnation: view?.incarnation ?? 0,
        sinceMs: view?.sinceMs ?? 0,
      };
    }),
    hintsPending: node.hintsPending(),
    removed: !node.isMember,
    cleanupPending: node.cleanupPending,
    departed: node.departed.map(({ id, removedIn }) => ({ id, removedIn })),
    recovery: node.recoveryStatus(),
  };
}
