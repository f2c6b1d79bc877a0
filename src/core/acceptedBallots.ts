// Which ballots a replica accepted lately, per key, in memory: so that its refusal of an accept can
// say for sure that it never took that proposal. A network may deliver an accept twice, and a replica
// that took the first copy refuses the second once it promised a higher ballot; so without this
// memory a refusal is proof of nothing once the replica accepted or committed anything at or above
// the refused ballot, which under contention is nearly always (another node's round did). Its
// proposer then had to count its proposal as possibly held and, when no round turned it up, fail
// the update with an unknown outcome: most of the failures when three nodes start INCRing one key
// together (the twenty-eighth session's measurements, docs/benchmarks.md).
//
// The memory of a key starts when the replica first answers a prepare or accept of it (after a
// restart, or once the key fell out of the bound) and holds the ballot the replica had promised then:
// any ballot at or below it may have been accepted before the memory began (accepting a ballot
// promises it, durably, and promises only go up), so no claim is made for those. Every ballot
// accepted after it is noted. Forgetting (the oldest keys past `keysMax`, the oldest ballots of a key
// past `ballotsMax`) only raises what no claim is made for, so the memory's size bounds its reach,
// never its truth.

import type { Version } from './version.js';

interface KeyMemory {
  /** Ballots at or below it may have been accepted before this memory began; undefined: none. */
  floor: Version | undefined;
  /** Ballots accepted since, oldest first. */
  readonly accepted: Version[];
}

/** Keys remembered: enough for every key in contention at once; one entry is a few strings. */
const keysMaxDefault = 4096;
/** Ballots remembered per key: a round's copies arrive within a few of its successors' rounds. */
const ballotsMaxDefault = 8;

export class AcceptedBallots {
  /** In the order last seen, so the first is the one to forget. */
  private readonly keys = new Map<string, KeyMemory>();

  constructor(
    private readonly keysMax = keysMaxDefault,
    private readonly ballotsMax = ballotsMaxDefault,
  ) {}

  /**
   * The replica is about to answer a prepare or accept of `key`, having promised `promised` so far
   * (the floor of forgotten state included): the memory of the key starts here if it had none.
   */
  seen(key: string, promised: Version | undefined): void {
    const memory = this.keys.get(key);
    this.keys.delete(key);
    this.keys.set(key, memory ?? { floor: promised, accepted: [] });
    if (this.keys.size > this.keysMax) this.keys.delete(this.keys.keys().next().value as string);
  }

  /** The replica accepted a proposal of `key` under `ballot` (call `seen` first). */
  accepted(key: string, ballot: Version): void {
    const memory = this.keys.get(key);
    if (memory === undefined) return;
    memory.accepted.push(ballot);
    if (memory.accepted.length <= this.ballotsMax) return;
    const oldest = memory.accepted.shift() as Version;
    if (memory.floor === undefined || oldest > memory.floor) memory.floor = oldest;
  }

  /** Whether this replica surely never accepted a proposal of `key` under `ballot`. */
  neverAccepted(key: string, ballot: Version): boolean {
    const memory = this.keys.get(key);
    if (memory === undefined) return false;
    if (memory.floor !== undefined && ballot <= memory.floor) return false;
    return !memory.accepted.includes(ballot);
  }
}
