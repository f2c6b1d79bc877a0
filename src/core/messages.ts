// Messages between nodes. The core produces and consumes these plain objects; the transport encodes
// them (src/transport/codec.ts) and carries them between processes, or the simulator between
// simulated nodes. Every envelope carries the sender's hybrid clock reading (DESIGN.md §3).

import type { ErrorCode } from './errors.js';
import type { ClockReading } from './hlc.js';
import type { UpdateOutcome } from './keyPaxos.js';
import type { Layout } from './layout.js';
import type { MemberUpdate } from './membership.js';
import type { LayoutChange } from './layoutChange.js';
import type { UpdateSpec } from './updateSpec.js';
import type { Entry, Version } from './version.js';

export interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly clock: ClockReading;
  readonly message: Message;
}

/**
 * Replica write: apply `entry` (or keep it as a hint for `hintFor`, an unreachable owner). `layout` is
 * the version of the layout the sender chose its replicas by: a replica on a newer layout refuses it.
 */
export interface WriteMessage {
  readonly kind: 'write';
  readonly op: number;
  readonly entry: Entry;
  readonly hintFor?: string;
  readonly layout: number;
  /** The commit of a key's consensus round (keyPaxos.ts): the ballot its entry was chosen under. */
  readonly ballot?: Version;
}

/**
 * `applied` false means the replica holds `current`, a version at least as new as the write's, or,
 * with `layout`, that it refused the write: planned on an older layout than its own (it sends that
 * layout along), or, on the same layout, of a key it does not replicate. The coordinator plans the
 * write again on the layout it then holds; a hint is handed to the key's replicas (hints.ts).
 */
export interface WriteReply {
  readonly kind: 'write-reply';
  readonly op: number;
  readonly applied: boolean;
  readonly current?: Version;
  readonly layout?: number;
}

/** Replica read. `layout` is the layout version the coordinator chose the replicas on. */
export interface ReadMessage {
  readonly kind: 'read';
  readonly op: number;
  readonly key: string;
  readonly layout: number;
}

/**
 * With `layout`, the replica refused the read: it runs that newer layout than the read was planned on
 * (and sends it along); the coordinator plans the read again on it. With `purged`, the replica holds
 * no entry because it purged the key's tombstone of that version (its purge floor): the key was
 * deleted then, and a copy older than that, another replica's answer among them, is stale.
 */
export interface ReadReply {
  readonly kind: 'read-reply';
  readonly op: number;
  readonly entry: Entry | null;
  readonly layout?: number;
  readonly purged?: Version;
}

/**
 * Phase 1 of a key's consensus round (keyPaxos.ts): promise to take no lower ballot for `key`, and
 * report what is held for it. Ballots are versions (hlc.ts): unique per proposer, totally ordered.
 */
export interface PaxosPrepareMessage {
  readonly kind: 'paxos-prepare';
  readonly op: number;
  readonly key: string;
  readonly ballot: Version;
  readonly layout: number;
}

/**
 * `ok`: promised, with the replica's entry (null when none; `purged` as in ReadReply), the proposal
 * it accepted last and the highest ballot it was sent a commit of. Refused: it promised `promised`, a higher
 * ballot, or (with `layout`) it runs a newer layout, or does not replicate the key on this one.
 */
export interface PaxosPromiseMessage {
  readonly kind: 'paxos-promise';
  readonly op: number;
  readonly ok: boolean;
  readonly entry?: Entry | null;
  readonly purged?: Version;
  readonly accepted?: { readonly ballot: Version; readonly entry: Entry };
  /** The highest ballot committed here: an accepted proposal at or below it is done. */
  readonly committed?: Version;
  readonly promised?: Version;
  readonly layout?: number;
}

/** Phase 2: accept `entry` under `ballot`. */
export interface PaxosAcceptMessage {
  readonly kind: 'paxos-accept';
  readonly op: number;
  readonly ballot: Version;
  readonly entry: Entry;
  readonly layout: number;
}

/**
 * Refused, the acceptor says the ballot of the proposal it holds and its last commit: the refused
 * proposal may still have been accepted there (a duplicated accept) if either is at or above its
 * ballot, unless `neverAccepted` says the acceptor knows it never took it (acceptedBallots.ts).
 */
export interface PaxosAcceptedMessage {
  readonly kind: 'paxos-accepted';
  readonly op: number;
  readonly ok: boolean;
  readonly promised?: Version;
  readonly accepted?: Version;
  readonly committed?: Version;
  readonly neverAccepted?: true;
  readonly layout?: number;
}

/**
 * To the node that proposed `version` of `key` (the node its version names): a round that completed
 * that proposal wrote it to a quorum. The proposer, if still waiting, answers that its update took
 * effect; otherwise a later decision over it would leave it unable to tell (keyPaxos.ts).
 */
export interface UpdateCommittedMessage {
  readonly kind: 'update-committed';
  readonly key: string;
  readonly version: Version;
}

/**
 * An update sent on to the node that coordinates its key's conditional writes (updateRouting.ts),
 * which runs it as its own, within `timeoutMs`, and answers with an `update-reply`.
 */
export interface UpdateForwardMessage {
  readonly kind: 'update-forward';
  readonly op: number;
  readonly key: string;
  readonly spec: UpdateSpec;
  readonly timeoutMs: number;
  /** The sender's hybrid clock when it sent it: how old a copy is (updateRouting.ts `ForwardedUpdateLog`). */
  readonly sentAtMs: number;
}

/** The answer to an `update-forward`: its outcome, or the error it failed with. */
export interface UpdateReplyMessage {
  readonly kind: 'update-reply';
  readonly op: number;
  readonly outcome?: UpdateOutcome;
  readonly error?: { readonly code: ErrorCode; readonly message: string; readonly details: Readonly<Record<string, unknown>> };
}

/**
 * SWIM probe; carries gossip and the sender's layout version, and its digest: two layouts of one
 * version (members started with different --initial-cluster, --rf or --vnodes) are told apart by it.
 */
export interface PingMessage {
  readonly kind: 'ping';
  readonly seq: number;
  readonly updates: readonly MemberUpdate[];
  readonly layoutVersion: number;
  /** Absent from a node of an older build. */
  readonly layoutDigest?: number;
}

export interface AckMessage {
  readonly kind: 'ack';
  readonly seq: number;
  readonly updates: readonly MemberUpdate[];
  readonly layoutVersion: number;
  readonly layoutDigest?: number;
}

/** Ask the receiver to probe `target` on the sender's behalf (indirect probe). */
export interface PingRequestMessage {
  readonly kind: 'ping-req';
  readonly seq: number;
  readonly target: string;
}

/** A full cluster layout, sent when a peer is seen to hold an older one. */
export interface LayoutMessage {
  readonly kind: 'layout';
  readonly layout: Layout;
  /**
   * The removed nodes the sender still waits for (departed.ts): a node that joined after a removal
   * learns them here, so that it neither purges without their word nor refuses their hand-over.
   * `ageMs`: how long the sender has waited for it already (the learner's wait ends with the sender's).
   */
  readonly departed?: readonly { readonly id: string; readonly peer: string; readonly removedIn: number; readonly ageMs?: number }[];
}

export interface LayoutPullMessage {
  readonly kind: 'layout-pull';
}

/** Anti-entropy (antiEntropy.ts): range hashes of one chunk of shared ranges. */
export interface AeRangesMessage {
  readonly kind: 'ae-ranges';
  readonly session: number;
  /** Counts the session's requests; the answer carries it back (see antiEntropy.ts). */
  readonly step: number;
  /** The initiator's layout version: a responder on an older one does not answer (antiEntropy.ts). */
  readonly layout: number;
  readonly ranges: readonly { readonly start: number; readonly end: number; readonly h1: number; readonly h2: number }[];
}

/** The ranges whose hash differed, and the responder's non-empty segments in them. */
export interface AeDiffMessage {
  readonly kind: 'ae-diff';
  readonly session: number;
  readonly step: number;
  readonly ranges: readonly { readonly start: number; readonly end: number }[];
  readonly segments: readonly { readonly lo: number; readonly hi: number; readonly h1: number; readonly h2: number }[];
}

/** The initiator's (key, version) pairs in segments that differed. */
export interface AeKeysMessage {
  readonly kind: 'ae-keys';
  readonly session: number;
  readonly step: number;
  readonly layout: number;
  readonly segments: readonly { readonly lo: number; readonly hi: number }[];
  readonly items: readonly (readonly [string, Version])[];
}

/** Entries the initiator lacks (or holds older), and keys the responder wants from it. */
export interface AeSyncMessage {
  readonly kind: 'ae-sync';
  readonly session: number;
  readonly step: number;
  readonly entries: readonly Entry[];
  readonly want: readonly string[];
  readonly truncated: boolean;
}

/**
 * The responder cannot compare yet: it runs an older layout than the initiator, or it is still counting
 * its anti-entropy leaves after a start (Storage.leavesBuilt). The session ends, to start again soon.
 */
export interface AeBehindMessage {
  readonly kind: 'ae-behind';
  readonly session: number;
  readonly step: number;
}

export interface AePushMessage {
  readonly kind: 'ae-push';
  readonly entries: readonly Entry[];
}

/**
 * Does the receiver hold this version of the key (or something newer, or a purge floor at least as
 * new)? Asked of the key's replicas by the tombstone purger and by clean-up. With `orNothing`, asked
 * by the purger of a member that does not replicate the key: holding no copy at all counts as yes,
 * only an older copy (a leftover of a topology change) as no.
 */
export interface PurgeCheckMessage {
  readonly kind: 'purge-check';
  readonly op: number;
  readonly key: string;
  readonly version: Version;
  readonly orNothing?: boolean;
  /** Asked by a clean-up, about a copy it would hand over if the receiver lacks it (cleanup.ts). */
  readonly handOver?: boolean;
}

export interface PurgeCheckReply {
  readonly kind: 'purge-check-reply';
  readonly op: number;
  readonly holds: boolean;
  /** The layout whose clean-up the replier finished: it holds no copy of a key it does not replicate
   *  under it (cleanup.ts). 0 while a clean-up is pending, or none has ended since the node started. */
  readonly settled?: number;
}

/** A layout change asked of the layout coordinator (topology.ts). */
export interface LayoutChangeMessage {
  readonly kind: 'layout-change';
  readonly op: number;
  readonly change: LayoutChange;
}

export interface LayoutChangeReply {
  readonly kind: 'layout-change-reply';
  readonly op: number;
  readonly layout?: Layout;
  readonly error?: { readonly code: string; readonly message: string };
}

/** A layout vote's ballot (layoutVote.ts): higher rounds win, ties go to the higher node id. */
export interface Ballot {
  readonly round: number;
  readonly node: string;
}

/** Phase 1 of the vote on layout `version`: promise to take no lower ballot for it. */
export interface LayoutPrepareMessage {
  readonly kind: 'layout-prepare';
  readonly op: number;
  readonly version: number;
  readonly ballot: Ballot;
}

/**
 * A voter's answer to a prepare: `ok` with the layout it accepted for that version already, if any;
 * or refused, with the layout it runs (at or past that version) or the higher ballot it promised.
 */
export interface LayoutPromiseMessage {
  readonly kind: 'layout-promise';
  readonly op: number;
  readonly ok: boolean;
  readonly accepted?: { readonly ballot: Ballot; readonly layout: Layout };
  readonly layout?: Layout;
  readonly promised?: Ballot;
}

/** Phase 2: accept this layout under this ballot. */
export interface LayoutAcceptMessage {
  readonly kind: 'layout-accept';
  readonly op: number;
  readonly ballot: Ballot;
  readonly layout: Layout;
}

export interface LayoutAcceptedMessage {
  readonly kind: 'layout-accepted';
  readonly op: number;
  readonly ok: boolean;
  readonly layout?: Layout;
  readonly promised?: Ballot;
}

/** A node finished filling the ranges it gains in layout `layoutVersion`. */
export interface MoveDoneMessage {
  readonly kind: 'move-done';
  readonly layoutVersion: number;
}

/**
 * A node the layout removed has handed over every copy it held (its clean-up under `layout` ended with
 * none kept): members need no longer ask it before purging (departed.ts). Repeated until acknowledged.
 */
export interface FarewellMessage {
  readonly kind: 'farewell';
  readonly layout: number;
}

export interface FarewellAck {
  readonly kind: 'farewell-ack';
  readonly layout: number;
}

export type Message =
  | WriteMessage
  | WriteReply
  | ReadMessage
  | ReadReply
  | PaxosPrepareMessage
  | PaxosPromiseMessage
  | PaxosAcceptMessage
  | PaxosAcceptedMessage
  | UpdateCommittedMessage
  | UpdateForwardMessage
  | UpdateReplyMessage
  | PingMessage
  | AckMessage
  | PingRequestMessage
  | LayoutMessage
  | LayoutPullMessage
  | AeRangesMessage
  | AeDiffMessage
  | AeKeysMessage
  | AeSyncMessage
  | AePushMessage
  | AeBehindMessage
  | PurgeCheckMessage
  | PurgeCheckReply
  | LayoutChangeMessage
  | LayoutChangeReply
  | LayoutPrepareMessage
  | LayoutPromiseMessage
  | LayoutAcceptMessage
  | LayoutAcceptedMessage
  | MoveDoneMessage
  | FarewellMessage
  | FarewellAck;
