// Runs one seed (tigerbeetle's vopr shape): derive every parameter from the seed, run a faulty phase
// (clients plus nemesis), heal every fault, let repair finish, then check every property. The result
// carries the trace (whose bytes depend on the seed alone) and the client history.
//
// The heal phase, step by step:
//   1. every fault ends: the network is whole and lossless, crashed nodes restart, paused ones resume;
//   2. repair runs until the cluster settles: client requests answered, every node sees every member
//      alive and has finished its recovery, every hint delivered, no coordinated operation left, and
//      every replica of every key written holds the same version in storage (the simulator's oracle for
//      "repair has finished"). Convergence must come from the protocol itself (hints, anti-entropy,
//      run every `antiEntropyIntervalMs`, small here): not settling within `healMaxMs` fails the run;
//   3. the replicas' state is read from each node's storage (the convergence checker reads this);
//   4. final reads: every key read at quorum, each from a random node (the lost-writes checker).
// Before the core had anti-entropy, a read-repair sweep (every key read at `all`, waiting for every
// replica) made replicas converge between steps 1 and 2; `healSweep: true` (`--sweep`) still runs it,
// to tell an anti-entropy bug from others. It is off by default because it would hide such bugs.

import { AssertionError } from '../core/assert.js';
import { checkAll, type Violation } from './checkers/index.js';
import { CoreFailure } from './cluster.js';
import type { History } from './history.js';
import { clockDriftMaxMs, Nemesis } from './nemesis.js';
import { Prng } from './random.js';
import { Simulation } from './simulation.js';
import { describeParameters, swarmParameters, type SwarmParameters } from './swarm.js';
import { Workload } from './workload.js';

export interface RunOptions {
  /** Trace every message delivered as well (large). */
  readonly verbose?: boolean;
  /** Run the read-repair sweep in the heal phase (see above). Default: false. */
  readonly healSweep?: boolean;
  /** Adjusts the parameters drawn from the seed (tests use it to pin a feature on or off). */
  readonly adjust?: (parameters: SwarmParameters) => SwarmParameters;
  /** Called once the cluster has started (tests use it to plant a fault the swarm cannot make). */
  readonly inject?: (sim: Simulation) => void;
}

export interface RunStats {
  readonly operations: number;
  readonly operationsOk: number;
  readonly messagesSent: number;
  readonly virtualMs: number;
  readonly events: number;
}

export interface RunResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly parameters: SwarmParameters;
  readonly trace: string;
  readonly traceHash: string;
  readonly history: History;
  readonly stats: RunStats;
  /** The command that replays this run. */
  readonly replay: string;
}

/** Lines of a failing run's trace worth showing next to its violations. */
export const failureTraceTailLines = 40;

/** Answers come when a tick expires them: allow two tick intervals past the timeout. */
function answerSlackMs(parameters: SwarmParameters): number {
  return 2 * parameters.tickIntervalMs + 1;
}

/** The exact command that replays a run (with the options that change what a seed does). */
export function replayCommand(seed: number, options: RunOptions = {}): string {
  return `npm run sim -- --seed ${seed}${options.healSweep ? ' --sweep' : ''} --trace`;
}

export function runSeed(seed: number, options: RunOptions = {}): RunResult {
  const root = new Prng(seed);
  const drawn = swarmParameters(seed, root.fork('swarm'));
  const parameters = options.adjust ? options.adjust(drawn) : drawn;
  const clockRandom = root.fork('clocks');
  const skewMs = new Map<string, number>();
  for (let i = 1; i <= parameters.nodeCount + parameters.spareNodes; i++) {
    const max = parameters.faults.skewMaxMs;
    skewMs.set(`n${i}`, max === 0 ? 0 : clockRandom.between(-max, max));
  }
  const sim = new Simulation({
    seed,
    nodeCount: parameters.nodeCount,
    spareNodes: parameters.spareNodes,
    strategy: parameters.strategy,
    rf: parameters.rf,
    vnodes: parameters.vnodes,
    config: parameters.config,
    tickIntervalMs: parameters.tickIntervalMs,
    network: parameters.network,
    skewMs,
    ...(options.verbose ? { verbose: true } : {}),
  });
  const { trace } = sim;
  trace.note(`seed ${seed}`);
  for (const line of describeParameters(parameters).split('\n')) trace.note(line);

  const violations: Violation[] = [];
  try {
    // Faulty phase.
    sim.cluster.start();
    options.inject?.(sim);
    const workload = new Workload({
      scheduler: sim.scheduler,
      cluster: sim.cluster,
      requests: sim.requests,
      random: root.fork('workload'),
      trace,
      parameters: parameters.workload,
      stopAtMs: parameters.faultyMs,
    });
    const nemesis = new Nemesis({
      scheduler: sim.scheduler,
      cluster: sim.cluster,
      network: sim.network,
      random: root.fork('nemesis'),
      trace,
      parameters: parameters.faults,
      stopAtMs: parameters.faultyMs,
    });
    workload.start();
    nemesis.start();
    sim.runFor(parameters.faultyMs);

    // Heal phase.
    nemesis.healAll();
    const keys = sim.history.keys();
    if (options.healSweep ?? false) {
      sim.waitUntilSettled(parameters.healMaxMs);
      trace.event('heal: read-repair sweep of every key at all');
      sim.readEveryKey(keys, 'all', 'sweep', true);
    }
    // Repair runs on the monotonic clock (decisions.md): clock steps owe the heal no wait.
    const healMaxMs = parameters.healMaxMs;
    const unsettled = sim.waitUntilSettled(healMaxMs, keys);
    trace.event(unsettled.length === 0 ? 'heal: settled' : `heal: not settled: ${unsettled.join('; ')}`);
    if (unsettled.length > 0) {
      violations.push({ checker: 'heal', message: `the cluster did not settle within ${healMaxMs}ms of the heal: ${unsettled.join('; ')}` });
    }
    const finalState = sim.finalState(keys);
    trace.event('heal: final reads at quorum');
    sim.readEveryKey(keys, 'quorum', 'final', false);

    // Every layout version is one layout: the vote lets no two coordinators publish different ones.
    for (const fork of sim.cluster.layoutForks) violations.push({ checker: 'layout-agreement', message: fork });
    violations.push(
      ...checkAll({
        history: sim.history.operations,
        answerSlackMs: answerSlackMs(parameters),
        // A clock stepped forward expires its hints early, by up to twice the drift a run allows.
        hintWindowMs: sim.cluster.config.hintWindowMs - (parameters.faults.clockJumps ? 2 * clockDriftMaxMs(sim.cluster.config) : 0),
        lostForGood: sim.cluster.lostForGood(),
        finalState,
      }),
    );
  } catch (error) {
    if (!(error instanceof CoreFailure)) throw error;
    const kind = error.causeError instanceof AssertionError ? 'assertion' : 'exception';
    trace.event(`core ${kind}: ${error.message.split('\n')[0]}`);
    violations.push({ checker: 'core-assertions', message: error.message });
  }

  const stats: RunStats = {
    operations: sim.history.operations.length,
    operationsOk: sim.history.operations.filter((op) => op.outcome === 'ok').length,
    messagesSent: sim.network.stats.sent,
    virtualMs: sim.nowMs,
    events: sim.scheduler.eventsRun,
  };
  const net = sim.network.stats;
  const kinds = [...net.kinds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, c]) => `${k}:${c}`).join(' ');
  trace.note(
    `summary: ${stats.operations} requests (${stats.operationsOk} ok), messages sent=${net.sent} delivered=${net.delivered} dropped=${net.dropped} duplicated=${net.duplicated} cut=${net.cut} [${kinds}], ${stats.events} events, ${stats.virtualMs}ms virtual`,
  );
  if (violations.length === 0) trace.note('check: ok');
  for (const violation of violations) trace.note(`check: FAIL ${violation.checker}: ${violation.message.split('\n')[0]}`);
  const text = trace.text();
  return {
    seed,
    ok: violations.length === 0,
    violations,
    parameters,
    trace: text,
    traceHash: trace.hash(),
    history: sim.history,
    stats,
    replay: replayCommand(seed, options),
  };
}

/** A failure report: the seed, the replay command, the violations. */
export function describeFailure(result: RunResult): string {
  const lines = [`seed ${result.seed} FAILED (${result.violations.length} violations)`];
  for (const violation of result.violations.slice(0, 20)) lines.push(`  ${violation.checker}: ${violation.message}`);
  if (result.violations.length > 20) lines.push(`  ... and ${result.violations.length - 20} more`);
  lines.push(`replay: ${result.replay}`);
  return lines.join('\n');
}
