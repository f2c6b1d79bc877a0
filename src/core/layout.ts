// The cluster layout: who the members are, where they listen, and how keys are replicated. It is
// versioned metadata that every node holds and spreads by gossip (DESIGN.md §2); the newer layout wins
// everywhere, and two different layouts with one version are ordered by a digest so that every node
// picks the same one.

import { assert } from './assert.js';
import { murmur3 } from './hash.js';

export const strategies = ['consistent', 'full'] as const;
export type Strategy = (typeof strategies)[number];

export function isStrategy(value: unknown): value is Strategy {
  return typeof value === 'string' && (strategies as readonly string[]).includes(value);
}

/**
 * active: owns ranges and serves them. joining: takes writes for the ranges it will own while they are
 * streamed to it, serves no reads yet. leaving: still serves while its ranges stream to their next
 * owners. Removed members disappear from the layout.
 */
export type MemberRole = 'active' | 'joining' | 'leaving';

export interface LayoutMember {
  readonly id: string;
  /** host:port of the peer (node-to-node) listener. */
  readonly peer: string;
  /** host:port of the client HTTP listener. */
  readonly http: string;
  /** host:port of the Redis-protocol listener, when it has one. */
  readonly resp?: string;
  readonly role: MemberRole;
}

export interface Layout {
  readonly version: number;
  readonly members: readonly LayoutMember[];
  readonly strategy: Strategy;
  /** Replication factor under `consistent`; capped at the member count. */
  readonly rf: number;
  /** Virtual-node tokens per member. */
  readonly vnodes: number;
  /** Strategy and RF being moved to: writes reach both settings' replicas until the move completes. */
  readonly pending?: { readonly strategy: Strategy; readonly rf: number };
  /**
   * The leave under way was forced (`remove-node --force`): its fill waits only for the live serving
   * replicas and live fillers, so writes that only dead nodes held are given up. Only with a leaving
   * member; dropped when the change is finalized.
   */
  readonly forced?: true;
}

export const vnodesDefault = 128;
/** Tokens per member at most: a typo of 3,000,000 took 440 MB per node; 100 members of 4,096 is 409,600. */
export const vnodesMax = 4096;
export const rfDefault = 3;

/** Layouts are never changed in place: each one's digest is computed once (every ping carries it). */
const digests = new WeakMap<Layout, number>();

/**
 * A digest of the layout's content, whatever order its objects' fields were built in (a layout parsed
 * from a peer and the same one built by the coordinator must agree).
 */
export function layoutDigest(layout: Layout): number {
  let digest = digests.get(layout);
  if (digest === undefined) {
    digest = digestOf(layout);
    digests.set(layout, digest);
  }
  return digest;
}

function digestOf(layout: Layout): number {
  return murmur3(
    JSON.stringify([
      layout.version,
      layout.members.map((m) => [m.id, m.peer, m.http, m.resp ?? null, m.role]),
      layout.strategy,
      layout.rf,
      layout.vnodes,
      layout.pending ? [layout.pending.strategy, layout.pending.rf] : null,
      // Only when set, so that the digest of every unforced layout stays what it was.
      ...(layout.forced ? [true] : []),
    ]),
  );
}

/** True when `candidate` should replace `held`. */
export function supersedes(candidate: Layout, held: Layout | undefined): boolean {
  if (held === undefined) return true;
  if (candidate.version !== held.version) return candidate.version > held.version;
  return layoutDigest(candidate) > layoutDigest(held);
}

export function memberById(layout: Layout, id: string): LayoutMember | undefined {
  return layout.members.find((member) => member.id === id);
}

export function validateLayout(layout: Layout): void {
  assert(Number.isInteger(layout.version) && layout.version >= 1, 'layout version must be a positive integer');
  assert(layout.members.length > 0, 'layout needs members');
  assert(new Set(layout.members.map((m) => m.id)).size === layout.members.length, 'layout member ids must be unique');
  assert(Number.isInteger(layout.rf) && layout.rf >= 1, 'layout rf must be a positive integer');
  assert(Number.isInteger(layout.vnodes) && layout.vnodes >= 1, 'layout vnodes must be a positive integer');
  assert(layout.forced === undefined || (layout.forced === true && layout.members.some((m) => m.role === 'leaving')), 'only a leave is forced');
}

/** Parses and checks a layout that arrived from outside (a peer, the disk); undefined if malformed. */
export function parseLayout(value: unknown): Layout | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Partial<Layout>;
  if (!Number.isInteger(candidate.version) || (candidate.version as number) < 1) return undefined;
  if (!isStrategy(candidate.strategy)) return undefined;
  if (!Number.isInteger(candidate.rf) || (candidate.rf as number) < 1) return undefined;
  if (!Number.isInteger(candidate.vnodes) || (candidate.vnodes as number) < 1 || (candidate.vnodes as number) > 4096)
    return undefined;
  if (!Array.isArray(candidate.members) || candidate.members.length === 0) return undefined;
  const members: LayoutMember[] = [];
  for (const raw of candidate.members as unknown[]) {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const m = raw as Partial<LayoutMember>;
    if (typeof m.id !== 'string' || m.id.length === 0 || typeof m.peer !== 'string' || typeof m.http !== 'string')
      return undefined;
    if (m.role !== 'active' && m.role !== 'joining' && m.role !== 'leaving') return undefined;
    if (m.resp !== undefined && typeof m.resp !== 'string') return undefined;
    members.push({ id: m.id, peer: m.peer, http: m.http, role: m.role, ...(m.resp ? { resp: m.resp } : {}) });
  }
  if (new Set(members.map((m) => m.id)).size !== members.length) return undefined;
  let pending: Layout['pending'];
  if (candidate.pending !== undefined) {
    const p = candidate.pending as Partial<NonNullable<Layout['pending']>>;
    if (!isStrategy(p.strategy) || !Number.isInteger(p.rf) || (p.rf as number) < 1) return undefined;
    pending = { strategy: p.strategy, rf: p.rf as number };
  }
  // A forced layout removes a member: without a leaving one the flag means nothing, and is refused.
  if (candidate.forced !== undefined && (candidate.forced !== true || !members.some((m) => m.role === 'leaving'))) return undefined;
  return {
    version: candidate.version as number,
    members,
    strategy: candidate.strategy,
    rf: candidate.rf as number,
    vnodes: candidate.vnodes as number,
    ...(pending ? { pending } : {}),
    ...(candidate.forced ? { forced: true as const } : {}),
  };
}

/** Whether a topology change is under way in `layout`: members joining or leaving, or new replication settings. */
export function inTransition(layout: Layout): boolean {
  return layout.pending !== undefined || layout.members.some((m) => m.role !== 'active');
}
