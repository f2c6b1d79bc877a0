// A few QuorumNodes wired by an in-process network that delivers every message at once, in order:
// enough to test the coordinator's logic step by step (the simulator covers faulty schedules).

import { resolveConfig, type CoreConfig } from '../../src/core/config.js';
import type { Result } from '../../src/core/coordinator.js';
import type { Layout } from '../../src/core/layout.js';
import type { Envelope } from '../../src/core/messages.js';
import { QuorumNode } from '../../src/core/node.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Version } from '../../src/core/version.js';

/** A layout of active members `ids` (consistent hashing, RF 3, 64 vnodes, version 1 unless given). */
export function layoutOf(ids: readonly string[], layout: Partial<Layout> = {}): Layout {
  return {
    version: 1,
    members: ids.map((id) => ({ id, peer: `p${id}`, http: `h${id}`, role: 'active' as const })),
    strategy: 'consistent',
    rf: 3,
    vnodes: 64,
    ...layout,
  };
}

export class TestCluster {
  readonly nodes = new Map<string, QuorumNode>();
  readonly storages = new Map<string, MemoryStorage>();
  readonly skewMs = new Map<string, number>();
  /** Nodes whose messages (both ways) are dropped. */
  readonly isolated = new Set<string>();
  /** Drops the messages it returns true for (one-way and per-kind faults). */
  drop: ((envelope: Envelope) => boolean) | undefined;
  nowMs = 1_700_000_000_000;
  private seed = 1;

  /** `startedWith`: a node started with another initial layout than the others (an operator's slip). */
  constructor(ids: string[], layout: Partial<Layout> = {}, config: Partial<CoreConfig> = {}, startedWith: Record<string, Partial<Layout>> = {}) {
    const fullLayout = layoutOf(ids, layout);
    this.config = resolveConfig(config);
    this.initialLayout = fullLayout;
    this.startedWith = Object.fromEntries(Object.entries(startedWith).map(([id, own]) => [id, layoutOf(ids, { ...layout, ...own })]));
    for (const id of ids) {
      this.storages.set(id, new MemoryStorage());
      this.skewMs.set(id, 0);
      this.nodes.set(id, this.makeNode(id));
    }
    for (const node of this.nodes.values()) node.start();
    this.deliverAll();
  }

  private readonly config: CoreConfig;
  private readonly initialLayout: Layout;
  private readonly startedWith: Record<string, Layout>;

  private makeNode(id: string): QuorumNode {
    return new QuorumNode({
      id,
      storage: this.storages.get(id) as MemoryStorage,
      clock: { nowMs: () => this.nowMs + (this.skewMs.get(id) ?? 0), monotonicMs: () => this.nowMs },
      random: { next: () => ((this.seed = (this.seed * 48271) % 2147483647) / 2147483647) },
      config: this.config,
      initialLayout: this.startedWith[id] ?? this.initialLayout,
    });
  }

  /** A crash and restart of `id`: a new node on the same storage; what was only in memory is gone. */
  restart(id: string): void {
    const node = this.makeNode(id);
    this.nodes.set(id, node);
    node.start();
    this.deliverAll();
  }

  node(id: string): QuorumNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Delivers messages until none are left. */
  deliverAll(): void {
    for (let round = 0; round < 1000; round++) {
      const pending: Envelope[] = [];
      for (const node of this.nodes.values()) pending.push(...node.takeOutbox());
      if (pending.length === 0) return;
      for (const envelope of pending) {
        if (this.isolated.has(envelope.from) || this.isolated.has(envelope.to) || this.drop?.(envelope)) continue;
        this.nodes.get(envelope.to)?.receive([envelope]);
      }
    }
    throw new Error('messages kept flowing for 1000 rounds');
  }

  /** Advances time, ticking every node every 10 ms. */
  advance(ms: number): void {
    for (let t = 0; t < ms; t += 10) {
      this.nowMs += 10;
      for (const node of this.nodes.values()) node.tick();
      this.deliverAll();
    }
  }

  /** Puts `version` of `key` into `id`'s store directly, as if a write had reached it earlier. */
  store(id: string, key: string, version: Version, value: string): void {
    const storage = this.storages.get(id) as MemoryStorage;
    storage.transaction(() => storage.apply({ key, version, value: bytes(value) }));
  }

  /** Runs a callback-style operation and delivers until it answers. */
  run<T>(start: (callback: (result: Result<T>) => void) => void): Result<T> {
    let result: Result<T> | undefined;
    start((r) => (result = r));
    for (let i = 0; i < 500 && result === undefined; i++) {
      this.deliverAll();
      if (result === undefined) this.advance(10);
    }
    if (result === undefined) throw new Error('operation never answered');
    return result;
  }
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (value: Uint8Array | null | undefined): string | undefined =>
  value ? new TextDecoder().decode(value) : undefined;

/**
 * The cluster's messages held until a test hands them over: for interleavings that `deliverAll`, which
 * delivers everything in rounds, never produces.
 */
export class HeldNetwork {
  private pending: Envelope[] = [];

  constructor(private readonly cluster: TestCluster) {}

  /** Delivers the held messages `pick` chooses, in the order they were sent; keeps the rest. */
  deliver(pick: (envelope: Envelope) => boolean): number {
    this.collect();
    const now = this.pending.filter(pick);
    this.pending = this.pending.filter((envelope) => !pick(envelope));
    for (const envelope of now) this.cluster.node(envelope.to).receive([envelope]);
    return now.length;
  }

  /** Drops the held messages `pick` chooses: lost. */
  discard(pick: (envelope: Envelope) => boolean): void {
    this.collect();
    this.pending = this.pending.filter((envelope) => !pick(envelope));
  }

  /** The held messages `pick` chooses, left where they are. */
  held(pick: (envelope: Envelope) => boolean): Envelope[] {
    this.collect();
    return this.pending.filter(pick);
  }

  /** Moves time on by `ms`, ticking only `ids`; what they send is held like the rest. */
  tick(ids: readonly string[], ms: number): void {
    for (let t = 0; t < ms; t += 10) {
      this.cluster.nowMs += 10;
      for (const id of ids) this.cluster.node(id).tick();
    }
  }

  private collect(): void {
    for (const node of this.cluster.nodes.values()) this.pending.push(...node.takeOutbox());
  }
}
