// What a topology change leads to: the checks the layout coordinator makes of a change asked for
// (a join, a leave, a replication change) against the layout it runs, and the next layout version
// when it passes. Pure: what the coordinator knows of the cluster (who is dead, whether it sees a
// majority, whether a vote is under way) comes in a view, so each rule can be read and tested alone.
// Voting the result in and running the change are topology.ts's.

import { QuorumError } from './errors.js';
import { inTransition, type Layout, type LayoutMember, type Strategy } from './layout.js';

export type LayoutChange =
  | { readonly type: 'join'; readonly member: Omit<LayoutMember, 'role'> }
  /**
   * force: the operator gives up the writes that only dead nodes hold, so that the removal of a node
   * lost for good completes (the layout carries `forced`). Refused for a member the coordinator does
   * not see dead; asked for the leave under way, it forces that one (a new layout version).
   */
  | { readonly type: 'leave'; readonly id: string; readonly force?: boolean | undefined }
  | { readonly type: 'replication'; readonly strategy: Strategy; readonly rf?: number | undefined };

/** What the layout coordinator knows of the cluster when it checks a change. */
export interface CoordinatorView {
  readonly selfId: string;
  /** Dead in the coordinator's view (not merely suspect): only such a member's removal can be forced. */
  readonly isDead: (id: string) => boolean;
  /** It sees a majority of the serving members alive (topology.ts, seesMajority). */
  readonly seesMajority: boolean;
  /** A vote on the layout after this one is under way (layoutVote.ts). */
  readonly deciding: boolean;
}

export type ChangeResult = { ok: true; value: Layout } | { ok: false; error: QuorumError };

/** The layout `change` leads to from `layout` (`layout` itself if nothing changes), or why it is refused. */
export function nextLayout(layout: Layout, change: LayoutChange, view: CoordinatorView): ChangeResult {
  const refused = (code: 'LAYOUT_CONFLICT' | 'BAD_REQUEST' | 'UNKNOWN_NODE', message: string) => ({
    ok: false as const,
    error: new QuorumError(code, message),
  });
  if (!view.seesMajority) {
    return {
      ok: false as const,
      error: new QuorumError('UNAVAILABLE', 'the layout coordinator does not see a majority of the members alive; try again when more are back'),
    };
  }
  if (view.deciding) {
    return refused('LAYOUT_CONFLICT', `a topology change is being decided (after layout v${layout.version}); try again`);
  }
  // Force gives up what only dead nodes hold: never for a member that may still hand its copies
  // over (alive, or merely suspect). Its removal needs no force: its ranges stream from it.
  if (change.type === 'leave' && change.force) {
    const member = layout.members.find((m) => m.id === change.id);
    if (member && !(member.id !== view.selfId && view.isDead(member.id))) {
      return refused(
        'BAD_REQUEST',
        `node ${change.id} is not dead in the layout coordinator's view: remove it without force (its ranges are handed over first); force is only for a node lost for good`,
      );
    }
  }
  if (change.type === 'join') {
    const existing = layout.members.find((m) => m.id === change.member.id);
    if (existing && existing.peer === change.member.peer && existing.http === change.member.http) {
      return { ok: true, value: layout }; // a joining node asking again after a restart
    }
    if (existing) return refused('BAD_REQUEST', `a member with id ${change.member.id} already exists`);
    const clash = layout.members.find((m) => m.peer === change.member.peer || m.http === change.member.http);
    if (clash) return refused('BAD_REQUEST', `member ${clash.id} already uses those addresses`);
  }
  // Removing a joining member cancels its join (a join that cannot complete, e.g. the node died for
  // good, would otherwise block every later change): serving replicas never changed, nothing moves.
  if (change.type === 'leave' && layout.members.some((m) => m.id === change.id && m.role === 'joining')) {
    return { ok: true, value: { ...layout, version: layout.version + 1, members: layout.members.filter((m) => m.id !== change.id) } };
  }
  // The change under way asked again (its first answer was lost, or was a 503 after the vote went
  // ahead) is answered as a join asked again is: with the layout that runs it, not a conflict that
  // reports a change going ahead as failed.
  // Forcing the leave under way (stuck on a dead node's ranges) forces it in place: the same change,
  // a new layout version voted in as any. Asked again unforced, a forced leave answers as it is.
  if (change.type === 'leave' && layout.members.some((m) => m.id === change.id && m.role === 'leaving')) {
    if (change.force && !layout.forced) return { ok: true, value: { ...layout, version: layout.version + 1, forced: true } };
    return { ok: true, value: layout };
  }
  if (
    change.type === 'replication' &&
    layout.pending?.strategy === change.strategy &&
    layout.pending.rf === (change.rf ?? layout.rf)
  ) {
    return { ok: true, value: layout };
  }
  // A change that could never be made is refused as such before a conflict, which says to try again.
  if (change.type === 'leave' && !layout.members.some((m) => m.id === change.id)) return refused('UNKNOWN_NODE', `no member with id ${change.id}`);
  const rf = change.type === 'replication' ? (change.rf ?? layout.rf) : layout.rf;
  if (change.type === 'replication') {
    if (!Number.isInteger(rf) || rf < 1) return refused('BAD_REQUEST', 'replication factor must be a positive integer');
    if (change.strategy === 'consistent' && rf > layout.members.length) {
      return refused('BAD_REQUEST', `replication factor ${rf} is larger than the node count (${layout.members.length})`);
    }
  }
  if (inTransition(layout)) {
    if (change.type === 'leave' && change.id !== view.selfId && view.isDead(change.id)) return addDeadLeave(layout, change);
    // A member that has just died is not dead to the coordinator for a few seconds (failure detection),
    // and the change under way will not complete without it: "when it completes" would be never (a
    // topology soak sent remove-node 2 s after a kill and waited for good).
    if (change.type === 'leave' && change.id !== view.selfId) {
      return refused(
        'LAYOUT_CONFLICT',
        `a topology change is under way (layout v${layout.version}) and node ${change.id} is not seen dead: ` +
          'removing a dead member joins the change under way, so if it is down, try again in a few seconds, once failure detection has declared it dead; ' +
          'otherwise try again when the change completes',
      );
    }
    return refused('LAYOUT_CONFLICT', `a topology change is under way (layout v${layout.version}); try again when it completes`);
  }
  // A change completes when every serving member has filled its new ranges: one started while a
  // member is dead waits for it, and nothing but its return ends the wait (a README walk found RF
  // changes and joins stuck so). Refused up front, as Cassandra refuses to move ranges with a node
  // down. Removing a dead member is how to go on without it, so a leave of a dead node is let through.
  const leavingDead = change.type === 'leave' && change.id !== view.selfId && view.isDead(change.id);
  const dead = leavingDead ? [] : layout.members.filter((m) => m.id !== view.selfId && view.isDead(m.id)).map((m) => m.id);
  if (dead.length > 0) return { ok: false as const, error: new QuorumError('UNAVAILABLE', wouldWaitFor(dead, 'dead', 'change')) };
  let next: Layout;
  switch (change.type) {
    case 'join':
      next = { ...layout, members: [...layout.members, { ...change.member, role: 'joining' }] };
      break;
    case 'leave': {
      if (layout.members.length === 1) return refused('BAD_REQUEST', 'cannot remove the last member');
      next = {
        ...layout,
        members: layout.members.map((m) => (m.id === change.id ? { ...m, role: 'leaving' as const } : m)),
        ...(change.force ? { forced: true as const } : {}),
      };
      break;
    }
    case 'replication': {
      if (change.strategy === layout.strategy && rf === layout.rf) return { ok: true, value: layout };
      next = { ...layout, pending: { strategy: change.strategy, rf } };
      break;
    }
  }
  return { ok: true, value: { ...next, version: layout.version + 1 } };
}

/**
 * The removal of a member that died during the change under way joins that change (a new layout
 * version: the same transition, with the dead member leaving as well). A change waits for every
 * live serving member to fill its new ranges, and for a dead one that is not leaving until it is
 * back; before, nothing but its return ended that wait, and every later change, its removal
 * included, was refused (README, known limitations). Leaving, it is waited for no longer
 * (maybeFinalize), and each piece it would have filled has its other replicas, which fill from
 * N - quorum + 1 sources as in any leave; with too few sources left, forcing it forces the change.
 */
function addDeadLeave(layout: Layout, change: Extract<LayoutChange, { type: 'leave' }>): ChangeResult {
  if (!layout.members.some((m) => m.role !== 'leaving' && m.id !== change.id)) {
    return { ok: false, error: new QuorumError('BAD_REQUEST', 'cannot remove the last member') };
  }
  return {
    ok: true,
    value: {
      ...layout,
      version: layout.version + 1,
      members: layout.members.map((m) => (m.id === change.id ? { ...m, role: 'leaving' as const } : m)),
      ...(change.force || layout.forced ? { forced: true as const } : {}),
    },
  };
}

/**
 * Why a change is refused while members are down (here, and on the local cluster's front before it
 * starts a joining process): it would wait for them.
 */
export function wouldWaitFor(ids: readonly string[], state: 'dead' | 'down', what: 'change' | 'join'): string {
  const [are, them] = ids.length === 1 ? ['is', 'it'] : ['are', 'them'];
  return `node ${ids.join(', ')} ${are} ${state}, and the ${what} would wait for ${them}: recover ${them} first, or remove ${them} (remove-node ${ids[0]})`;
}
