// The simulated cluster: real `QuorumNode`s over `MemoryStorage`, each with its own skewed clock and
// its own random stream, ticked on virtual time, wired to the simulated network. Only the ports are
// simulated; every protocol step is the production core.
//
// Crash semantics: a crashed node's object is dropped with everything it held in memory (in-flight
// requests, hint delivery state, membership views, its unsent outbox); what survives is a clone of
// its storage's committed state, from which `restart` builds a new node. A mid-transaction crash
// strikes inside a storage write: the transaction rolls back and the node dies before anything it
// produced in that step (messages, client answers) leaves it, as a killed process would.
// A pause is the core's own simulated crash (`pause`/`resume`): the node keeps its memory but
// answers nothing. Client requests in flight on a node that crashes or pauses end as `info`
// (outcome unknown) at that moment.
//
// Storage failures (storageFaults.ts): a write fails, its transaction rolls back, and the node runs
// on, handled as the runtime handles an exception from the core. Clock jumps: a node's clock offset
// changes at once (an NTP step), forward or back; its next reading shows it.
//
// Topology: the cluster starts with `nodeCount` members and may hold spare ids beyond them, which
// join through a member (`join`); members leave through `propose({ type: 'leave' })`. A node that
// the newest layout no longer names is "removed": it serves no client and the checks ignore it.

import type { Callback, ReadOptions, ReadOutcome, WriteOptions, WriteOutcome } from '../core/coordinator.js';
import type { UpdateOptions, UpdateOutcome } from '../core/keyPaxos.js';
import { decideOf, type UpdateSpec } from '../core/updateSpec.js';
import { resolveConfig, type CoreConfig } from '../core/config.js';
import { layoutDigest, type Layout } from '../core/layout.js';
import type { LayoutChange } from '../core/layoutChange.js';
import type { Envelope } from '../core/messages.js';
import { QuorumNode } from '../core/node.js';
import { MemoryStorage } from '../storage/memory.js';
import { SimulatedCrash, trapStorage } from './crashTrap.js';
import { SimulatedStorageFailure, strikeStorage, type StorageFaultState } from './storageFaults.js';
import { describeChange, describeLayout, memberAddress } from './layouts.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './random.js';
import type { Scheduler } from './scheduler.js';
import type { Trace } from './trace.js';

/** Virtual time 0 is this wall-clock instant (2025-01-01T00:00:00Z): versions look like real ones. */
export const epochMs = 1_735_689_600_000;

/** Where the simulator has an update coordinated, whatever its node would choose (updateRouting.ts). */
export type UpdateRoute = 'here' | 'coordinator';

/** An exception the core threw (an assertion or any other bug): the run fails with it. */
export class CoreFailure extends Error {
  override name = 'CoreFailure';
  constructor(
    message: string,
    readonly causeError: unknown,
  ) {
    super(message);
  }
}

export interface ClusterOptions {
  readonly nodeCount: number;
  /** Ids beyond the first members that may join later (n{nodeCount+1}...). */
  readonly spareCount?: number;
  readonly layout: Omit<Layout, 'members' | 'version'>;
  readonly config: Partial<CoreConfig>;
  readonly tickIntervalMs: number;
  /** Clock offset of each node (node id -> ms); absent means 0. */
  readonly skewMs: ReadonlyMap<string, number>;
}

export interface ClusterDeps {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly random: Prng;
  readonly trace: Trace;
}

/** A client request in flight on a node: answered by the core, or lost with the node. */
interface PendingRequest {
  done: boolean;
  readonly lost: (reason: string) => void;
}

interface SimNode {
  readonly id: string;
  node: QuorumNode | undefined;
  storage: MemoryStorage;
  generation: number;
  paused: boolean;
  /** Whether the node was ever started (spares are not until they join). */
  launched: boolean;
  /** Storage writes left before a mid-transaction crash strikes; undefined when none is armed. */
  crashCountdown: number | undefined;
  /** A full disk, or a single write armed to fail (storageFaults.ts); they outlive a crash. */
  readonly storageFaults: StorageFaultState;
  /** The node's clock offset from virtual time; a clock jump changes it. */
  skewMs: number;
  readonly requests: Set<PendingRequest>;
}

/** What the runtime does when the core throws a storage failure in one input (storageFaults.ts). */
interface OnStorageFailure {
  /** Names the input in the trace ("tick", "batch of 3 messages"). */
  readonly input: string;
  /** flush: the outbox is sent; hold: it waits for the next step; exit: the process ends. */
  readonly then: 'flush' | 'hold' | 'exit';
  readonly failed?: () => void;
}

/** `outside`: a spare id that never joined (no process, no storage). */
export type NodeState = 'up' | 'paused' | 'crashed' | 'outside';

export class SimCluster {
  readonly ids: readonly string[];
  readonly config: CoreConfig;
  readonly layout: Layout;
  private readonly nodes = new Map<string, SimNode>();
  /** The first layout adopted under each version, to catch two different ones (layoutForks). */
  private readonly layoutsByVersion = new Map<number, { readonly node: string; readonly digest: number; readonly text: string }>();
  /** Two nodes adopted different layouts of one version: the cluster's metadata forked. */
  readonly layoutForks: string[] = [];
  /** Client answers produced during one node step, handed out only if the step completes. */
  private answers: (() => void)[] | undefined;

  constructor(
    private readonly options: ClusterOptions,
    private readonly deps: ClusterDeps,
  ) {
    this.ids = Array.from({ length: options.nodeCount + (options.spareCount ?? 0) }, (_, i) => `n${i + 1}`);
    this.config = resolveConfig(options.config);
    this.layout = {
      ...options.layout,
      version: 1,
      members: this.ids.slice(0, options.nodeCount).map((id) => ({ ...memberAddress(id), role: 'active' as const })),
    };
    for (const id of this.ids) {
      this.nodes.set(id, {
        id,
        node: undefined,
        storage: new MemoryStorage(),
        generation: 0,
        launched: false,
        paused: false,
        crashCountdown: undefined,
        storageFaults: { fullUntilMs: 0, failCountdown: undefined },
        skewMs: options.skewMs.get(id) ?? 0,
        requests: new Set(),
      });
    }
  }

  /** Boots every first member and starts its ticks (each node ticks at its own phase). */
  start(): void {
    for (const member of this.layout.members) this.launch(member.id, this.layout);
  }

  private launch(id: string, layout: Layout): void {
    const skew = this.skewOf(id);
    this.deps.trace.event(`${id} start clock${skew >= 0 ? '+' : ''}${skew}ms`);
    this.sim(id).launched = true;
    this.boot(id, layout);
    const phaseMs = this.deps.random.int(this.options.tickIntervalMs);
    this.deps.scheduler.after(phaseMs, () => this.tickLoop(id));
  }

  /**
   * Asks member `via` to add `id` (a spare) to the cluster; once the layout coordinator accepts,
   * starts `id` with the layout that names it as joining. `onDone` gets an error code or undefined.
   */
  join(id: string, via: string, onDone: (error?: string) => void = () => {}): void {
    if (this.stateOf(id) !== 'outside' || this.stateOf(via) !== 'up') return onDone('NOT_POSSIBLE');
    this.propose(via, { type: 'join', member: memberAddress(id) }, (layout, error) => {
      if (layout !== undefined && this.stateOf(id) === 'outside') this.launch(id, layout);
      onDone(error);
    });
  }

  /** Asks member `via` for a topology change; `onDone` gets the new layout, or an error code. */
  propose(via: string, change: LayoutChange, onDone: (layout: Layout | undefined, error?: string) => void): void {
    if (this.stateOf(via) !== 'up') return onDone(undefined, 'NOT_UP');
    this.deps.trace.event(`${via} proposes ${describeChange(change)}`);
    const describe = (outcome: string) => this.deps.trace.event(`${via} ${describeChange(change)} -> ${outcome}`);
    this.request<Layout>(
      via,
      (result) => {
        describe(result.ok ? `layout v${result.value.version}` : `${result.error.code}: ${result.error.message}`);
        if (result.ok) onDone(result.value);
        else onDone(undefined, result.error.code);
      },
      // Lost with `via` (a crash or pause): the change may or may not have been made.
      (reason) => {
        describe(`lost (${reason})`);
        onDone(undefined, 'UNAVAILABLE');
      },
      (node, callback) => node.proposeChange(change, callback),
    );
  }

  /** The newest layout any running node holds. */
  newestLayout(): Layout {
    let newest = this.layout;
    for (const id of this.ids) {
      const layout = this.sim(id).node?.layout;
      if (layout !== undefined && layout.version > newest.version) newest = layout;
    }
    return newest;
  }

  /** Ids the newest layout names (joining and leaving ones included). */
  members(): string[] {
    return this.newestLayout().members.map((m) => m.id);
  }

  /** Nodes the newest layout does not list that are down: removed while down, they stay down (nemesis.ts). */
  lostForGood(): Set<string> {
    const members = this.members();
    return new Set(this.ids.filter((id) => !members.includes(id) && this.stateOf(id) === 'crashed'));
  }

  /** Up, and a member in its own view and in the newest layout: may coordinate client requests. */
  serves(id: string): boolean {
    const node = this.sim(id).node;
    return this.stateOf(id) === 'up' && node !== undefined && node.isMember && this.members().includes(id);
  }

  /** The clock offset the node started the run with (steps move it from there). */
  startSkewOf(id: string): number {
    return this.options.skewMs.get(id) ?? 0;
  }

  skewOf(id: string): number {
    return this.sim(id).skewMs;
  }

  stateOf(id: string): NodeState {
    const sim = this.sim(id);
    if (!sim.launched) return 'outside';
    if (sim.node === undefined) return 'crashed';
    return sim.paused ? 'paused' : 'up';
  }

  /** The running node, or undefined while crashed. */
  node(id: string): QuorumNode | undefined {
    return this.sim(id).node;
  }

  /** The node's storage as it stands (for a crashed node, what survived the crash). */
  storageOf(id: string): MemoryStorage {
    return this.sim(id).storage;
  }

  // ---- client requests ---------------------------------------------------------------------------

  /** Starts a put (value) or delete (null) on `id`; false if the node is not up. */
  write(id: string, key: string, value: Uint8Array | null, options: WriteOptions, onResult: Callback<WriteOutcome>, onLost: (reason: string) => void): boolean {
    return this.request(id, onResult, onLost, (node, callback) => {
      if (value === null) node.remove(key, options, callback);
      else node.put(key, value, options, callback);
    });
  }

  /**
   * Starts a conditional write on `id` (keyPaxos.ts); false if the node is not up. `route` overrides
   * where `id` has it coordinated (updateRouting.ts): `here`, as by a node whose view of who is up
   * differs, so that rounds still race; `coordinator`, as by a node that saw the key raced.
   */
  update(
    id: string,
    key: string,
    spec: UpdateSpec,
    options: UpdateOptions & { readonly route?: UpdateRoute },
    onResult: Callback<UpdateOutcome>,
    onLost: (reason: string) => void,
  ): boolean {
    return this.request(id, onResult, onLost, (node, callback) =>
      options.route === 'here' ? node.updateHere(key, decideOf(spec), options, callback) : node.update(key, spec, options, callback, options.route === 'coordinator'),
    );
  }

  read(id: string, key: string, options: ReadOptions, onResult: Callback<ReadOutcome>, onLost: (reason: string) => void): boolean {
    return this.request(id, onResult, onLost, (node, callback) => node.get(key, options, callback));
  }

  private request<T>(
    id: string,
    onResult: Callback<T>,
    onLost: (reason: string) => void,
    start: (node: QuorumNode, callback: Callback<T>) => void,
  ): boolean {
    const sim = this.sim(id);
    if (this.stateOf(id) !== 'up') return false;
    const pending: PendingRequest = { done: false, lost: onLost };
    sim.requests.add(pending);
    let answered = false;
    // The runtime's promise rejects when the core throws before it answered (an answer given first
    // wins), and later answers are ignored.
    const failed = () => {
      if (answered || pending.done) return;
      pending.done = true;
      sim.requests.delete(pending);
      onLost('storage failure');
    };
    const callback: Callback<T> = (result) => {
      // Thrown inside the node's step, so the run fails as a core failure.
      if (answered) throw new Error(`${id} answered one client request twice`);
      answered = true;
      // The request stays pending until its answer leaves the node: a crash later in the same step
      // discards the answer, and the request is then lost with the node.
      this.answer(() => {
        if (pending.done) return;
        pending.done = true;
        sim.requests.delete(pending);
        onResult(result);
      });
    };
    this.step(id, (node) => start(node, callback), { input: 'client request', then: 'hold', failed });
    return true;
  }

  // ---- faults ------------------------------------------------------------------------------------

  /** Kills the node now: it loses everything but its committed storage. */
  crash(id: string, reason = 'crash'): void {
    const sim = this.sim(id);
    if (sim.node === undefined) return;
    this.deps.trace.event(`${id} ${reason}`);
    sim.storage = sim.storage.clone();
    sim.node = undefined;
    sim.paused = false;
    sim.crashCountdown = undefined;
    this.loseRequests(sim, reason);
  }

  /** Arms a crash that strikes inside the node's `writesBefore`-th storage write from now. */
  armMidTransactionCrash(id: string, writesBefore: number): void {
    const sim = this.sim(id);
    if (sim.node === undefined) return;
    this.deps.trace.event(`${id} will crash inside storage write #${writesBefore}`);
    sim.crashCountdown = writesBefore;
  }

  disarm(id: string): void {
    this.sim(id).crashCountdown = undefined;
  }

  /** The node's disk is full for `durationMs`: every storage write on it fails meanwhile. */
  fillDisk(id: string, durationMs: number): void {
    const sim = this.sim(id);
    const untilMs = this.deps.scheduler.nowMs + durationMs;
    this.deps.trace.event(`${id} disk full for ${durationMs}ms`);
    sim.storageFaults.fullUntilMs = untilMs;
    this.deps.scheduler.after(durationMs, () => {
      if (sim.storageFaults.fullUntilMs === untilMs) this.deps.trace.event(`${id} disk no longer full`);
    });
  }

  isDiskFull(id: string): boolean {
    return this.deps.scheduler.nowMs < this.sim(id).storageFaults.fullUntilMs;
  }

  /** Arms one storage failure: the node's `writesBefore`-th storage write or commit from now fails. */
  armStorageFailure(id: string, writesBefore: number): void {
    this.deps.trace.event(`${id} storage write #${writesBefore} from now will fail`);
    this.sim(id).storageFaults.failCountdown = writesBefore;
  }

  /** Ends the node's full disk and disarms its pending storage failure. */
  endStorageFaults(id: string): void {
    const faults = this.sim(id).storageFaults;
    faults.fullUntilMs = 0;
    faults.failCountdown = undefined;
  }

  /** The node's wall clock steps by `deltaMs` (NTP stepping it), forward or back. */
  jumpClock(id: string, deltaMs: number): void {
    const sim = this.sim(id);
    sim.skewMs += deltaMs;
    this.deps.trace.event(`${id} clock jumps ${deltaMs >= 0 ? '+' : ''}${deltaMs}ms to clock${sim.skewMs >= 0 ? '+' : ''}${sim.skewMs}ms`);
  }

  isArmed(id: string): boolean {
    return this.sim(id).crashCountdown !== undefined;
  }

  /** Builds a new node from what survived the crash. */
  restart(id: string): void {
    const sim = this.sim(id);
    if (sim.node !== undefined || !sim.launched) return;
    this.deps.trace.event(`${id} restart`);
    this.boot(id, this.layout);
  }

  pause(id: string): void {
    const sim = this.sim(id);
    if (sim.node === undefined || sim.paused) return;
    this.deps.trace.event(`${id} pause`);
    sim.paused = true;
    sim.node.pause();
    this.loseRequests(sim, 'pause');
  }

  resume(id: string): void {
    const sim = this.sim(id);
    if (sim.node === undefined || !sim.paused) return;
    this.deps.trace.event(`${id} resume`);
    sim.paused = false;
    this.step(id, (node) => node.resume(), { input: 'resume', then: 'hold' });
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  /** The network hands a batch to a node; a crashed or paused node loses it. */
  deliver(to: string, batch: Envelope[]): void {
    if (this.stateOf(to) !== 'up') return;
    this.step(to, (node) => node.receive(batch), { input: `batch of ${batch.length} messages`, then: 'flush' });
  }

  private tickLoop(id: string): void {
    if (this.stateOf(id) === 'up') this.step(id, (node) => node.tick(), { input: 'tick', then: 'flush' });
    this.deps.scheduler.after(this.options.tickIntervalMs, () => this.tickLoop(id));
  }

  /** A new node object over the node's storage; `layout` is used only if the storage holds none. */
  private boot(id: string, layout: Layout): void {
    const sim = this.sim(id);
    sim.generation += 1;
    const scheduler = this.deps.scheduler;
    const storage = sim.storage;
    storage.writeFault = (phase) => {
      if (sim.storage === storage) strikeStorage(sim.storageFaults, scheduler.nowMs, phase);
    };
    let node: QuorumNode;
    try {
      node = this.newNode(id, sim, storage, layout);
    } catch (error) {
      if (!(error instanceof SimulatedStorageFailure)) throw error;
      // The runtime's process fails to start: the node stays down until the next restart.
      this.deps.trace.event(`${id} fails to start: ${error.message}; rolled back, stays down`);
      return;
    }
    sim.node = node;
    sim.paused = false;
    this.step(id, (n) => n.start(), { input: 'start', then: 'exit' });
  }

  private newNode(id: string, sim: SimNode, storage: MemoryStorage, layout: Layout): QuorumNode {
    const scheduler = this.deps.scheduler;
    return new QuorumNode({
      id,
      storage: trapStorage(storage, () => this.strikes(sim, storage)),
      // The wall clock carries the node's skew and its jumps; the monotonic one is the simulation's time.
      clock: { nowMs: () => epochMs + scheduler.nowMs + sim.skewMs, monotonicMs: () => scheduler.nowMs },
      random: this.deps.random.fork(`node:${id}#${sim.generation}`),
      config: this.config,
      initialLayout: layout,
      onMemberState: (member, state) => this.deps.trace.event(`${id} sees ${member} ${state}`),
      onLayout: (adopted) => {
        const text = describeLayout(adopted);
        this.deps.trace.event(`${id} adopts layout v${adopted.version} ${text}`);
        this.noteLayout(id, adopted, text);
      },
    });
  }

  private noteLayout(id: string, layout: Layout, text: string): void {
    const digest = layoutDigest(layout);
    const first = this.layoutsByVersion.get(layout.version);
    if (first === undefined) this.layoutsByVersion.set(layout.version, { node: id, digest, text });
    else if (first.digest !== digest) this.layoutForks.push(`v${layout.version}: ${first.node} adopted ${first.text}, ${id} adopted ${text}`);
  }

  /**
   * Runs one input on a node, then sends what it put in its outbox and hands out the client answers
   * it produced. A mid-transaction crash discards both; a storage failure is handled as `onFailure`
   * says (the runtime's handling of that input); any other exception is a core failure.
   */
  private step(id: string, input: (node: QuorumNode) => void, onFailure: OnStorageFailure): void {
    const sim = this.sim(id);
    const node = sim.node;
    if (node === undefined) return;
    const outer = this.answers === undefined;
    if (outer) this.answers = [];
    let answers: (() => void)[] = [];
    try {
      input(node);
      const outbox = node.takeOutbox();
      for (const envelope of outbox) this.deps.network.send(envelope);
    } catch (error) {
      if (error instanceof SimulatedStorageFailure) {
        this.afterStorageFailure(id, node, onFailure, error, outer);
      } else if (error instanceof SimulatedCrash) {
        if (outer) this.answers = [];
        this.crash(id, 'crash (mid-transaction)');
      } else {
        const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
        throw new CoreFailure(`${id} threw: ${error instanceof Error ? error.message : String(error)}\n${detail}`, error);
      }
    } finally {
      if (outer) {
        answers = this.answers ?? [];
        this.answers = undefined;
      }
    }
    for (const answer of answers) answer();
  }

  private afterStorageFailure(id: string, node: QuorumNode, onFailure: OnStorageFailure, error: SimulatedStorageFailure, outer: boolean): void {
    this.deps.trace.event(`${id} ${onFailure.input} failed: ${error.message}; rolled back`);
    switch (onFailure.then) {
      case 'exit':
        if (outer) this.answers = [];
        return this.crash(id, 'exits (failed to start)');
      case 'hold':
        return onFailure.failed?.();
      case 'flush':
        for (const envelope of node.takeOutbox()) this.deps.network.send(envelope);
        return;
    }
  }

  private answer(run: () => void): void {
    if (this.answers !== undefined) this.answers.push(run);
    else run();
  }

  private loseRequests(sim: SimNode, reason: string): void {
    const lost = [...sim.requests];
    sim.requests.clear();
    for (const pending of lost) {
      pending.done = true;
      pending.lost(reason);
    }
  }

  /** Whether an armed mid-transaction crash strikes in this write of the node's storage. */
  private strikes(sim: SimNode, storage: MemoryStorage): boolean {
    if (sim.crashCountdown === undefined || sim.storage !== storage) return false;
    sim.crashCountdown -= 1;
    return sim.crashCountdown <= 0;
  }

  private sim(id: string): SimNode {
    const sim = this.nodes.get(id);
    if (sim === undefined) throw new Error(`no simulated node ${id}`);
    return sim;
  }
}
