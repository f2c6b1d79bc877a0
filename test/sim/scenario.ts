// A small scripting layer over the simulator, so that protocol scenarios read as scripts:
//
//   const s = scenario({ nodes: 3 });
//   s.partition(['n1', 'n2'], ['n3']);
//   s.put('k', 'v1', { at: 'n1' });          // runs virtual time until the request is answered
//   s.heal();
//   s.settle();                               // hints, anti-entropy, membership: until repaired
//   assert.equal(s.get('k', { at: 'n3', level: 'one' }).read, 'v1');
//
// Every step runs the real core on virtual time; nothing is mocked but the ports. The network is
// lossless with a small latency unless a scenario asks otherwise, and no nemesis runs: faults happen
// only where the script says.

import type { CoreConfig } from '../../src/core/config.js';
import type { Layout, Strategy } from '../../src/core/layout.js';
import type { LayoutChange } from '../../src/core/layoutChange.js';
import type { MemberState } from '../../src/core/membership.js';
import type { Envelope } from '../../src/core/messages.js';
import type { ConsistencyLevel } from '../../src/core/quorum.js';
import { checkAll, type Violation } from '../../src/sim/checkers/index.js';
import type { Operation } from '../../src/sim/history.js';
import type { LinkSettings } from '../../src/sim/network.js';
import { Simulation } from '../../src/sim/simulation.js';

const second = 1000;
export const minute = 60 * second;

export interface ScenarioOptions {
  readonly nodes?: number;
  readonly rf?: number;
  readonly strategy?: Strategy;
  /** Spare nodes (ids after the first `nodes`) that may `join` later. */
  readonly spares?: number;
  readonly seed?: number;
  /** Clock offsets, e.g. { n1: -5 * minute }. */
  readonly skewMs?: Readonly<Record<string, number>>;
  readonly config?: Partial<CoreConfig>;
  readonly network?: Partial<LinkSettings>;
}

export interface RequestOptions {
  /** The coordinator. */
  readonly at?: string;
  readonly level?: ConsistencyLevel;
  readonly sloppy?: boolean;
  readonly waitForAll?: boolean;
  /** del only: delete by writing a value that has already expired. */
  readonly asExpiredWrite?: boolean;
  /** update only: write only if the key is at this version (null: absent); absent: always. */
  readonly expectVersion?: string | null;
}

/** Fast timers so that scenarios take little virtual time. */
export const scenarioConfig: Partial<CoreConfig> = {
  requestTimeoutMs: 500,
  probeIntervalMs: 100,
  probeTimeoutMs: 40,
  suspicionMultiplier: 3,
  hintDeliveryIntervalMs: 100,
  antiEntropyIntervalMs: 1 * second,
  tombstoneGraceMs: 10 * minute,
  tombstonePurgeIntervalMs: 1 * second,
};

/** The longest any single scripted request may take in virtual time before the script fails. */
const requestMaxMs = 10 * second;

export class Scenario {
  readonly sim: Simulation;
  private process = 0;

  constructor(options: ScenarioOptions = {}) {
    const nodes = options.nodes ?? 3;
    this.sim = new Simulation({
      seed: options.seed ?? 1,
      nodeCount: nodes,
      spareNodes: options.spares ?? 0,
      strategy: options.strategy ?? 'consistent',
      rf: options.rf ?? 3,
      vnodes: 16,
      config: { ...scenarioConfig, ...options.config },
      tickIntervalMs: 10,
      network: { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0, slowRate: 0, slowDelayMaxMs: 0, ...options.network },
      skewMs: new Map(Object.entries(options.skewMs ?? {})),
    });
    this.sim.cluster.start();
    // Let the first round of gossip run, as a freshly started cluster would before taking traffic.
    this.sim.runFor(300);
  }

  get nowMs(): number {
    return this.sim.nowMs;
  }

  get trace(): string {
    return this.sim.trace.text();
  }

  // ---- client requests: each runs virtual time until it is answered -------------------------------

  put(key: string, value: string, options: RequestOptions = {}): Operation {
    return this.request('put', key, value, options);
  }

  del(key: string, options: RequestOptions = {}): Operation {
    return this.request('delete', key, undefined, options);
  }

  get(key: string, options: RequestOptions = {}): Operation {
    return this.request('get', key, undefined, options);
  }

  /** A conditional write (keyPaxos.ts): `value` if the key is at `options.expectVersion`, or always. */
  update(key: string, value: string, options: RequestOptions = {}): Operation {
    return this.request('update', key, value, options);
  }

  /** Starts an update without waiting for its answer. */
  beginUpdate(key: string, value: string, options: RequestOptions = {}): Operation {
    return this.begin('update', key, value, options);
  }

  /** Starts a put without waiting for its answer (run time, then look at `op.outcome`). */
  beginPut(key: string, value: string, options: RequestOptions = {}): Operation {
    return this.begin('put', key, value, options);
  }

  private request(kind: 'put' | 'get' | 'delete' | 'update', key: string, value: string | undefined, options: RequestOptions): Operation {
    const op = this.begin(kind, key, value, options);
    if (!this.sim.runUntil(() => op.outcome !== undefined, requestMaxMs)) throw new Error(`${kind} ${key} was never answered`);
    return op;
  }

  private begin(kind: 'put' | 'get' | 'delete' | 'update', key: string, value: string | undefined, options: RequestOptions): Operation {
    const op = this.sim.requests.issue({
      process: this.process++,
      client: 'script',
      kind,
      key,
      ...(value !== undefined ? { value } : {}),
      level: options.level ?? 'quorum',
      node: options.at ?? 'n1',
      purpose: 'scenario',
      ...(options.sloppy ? { sloppy: true } : {}),
      ...(options.waitForAll ? { waitForAll: true } : {}),
      ...(options.asExpiredWrite !== undefined ? { asExpiredWrite: options.asExpiredWrite } : {}),
      ...(options.expectVersion !== undefined ? { expectVersion: options.expectVersion } : {}),
    });
    if (op === undefined) throw new Error(`${options.at ?? 'n1'} is not up to coordinate a ${kind}`);
    return op;
  }

  // ---- topology -----------------------------------------------------------------------------------

  /** Asks member `at` for a topology change and runs until it answers; returns the new layout or error. */
  change(change: LayoutChange, at = 'n1'): { layout?: Layout; error?: string } {
    let answer: { layout?: Layout; error?: string } | undefined;
    const done = (layout: Layout | undefined, error?: string) => {
      answer = layout !== undefined ? { layout } : { error: error ?? 'UNKNOWN' };
    };
    if (change.type === 'join') this.sim.cluster.join(change.member.id, at, (error) => done(error ? undefined : this.sim.cluster.newestLayout(), error));
    else this.sim.cluster.propose(at, change, done);
    if (!this.sim.runUntil(() => answer !== undefined, requestMaxMs)) throw new Error('the layout change was never answered');
    return answer as { layout?: Layout; error?: string };
  }

  // ---- faults -------------------------------------------------------------------------------------

  /** Cuts every link between the groups, both ways. */
  partition(...groups: string[][]): void {
    this.sim.trace.event(`partition ${groups.map((g) => `{${g.join(',')}}`).join(' | ')} symmetric`);
    this.sim.network.heal();
    this.sim.network.partition(groups, 'symmetric');
  }

  /** `from` can no longer reach `to`; `to` still reaches `from`. */
  cutOneWay(from: string[], to: string[]): void {
    this.sim.trace.event(`partition {${from.join(',')}} -/-> {${to.join(',')}} one-way`);
    this.sim.network.partition([from, to], 'one-way');
  }

  /** Loses every message (between different nodes) that `rule` matches; call the result to stop. */
  dropWhere(rule: (envelope: Envelope) => boolean): () => void {
    return this.sim.network.dropWhere(rule);
  }

  heal(): void {
    this.sim.trace.event('network heals');
    this.sim.network.heal();
  }

  crash(id: string): void {
    this.sim.cluster.crash(id);
  }

  /** The node dies inside its `writesBefore`-th storage write from now (it rolls back). */
  crashInsideWrite(id: string, writesBefore = 1): void {
    this.sim.cluster.armMidTransactionCrash(id, writesBefore);
  }

  restart(id: string): void {
    this.sim.cluster.restart(id);
  }

  pause(id: string): void {
    this.sim.cluster.pause(id);
  }

  resume(id: string): void {
    this.sim.cluster.resume(id);
  }

  // ---- time and observation -----------------------------------------------------------------------

  runFor(durationMs: number): void {
    this.sim.runFor(durationMs);
  }

  /** Runs until `observer` sees `member` in `state`; fails the script after `maxMs`. */
  waitUntil(observer: string, member: string, state: MemberState, maxMs = 10 * second): void {
    const seen = () => this.sim.cluster.node(observer)?.stateOf(member) === state;
    if (!this.sim.runUntil(seen, maxMs)) throw new Error(`${observer} did not see ${member} ${state} within ${maxMs}ms`);
  }

  /** Runs until repair has finished (see Simulation.unsettled); returns what is still unsettled. */
  settle(maxMs = 30 * second): string[] {
    return this.sim.waitUntilSettled(maxMs, this.sim.history.keys());
  }

  /** The key's replicas, nearest first (its preference list). */
  replicasOf(key: string): string[] {
    return (this.sim.cluster.node('n1') ?? this.sim.cluster.node('n2'))?.placement.readReplicas(key) ?? [];
  }

  /** Members after the key's replicas, nearest first: where its hinted writes go. */
  fallbacksOf(key: string): string[] {
    return (this.sim.cluster.node('n1') ?? this.sim.cluster.node('n2'))?.placement.fallbacksFor(key) ?? [];
  }

  /** What a node holds for a key, read from its storage directly. */
  stored(id: string, key: string): { value: string | null; version: string } | undefined {
    const entry = this.sim.cluster.storageOf(id).get(key);
    if (entry === undefined) return undefined;
    return { value: entry.value === null ? null : new TextDecoder().decode(entry.value), version: entry.version };
  }

  /** Every property checker over the scenario's history and the replicas' current state. */
  check(): Violation[] {
    const keys = this.sim.history.keys();
    return checkAll({
      history: this.sim.history.operations,
      answerSlackMs: 21,
      hintWindowMs: this.sim.cluster.config.hintWindowMs,
      finalState: this.sim.finalState(keys),
    });
  }
}

export function scenario(options: ScenarioOptions = {}): Scenario {
  return new Scenario(options);
}
