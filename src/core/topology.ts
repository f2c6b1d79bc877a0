// Topology changes: joins, leaves (decommission, or removal of a dead node), and strategy / RF changes
// at runtime (DESIGN.md §2). A change is a new layout version with a transition in it: joining members,
// leaving members, or pending replication settings. While it lasts, writes reach a quorum of both the
// serving and the next replicas of a key (placement.ts), and every node that gains ranges fills them by
// anti-entropy sessions ('stream') with their serving replicas. When every such node reports it is
// filled, the layout coordinator finalizes the change; only then, and once every live member runs the
// final layout, do nodes drop the copies they no longer own, each once its replicas hold it (cleanup.ts).
//
// Changes are serialised through one layout coordinator (the lowest-id serving member that is alive);
// a change asked for while another is under way is refused with LAYOUT_CONFLICT, never half-applied.
// Each new layout (a change, or its finalizing) is published only once a majority of the members voted
// for it (layoutVote.ts), so two coordinators never publish two layouts of one version. What a change
// asked for leads to, or why it is refused, is layoutChange.ts's.

import type { AntiEntropy, SessionProgress } from './antiEntropy.js';
import { Cleanup } from './cleanup.js';
import { LayoutVote } from './layoutVote.js';
import type { Callback } from './coordinator.js';
import type { CoreConfig } from './config.js';
import { mayStillTakeEffect, QuorumError } from './errors.js';
import { inTransition, type Layout } from './layout.js';
import { nextLayout, type LayoutChange } from './layoutChange.js';
import type { FarewellAck, LayoutChangeMessage, LayoutChangeReply, Message, MoveDoneMessage, PurgeCheckReply } from './messages.js';
import { Placement } from './placement.js';
import { requiredReplicas } from './quorum.js';
import type { RingRange } from './segments.js';
import type { Storage } from './storage.js';

export interface TopologyDeps {
  readonly selfId: string;
  readonly config: CoreConfig;
  readonly storage: Storage;
  readonly antiEntropy: AntiEntropy;
  readonly layout: () => Layout;
  readonly placement: () => Placement;
  /** Adopts and pushes a layout to every member. */
  readonly publish: (layout: Layout) => void;
  /** Adopts a layout (a newer one a voter runs). */
  readonly adopt: (layout: Layout) => void;
  readonly isAlive: (id: string) => boolean;
  /** Dead in this node's view (not merely suspect): only such a member's removal can be forced. */
  readonly isDead: (id: string) => boolean;
  readonly peerLayoutVersion: (id: string) => number | undefined;
  readonly send: (to: string, message: Message) => void;
  readonly nextOp: () => number;
}

export interface FillStatus {
  readonly layoutVersion: number;
  readonly sources: { readonly peer: string; readonly ranges: number; readonly done: boolean }[];
  readonly rangesTotal: number;
  readonly keysReceived: number;
  readonly bytesReceived: number;
  readonly done: boolean;
}

export interface TopologyStatus {
  readonly layoutVersion: number;
  readonly inTransition: boolean;
  readonly coordinator: string | undefined;
  /** This node's filling of the ranges it gains. */
  readonly fill: FillStatus | undefined;
  /** On the coordinator: nodes that still have ranges to fill. */
  readonly waitingFor: string[];
  /** Copies dropped after the last change moved them to their new owners. */
  readonly entriesDropped: number;
  readonly cleanupPending: boolean;
}

interface Fill {
  readonly layoutVersion: number;
  readonly plan: Map<string, RingRange[]>;
  /** Each range gained, with the sources it streams from (computed once: checked on every tick). */
  readonly pieces: readonly FillPiece[];
  /**
   * Finished sources a piece needs when some are dead: N - quorum + 1 of the serving replicas; none
   * in a forced change (every live one still).
   */
  readonly needed: number;
  readonly done: Set<string>;
  readonly sessions: Map<string, SessionProgress>;
  reportedMs: number;
}

interface FillPiece {
  readonly sources: readonly string[];
  /** 1 when this node already serves the piece: it is one of its sources itself. */
  readonly selfServes: number;
}

interface Proposal {
  readonly callback: Callback<Layout>;
  readonly deadlineMs: number;
}

/** A node that finished filling repeats its report this often until the change is finalized. */
const reportIntervalMs = 1000;

/** The layout once the change in `layout` has completed. */
export function finalized(layout: Layout): Layout {
  const { pending, forced: _forced, ...rest } = layout;
  return {
    ...rest,
    version: layout.version + 1,
    members: layout.members.filter((m) => m.role !== 'leaving').map((m) => ({ ...m, role: 'active' as const })),
    strategy: pending?.strategy ?? layout.strategy,
    rf: pending?.rf ?? layout.rf,
  };
}

/**
 * For `self`, the ranges it must fill in the change under way, grouped by the serving replica to stream
 * them from. Computed on the union of both rings' tokens, so each piece has one replica set on each.
 */
export function fillPlan(layout: Layout, self: string): Map<string, RingRange[]> {
  const plan = new Map<string, RingRange[]>();
  const placement = new Placement(layout);
  const next = placement.next;
  if (!next) return plan;
  const bounds = [...new Set([...placement.serving.ranges(), ...next.ranges()].map((r) => r.end))].sort((a, b) => a - b);
  for (let i = 0; i < bounds.length; i++) {
    const end = bounds[i] as number;
    const start = bounds[(i - 1 + bounds.length) % bounds.length] as number;
    const nextReplicas = next.walk(end, placement.nextCount);
    const serving = placement.serving.walk(end, placement.servingCount);
    if (!nextReplicas.includes(self) || sameMembers(nextReplicas, serving)) continue;
    // A new replica of this piece fills it; a staying one syncs too, since a smaller replica set (a
    // lower RF) may consist of replicas that each missed some writes the departing ones hold.
    for (const source of serving) {
      if (source === self) continue;
      const ranges = plan.get(source) ?? [];
      ranges.push({ start, end });
      plan.set(source, ranges);
    }
  }
  return plan;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** Layouts are never changed in place, so what is computed from one can be kept with it. */
const fillersByLayout = new WeakMap<Layout, readonly string[]>();

/** The members that fill ranges in the change under way (asked on every tick of the coordinator). */
export function fillers(layout: Layout): readonly string[] {
  let members = fillersByLayout.get(layout);
  if (members === undefined) {
    members = layout.members.map((m) => m.id).filter((id) => fillPlan(layout, id).size > 0);
    fillersByLayout.set(layout, members);
  }
  return members;
}

export class Topology {
  private fill: Fill | undefined;
  private readonly proposals = new Map<number, Proposal>();
  /** Coordinator: who reported its fill done, for the current layout version. */
  private readonly reportedDone = new Map<number, Set<string>>();
  private readonly cleanup: Cleanup;
  /** Chooses each next layout by a majority vote of the members. */
  readonly vote: LayoutVote;

  constructor(private readonly deps: TopologyDeps) {
    this.cleanup = new Cleanup(deps);
    this.vote = new LayoutVote(deps);
  }

  /** Copies dropped after the last change moved them to their new owners. */
  get entriesDropped(): number {
    return this.cleanup.entriesDropped;
  }

  /** The layout whose clean-up this node finished (cleanup.ts); 0 when none has since it started. */
  get settledLayout(): number {
    return this.cleanup.settled;
  }

  /** Copies a change moved away are still to be dropped or handed over (cleanup.ts). */
  get cleanupPending(): boolean {
    return this.cleanup.pending;
  }

  /** A member came back: clean-up that waits for it goes on at once. */
  onMemberAlive(): void {
    this.cleanup.kick();
  }

  /** Whether a purge-check reply answers the clean-up's question (cleanup.ts). */
  ownsCheck(op: number): boolean {
    return this.cleanup.owns(op);
  }

  /** A transaction of this node rolled back: what the clean-up dropped in it is back (cleanup.ts). */
  rolledBack(): void {
    this.cleanup.rolledBack();
    // A stream session may have applied entries in it and gone on, or ended 'done', in memory (the
    // node aborts its sessions too): the fill streams every source again, or it could report itself
    // filled without them, and the change complete with the only copy of a write on its way out.
    this.fill = undefined;
  }

  /** A member heard this removed node's farewell (cleanup.ts). */
  handleFarewellAck(from: string, ack: FarewellAck): void {
    this.cleanup.handleFarewellAck(from, ack);
  }

  handleCheckReply(from: string, reply: PurgeCheckReply): void {
    this.cleanup.handleReply(from, reply);
  }

  coordinator(): string | undefined {
    const candidates = this.deps
      .layout()
      .members.filter((m) => m.role !== 'joining' && (m.id === this.deps.selfId || this.deps.isAlive(m.id)))
      .map((m) => m.id)
      .sort();
    return candidates[0];
  }

  /**
   * Asks the layout coordinator for a change; the callback gets the new layout or a clear error.
   * `monotonicMs`: the votes and this request time out on the monotonic clock (ports.ts).
   */
  propose(change: LayoutChange, monotonicMs: number, callback: Callback<Layout>): void {
    const coordinator = this.coordinator();
    if (coordinator === undefined) {
      callback({ ok: false, error: new QuorumError('UNAVAILABLE', 'no layout coordinator is reachable') });
      return;
    }
    if (coordinator === this.deps.selfId) {
      this.apply(change, monotonicMs, callback);
      return;
    }
    const op = this.deps.nextOp();
    // The coordinator answers once the vote is over, which may itself take a request timeout.
    this.proposals.set(op, { callback, deadlineMs: monotonicMs + 2 * this.deps.config.requestTimeoutMs });
    this.deps.send(coordinator, { kind: 'layout-change', op, change });
  }

  handleChange(from: string, message: LayoutChangeMessage, monotonicMs: number): void {
    const answer: Callback<Layout> = (result) => {
      const reply: LayoutChangeReply = result.ok
        ? { kind: 'layout-change-reply', op: message.op, layout: result.value }
        : { kind: 'layout-change-reply', op: message.op, error: { code: result.error.code, message: result.error.message } };
      this.deps.send(from, reply);
    };
    if (this.coordinator() === this.deps.selfId) this.apply(message.change, monotonicMs, answer);
    else answer({ ok: false, error: new QuorumError('UNAVAILABLE', 'not the layout coordinator; try again') });
  }

  handleChangeReply(message: LayoutChangeReply): void {
    const proposal = this.proposals.get(message.op);
    if (!proposal) return;
    this.proposals.delete(message.op);
    if (message.layout) proposal.callback({ ok: true, value: message.layout });
    else {
      const code = message.error?.code ?? 'UNAVAILABLE';
      const known = ['LAYOUT_CONFLICT', 'BAD_REQUEST', 'UNKNOWN_NODE', 'UNAVAILABLE'] as const;
      const errorCode = (known as readonly string[]).includes(code) ? (code as (typeof known)[number]) : 'UNAVAILABLE';
      proposal.callback({ ok: false, error: new QuorumError(errorCode, message.error?.message ?? 'layout change refused') });
    }
  }

  handleMoveDone(from: string, message: MoveDoneMessage): void {
    if (message.layoutVersion !== this.deps.layout().version) return;
    const done = this.reportedDone.get(message.layoutVersion) ?? new Set<string>();
    done.add(from);
    this.reportedDone.set(message.layoutVersion, done);
  }

  /**
   * Whether this node sees a majority of the layout's serving members alive (itself included). A
   * coordinator publishes a layout only then: under a partition each side may pick its own
   * coordinator, and two layouts with the same version but different members would never reconcile
   * (simulator seed 800199: one side finalized a join while the other removed the joiner). Only one
   * side of a partition can hold a majority; as with etcd, a cluster that lost half its members
   * cannot change its topology until enough of them are back.
   */
  private seesMajority(layout: Layout): boolean {
    const voters = layout.members.filter((m) => m.role !== 'joining');
    const reachable = voters.filter((m) => m.id === this.deps.selfId || this.deps.isAlive(m.id)).length;
    return reachable * 2 > voters.length;
  }

  /** The coordinator's side of a change: check it against the current layout and have it voted in. */
  private apply(change: LayoutChange, monotonicMs: number, callback: Callback<Layout>): void {
    const layout = this.deps.layout();
    const result = nextLayout(layout, change, {
      selfId: this.deps.selfId,
      isDead: this.deps.isDead,
      seesMajority: this.seesMajority(layout),
      deciding: this.vote.deciding(layout.version),
    });
    if (!result.ok || result.value === this.deps.layout()) return callback(result);
    this.vote.decide(result.value, monotonicMs, callback);
  }

  /** Requests, votes, the fill and clean-up all run on the monotonic clock. */
  tick(monotonicMs: number): void {
    for (const [op, proposal] of this.proposals) {
      if (monotonicMs >= proposal.deadlineMs) {
        this.proposals.delete(op);
        proposal.callback({ ok: false, error: new QuorumError('UNAVAILABLE', `the layout coordinator did not answer: ${mayStillTakeEffect}`) });
      }
    }
    this.vote.tick(monotonicMs);
    const layout = this.deps.layout();
    if (inTransition(layout)) {
      this.runFill(layout, monotonicMs);
      this.maybeFinalize(layout, monotonicMs);
    } else {
      this.fill = undefined;
      this.cleanup.tick(layout, monotonicMs);
    }
  }

  /** Called when a new layout is adopted: the copies it moves away are dropped once it is final. */
  onLayout(layout: Layout, previous: Layout): void {
    if (layout.version !== previous.version && !inTransition(layout)) this.cleanup.start(layout.version);
  }

  private runFill(layout: Layout, monotonicMs: number): void {
    if (!this.fill || this.fill.layoutVersion !== layout.version) this.fill = this.newFill(layout);
    const fill = this.fill;
    for (const [source, ranges] of fill.plan) {
      if (fill.done.has(source) || !this.deps.isAlive(source) || this.deps.antiEntropy.isRunningWith(source)) continue;
      const progress = this.deps.antiEntropy.start(source, 'stream', monotonicMs, ranges, (p) => {
        if (p.state === 'done' && !p.truncated && this.fill === fill) fill.done.add(source);
      });
      if (progress) fill.sessions.set(source, progress);
    }
    if (!this.isFilled(fill)) return;
    const coordinator = this.coordinator();
    if (coordinator === this.deps.selfId) this.handleMoveDone(this.deps.selfId, { kind: 'move-done', layoutVersion: layout.version });
    else if (coordinator !== undefined && monotonicMs - fill.reportedMs >= reportIntervalMs) {
      fill.reportedMs = monotonicMs;
      this.deps.send(coordinator, { kind: 'move-done', layoutVersion: layout.version });
    }
  }

  /**
   * Filled when, for every range gained, enough serving replicas were streamed from that any write
   * acknowledged at quorum on the serving replicas is among them (N - quorum + 1 of them). In a forced
   * change, once every live one has finished.
   */
  private isFilled(fill: Fill): boolean {
    for (const { sources, selfServes } of fill.pieces) {
      const done = sources.filter((s) => fill.done.has(s)).length + selfServes;
      const pendingAlive = sources.filter((s) => !fill.done.has(s) && this.deps.isAlive(s)).length;
      // Wait for every live source; with dead ones, settle for enough finished ones.
      if (pendingAlive > 0 || done < Math.min(fill.needed, sources.length + selfServes)) return false;
    }
    return true;
  }

  private newFill(layout: Layout): Fill {
    const current = this.deps.placement();
    const placement = current.layout === layout ? current : new Placement(layout);
    const plan = fillPlan(layout, this.deps.selfId);
    const sourcesByEnd = new Map<number, string[]>();
    for (const [source, ranges] of plan) {
      for (const range of ranges) sourcesByEnd.set(range.end, [...(sourcesByEnd.get(range.end) ?? []), source]);
    }
    const pieces = [...sourcesByEnd].map(([end, sources]) => ({
      sources,
      selfServes: placement.serving.walk(end, placement.servingCount).includes(this.deps.selfId) ? 1 : 0,
    }));
    const needed = layout.forced ? 0 : placement.servingCount - requiredReplicas('quorum', placement.servingCount) + 1;
    return { layoutVersion: layout.version, plan, pieces, needed, done: new Set(), sessions: new Map(), reportedMs: -Infinity };
  }

  private maybeFinalize(layout: Layout, monotonicMs: number): void {
    if (this.coordinator() !== this.deps.selfId || !this.seesMajority(layout) || this.vote.deciding(layout.version)) return;
    const done = this.reportedDone.get(layout.version) ?? new Set<string>();
    // A dead filler is waited for (it fills once back), unless it is leaving, or the change is forced:
    // one leave changes each piece's replicas by one node, so a piece whose new replica is dead still
    // has its other staying replicas, and its fill gives up nothing the removal did not.
    const skippable = (id: string) => !this.deps.isAlive(id) && id !== this.deps.selfId && (layout.forced === true || leavingOrAbsent(layout, id));
    if (fillers(layout).every((id) => done.has(id) || skippable(id))) {
      this.vote.decide(finalized(layout), monotonicMs, (result) => {
        if (result.ok) this.reportedDone.delete(layout.version);
      });
    }
  }

  status(): TopologyStatus {
    const layout = this.deps.layout();
    const fill = this.fill;
    let fillStatus: FillStatus | undefined;
    if (fill && fill.layoutVersion === layout.version) {
      const sessions = [...fill.sessions.values()];
      fillStatus = {
        layoutVersion: fill.layoutVersion,
        sources: [...fill.plan].map(([peer, ranges]) => ({ peer, ranges: ranges.length, done: fill.done.has(peer) })),
        rangesTotal: [...fill.plan.values()].reduce((sum, r) => sum + r.length, 0),
        keysReceived: sessions.reduce((sum, s) => sum + s.keysReceived, 0),
        bytesReceived: sessions.reduce((sum, s) => sum + s.bytesReceived, 0),
        done: this.isFilled(fill),
      };
    }
    const done = this.reportedDone.get(layout.version) ?? new Set<string>();
    return {
      layoutVersion: layout.version,
      inTransition: inTransition(layout),
      coordinator: this.coordinator(),
      fill: fillStatus,
      waitingFor: this.coordinator() === this.deps.selfId && inTransition(layout) ? fillers(layout).filter((id) => !done.has(id)) : [],
      entriesDropped: this.cleanup.entriesDropped,
      cleanupPending: this.cleanup.pending,
    };
  }
}

/** A dead filler that is itself leaving holds nothing anyone waits for. */
function leavingOrAbsent(layout: Layout, id: string): boolean {
  const member = layout.members.find((m) => m.id === id);
  return member === undefined || member.role === 'leaving';
}
