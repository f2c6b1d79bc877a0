// Which members hold a key, derived from the layout. Reads go to the key's replicas on the serving
// ring (active and leaving members, at the current strategy and RF). While a topology change is under
// way, writes also go to the replicas on the next ring (active and joining members, at the pending
// strategy and RF), and must reach a quorum in each set, so that no acknowledged write becomes
// unreadable at quorum when the next ring takes over (DESIGN.md §2).

import { ringPosition } from './hash.js';
import type { Layout, Strategy } from './layout.js';
import { Ring } from './ring.js';

export interface ReplicaSettings {
  readonly strategy: Strategy;
  readonly rf: number;
}

export function replicaCount(settings: ReplicaSettings, memberCount: number): number {
  if (settings.strategy === 'full') return memberCount;
  return Math.max(1, Math.min(settings.rf, memberCount));
}

export class Placement {
  readonly serving: Ring;
  readonly servingCount: number;
  /** The ring writes also go to while a change is under way; undefined when none is. */
  readonly next: Ring | undefined;
  readonly nextCount: number;
  private readonly leaving: ReadonlySet<string>;

  constructor(readonly layout: Layout) {
    this.leaving = new Set(layout.members.filter((m) => m.role === 'leaving').map((m) => m.id));
    const servingIds = layout.members.filter((m) => m.role !== 'joining').map((m) => m.id);
    const nextIds = layout.members.filter((m) => m.role !== 'leaving').map((m) => m.id);
    this.serving = new Ring(servingIds, layout.vnodes);
    this.servingCount = replicaCount(layout, servingIds.length);
    const pending = layout.pending ?? layout;
    const changing =
      layout.pending !== undefined || layout.members.some((m) => m.role !== 'active');
    this.next = changing ? new Ring(nextIds, layout.vnodes) : undefined;
    this.nextCount = replicaCount(pending, nextIds.length);
  }

  /** The key's preference list on the serving ring: where reads go. */
  readReplicas(key: string): string[] {
    return this.serving.walk(ringPosition(key), this.servingCount);
  }

  /** The replica sets a write must reach a quorum in: the serving one, and the next one if changing. */
  writeReplicaSets(key: string): string[][] {
    const position = ringPosition(key);
    const serving = this.serving.walk(position, this.servingCount);
    if (this.next === undefined) return [serving];
    const next = this.next.walk(position, this.nextCount);
    if (sameMembers(serving, next)) return [serving];
    return [serving, next];
  }

  /**
   * Where the key's copy on `id` moves to in the change under way: the members of the key's next
   * replica set that are not on its serving one, when `id` itself is not in the next set (it is
   * leaving the key). Empty when no change is under way or `id` keeps the key.
   */
  movesTo(key: string, id: string): string[] {
    const sets = this.writeReplicaSets(key);
    if (sets.length < 2) return [];
    const [serving, next] = sets as [string[], string[]];
    if (next.includes(id)) return [];
    return next.filter((member) => !serving.includes(member));
  }

  /**
   * Members after the preference list, nearest first: where hinted writes go when owners are down.
   * Not a leaving member: what it holds as a hint is not handed over by the move, and the change
   * completes without it once it is dead; a sloppy write acknowledged by its hint alone was lost with
   * it (simulator seed 61046683).
   */
  fallbacksFor(key: string): string[] {
    const fallbacks = this.serving.walk(ringPosition(key)).slice(this.servingCount);
    return this.leaving.size === 0 ? fallbacks : fallbacks.filter((id) => !this.leaving.has(id));
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
