// The nodes a layout removed, remembered by the members until those nodes have handed over what they
// still held (cleanup.ts).
//
// A node removed while it was cut off may hold the only copy of a write it acknowledged at `one`.
// Back, its clean-up hands its copies to the keys' replicas. That is safe only where no tombstone newer
// than such a copy was purged without the removed node's word, or the copy would bring a deleted key
// back. So a member remembers the nodes a layout removed ("departed"); its purger asks them too before
// it purges (tombstones.ts); and it takes a departed node's old copies only while it remembers it. A
// member forgets a departed node when that node says farewell (its clean-up ended with no copy kept),
// or `departedKeepMs` after the removal: a node removed for good must not hold back purges for ever.
// A node that joined after a removal learns of the removed node from the members, with the layout
// they send it; one that never heard of it refuses its old copies, and the removed node drops them.

import type { Layout } from './layout.js';
import type { Storage } from './storage.js';

export interface DepartedNode {
  readonly id: string;
  /** host:port of its peer listener, to reach it once no layout names it. */
  readonly peer: string;
  /** The layout version that removed it. */
  readonly removedIn: number;
  /** When this member learned of the removal, on its own clock. */
  readonly sinceMs: number;
}

const metaDeparted = 'departed';

export class DepartedNodes {
  private readonly byId = new Map<string, DepartedNode>();

  constructor(private readonly storage: Storage) {
    const stored = storage.getMeta(metaDeparted);
    if (stored !== undefined) for (const node of parseDeparted(stored)) this.byId.set(node.id, node);
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  get list(): DepartedNode[] {
    return [...this.byId.values()];
  }

  /**
   * A layout was adopted: the members it removed have departed (remembered only by a node that stays a
   * member), and a departed node that it names again has not.
   */
  onLayout(previous: Layout, next: Layout, selfId: string, nowMs: number): void {
    const inNext = new Set(next.members.map((m) => m.id));
    const updated = new Map(this.byId);
    if (inNext.has(selfId)) {
      for (const member of previous.members) {
        if (member.id === selfId || inNext.has(member.id) || updated.has(member.id)) continue;
        updated.set(member.id, { id: member.id, peer: member.peer, removedIn: next.version, sinceMs: nowMs });
      }
    }
    for (const id of updated.keys()) if (inNext.has(id)) updated.delete(id);
    const changed = updated.size !== this.byId.size || [...updated.keys()].some((id) => !this.byId.has(id));
    if (!changed) return;
    // Stored before it is taken, as the layout is (node.ts adoptLayout): if the store fails, the
    // adoption is not made, and is made in full when the layout comes again.
    this.save([...updated.values()]);
    this.byId.clear();
    for (const [id, node] of updated) this.byId.set(id, node);
  }

  /**
   * Removed nodes a member told of with a layout (a node that joined after their removal never saw
   * them go): remembered unless the layout names them, until the teller's own wait for them ends
   * (`ageMs`, how long it has waited already). Without this, such a node refused a removed node's
   * hand-over of the only copy of an acknowledged write (simulator seed 5611695). Counted from the
   * telling instead, members that told each other again and again kept a node removed for good, and
   * every purge with it, for ever (found in review).
   */
  learn(
    told: readonly { readonly id: string; readonly peer: string; readonly removedIn: number; readonly ageMs?: number }[],
    layout: Layout,
    selfId: string,
    nowMs: number,
  ): void {
    let changed = false;
    for (const node of told) {
      if (node.id === selfId || this.byId.has(node.id) || layout.members.some((m) => m.id === node.id)) continue;
      this.byId.set(node.id, { id: node.id, peer: node.peer, removedIn: node.removedIn, sinceMs: nowMs - (node.ageMs ?? 0) });
      changed = true;
    }
    if (changed) this.save();
  }

  /** `id` handed over everything it held under `layoutVersion`: forgotten if that is its removal or later. */
  farewell(id: string, layoutVersion: number): void {
    const node = this.byId.get(id);
    if (node === undefined || layoutVersion < node.removedIn) return;
    this.byId.delete(id);
    this.save();
  }

  /** Forgets the nodes removed at least `keepMs` ago. */
  expire(nowMs: number, keepMs: number): void {
    let changed = false;
    for (const node of this.byId.values()) {
      if (nowMs - node.sinceMs < keepMs) continue;
      this.byId.delete(node.id);
      changed = true;
    }
    if (changed) this.save();
  }

  private save(nodes: readonly DepartedNode[] = this.list): void {
    this.storage.transaction(() => this.storage.setMeta(metaDeparted, JSON.stringify(nodes)));
  }
}

function parseDeparted(stored: string): DepartedNode[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (n): n is DepartedNode =>
      typeof n === 'object' &&
      n !== null &&
      typeof n.id === 'string' &&
      typeof n.peer === 'string' &&
      Number.isSafeInteger(n.removedIn) &&
      Number.isFinite(n.sinceMs),
  );
}
