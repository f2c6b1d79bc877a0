// One simulated world: virtual time, the trace, the network, the cluster, the client history. The
// seed runner drives it with a workload and a nemesis; scenario tests drive it step by step. It also
// owns the heal phase's building blocks: waiting until the cluster settles, the read-repair sweep,
// the final reads, and the snapshot of every replica's state that the checkers read.

import type { CoreConfig } from '../core/config.js';
import type { Strategy } from '../core/layout.js';
import { Placement } from '../core/placement.js';
import { visibleEntry } from '../core/version.js';
import type { ConsistencyLevel } from '../core/quorum.js';
import { checkConvergence } from './checkers/convergence.js';
import type { KeyState, StoredState } from './checkers/index.js';
import { SimCluster } from './cluster.js';
import { History, type Operation } from './history.js';
import { SimNetwork, type LinkSettings } from './network.js';
import { Prng } from './random.js';
import { Requests } from './requests.js';
import { Scheduler } from './scheduler.js';
import { Trace } from './trace.js';

export interface SimulationSetup {
  readonly seed: number;
  readonly nodeCount: number;
  /** Ids beyond the first members that may join later. */
  readonly spareNodes?: number;
  readonly strategy: Strategy;
  readonly rf: number;
  readonly vnodes: number;
  readonly config: Partial<CoreConfig>;
  readonly tickIntervalMs: number;
  readonly network: LinkSettings;
  /** Clock offset per node id (absent: 0). */
  readonly skewMs?: ReadonlyMap<string, number>;
  /** Trace every message delivered, too. */
  readonly verbose?: boolean;
}

/** Process numbers of the heal phase's requests start here, far above the workload's. */
const healProcessBase = 1_000_000;
/** How often the settle check looks at the cluster. */
const settlePollMs = 100;

export class Simulation {
  readonly random: Prng;
  readonly scheduler = new Scheduler();
  readonly trace: Trace;
  readonly network: SimNetwork;
  readonly cluster: SimCluster;
  readonly history = new History();
  readonly requests: Requests;
  private healProcess = healProcessBase;

  constructor(readonly setup: SimulationSetup) {
    this.random = new Prng(setup.seed);
    this.trace = new Trace(() => this.scheduler.nowMs, setup.verbose ?? false);
    this.network = new SimNetwork(
      {
        scheduler: this.scheduler,
        random: this.random.fork('network'),
        trace: this.trace,
        deliver: (to, batch) => this.cluster.deliver(to, batch),
      },
      setup.network,
    );
    this.cluster = new SimCluster(
      {
        nodeCount: setup.nodeCount,
        spareCount: setup.spareNodes ?? 0,
        layout: { strategy: setup.strategy, rf: setup.rf, vnodes: setup.vnodes },
        config: setup.config,
        tickIntervalMs: setup.tickIntervalMs,
        skewMs: setup.skewMs ?? new Map(),
      },
      { scheduler: this.scheduler, network: this.network, random: this.random.fork('cluster'), trace: this.trace },
    );
    this.requests = new Requests({ cluster: this.cluster, scheduler: this.scheduler, history: this.history, trace: this.trace });
  }

  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  runFor(durationMs: number): void {
    this.scheduler.runUntil(this.scheduler.nowMs + durationMs);
  }

  /** Runs until `done()` holds (checked after every event) or `maxMs` passes; returns `done()`. */
  runUntil(done: () => boolean, maxMs: number): boolean {
    this.scheduler.runUntil(this.scheduler.nowMs + maxMs, done);
    return done();
  }

  /**
   * Why the cluster is not settled yet (empty when it is): nodes down or recovering, member views,
   * hints, requests in flight, and (when `keys` are given) replicas of those keys that still disagree
   * in storage: the simulator's oracle for "repair has finished".
   */
  unsettled(keys: readonly string[] = []): string[] {
    const reasons: string[] = [];
    const pending = this.history.pending().length;
    if (pending > 0) reasons.push(`${pending} client requests in flight`);
    const newest = this.cluster.newestLayout();
    const members = this.cluster.members();
    for (const id of members) {
      const node = this.cluster.node(id);
      if (node === undefined || node.isPaused) {
        reasons.push(`${id} is ${this.cluster.stateOf(id)}`);
        continue;
      }
      if (node.layout.version !== newest.version) reasons.push(`${id} runs layout v${node.layout.version}, not v${newest.version}`);
      const notAlive = members.filter((other) => node.stateOf(other) !== 'alive');
      if (notAlive.length > 0) reasons.push(`${id} sees ${notAlive.map((o) => `${o} ${node.stateOf(o)}`).join(', ')}`);
      const status = node.status();
      if (status.recovery.phase !== 'ready') reasons.push(`${id} is recovering (pending: ${status.recovery.peersPending.join(',')})`);
      const hints = Object.entries(status.hintsPending).filter(([, count]) => count > 0);
      if (hints.length > 0) reasons.push(`${id} holds hints for ${hints.map(([t, c]) => `${t}:${c}`).join(', ')}`);
      if (status.operationsInFlight > 0) reasons.push(`${id} coordinates ${status.operationsInFlight} operations`);
      if (status.topology.inTransition) reasons.push(`${id} is in a topology change`);
      if (status.topology.cleanupPending) reasons.push(`${id} is dropping copies it no longer owns`);
    }
    // A node the layout removed, still running, may hold copies no member has (written at `one` while
    // it was cut off for the whole change): its clean-up hands them over, and repair is not over
    // until it has. First it has to learn that it was removed (seed 2918321: cut off during the
    // leave, it still ran the transitional layout when the heal began).
    for (const id of this.cluster.ids) {
      if (members.includes(id) || this.cluster.stateOf(id) !== 'up') continue;
      const node = this.cluster.node(id);
      if (node !== undefined && node.layout.version < newest.version) reasons.push(`${id}, removed, runs layout v${node.layout.version}, not v${newest.version}`);
      else if (node?.cleanupPending) reasons.push(`${id}, removed, is handing over copies it no longer owns`);
      // Every member has acknowledged its farewell: none may wait for it still, holding back purges
      // for departedKeepMs (a member told of it again by a slower one did: departed.ts).
      else if (node !== undefined) {
        const waiting = members.filter((m) => this.cluster.node(m)?.departed.some((d) => d.id === id));
        if (waiting.length > 0) reasons.push(`${waiting.join(', ')} still wait for ${id}, removed, which said farewell to every member`);
      }
    }
    if (reasons.length === 0 && keys.length > 0) {
      const disagreeing = checkConvergence({ history: [], answerSlackMs: 0, hintWindowMs: 0, finalState: this.finalState(keys) });
      if (disagreeing.length > 0) reasons.push(`${disagreeing.length} keys not converged, e.g. ${disagreeing[0]?.message}`);
    }
    return reasons;
  }

  /** Waits (in virtual time) until the cluster settles; returns what is still unsettled at `maxMs`. */
  waitUntilSettled(maxMs: number, keys: readonly string[] = []): string[] {
    const deadlineMs = this.scheduler.nowMs + maxMs;
    let reasons = this.unsettled(keys);
    while (reasons.length > 0 && this.scheduler.nowMs < deadlineMs) {
      this.scheduler.runUntil(Math.min(deadlineMs, this.scheduler.nowMs + settlePollMs));
      reasons = this.unsettled(keys);
    }
    return reasons;
  }

  /**
   * Issues one request per key, each from its own process, and runs until all have answered.
   * Requests that fail are retried (up to `attempts` rounds); returns the last attempt of each key.
   */
  readEveryKey(keys: readonly string[], level: ConsistencyLevel, purpose: 'sweep' | 'final', waitForAll: boolean, attempts = 3): Operation[] {
    const lastByKey = new Map<string, Operation>();
    let todo = [...keys];
    for (let attempt = 0; attempt < attempts && todo.length > 0; attempt++) {
      const issued: Operation[] = [];
      for (const key of todo) {
        const up = this.cluster.ids.filter((id) => this.cluster.serves(id));
        if (up.length === 0) break;
        const node = this.random.fork(`${purpose}:${key}:${attempt}`).pick(up);
        const op = this.requests.issue({
          process: this.healProcess++,
          client: purpose,
          kind: 'get',
          key,
          level,
          node,
          purpose,
          waitForAll,
        });
        if (op) issued.push(op);
      }
      this.runUntil(() => issued.every((op) => op.outcome !== undefined), 60_000);
      for (const op of issued) lastByKey.set(op.key, op);
      todo = issued.filter((op) => op.outcome !== 'ok').map((op) => op.key);
    }
    return [...lastByKey.values()];
  }

  /** Every key's replicas and what each node durably holds for it, read from storage directly. */
  finalState(keys: readonly string[]): Map<string, KeyState> {
    const placement = new Placement(this.cluster.newestLayout());
    const textDecoder = new TextDecoder();
    const state = new Map<string, KeyState>();
    for (const key of keys) {
      const stored = new Map<string, StoredState>();
      for (const id of this.cluster.ids) {
        const storage = this.cluster.storageOf(id);
        const held = storage.get(key);
        // An expired value is a delete (requests.ts sends some deletes that way).
        const entry = held === undefined ? undefined : visibleEntry(held, this.nowMs);
        const purgeFloor = storage.purgeFloor(key);
        stored.set(id, {
          ...(entry !== undefined
            ? { version: entry.version, value: entry.value === null ? null : textDecoder.decode(entry.value) }
            : {}),
          ...(purgeFloor !== undefined ? { purgeFloor } : {}),
        });
      }
      state.set(key, { replicas: placement.readReplicas(key), stored });
    }
    return state;
  }
}
