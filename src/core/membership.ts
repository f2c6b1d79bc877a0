// SWIM failure detection (Das et al. 2002, with memberlist's refinements): each probe interval one
// member is pinged; without an ack in time, k others are asked to ping it; without any ack by the end
// of the interval it becomes suspect, and dead once the suspicion times out. A member that hears it is
// suspected or dead refutes by raising its incarnation. Updates spread piggybacked on pings and acks,
// each retransmitted a bounded number of times.
//
// A node decides no failure on a tick that ends a stretch in which it stood still (a GC pause, a CPU
// taken by others): the acks and refutations that arrived meanwhile are still unread in its sockets,
// and the helpers it asks on that tick have had no time. It decides on a later tick.
//
// Every time here (`nowMs` parameters included) is on the monotonic clock (ports.ts): on the wall
// clock, a step forward made every member look silent at once, and a step back put off noticing a
// dead one by the step. Views give `sinceMs` on the wall clock, for people.

import type { CoreConfig } from './config.js';
import type { AckMessage, Message, PingMessage, PingRequestMessage } from './messages.js';
import { shuffled, type Random } from './ports.js';

export type MemberState = 'alive' | 'suspect' | 'dead';

export interface MemberUpdate {
  readonly id: string;
  readonly state: MemberState;
  readonly incarnation: number;
}

export interface MemberView {
  readonly id: string;
  readonly state: MemberState;
  readonly incarnation: number;
  /** When this node last saw the state change (its own clock). */
  readonly sinceMs: number;
}

interface Probe {
  readonly target: string;
  readonly seq: number;
  readonly sentMs: number;
  readonly periodEndMs: number;
  indirectSent: boolean;
  acked: boolean;
}

interface RelayedProbe {
  readonly requester: string;
  readonly requesterSeq: number;
  readonly expiresMs: number;
}

interface QueuedUpdate {
  update: MemberUpdate;
  transmits: number;
}

export interface MembershipDeps {
  readonly selfId: string;
  /** Starts above every incarnation this node used before (the node persists it). */
  readonly incarnation: number;
  readonly config: CoreConfig;
  readonly random: Random;
  readonly send: (to: string, message: Message) => void;
  readonly layoutVersion: () => number;
  readonly layoutDigest: () => number;
  readonly onStateChange: (id: string, state: MemberState) => void;
  readonly onIncarnation: (incarnation: number) => void;
}

/** Relayed probes kept at most (a named bound on state a peer can make us hold). */
const relayedProbesMax = 1024;

export class Membership {
  private readonly members = new Map<string, { state: MemberState; incarnation: number; sinceMs: number }>();
  private readonly queue = new Map<string, QueuedUpdate>();
  private readonly relayed = new Map<number, RelayedProbe>();
  private incarnation: number;
  private probe: Probe | undefined;
  private probeOrder: string[] = [];
  private nextProbeMs = 0;
  private lastTickMs: number | undefined;
  private seq = 0;

  constructor(private readonly deps: MembershipDeps) {
    this.incarnation = deps.incarnation;
    this.seq = Math.floor(deps.random.next() * 2 ** 30);
  }

  get selfIncarnation(): number {
    return this.incarnation;
  }

  /** Sets who the members are (from the layout). New members start alive; absent ones are forgotten. */
  setMembers(ids: readonly string[], nowMs: number): void {
    for (const id of ids) {
      if (id !== this.deps.selfId && !this.members.has(id)) {
        this.members.set(id, { state: 'alive', incarnation: 0, sinceMs: nowMs });
      }
    }
    for (const id of [...this.members.keys()]) {
      if (!ids.includes(id)) {
        this.members.delete(id);
        this.queue.delete(id);
      }
    }
    this.probeOrder = this.probeOrder.filter((id) => this.members.has(id));
  }

  /** Announces this node (after a start or a resume): every member hears it is alive. */
  announce(nowMs: number): void {
    this.enqueue({ id: this.deps.selfId, state: 'alive', incarnation: this.incarnation });
    for (const id of this.members.keys()) this.deps.send(id, this.ping(this.nextSeq(), id));
    this.nextProbeMs = nowMs + this.deps.config.probeIntervalMs;
  }

  /** Raises this node's incarnation, so that its alive update beats anything said about it before. */
  refresh(): void {
    this.incarnation += 1;
    this.deps.onIncarnation(this.incarnation);
  }

  stateOf(id: string): MemberState {
    if (id === this.deps.selfId) return 'alive';
    return this.members.get(id)?.state ?? 'dead';
  }

  /** Whether requests should be sent to `id`: alive or merely suspected. */
  isAvailable(id: string): boolean {
    return this.stateOf(id) !== 'dead';
  }

  /** Every member's state; `nowMs` is the monotonic clock, `wallMs` the wall clock at the same moment. */
  view(nowMs: number, wallMs: number): MemberView[] {
    const views: MemberView[] = [{ id: this.deps.selfId, state: 'alive', incarnation: this.incarnation, sinceMs: wallMs }];
    for (const [id, m] of this.members) views.push({ id, state: m.state, incarnation: m.incarnation, sinceMs: Math.round(wallMs - (nowMs - m.sinceMs)) });
    return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  tick(nowMs: number): void {
    const { config } = this.deps;
    const stoodStill = this.lastTickMs !== undefined && nowMs - this.lastTickMs > config.probeTimeoutMs;
    this.lastTickMs = nowMs;
    const probe = this.probe;
    if (probe && !probe.acked && !probe.indirectSent && nowMs >= probe.sentMs + config.probeTimeoutMs) {
      probe.indirectSent = true;
      this.sendIndirectProbes(probe);
    }
    if (stoodStill && probe && !probe.acked && nowMs >= this.nextProbeMs) {
      // The probe gets the time after its direct timeout again, now that the node runs.
      this.nextProbeMs = nowMs + config.probeIntervalMs - config.probeTimeoutMs;
    }
    if (nowMs >= this.nextProbeMs) {
      if (probe && !probe.acked && this.stateOf(probe.target) === 'alive') {
        this.suspect(probe.target, this.members.get(probe.target)?.incarnation ?? 0, nowMs);
      }
      this.probe = undefined;
      this.startProbe(nowMs);
      this.nextProbeMs = nowMs + config.probeIntervalMs;
    }
    if (!stoodStill) this.declareDead(nowMs);
    for (const [seq, relay] of this.relayed) if (nowMs >= relay.expiresMs) this.relayed.delete(seq);
  }

  /** Suspects whose suspicion has timed out are dead. */
  private declareDead(nowMs: number): void {
    const suspicionMs = this.suspicionTimeoutMs();
    for (const [id, member] of this.members) {
      if (member.state === 'suspect' && nowMs >= member.sinceMs + suspicionMs) {
        this.setState(id, 'dead', member.incarnation, nowMs);
        this.enqueue({ id, state: 'dead', incarnation: member.incarnation });
      }
    }
  }

  suspicionTimeoutMs(): number {
    const scale = Math.max(1, Math.log10(Math.max(this.members.size + 1, 1)));
    return Math.round(this.deps.config.suspicionMultiplier * scale * this.deps.config.probeIntervalMs);
  }

  handlePing(from: string, message: PingMessage, nowMs: number): void {
    this.applyUpdates(message.updates, nowMs);
    this.deps.send(from, this.ack(message.seq, from));
  }

  handleAck(from: string, message: AckMessage, nowMs: number): void {
    this.applyUpdates(message.updates, nowMs);
    const probe = this.probe;
    if (probe && probe.seq === message.seq) {
      probe.acked = true;
      return;
    }
    const relay = this.relayed.get(message.seq);
    if (relay) {
      this.relayed.delete(message.seq);
      this.deps.send(relay.requester, this.ack(relay.requesterSeq, relay.requester));
    }
    void from;
  }

  handlePingRequest(from: string, message: PingRequestMessage, nowMs: number): void {
    if (!this.members.has(message.target) || this.relayed.size >= relayedProbesMax) return;
    const seq = this.nextSeq();
    this.relayed.set(seq, {
      requester: from,
      requesterSeq: message.seq,
      expiresMs: nowMs + this.deps.config.probeIntervalMs,
    });
    this.deps.send(message.target, this.ping(seq, message.target));
  }

  private startProbe(nowMs: number): void {
    if (this.probeOrder.length === 0) this.probeOrder = shuffled(this.deps.random, [...this.members.keys()]);
    const target = this.probeOrder.shift();
    if (target === undefined) return;
    const seq = this.nextSeq();
    this.deps.send(target, this.ping(seq, target));
    // Dead members are pinged too (so that they can refute once reachable) but not suspected again.
    if (this.stateOf(target) === 'dead') return;
    this.probe = {
      target,
      seq,
      sentMs: nowMs,
      periodEndMs: nowMs + this.deps.config.probeIntervalMs,
      indirectSent: false,
      acked: false,
    };
  }

  private sendIndirectProbes(probe: Probe): void {
    const helpers = shuffled(
      this.deps.random,
      [...this.members.keys()].filter((id) => id !== probe.target && this.stateOf(id) === 'alive'),
    ).slice(0, this.deps.config.indirectProbes);
    for (const helper of helpers) {
      this.deps.send(helper, { kind: 'ping-req', seq: probe.seq, target: probe.target });
    }
  }

  private ping(seq: number, to: string): PingMessage {
    return { kind: 'ping', seq, updates: this.piggyback(to), layoutVersion: this.deps.layoutVersion(), layoutDigest: this.deps.layoutDigest() };
  }

  private ack(seq: number, to: string): AckMessage {
    return { kind: 'ack', seq, updates: this.piggyback(to), layoutVersion: this.deps.layoutVersion(), layoutDigest: this.deps.layoutDigest() };
  }

  /** Updates to carry to `to`: the least-sent queued ones, plus what we believe of `to` if not alive. */
  private piggyback(to: string): MemberUpdate[] {
    const limit = this.retransmitLimit();
    const chosen = [...this.queue.values()]
      .sort((a, b) => a.transmits - b.transmits)
      .slice(0, this.deps.config.gossipUpdatesMax);
    const updates: MemberUpdate[] = [];
    for (const queued of chosen) {
      updates.push(queued.update);
      queued.transmits += 1;
      if (queued.transmits >= limit) this.queue.delete(queued.update.id);
    }
    const known = this.members.get(to);
    if (known && known.state !== 'alive' && !updates.some((u) => u.id === to)) {
      updates.push({ id: to, state: known.state, incarnation: known.incarnation });
    }
    return updates;
  }

  private retransmitLimit(): number {
    return this.deps.config.retransmitMultiplier * Math.max(1, Math.ceil(Math.log10(this.members.size + 2)));
  }

  private applyUpdates(updates: readonly MemberUpdate[], nowMs: number): void {
    for (const update of updates) {
      if (!isMemberUpdate(update)) continue;
      if (update.id === this.deps.selfId) {
        this.considerRefute(update);
        continue;
      }
      const member = this.members.get(update.id);
      if (!member) continue;
      switch (update.state) {
        case 'alive':
          if (update.incarnation > member.incarnation) {
            this.setState(update.id, 'alive', update.incarnation, nowMs);
            this.enqueue(update);
          }
          break;
        case 'suspect':
          if (
            (member.state === 'alive' && update.incarnation >= member.incarnation) ||
            (member.state === 'suspect' && update.incarnation > member.incarnation)
          ) {
            this.setState(update.id, 'suspect', update.incarnation, nowMs);
            this.enqueue(update);
          }
          break;
        case 'dead':
          if (member.state !== 'dead' && update.incarnation >= member.incarnation) {
            this.setState(update.id, 'dead', update.incarnation, nowMs);
            this.enqueue(update);
          }
          break;
      }
    }
  }

  private considerRefute(update: MemberUpdate): void {
    if (update.state === 'alive') return;
    if (update.incarnation >= this.incarnation) {
      this.incarnation = update.incarnation + 1;
      this.deps.onIncarnation(this.incarnation);
    }
    // Even a stale rumour (an incarnation we already refuted) is answered: its sender still believes
    // it, and the gossip of our refutation may have run out of retransmits before reaching it (found
    // by the simulator, seed 1: a node declared dead during a partition stayed dead in one peer's
    // view forever after the heal). Re-queuing our alive update sends it back on the ack.
    this.enqueue({ id: this.deps.selfId, state: 'alive', incarnation: this.incarnation });
  }

  private suspect(id: string, incarnation: number, nowMs: number): void {
    this.setState(id, 'suspect', incarnation, nowMs);
    this.enqueue({ id, state: 'suspect', incarnation });
  }

  private setState(id: string, state: MemberState, incarnation: number, nowMs: number): void {
    const member = this.members.get(id);
    if (!member) return;
    const changed = member.state !== state;
    member.incarnation = incarnation;
    if (changed) {
      member.state = state;
      member.sinceMs = nowMs;
      this.deps.onStateChange(id, state);
    }
  }

  private enqueue(update: MemberUpdate): void {
    this.queue.set(update.id, { update, transmits: 0 });
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 2 ** 31;
    return this.seq;
  }
}

function isMemberUpdate(value: unknown): value is MemberUpdate {
  if (typeof value !== 'object' || value === null) return false;
  const u = value as MemberUpdate;
  return (
    typeof u.id === 'string' &&
    (u.state === 'alive' || u.state === 'suspect' || u.state === 'dead') &&
    Number.isInteger(u.incarnation) &&
    u.incarnation >= 0
  );
}
