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
// A farewell is remembered as long as any member may still tell of the node: told again by a member
// that had not heard the farewell yet, a member took the node back, and, the farewell acknowledged,
// waited for it `departedKeepMs` (10 days) with every purge (found by the grow/shrink test).

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

/** A removed node's farewell: it handed over everything it held under layout `layout`. */
interface Farewell {
  readonly id: string;
  readonly layout: number;
  /** When it came, on this member's clock. */
  readonly sinceMs: number;
}

const metaDeparted = 'departed';
const metaFarewells = 'farewells';

export class DepartedNodes {
  private readonly byId = new Map<string, DepartedNode>();
  private readonly farewells = new Map<string, Farewell>();

  constructor(private readonly storage: Storage) {
    this.reload();
  }

  /**
   * Takes what the store holds. Also after a transaction rolled back (its COMMIT failed after the
   * statements succeeded): what this kept in memory in it is gone from the store.
   */
  reload(): void {
    this.byId.clear();
    this.farewells.clear();
    const stored = this.storage.getMeta(metaDeparted);
    if (stored !== undefined) for (const node of parseDeparted(stored)) this.byId.set(node.id, node);
    const said = this.storage.getMeta(metaFarewells);
    if (said !== undefined) for (const farewell of parseFarewells(said)) this.farewells.set(farewell.id, farewell);
  }

  /** Whether `id` said farewell under layout `version` or a later one. */
  private saidFarewell(id: string, version: number): boolean {
    const farewell = this.farewells.get(id);
    return farewell !== undefined && farewell.layout >= version;
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
        if (this.saidFarewell(member.id, next.version)) continue; // it came before this layout did
        updated.set(member.id, { id: member.id, peer: member.peer, removedIn: next.version, sinceMs: nowMs });
      }
    }
    for (const id of updated.keys()) if (inNext.has(id)) updated.delete(id);
    const changed = updated.size !== this.byId.size || [...updated.keys()].some((id) => !this.byId.has(id));
    // Stored before it is taken, as the layout is (node.ts adoptLayout): if the store fails, the
    // adoption is not made, and is made in full when the layout comes again.
    if (changed) this.commit({ departed: [...updated.values()] });
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
    const updated = new Map(this.byId);
    for (const node of told) {
      if (node.id === selfId || updated.has(node.id) || layout.members.some((m) => m.id === node.id)) continue;
      if (this.saidFarewell(node.id, node.removedIn)) continue; // the teller has not heard it yet
      updated.set(node.id, { id: node.id, peer: node.peer, removedIn: node.removedIn, sinceMs: nowMs - (node.ageMs ?? 0) });
    }
    if (updated.size > this.byId.size) this.commit({ departed: [...updated.values()] });
  }

  /**
   * `id` handed over everything it held under `layoutVersion`: forgotten if that is its removal or
   * later, and not taken back from a member's telling, nor from a removal it came before (a member
   * may hear the farewell before the layout that removed the node), until `keepMs` after it.
   */
  farewell(id: string, layoutVersion: number, nowMs: number): void {
    const known = this.farewells.get(id);
    const record = known === undefined || known.layout < layoutVersion;
    const node = this.byId.get(id);
    const forget = node !== undefined && layoutVersion >= node.removedIn;
    const farewells = [...this.farewells.values()].filter((f) => f.id !== id);
    this.commit({
      ...(record ? { farewells: [...farewells, { id, layout: layoutVersion, sinceMs: nowMs }] } : {}),
      ...(forget ? { departed: this.list.filter((n) => n.id !== id) } : {}),
    });
  }

  /**
   * Forgets the nodes removed at least `keepMs` ago, and farewells as old: by then every member's wait
   * for the node, begun before its farewell, is over, and no member tells of it.
   */
  expire(nowMs: number, keepMs: number): void {
    if (this.byId.size === 0 && this.farewells.size === 0) return; // every tick, and nearly always so
    const young = <T extends { readonly sinceMs: number }>(records: Iterable<T>) => [...records].filter((r) => nowMs - r.sinceMs < keepMs);
    const departed = young(this.byId.values());
    const farewells = young(this.farewells.values());
    this.commit({
      ...(departed.length < this.byId.size ? { departed } : {}),
      ...(farewells.length < this.farewells.size ? { farewells } : {}),
    });
  }

  /**
   * Stores the lists given, in one transaction, then takes them. Stored first, a store that fails (a
   * full disk) leaves memory as the store has it: taken first, a farewell once lived in memory only,
   * the next one was no news and stored nothing, and after a restart a slower member's telling
   * brought the node back (simulator seed 12400348).
   */
  private commit(lists: { readonly departed?: readonly DepartedNode[]; readonly farewells?: readonly Farewell[] }): void {
    const { departed, farewells } = lists;
    if (departed === undefined && farewells === undefined) return;
    this.storage.transaction(() => {
      if (departed !== undefined) this.storage.setMeta(metaDeparted, JSON.stringify(departed));
      if (farewells !== undefined) this.storage.setMeta(metaFarewells, JSON.stringify(farewells));
    });
    if (departed !== undefined) replaceAll(this.byId, departed);
    if (farewells !== undefined) replaceAll(this.farewells, farewells);
  }
}

function replaceAll<T extends { readonly id: string }>(byId: Map<string, T>, records: readonly T[]): void {
  byId.clear();
  for (const record of records) byId.set(record.id, record);
}

/** The records of a stored list; a damaged list reads as empty, and each parser skips damaged records. */
function storedRecords(stored: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
}

function parseDeparted(stored: string): DepartedNode[] {
  return storedRecords(stored).flatMap(({ id, peer, removedIn, sinceMs }) =>
    typeof id === 'string' && typeof peer === 'string' && Number.isSafeInteger(removedIn) && Number.isFinite(sinceMs)
      ? [{ id, peer, removedIn: removedIn as number, sinceMs: sinceMs as number }]
      : [],
  );
}

function parseFarewells(stored: string): Farewell[] {
  return storedRecords(stored).flatMap(({ id, layout, sinceMs }) =>
    typeof id === 'string' && Number.isSafeInteger(layout) && Number.isFinite(sinceMs) ? [{ id, layout: layout as number, sinceMs: sinceMs as number }] : [],
  );
}
