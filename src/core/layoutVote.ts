// Choosing the next layout by a majority vote, so that no two coordinators can ever publish different
// layouts under one version. Each node picks its layout coordinator from its own view of who is alive,
// so under a partition (a one-way one too) two nodes can both believe they coordinate. Their changes
// used to be published at once; now a layout is published only once a majority of the current
// layout's voters (its serving members) accepted it.
//
// It is single-decree Paxos, one instance per layout version:
// - prepare(version, ballot): a voter promises to take no lower ballot for that version, and reports
//   the layout it accepted for it already, if any;
// - accept(ballot, layout): with promises from a majority, the proposer asks them to accept its layout,
//   or, if some voter had accepted one, the one accepted with the highest ballot (an earlier proposer
//   may have had it chosen and stopped before publishing it);
// - with a majority of acceptances the layout is chosen, and the proposer publishes it.
// A voter keeps its promise and acceptance in meta (durable before its answer leaves, since answers
// wait for the commit). A voter already running that version or a newer one answers with its layout.

import type { Callback } from './coordinator.js';
import type { CoreConfig } from './config.js';
import { mayStillTakeEffect, QuorumError } from './errors.js';
import { layoutDigest, parseLayout, supersedes, type Layout } from './layout.js';
import type { Ballot, LayoutAcceptMessage, LayoutAcceptedMessage, LayoutPrepareMessage, LayoutPromiseMessage, Message } from './messages.js';
import type { Storage } from './storage.js';

export interface LayoutVoteDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  readonly layout: () => Layout;
  /** Adopts a layout and pushes it to every member. */
  readonly publish: (layout: Layout) => void;
  /** Adopts a layout (from a voter that runs a newer one). */
  readonly adopt: (layout: Layout) => void;
  readonly send: (to: string, message: Message) => void;
  readonly nextOp: () => number;
}

/** What a voter holds for the one version being voted on (meta `layout-vote`). */
interface VoterState {
  readonly version: number;
  readonly promised?: Ballot;
  readonly accepted?: { readonly ballot: Ballot; readonly layout: Layout };
}

interface Election {
  readonly version: number;
  readonly ballot: Ballot;
  readonly proposed: Layout;
  readonly voters: readonly string[];
  phase: 'prepare' | 'accept';
  readonly granted: Set<string>;
  readonly refused: Set<string>;
  /** The layout accepted with the highest ballot among the promises, if any. */
  highest: { readonly ballot: Ballot; readonly layout: Layout } | undefined;
  /** The layout asked to be accepted (phase accept). */
  chosen: Layout | undefined;
  readonly deadlineMs: number;
  readonly callback: Callback<Layout>;
}

const metaVote = 'layout-vote';
/** The highest ballot round this node proposed with. */
const metaRound = 'layout-round';

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** The members whose majority chooses the layout after `layout`: its serving (non-joining) members. */
export function voters(layout: Layout): string[] {
  return layout.members.filter((m) => m.role !== 'joining').map((m) => m.id);
}

export class LayoutVote {
  private readonly elections = new Map<number, Election>();
  /** The highest ballot round this node has seen, so that its next ballot is higher. */
  private roundSeen = 0;

  constructor(private readonly deps: LayoutVoteDeps) {}

  /** Whether a vote for the layout after version `current` is under way here. */
  deciding(current: number): boolean {
    for (const election of this.elections.values()) if (election.version === current + 1) return true;
    return false;
  }

  owns(op: number): boolean {
    return this.elections.has(op);
  }

  /**
   * Has `proposed` (the next version) chosen and published. The callback gets it; or LAYOUT_CONFLICT
   * when another layout won the version (it is published instead), or UNAVAILABLE when no majority
   * answered in time.
   */
  /** `monotonicMs`: the vote times out on the monotonic clock (ports.ts). */
  decide(proposed: Layout, monotonicMs: number, callback: Callback<Layout>): void {
    const current = this.deps.layout();
    if (proposed.version !== current.version + 1) {
      callback({ ok: false, error: new QuorumError('LAYOUT_CONFLICT', `layout v${proposed.version} does not follow v${current.version}`) });
      return;
    }
    const state = this.voterState();
    const round = Math.max(this.roundSeen, state?.promised?.round ?? 0, Number(this.deps.storage.getMeta(metaRound) ?? 0)) + 1;
    this.roundSeen = round;
    // Kept before any prepare leaves (messages wait for the commit, and a runtime for its fsync), so
    // that a restarted proposer never reuses a ballot it sent with another layout.
    this.deps.storage.transaction(() => this.deps.storage.setMeta(metaRound, String(round)));
    const op = this.deps.nextOp();
    const election: Election = {
      version: proposed.version,
      ballot: { round, node: this.deps.selfId },
      proposed,
      voters: voters(current),
      phase: 'prepare',
      granted: new Set(),
      refused: new Set(),
      highest: undefined,
      chosen: undefined,
      deadlineMs: monotonicMs + this.deps.config.requestTimeoutMs,
      callback,
    };
    this.elections.set(op, election);
    for (const voter of election.voters) {
      this.deps.send(voter, { kind: 'layout-prepare', op, version: election.version, ballot: election.ballot });
    }
  }

  tick(monotonicMs: number): void {
    for (const [op, election] of this.elections) {
      if (monotonicMs >= election.deadlineMs) {
        this.finish(op, { ok: false, error: new QuorumError('UNAVAILABLE', `no majority of the members answered the layout vote in time: ${mayStillTakeEffect}`) });
      }
    }
  }

  // ---- voter ----------------------------------------------------------------------------------------

  handlePrepare(from: string, message: LayoutPrepareMessage): void {
    const refusal = this.refusal(message.version, message.ballot);
    if (refusal) return this.deps.send(from, { kind: 'layout-promise', op: message.op, ok: false, ...refusal });
    const state = this.voterState();
    const held = state !== undefined && state.version === message.version ? state : undefined;
    this.saveVoterState({ version: message.version, promised: message.ballot, ...(held?.accepted ? { accepted: held.accepted } : {}) });
    this.deps.send(from, { kind: 'layout-promise', op: message.op, ok: true, ...(held?.accepted ? { accepted: held.accepted } : {}) });
  }

  handleAccept(from: string, message: LayoutAcceptMessage): void {
    const layout = parseLayout(message.layout);
    if (!layout) return;
    const refusal = this.refusal(layout.version, message.ballot);
    if (refusal) return this.deps.send(from, { kind: 'layout-accepted', op: message.op, ok: false, ...refusal });
    this.saveVoterState({ version: layout.version, promised: message.ballot, accepted: { ballot: message.ballot, layout } });
    this.deps.send(from, { kind: 'layout-accepted', op: message.op, ok: true });
  }

  /** Why this voter cannot take `ballot` for `version`: it runs that version already, or promised higher. */
  private refusal(version: number, ballot: Ballot): { layout?: Layout; promised?: Ballot } | undefined {
    this.roundSeen = Math.max(this.roundSeen, ballot.round);
    const current = this.deps.layout();
    if (current.version >= version) return { layout: current };
    const state = this.voterState();
    if (state === undefined || state.version < version) return undefined;
    // A vote on a later version means this one was decided; the proposer will hear of it.
    if (state.version > version) return {};
    if (state.promised !== undefined && compareBallots(ballot, state.promised) < 0) return { promised: state.promised };
    return undefined;
  }

  private voterState(): VoterState | undefined {
    const raw = this.deps.storage.getMeta(metaVote);
    if (raw === undefined) return undefined;
    try {
      const value = JSON.parse(raw) as VoterState;
      const accepted = value.accepted ? parseLayout(value.accepted.layout) : undefined;
      return {
        version: value.version,
        ...(value.promised ? { promised: value.promised } : {}),
        ...(value.accepted && accepted ? { accepted: { ballot: value.accepted.ballot, layout: accepted } } : {}),
      };
    } catch {
      return undefined;
    }
  }

  private saveVoterState(state: VoterState): void {
    this.deps.storage.transaction(() => this.deps.storage.setMeta(metaVote, JSON.stringify(state)));
  }

  // ---- proposer -------------------------------------------------------------------------------------

  handlePromise(from: string, message: LayoutPromiseMessage): void {
    const election = this.elections.get(message.op);
    if (!election || election.phase !== 'prepare' || !election.voters.includes(from)) return;
    if (!this.tally(message.op, election, from, message)) return;
    if (message.accepted) {
      const accepted = parseLayout(message.accepted.layout);
      if (accepted && (!election.highest || compareBallots(message.accepted.ballot, election.highest.ballot) > 0)) {
        election.highest = { ballot: message.accepted.ballot, layout: accepted };
      }
    }
    if (election.granted.size < majorityOf(election.voters)) return;
    // Promised by a majority: ask them to accept. A layout some voter accepted already may have been
    // chosen; it is completed instead of this proposer's own.
    election.phase = 'accept';
    election.granted.clear();
    election.refused.clear();
    election.chosen = election.highest?.layout ?? election.proposed;
    for (const voter of election.voters) {
      this.deps.send(voter, { kind: 'layout-accept', op: message.op, ballot: election.ballot, layout: election.chosen });
    }
  }

  handleAccepted(from: string, message: LayoutAcceptedMessage): void {
    const election = this.elections.get(message.op);
    if (!election || election.phase !== 'accept' || !election.voters.includes(from)) return;
    if (!this.tally(message.op, election, from, message)) return;
    if (election.granted.size < majorityOf(election.voters)) return;
    const chosen = election.chosen as Layout;
    if (this.deps.layout().version + 1 === chosen.version) this.deps.publish(chosen);
    if (layoutDigest(chosen) === layoutDigest(election.proposed)) this.finish(message.op, { ok: true, value: chosen });
    else this.finish(message.op, { ok: false, error: new QuorumError('LAYOUT_CONFLICT', `another change took layout v${chosen.version}; try again`) });
  }

  /**
   * Counts one voter's answer; false when the election ended on it (a newer layout is running, or too
   * many refused for a majority to be left).
   */
  private tally(op: number, election: Election, from: string, answer: { ok: boolean; layout?: unknown; promised?: Ballot }): boolean {
    if (answer.promised) this.roundSeen = Math.max(this.roundSeen, answer.promised.round);
    const newer = answer.layout === undefined ? undefined : parseLayout(answer.layout);
    if (newer && newer.version >= election.version) {
      if (supersedes(newer, this.deps.layout())) this.deps.adopt(newer);
      this.finish(op, { ok: false, error: new QuorumError('LAYOUT_CONFLICT', `layout v${newer.version} is already running; try again`) });
      return false;
    }
    if (answer.ok) election.granted.add(from);
    else election.refused.add(from);
    if (election.voters.length - election.refused.size < majorityOf(election.voters)) {
      this.finish(op, { ok: false, error: new QuorumError('LAYOUT_CONFLICT', 'another coordinator is changing the layout; try again') });
      return false;
    }
    return true;
  }

  private finish(op: number, result: Parameters<Callback<Layout>>[0]): void {
    const election = this.elections.get(op);
    if (!election) return;
    this.elections.delete(op);
    election.callback(result);
  }
}

function majorityOf(voters: readonly string[]): number {
  return Math.floor(voters.length / 2) + 1;
}
