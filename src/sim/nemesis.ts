// The nemesis (Jepsen's name for the fault injector): during the faulty phase it strikes at random
// intervals with one of the fault kinds the run's swarm parameters enable: partition the network
// (any split, symmetric or one-way), heal it, crash a node (now, or inside one of its next storage
// writes; any node, or one that holds hints), bounce one (crash and restart at once), restart a
// crashed node, pause or resume one; and, when the run allows, change the topology (a spare node
// joins, a member leaves or is removed, the strategy or RF changes); fill a node's disk for a while or
// fail one of its storage writes (the node runs on: storageFaults.ts); step a node's clock forward or
// back. It never takes more than `downMax` nodes
// down at once, so that some runs keep a quorum and others lose it for a while. `healAll` undoes
// every fault for the heal phase.

import type { SimCluster } from './cluster.js';
import type { LinkSettings, SimNetwork } from './network.js';
import type { CoreConfig } from '../core/config.js';
import { ceilingMarginMs } from '../core/hlc.js';
import type { Prng } from './random.js';
import type { Scheduler } from './scheduler.js';
import type { FaultParameters } from './swarm.js';
import type { Trace } from './trace.js';

export interface NemesisDeps {
  readonly scheduler: Scheduler;
  readonly cluster: SimCluster;
  readonly network: SimNetwork;
  readonly random: Prng;
  readonly trace: Trace;
  readonly parameters: FaultParameters;
  /** The nemesis strikes no more at or after this virtual time. */
  readonly stopAtMs: number;
}

/** A joining node asks this many times at most, this far apart. */
const joinAttemptsMax = 30;
const joinRetryMs = 1000;

type Action =
  | 'partition'
  | 'heal-network'
  | 'crash'
  | 'crash-hint-holder'
  | 'bounce'
  | 'restart'
  | 'pause'
  | 'resume'
  | 'topology'
  | 'disk-full'
  | 'storage-failure'
  | 'clock-jump';

/** A full disk lasts this long (someone frees space, a log rotates). */
const diskFullMinMs = 200;
const diskFullMaxMs = 2000;
/** Most clock steps are small (NTP's 128 ms step threshold to a few seconds)... */
const smallJumpMaxMs = 3000;
/** ...some go past the hybrid clock's ceiling margin (hlc.ts), up to this many margins. */
const largeJumpMaxMargins = 6;

/**
 * How far a node's clock may drift from where it started, through steps. The core times hints and
 * tombstone grace on the wall clock (docs/decisions.md, "the durations kept in the store run on the wall clock"), so a
 * drift near the hint window or the grace brings back deleted values by design; runs test what the
 * design claims: a tenth of the shorter window, and never past 10 minutes. Only runs with windows of
 * minutes step past the hybrid clock's ceiling margin (hlc.ts), and the checkers take a hint window
 * shortened by twice this (a step forward expires hints early).
 */
export function clockDriftMaxMs(config: Pick<CoreConfig, 'hintWindowMs' | 'tombstoneGraceMs'>): number {
  return Math.min(config.hintWindowMs, config.tombstoneGraceMs, 100 * 60_000) / 10;
}

/** A healed network: same latency, no loss, no duplicates, no congestion. */
export function healedLinks(settings: LinkSettings): LinkSettings {
  return { ...settings, dropRate: 0, duplicateRate: 0, slowRate: 0 };
}

export class Nemesis {
  constructor(private readonly deps: NemesisDeps) {}

  start(): void {
    this.scheduleNext();
  }

  /**
   * Heals the network, ends full disks and disarms storage failures, restarts crashed members,
   * resumes paused ones, disarms pending crashes. Clock offsets stay as the jumps left them. A node
   * removed from the cluster while it was down stays down.
   */
  healAll(): void {
    const { cluster, network, trace } = this.deps;
    trace.event('heal: every fault ends (network whole and lossless, every node up)');
    network.heal();
    network.setLinkSettings(healedLinks(network.linkSettings));
    const members = cluster.members();
    for (const id of cluster.ids) {
      cluster.disarm(id);
      cluster.endStorageFaults(id);
      if (cluster.stateOf(id) === 'crashed' && members.includes(id)) cluster.restart(id);
      else if (cluster.stateOf(id) === 'paused') cluster.resume(id);
    }
  }

  private scheduleNext(): void {
    const { scheduler, random, parameters } = this.deps;
    const delayMs = random.between(parameters.intervalMinMs, parameters.intervalMaxMs);
    scheduler.after(delayMs, () => {
      if (scheduler.nowMs >= this.deps.stopAtMs) return;
      this.strike();
      this.scheduleNext();
    });
  }

  private strike(): void {
    const actions = this.possibleActions();
    if (actions.length === 0) return;
    const action = this.deps.random.pick(actions);
    switch (action) {
      case 'partition':
        return this.partition();
      case 'heal-network':
        this.deps.trace.event('network heals');
        return this.deps.network.heal();
      case 'crash':
        return this.crash(this.deps.random.pick(this.healthy()));
      case 'crash-hint-holder':
        return this.crash(this.deps.random.pick(this.hintHolders()));
      case 'bounce':
        return this.bounce();
      case 'restart':
        return this.deps.cluster.restart(this.deps.random.pick(this.inState('crashed')));
      case 'pause':
        return this.deps.cluster.pause(this.deps.random.pick(this.healthy()));
      case 'resume':
        return this.deps.cluster.resume(this.deps.random.pick(this.inState('paused')));
      case 'topology':
        return this.changeTopology();
      case 'disk-full':
        return this.deps.cluster.fillDisk(this.deps.random.pick(this.diskNotFull()), this.deps.random.between(diskFullMinMs, diskFullMaxMs));
      case 'storage-failure':
        return this.deps.cluster.armStorageFailure(this.deps.random.pick(this.diskNotFull()), this.deps.random.between(1, 5));
      case 'clock-jump':
        return this.jumpClock();
    }
  }

  private possibleActions(): Action[] {
    const p = this.deps.parameters;
    const actions: Action[] = [];
    const roomToFail = this.downCount() < p.downMax && this.healthy().length > 0;
    if (p.partitions) actions.push('partition');
    if (this.deps.network.partitioned) actions.push('heal-network');
    if (p.crashes && roomToFail) actions.push('crash');
    if (p.crashes && roomToFail && this.hintHolders().length > 0) actions.push('crash-hint-holder');
    if (p.crashes && this.healthy().length > 0) actions.push('bounce');
    if (this.inState('crashed').length > 0) actions.push('restart', 'restart');
    if (p.pauses && roomToFail) actions.push('pause');
    if (this.inState('paused').length > 0) actions.push('resume');
    if (p.topology && this.healthy().length > 0) actions.push('topology');
    if (p.storageFaults && this.diskNotFull().length > 0) actions.push('disk-full', 'storage-failure');
    if (p.clockJumps) actions.push('clock-jump');
    return actions;
  }

  /** A random split into two or three groups (a new partition replaces the previous one). */
  private partition(): void {
    const { cluster, network, random, parameters, trace } = this.deps;
    const shuffled = random.shuffle(cluster.ids);
    const groupCount = shuffled.length >= 5 && random.chance(0.25) ? 3 : 2;
    const cuts = random.shuffle(Array.from({ length: shuffled.length - 1 }, (_, i) => i + 1)).slice(0, groupCount - 1).sort((a, b) => a - b);
    const groups: string[][] = [];
    let from = 0;
    for (const cut of [...cuts, shuffled.length]) {
      groups.push(shuffled.slice(from, cut).sort());
      from = cut;
    }
    const mode = parameters.oneWayPartitions && random.chance(0.5) ? 'one-way' : 'symmetric';
    network.heal();
    network.partition(groups, mode);
    const arrow = mode === 'one-way' ? ' -/-> ' : ' | ';
    trace.event(`partition ${groups.map((g) => `{${g.join(',')}}`).join(arrow)} ${mode}`);
  }

  private crash(id: string): void {
    const { cluster, random, parameters } = this.deps;
    if (parameters.midTransactionCrashes && random.chance(0.5)) cluster.armMidTransactionCrash(id, random.between(1, 5));
    else cluster.crash(id);
  }

  /**
   * Kills a node and restarts it moments later (a process restart: the most common fault in
   * practice). It loses whatever it held only in memory; being back at once, it does not count
   * against `downMax`. Half the bounces pick a node that holds hints, when there is one.
   */
  private bounce(): void {
    const { cluster, random, scheduler } = this.deps;
    const holders = this.hintHolders();
    const id = holders.length > 0 && random.chance(0.5) ? random.pick(holders) : random.pick(this.healthy());
    cluster.crash(id, 'crash (bounce)');
    scheduler.after(random.between(20, 300), () => cluster.restart(id));
  }

  /**
   * Healthy nodes that hold hints: a targeted victim (Jepsen's nemeses target leaders the same way),
   * since the writes a hint holder alone carries are the ones a hint bug would lose.
   */
  private hintHolders(): string[] {
    return this.healthy().filter((id) => {
      const pending = this.deps.cluster.node(id)?.hintsPending() ?? {};
      return Object.values(pending).some((count) => count > 0);
    });
  }

  /**
   * A topology change through a random serving member: a spare joins, a member leaves (a dead one is
   * removed), or the strategy / RF changes. The core refuses a change while another is under way.
   */
  private changeTopology(): void {
    const { cluster, random } = this.deps;
    const members = cluster.members();
    const via = random.pick(this.healthy());
    const spares = cluster.ids.filter((id) => cluster.stateOf(id) === 'outside');
    const kinds: ('join' | 'leave' | 'replication')[] = ['replication'];
    if (spares.length > 0) kinds.push('join', 'join');
    if (members.length > 3) kinds.push('leave');
    switch (random.pick(kinds)) {
      case 'join':
        return this.join(spares[0] as string, via, 1);
      case 'leave':
        return cluster.propose(via, { type: 'leave', id: random.pick(members) }, () => {});
      case 'replication': {
        const strategy = random.chance(0.2) ? 'full' : 'consistent';
        const rf = random.between(1, Math.min(5, members.length));
        return cluster.propose(via, { type: 'replication', strategy, rf }, () => {});
      }
    }
  }

  /**
   * Like the runtime's joining node (nodeMain.ts askToJoin), asks again through a serving member each
   * second, a bounded number of times, while the answer is UNAVAILABLE or LAYOUT_CONFLICT: the change
   * may have been made and only its answer lost, and a join left half-done blocks later changes.
   */
  private join(id: string, via: string, attempt: number): void {
    const { cluster, scheduler, random } = this.deps;
    cluster.join(id, via, (error) => {
      if ((error !== 'UNAVAILABLE' && error !== 'LAYOUT_CONFLICT') || attempt >= joinAttemptsMax) return;
      scheduler.after(joinRetryMs, () => {
        const serving = cluster.ids.filter((other) => cluster.serves(other));
        if (serving.length > 0) this.join(id, random.pick(serving), attempt + 1);
      });
    });
  }

  /** Up members whose disk is not full (a full disk may strike any running node, whatever else it suffers). */
  private diskNotFull(): string[] {
    const { cluster } = this.deps;
    return cluster.members().filter((id) => cluster.stateOf(id) === 'up' && !cluster.isDiskFull(id));
  }

  /**
   * Steps a started node's clock (it may be down: the machine's clock runs on): mostly by up to a few
   * seconds, a quarter of the time by more than the hybrid clock's ceiling margin. Offsets stay
   * within `skewBoundMs` of true time.
   */
  private jumpClock(): void {
    const { cluster, random } = this.deps;
    const id = random.pick(cluster.ids.filter((other) => cluster.stateOf(other) !== 'outside'));
    const driftMax = clockDriftMaxMs(cluster.config);
    const large = random.chance(0.25);
    const magnitude = Math.min(
      driftMax,
      large ? random.between(ceilingMarginMs + 1, largeJumpMaxMargins * ceilingMarginMs) : random.between(1, smallJumpMaxMs),
    );
    let delta = random.chance(0.5) ? magnitude : -magnitude;
    const drift = cluster.skewOf(id) - cluster.startSkewOf(id);
    if (Math.abs(drift + delta) > driftMax) delta = -delta;
    if (Math.abs(drift + delta) > driftMax) delta = Math.sign(delta) * (driftMax - Math.abs(drift));
    if (delta !== 0) cluster.jumpClock(id, Math.trunc(delta));
  }

  /** Members that are up and not armed to crash. */
  private healthy(): string[] {
    return this.deps.cluster.members().filter((id) => this.deps.cluster.stateOf(id) === 'up' && !this.deps.cluster.isArmed(id));
  }

  /** Members in that state (a removed node is left alone). */
  private inState(state: 'crashed' | 'paused'): string[] {
    return this.deps.cluster.members().filter((id) => this.deps.cluster.stateOf(id) === state);
  }

  private downCount(): number {
    return this.deps.cluster.members().length - this.healthy().length;
  }
}
