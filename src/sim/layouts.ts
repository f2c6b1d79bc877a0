// Small helpers about cluster layouts for the simulator: member addresses, and the
// short descriptions of layouts and changes that the trace prints.

import type { Layout } from '../core/layout.js';
import type { LayoutChange } from '../core/layoutChange.js';

/** A simulated member's addresses (never dialled: the simulated network routes by id). */
export function memberAddress(id: string): { id: string; peer: string; http: string } {
  return { id, peer: `sim:${id}`, http: `sim:${id}` };
}

/** "[n1,n2,n3(leaving)] consistent rf=3 -> full rf=3" */
export function describeLayout(layout: Layout): string {
  const members = layout.members.map((m) => (m.role === 'active' ? m.id : `${m.id}(${m.role})`)).join(',');
  const pending = layout.pending ? ` -> ${layout.pending.strategy} rf=${layout.pending.rf}` : '';
  return `[${members}] ${layout.strategy} rf=${layout.rf}${pending}`;
}

export function describeChange(change: LayoutChange): string {
  switch (change.type) {
    case 'join':
      return `join ${change.member.id}`;
    case 'leave':
      return `leave ${change.id}`;
    case 'replication':
      return `replication ${change.strategy}${change.rf !== undefined ? ` rf=${change.rf}` : ''}`;
  }
}
