// The simulated network between nodes. Every envelope a node puts in its outbox goes through here,
// whatever its kind (the simulator never looks inside, so new message kinds need no change): it is
// delayed by a random latency (which reorders messages), sometimes dropped, sometimes duplicated,
// sometimes slowed a lot, and cut by partitions. A partition blocks directed links between groups:
// symmetric (both ways) or one-way (A hears B, B does not hear A). A link is checked when a message is
// sent and again when it arrives, so a partition also cuts what is already in flight.
//
// Messages that arrive at a node in the same millisecond are handed over together, as one batch: that
// is how a node receives them from a socket, and it exercises the core's group commit.

import type { Envelope } from '../core/messages.js';
import type { Prng } from './random.js';
import type { Scheduler } from './scheduler.js';
import type { Trace } from './trace.js';

export interface LinkSettings {
  /** Latency of a message, drawn uniformly in [min, max]. */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own latency). */
  readonly duplicateRate: number;
  /** Probability that a message is held back much longer (up to `slowDelayMaxMs`): a congested link. */
  readonly slowRate: number;
  readonly slowDelayMaxMs: number;
}

/** A loopback send (a node to itself) is never dropped or cut, only deferred like any other message. */
const selfDelayMaxMs = 1;

export type PartitionMode = 'symmetric' | 'one-way';

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Lost to a partition (at send or in flight). */
  cut: number;
  /** Messages sent, by kind: how much of the traffic each protocol part makes. */
  readonly kinds: Map<string, number>;
}

export interface NetworkDeps {
  readonly scheduler: Scheduler;
  readonly random: Prng;
  readonly trace: Trace;
  /** Hands a batch of envelopes to node `to` (which may be down: then the batch is lost there). */
  readonly deliver: (to: string, batch: Envelope[]) => void;
}

export class SimNetwork {
  private settings: LinkSettings;
  /** Scripted losses (scenario tests): an envelope any rule matches is dropped when sent. */
  private readonly dropRules = new Set<(envelope: Envelope) => boolean>();
  /** Blocked directed links, as "from>to". */
  private readonly blocked = new Set<string>();
  /** Envelopes that arrived at a node this millisecond, waiting to be handed over as one batch. */
  private readonly inbox = new Map<string, Envelope[]>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, cut: 0, kinds: new Map() };

  constructor(
    private readonly deps: NetworkDeps,
    settings: LinkSettings,
  ) {
    this.settings = settings;
  }

  get linkSettings(): LinkSettings {
    return this.settings;
  }

  setLinkSettings(settings: LinkSettings): void {
    this.settings = settings;
  }

  send(envelope: Envelope): void {
    const { random } = this.deps;
    const kind = envelope.message.kind;
    this.stats.sent += 1;
    this.stats.kinds.set(kind, (this.stats.kinds.get(kind) ?? 0) + 1);
    if (envelope.from === envelope.to) {
      this.schedule(envelope, random.int(selfDelayMaxMs + 1));
      return;
    }
    if (this.isBlocked(envelope.from, envelope.to)) {
      this.stats.cut += 1;
      return;
    }
    for (const rule of this.dropRules) {
      if (rule(envelope)) {
        this.stats.dropped += 1;
        return;
      }
    }
    if (random.chance(this.settings.dropRate)) {
      this.stats.dropped += 1;
      return;
    }
    this.schedule(envelope, this.latencyMs());
    if (random.chance(this.settings.duplicateRate)) {
      this.stats.duplicated += 1;
      this.schedule(envelope, this.latencyMs());
    }
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  /** Cuts every link between different groups (both ways, or only from each group to later ones). */
  partition(groups: readonly (readonly string[])[], mode: PartitionMode): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j || (mode === 'one-way' && j < i)) continue;
        for (const from of groups[i] as readonly string[]) {
          for (const to of groups[j] as readonly string[]) this.blocked.add(`${from}>${to}`);
        }
      }
    }
  }

  /** Drops every envelope `rule` matches (between different nodes) until the returned function is called. */
  dropWhere(rule: (envelope: Envelope) => boolean): () => void {
    this.dropRules.add(rule);
    return () => this.dropRules.delete(rule);
  }

  /** Restores every link. */
  heal(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  private latencyMs(): number {
    const { random } = this.deps;
    const s = this.settings;
    if (s.slowRate > 0 && random.chance(s.slowRate)) return random.between(s.delayMaxMs, Math.max(s.delayMaxMs, s.slowDelayMaxMs));
    return random.between(s.delayMinMs, s.delayMaxMs);
  }

  private schedule(envelope: Envelope, delayMs: number): void {
    this.deps.scheduler.after(delayMs, () => this.arrive(envelope));
  }

  private arrive(envelope: Envelope): void {
    if (envelope.from !== envelope.to && this.isBlocked(envelope.from, envelope.to)) {
      this.stats.cut += 1;
      return;
    }
    const waiting = this.inbox.get(envelope.to);
    if (waiting !== undefined) {
      waiting.push(envelope);
      return;
    }
    this.inbox.set(envelope.to, [envelope]);
    // Scheduled for this same millisecond, after every arrival already queued for it: they join the batch.
    this.deps.scheduler.after(0, () => this.handOver(envelope.to));
  }

  private handOver(to: string): void {
    const batch = this.inbox.get(to) ?? [];
    this.inbox.delete(to);
    this.stats.delivered += batch.length;
    if (this.deps.trace.verbose) {
      for (const envelope of batch) this.deps.trace.event(`${envelope.from} -> ${envelope.to} ${describeMessage(envelope)}`);
    }
    this.deps.deliver(to, batch);
  }
}

/** A short, deterministic description of a message for verbose traces (kind plus a few fields). */
export function describeMessage(envelope: Envelope): string {
  const message = envelope.message as unknown as Record<string, unknown>;
  const parts: string[] = [String(message.kind)];
  for (const field of ['op', 'seq', 'key', 'version', 'applied', 'current', 'holds', 'handOver', 'orNothing', 'hintFor', 'target']) {
    if (message[field] !== undefined) parts.push(`${field}=${String(message[field])}`);
  }
  const entry = message.entry as { key?: string; version?: string } | null | undefined;
  if (entry) parts.push(`entry=${entry.key}@${entry.version}`);
  // A key's consensus rounds (keyPaxos.ts); a write with a ballot is a round's commit.
  for (const field of ['ok', 'ballot', 'promised', 'purged', 'committed']) {
    if (message[field] !== undefined) parts.push(`${field}=${String(message[field])}`);
  }
  const accepted = message.accepted as { ballot?: string; entry?: { version?: string } } | undefined;
  if (accepted) parts.push(`accepted=${accepted.entry?.version}@ballot ${accepted.ballot}`);
  return parts.join(' ');
}
