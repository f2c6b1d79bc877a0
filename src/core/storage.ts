// The storage port: synchronous, so that the core's steps stay deterministic, and transactional, so
// that many writes commit together (group commit) and a row commits with its anti-entropy leaf.
// Implementations: src/storage/memory.ts and src/storage/sqlite.ts, held to one contract suite
// (test/storage/contract.ts).

import type { Entry, Version } from './version.js';

export type ApplyOutcome =
  | { readonly applied: true }
  /** Not applied: the store already holds `current`, a version at least as new. */
  | { readonly applied: false; readonly current: Version };

export interface PositionedEntry {
  readonly entry: Entry;
  /** The key's ring position (hash.ts `ringPosition`). */
  readonly position: number;
}

/** XOR of the item hashes of one anti-entropy leaf (hash.ts `itemHash`, `leafOf`). */
export interface LeafHash {
  readonly leaf: number;
  readonly h1: number;
  readonly h2: number;
}

/** A write held for a replica that could not take it, delivered when that replica is back. */
export interface Hint {
  /** Assigned by the store, increasing. */
  readonly id: number;
  readonly target: string;
  readonly entry: Entry;
  readonly createdMs: number;
}

/** What a replica keeps of a key's consensus rounds (keyPaxos.ts), durably: answers wait for it. */
export interface PaxosState {
  /** The highest ballot promised. */
  readonly promised: Version;
  /** The proposal accepted last, until a commit of its ballot or a later one. */
  readonly accepted?: { readonly ballot: Version; readonly entry: Entry };
  /** The highest ballot whose proposal this replica was sent as a commit. */
  readonly committed?: Version;
}

export interface EntryCounts {
  readonly live: number;
  readonly tombstones: number;
}

export interface Storage {
  /**
   * Runs `fn` in one transaction: what it writes commits together, or not at all if it throws.
   * Nested calls join the outer transaction. Acknowledge nothing written inside until this returns.
   */
  transaction<T>(fn: () => T): T;

  get(key: string): Entry | undefined;

  /**
   * Stores `entry` if its version is newer than the held one (last-writer-wins), and updates the
   * key's anti-entropy leaf in the same transaction. An equal or newer held version wins, and so
   * does a purge floor at or above the entry's version (then `current` is the floor).
   */
  apply(entry: Entry): ApplyOutcome;

  /**
   * Removes the key's tombstone if the held entry is still exactly that tombstone (or that value,
   * expired at `nowMs`: an expired value is the tombstone of a delete made at its expiry), and remembers
   * (key, version) as the key's purge floor: `apply` refuses versions at or below a floor, so a stale
   * copy of the key arriving late (repair, hints) cannot bring it back.
   */
  purgeTombstone(key: string, version: Version, nowMs: number): boolean;

  /**
   * Removes the key's entry if it is still exactly `version`, without leaving a purge floor: used to
   * drop copies this node no longer owns after a topology change has moved them to their new owners.
   */
  dropEntry(key: string, version: Version): boolean;

  /** The remembered purge floor of `key`, if any. */
  purgeFloor(key: string): Version | undefined;

  /** Forgets purge floors recorded before `purgedBeforeMs`; returns how many. */
  expirePurgeFloors(purgedBeforeMs: number): number;

  /** Entries in key order, keys strictly after `afterKey` (all from the start when null). */
  scan(afterKey: string | null, limit: number): Entry[];

  /**
   * Entries whose ring position p satisfies start <= p < end (end may be 2^32), in (position, key)
   * order, strictly after the cursor (position, key) when given.
   */
  scanPositions(
    start: number,
    end: number,
    limit: number,
    after?: { readonly position: number; readonly key: string },
  ): PositionedEntry[];

  /**
   * XOR of the item hashes of the entries whose ring position p satisfies start <= p < end (a part of
   * one leaf, at the edge of a token range): what hashing those entries would give, without reading
   * their values.
   */
  hashPositions(start: number, end: number): { readonly h1: number; readonly h2: number };

  /** Leaf hashes for leaves first..last inclusive; leaves absent from the result are empty (0, 0). */
  leafHashes(first: number, last: number): LeafHash[];

  /** The XOR of the leaf hashes of leaves first..last inclusive: (0, 0) when they are all empty. */
  leafRangeHash(first: number, last: number): { readonly h1: number; readonly h2: number };

  /**
   * Whether `leafHashes` reads ready leaf hashes. A store that keeps them in memory counts them again
   * when it opens; meanwhile it hashes the leaves asked for from their entries, which is far too slow
   * for a whole anti-entropy session, so sessions wait for this (antiEntropy.ts).
   */
  readonly leavesBuilt: boolean;

  /**
   * Tombstones whose version's wall clock is before `wallMsBefore`, and values whose expiry and version
   * are both before it, in key order after `afterKey`: what may be purged once the grace period has
   * passed (an expired value is deleted at its expiry, but never before it was written).
   */
  tombstonesBefore(wallMsBefore: number, limit: number, afterKey?: string): Entry[];

  counts(): EntryCounts;
  /** Values that carry an expiry, expired or not (until they are purged). */
  countExpiring(): number;

  addHint(target: string, entry: Entry, createdMs: number): void;
  /** The oldest hints for `target`. */
  hintsFor(target: string, limit: number): Hint[];
  removeHint(id: number): void;
  /** Removes hints created before `createdMsBefore`; returns how many. */
  expireHints(createdMsBefore: number): number;
  /** Removes the oldest hints for `target` beyond `keep`; returns how many. */
  trimHints(target: string, keep: number): number;
  hintCounts(): Map<string, number>;

  /**
   * Returns once everything committed so far is durable (a store that syncs commits lazily syncs now,
   * on the caller's thread). Inside a transaction it cannot: that one is durable once its commit is,
   * and the owner holds back what depends on it until then (the node runtime holds every message
   * produced inside a transaction). Rare: the clock's durable ceiling (hlc.ts) uses it.
   */
  syncNow(): void;
  /**
   * Whether everything committed so far is durable. A store that syncs commits lazily says false
   * until its sync is done; the node then shows nothing from it without going through a message,
   * which its owner holds back until then (reads answered from the node's own copy, coordinator.ts).
   */
  readonly durable: boolean;

  paxosState(key: string): PaxosState | undefined;
  /** Keeps `state` for `key`, or forgets the key's state when undefined. */
  setPaxosState(key: string, state: PaxosState | undefined): void;
  /**
   * Looks at the consensus state of up to `limit` keys after `afterKey` (in key order; '' for the
   * first), and forgets those whose promised ballot (the highest in their state) is below `below`
   * (paxosAcceptor.ts). Returns how many it forgot, and the last key looked at when `limit` were (a
   * pass over the store goes on from there), undefined at the end.
   */
  expirePaxosStates(below: Version, afterKey: string, limit: number): { readonly forgotten: number; readonly next: string | undefined };

  getMeta(name: string): string | undefined;
  setMeta(name: string, value: string): void;

  close(): void;
}
