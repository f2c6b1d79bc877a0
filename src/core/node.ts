// One quorumkv node as a deterministic state machine (etcd-io/raft's shape): messages, client requests
// and ticks go in; messages to send come out of `takeOutbox()`, and client callbacks fire. It reads the
// clock and draws randomness only through its ports, and touches data only through its storage.
//
// Messages that arrive together are handled in one storage transaction (group commit). Their replies
// are staged and released to the outbox only after the transaction commits, so that no replica ever
// acknowledges a write that is not durable.

import { AntiEntropy, type SessionProgress } from './antiEntropy.js';
import { assert } from './assert.js';
import type { CoreConfig } from './config.js';
import { DepartedNodes, type DepartedNode } from './departed.js';
import { Coordinator, type Callback, type ReadOptions, type ReadOutcome, type WriteOptions, type WriteOutcome } from './coordinator.js';
import type { Decide, UpdateOptions, UpdateOutcome } from './keyPaxos.js';
import { PaxosAcceptor } from './paxosAcceptor.js';
import { QuorumError } from './errors.js';
import { HintDelivery } from './hints.js';
import { HybridClock } from './hlc.js';
import { layoutDigest, memberById, parseLayout, supersedes, validateLayout, type Layout, type LayoutMember, type Strategy } from './layout.js';
import { Membership, type MemberState, type MemberView } from './membership.js';
import type { Envelope, Message, PaxosAcceptMessage, PaxosPrepareMessage, ReadMessage, UpdateForwardMessage, WriteMessage } from './messages.js';
import { Placement } from './placement.js';
import { Recovery, type RecoveryStatus } from './recovery.js';
import type { Clock, Random } from './ports.js';
import type { Storage } from './storage.js';
import { TombstonePurger } from './tombstones.js';
import { ContendedKeys, ForwardedUpdateLog, updateCoordinator } from './updateRouting.js';
import { decideOf, type UpdateSpec } from './updateSpec.js';
import type { LayoutChange } from './layoutChange.js';
import { Topology, type TopologyStatus } from './topology.js';
import { isClockReading, isExpiry, isWellFormed, loneSurrogate } from './validate.js';
import { visibleEntry, type Entry } from './version.js';

export interface NodeDeps {
  readonly id: string;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly random: Random;
  readonly config: CoreConfig;
  /** The layout to start with when the store holds none (a fresh node of a new cluster). */
  readonly initialLayout?: Layout;
  /** Called whenever the node adopts a new layout (the runtime updates peer addresses), with the one it ran. */
  readonly onLayout?: (layout: Layout, previous: Layout) => void;
  /** Called when the node sees a member change state (for logs and metrics). */
  readonly onMemberState?: (id: string, state: MemberState) => void;
}

const metaLayout = 'layout';
const metaIncarnation = 'incarnation';
/** Above the wall clock of every version this node issued (hlc.ts). */
const metaClockCeiling = 'clock-ceiling';
const textEncoder = new TextEncoder();

function checkExpiry(expiresMs: number | undefined): QuorumError | undefined {
  if (expiresMs === undefined || isExpiry(expiresMs)) return undefined;
  return new QuorumError('BAD_REQUEST', 'the expiry must be a whole number of milliseconds since 1970 that a version can hold', {
    expiresMs: String(expiresMs),
  });
}

export interface NodeStatus {
  readonly id: string;
  readonly paused: boolean;
  readonly recovery: RecoveryStatus;
  readonly antiEntropy: {
    readonly running: SessionProgress[];
    readonly recent: SessionProgress[];
    readonly keysRepaired: number;
  };
  readonly tombstonesPurged: number;
  readonly topology: TopologyStatus;
  readonly layout: Layout;
  readonly members: MemberView[];
  readonly hintsPending: Record<string, number>;
  readonly hintsDelivered: number;
  /** Hints given up undelivered since the start: superseded (this node holds something newer for
   *  the key), expired (older than hintWindowMs), trimmed (beyond hintsPerTargetMax). */
  readonly hintsDropped: { readonly superseded: number; readonly expired: number; readonly trimmed: number };
  readonly operationsInFlight: number;
  readonly entries: { readonly live: number; readonly tombstones: number };
}

export class QuorumNode {
  readonly id: string;
  readonly config: CoreConfig;
  private readonly storage: Storage;
  private readonly clock: Clock;
  readonly hlc: HybridClock;
  private readonly membership: Membership;
  private readonly coordinator: Coordinator;
  private readonly acceptor: PaxosAcceptor;
  private readonly hints: HintDelivery;
  private readonly antiEntropy: AntiEntropy;
  private readonly purger: TombstonePurger;
  private readonly topology: Topology;
  /** The layout version each peer last said it runs (from pings and acks). */
  private readonly peerLayoutVersions = new Map<string, number>();
  private readonly recovery: Recovery;
  private currentLayout: Layout;
  private currentPlacement: Placement;
  private outbox: Envelope[] = [];
  /** Messages produced inside a storage transaction, released when it commits. */
  private staged: Envelope[] | undefined;
  private opCounter: number;
  private paused = false;
  private previousMembers: string[] = [];
  /** Nodes a layout removed that may still hand over copies (departed.ts). */
  private readonly departedNodes: DepartedNodes;
  /** Keys whose updates this node sends on to their coordinator (updateRouting.ts). */
  private readonly contendedKeys = new ContendedKeys();
  /** Updates other nodes sent on to this one, each run once (updateRouting.ts). */
  private readonly forwardedUpdates: ForwardedUpdateLog;

  constructor(private readonly deps: NodeDeps) {
    this.id = deps.id;
    this.config = deps.config;
    this.storage = deps.storage;
    this.clock = deps.clock;
    const restoredCeilingMs = Number(deps.storage.getMeta(metaClockCeiling) ?? '0');
    this.hlc = new HybridClock(deps.clock, deps.id, {
      restoredMs: restoredCeilingMs,
      persist: (ceilingMs) => {
        this.storage.transaction(() => this.storage.setMeta(metaClockCeiling, String(ceilingMs)));
        this.storage.syncNow();
      },
    });
    const stored = deps.storage.getMeta(metaLayout);
    const layout = stored !== undefined ? parseLayout(JSON.parse(stored)) : deps.initialLayout;
    if (layout === undefined && stored !== undefined) {
      throw new QuorumError('BAD_REQUEST', `node ${deps.id}'s stored cluster layout is malformed (a member address?): ${stored}`);
    }
    if (layout === undefined) {
      throw new QuorumError('BAD_REQUEST', `node ${deps.id} has no cluster layout: start it with an initial cluster or join one`);
    }
    validateLayout(layout);
    this.currentLayout = layout;
    this.currentPlacement = new Placement(layout);
    if (stored === undefined) this.storage.setMeta(metaLayout, JSON.stringify(layout));
    // A restarted node speaks with a higher incarnation, which refutes whatever was said of it while away.
    const incarnation = Number(deps.storage.getMeta(metaIncarnation) ?? '0') + 1;
    deps.storage.setMeta(metaIncarnation, String(incarnation));
    this.opCounter = Math.floor(deps.random.next() * 2 ** 40);
    const send = (to: string, message: Message) => this.send(to, message);
    this.membership = new Membership({
      selfId: deps.id,
      incarnation,
      config: deps.config,
      random: deps.random,
      send,
      layoutVersion: () => this.currentLayout.version,
      layoutDigest: () => layoutDigest(this.currentLayout),
      onStateChange: (id, state) => this.onMemberState(id, state),
      onIncarnation: (value) => this.storage.setMeta(metaIncarnation, String(value)),
    });
    this.membership.setMembers(this.memberIds(), this.monotonicMs());
    this.previousMembers = this.memberIds();
    this.departedNodes = new DepartedNodes(deps.storage);
    this.forwardedUpdates = new ForwardedUpdateLog(() => this.hlc.reading().wallMs, restoredCeilingMs);
    this.hints = new HintDelivery({
      selfId: deps.id,
      config: deps.config,
      storage: deps.storage,
      isAvailable: (id) => this.membership.isAvailable(id),
      isMember: (id) => this.isMemberId(id),
      layoutVersion: () => this.currentLayout.version,
      owners: (key) => [...new Set(this.currentPlacement.writeReplicaSets(key).flat())],
      movesTo: (key, target) => this.currentPlacement.movesTo(key, target),
      send,
      nextOp: () => this.nextOp(),
    });
    this.antiEntropy = new AntiEntropy({
      selfId: deps.id,
      config: deps.config,
      storage: deps.storage,
      random: deps.random,
      placement: () => this.currentPlacement,
      isAvailable: (id) => this.membership.isAvailable(id),
      send,
      nextId: () => this.nextOp(),
      wallMs: () => this.nowMs(),
    });
    this.recovery = new Recovery({ antiEntropy: this.antiEntropy, stateOf: (id) => this.membership.stateOf(id) });
    this.purger = new TombstonePurger({
      selfId: deps.id,
      config: deps.config,
      storage: deps.storage,
      placement: () => this.currentPlacement,
      isAlive: (id) => this.membership.stateOf(id) === 'alive',
      clockWallMs: () => this.hlc.reading().wallMs,
      settledLayout: () => this.topology.settledLayout,
      departed: () => this.departedNodes.ids,
      isMember: (id) => this.isMemberId(id),
      send,
      nextOp: () => this.nextOp(),
    });
    this.topology = new Topology({
      selfId: deps.id,
      config: deps.config,
      storage: deps.storage,
      antiEntropy: this.antiEntropy,
      layout: () => this.currentLayout,
      placement: () => this.currentPlacement,
      publish: (layout) => this.publishLayout(layout),
      adopt: (layout) => this.adoptLayout(layout),
      isAlive: (id) => this.membership.stateOf(id) === 'alive',
      isDead: (id) => this.membership.stateOf(id) === 'dead',
      peerLayoutVersion: (id) => this.peerLayoutVersions.get(id),
      send,
      nextOp: () => this.nextOp(),
    });
    this.coordinator = new Coordinator({
      selfId: deps.id,
      config: deps.config,
      clock: this.hlc,
      placement: () => this.currentPlacement,
      isAvailable: (id) => this.membership.isAvailable(id),
      send,
      nowMs: () => this.nowMs(),
      monotonicMs: () => this.monotonicMs(),
      storeHint: (target, entry) => this.storage.transaction(() => this.hints.store(target, entry, this.nowMs())),
      nextOp: () => this.nextOp(),
      // Not while paused (a crashed node answers nothing), nor inside a batch's transaction (its writes
      // are not committed yet), nor before the store's last commits are durable: a reply message
      // would have waited for the commit and for the sync.
      readOwnCopy: (key) => (this.paused || this.staged !== undefined || !this.storage.durable ? null : this.storage.get(key)),
      random: deps.random,
      withdrawProposal: (key, ballot) => this.acceptor.withdraw(key, ballot),
      guardAcceptance: (key, ballot, untilMs) => this.acceptor.guard(key, ballot, untilMs),
      unguardAcceptance: (key, ballot) => this.acceptor.unguard(key, ballot),
      raced: (key) => this.contendedKeys.mark(key, this.monotonicMs()),
    });
    this.acceptor = new PaxosAcceptor({
      selfId: deps.id,
      config: deps.config,
      storage: deps.storage,
      refusesLayout: (key, layout) => this.refusal(key, layout),
      clockWallMs: () => this.hlc.reading().wallMs,
      answerHeld: (from, message) => this.answerPaxos(from, message),
    });
  }

  get layout(): Layout {
    return this.currentLayout;
  }

  get placement(): Placement {
    return this.currentPlacement;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Tells every member this node is (back) up, and starts catching up with its co-replicas. */
  start(): void {
    this.membership.announce(this.monotonicMs());
    this.recovery.begin(this.monotonicMs());
  }

  /** Anti-entropy with every live co-replica now (the admin route). */
  repairNow(): SessionProgress[] {
    return this.antiEntropy.startAll('manual', this.monotonicMs());
  }

  // ---- client operations ------------------------------------------------------------------------

  put(key: string, value: Uint8Array, options: Partial<WriteOptions>, callback: Callback<WriteOutcome>): void {
    const invalid = this.checkKey(key) ?? this.checkValue(value) ?? checkExpiry(options.expiresMs);
    if (invalid) return callback({ ok: false, error: invalid });
    this.coordinator.write(key, value, this.writeOptions(options), callback);
  }

  /** Writes a tombstone. */
  remove(key: string, options: Partial<WriteOptions>, callback: Callback<WriteOutcome>): void {
    const invalid = this.checkKey(key);
    if (invalid) return callback({ ok: false, error: invalid });
    this.coordinator.write(key, null, this.writeOptions(options), callback); // a tombstone never expires
  }

  /**
   * A conditional write through a consensus round on the key's replicas (keyPaxos.ts): `spec` says
   * what it requires of the key's current value and what it then writes (updateSpec.ts). Coordinated
   * here, or, when the key's updates race another node's, by the key's first replica alive
   * (updateRouting.ts).
   */
  update(key: string, spec: UpdateSpec, options: UpdateOptions, callback: Callback<UpdateOutcome>, asContended = false): void {
    const invalid = this.checkKey(key) ?? this.checkSpec(spec);
    if (invalid) return callback({ ok: false, error: invalid });
    const coordinator = this.updateCoordinatorOf(key, asContended);
    if (coordinator !== this.id) return this.coordinator.forwardUpdate(coordinator, key, spec, options, callback);
    this.updateHere(key, decideOf(spec), options, callback);
  }

  /**
   * The node this one has `key`'s next update coordinated by: itself, unless the key is contended
   * (updateRouting.ts) or the caller says to take it as such (the simulator, so that forwards run
   * under every fault).
   */
  updateCoordinatorOf(key: string, asContended = false): string {
    if (!this.contendedKeys.touch(key, this.monotonicMs()) && !asContended) return this.id;
    return updateCoordinator(this.currentPlacement.readReplicas(key), this.id, (id) => this.membership.stateOf(id) === 'alive');
  }

  /**
   * A conditional write coordinated here, whoever coordinates the key's others: one sent on to this
   * node, and the tests of racing rounds. What `decide` writes is checked as a put's.
   */
  updateHere(key: string, decide: Decide, options: UpdateOptions, callback: Callback<UpdateOutcome>): void {
    const invalid = this.checkKey(key);
    if (invalid) return callback({ ok: false, error: invalid });
    const checked: Decide = (current) => {
      const write = decide(current);
      if (write === undefined || 'refused' in write || write.value === null) return write;
      const bad = this.checkValue(write.value) ?? checkExpiry(write.expiresMs);
      if (bad) throw bad;
      return write;
    };
    this.coordinator.update(key, checked, options, callback);
  }

  /** What is wrong with the values an update names, before it goes anywhere; what it decides is checked again. */
  private checkSpec(spec: UpdateSpec): QuorumError | undefined {
    const { then } = spec;
    if (then.op === 'set' && then.value !== null) return this.checkValue(then.value) ?? checkExpiry(then.expiresMs);
    if (then.op === 'append') return this.checkValue(then.tail);
    return undefined;
  }

  /** Runs an update another node sent on to this one, which coordinates its key, and answers it. */
  private serveForwardedUpdate(from: string, message: UpdateForwardMessage): void {
    const { op } = message;
    this.hlc.observe({ wallMs: message.sentAtMs, counter: 0 }); // so the durable ceiling covers it (updateRouting.ts)
    const admission = this.forwardedUpdates.admit(from, op, message.sentAtMs, message.timeoutMs);
    if (admission === 'duplicate' || admission === 'stale') return;
    if (admission === 'before-restart') {
      const text = `update of "${message.key}" sent before ${this.id} restarted, and a copy may have run then: the update may have taken effect`;
      return this.send(from, { kind: 'update-reply', op, error: { code: 'UNAVAILABLE', message: text, details: { outcomeUnknown: true } } });
    }
    this.updateHere(message.key, decideOf(message.spec), { timeoutMs: message.timeoutMs }, (result) => {
      if (result.ok) return this.send(from, { kind: 'update-reply', op, outcome: result.value });
      const { code, message: text, details } = result.error;
      this.send(from, { kind: 'update-reply', op, error: { code, message: text, details } });
    });
  }

  get(key: string, options: Partial<ReadOptions>, callback: Callback<ReadOutcome>): void {
    const invalid = this.checkKey(key);
    if (invalid) return callback({ ok: false, error: invalid });
    this.coordinator.read(key, { consistency: options.consistency ?? this.config.defaultConsistency, ...options }, callback);
  }

  private writeOptions(options: Partial<WriteOptions>): WriteOptions {
    return { consistency: options.consistency ?? this.config.defaultConsistency, ...options };
  }

  /** What is wrong with `key` for any key route (empty, not UTF-8, over keyBytesMax), if anything. */
  checkKey(key: string): QuorumError | undefined {
    if (key.length === 0) return new QuorumError('BAD_REQUEST', 'key must not be empty');
    if (loneSurrogate.test(key)) return new QuorumError('BAD_REQUEST', 'key must be valid UTF-8 text');
    const bytes = textEncoder.encode(key).length;
    if (bytes > this.config.keyBytesMax) {
      return new QuorumError('KEY_TOO_LARGE', `key is ${bytes} bytes, the limit is ${this.config.keyBytesMax}`, {
        bytes,
        limit: this.config.keyBytesMax,
      });
    }
    return undefined;
  }

  private checkValue(value: Uint8Array): QuorumError | undefined {
    if (value.length > this.config.valueBytesMax) {
      return new QuorumError(
        'VALUE_TOO_LARGE',
        `value is ${value.length} bytes, the limit is ${this.config.valueBytesMax}`,
        { bytes: value.length, limit: this.config.valueBytesMax },
      );
    }
    return undefined;
  }

  // ---- messages from other nodes ----------------------------------------------------------------

  /** Handles messages that arrived together, in one storage transaction. */
  receive(batch: readonly Envelope[]): void {
    if (this.paused) return;
    this.transaction(() => {
      for (const envelope of batch) this.dispatch(envelope);
      this.acceptor.answerReleased();
    });
  }

  private dispatch(envelope: Envelope): void {
    const { from, message } = envelope;
    if (envelope.to !== this.id || !isClockReading(envelope.clock) || !isWellFormed(message)) return;
    this.hlc.observe(envelope.clock);
    const nowMs = this.nowMs();
    switch (message.kind) {
      case 'write':
        return this.applyWrite(from, message);
      case 'read':
        return this.serveRead(from, message);
      case 'write-reply':
        if (this.hints.owns(message.op)) return this.hints.handleReply(from, message);
        return this.coordinator.handleReply(from, message);
      case 'read-reply':
      case 'paxos-promise':
      case 'paxos-accepted':
        return this.coordinator.handleReply(from, message);
      case 'paxos-prepare':
      case 'paxos-accept':
        if (this.acceptor.hold(from, message)) return;
        return this.answerPaxos(from, message);
      case 'update-committed':
        return this.coordinator.updateCommitted(message.key, message.version);
      case 'update-forward':
        return this.serveForwardedUpdate(from, message);
      case 'update-reply':
        return this.coordinator.handleReply(from, message);
      case 'ping':
        this.membership.handlePing(from, message, this.monotonicMs());
        return this.compareLayouts(from, message.layoutVersion, message.layoutDigest);
      case 'ack':
        this.membership.handleAck(from, message, this.monotonicMs());
        return this.compareLayouts(from, message.layoutVersion, message.layoutDigest);
      case 'layout-change':
        return this.topology.handleChange(from, message, this.monotonicMs());
      case 'layout-prepare':
        return this.topology.vote.handlePrepare(from, message);
      case 'layout-promise':
        return this.topology.vote.handlePromise(from, message);
      case 'layout-accept':
        return this.topology.vote.handleAccept(from, message);
      case 'layout-accepted':
        return this.topology.vote.handleAccepted(from, message);
      case 'layout-change-reply':
        return this.topology.handleChangeReply(message);
      case 'move-done':
        return this.topology.handleMoveDone(from, message);
      case 'farewell':
        this.departedNodes.farewell(from, message.layout, nowMs);
        return this.send(from, { kind: 'farewell-ack', layout: message.layout });
      case 'farewell-ack':
        return this.topology.handleFarewellAck(from, message);
      case 'ping-req':
        return this.membership.handlePingRequest(from, message, this.monotonicMs());
      case 'layout': {
        const layout = parseLayout(message.layout);
        if (layout) this.adoptLayout(layout);
        if (message.departed && this.isMember) this.departedNodes.learn(message.departed, this.currentLayout, this.id, nowMs);
        return;
      }
      case 'layout-pull':
        return this.send(from, this.layoutMessage(this.currentLayout));
      case 'ae-ranges':
        return this.antiEntropy.handleRanges(from, message);
      case 'ae-diff':
        return this.antiEntropy.handleDiff(from, message, this.monotonicMs());
      case 'ae-keys':
        return this.antiEntropy.handleKeys(from, message);
      case 'ae-sync':
        return this.antiEntropy.handleSync(from, message, this.monotonicMs());
      case 'ae-behind':
        return this.antiEntropy.handleBehind(from, message, this.monotonicMs());
      case 'ae-push':
        return this.antiEntropy.handlePush(message);
      case 'purge-check':
        return this.purger.handleCheck(from, message, nowMs);
      case 'purge-check-reply':
        if (this.topology.ownsCheck(message.op)) return this.topology.handleCheckReply(from, message);
        return this.purger.handleReply(from, message, nowMs);
    }
  }

  /**
   * Replica side of a write: apply it (or keep it as a hint), answer with what is now held. A write
   * planned on an older layout is refused, with the layout sent along: the replicas it chose may no
   * longer be the key's, and a range this node held may already have been streamed to a new owner
   * (simulator seed 20380: a write at `one` on a leaving node, accepted after its ranges moved, was
   * lost when the change completed).
   */
  private applyWrite(from: string, message: WriteMessage): void {
    const layout = this.currentLayout.version;
    if (message.layout < layout) {
      this.send(from, this.layoutMessage(this.currentLayout));
      return this.send(from, { kind: 'write-reply', op: message.op, applied: false, layout });
    }
    // On the same layout, a copy of a key this node does not replicate is refused too: a late read
    // repair or a hint for a range that has moved away would otherwise leave a stray copy after the
    // change's clean-up had passed (the sender re-plans, or re-homes its hint). A sender on a newer
    // layout knows better than this node does: its write is taken.
    if (message.layout === layout && message.hintFor === undefined && !this.replicates(message.entry.key)) {
      return this.send(from, { kind: 'write-reply', op: message.op, applied: false, layout });
    }
    if (message.hintFor !== undefined && message.hintFor !== this.id) {
      this.hints.store(message.hintFor, message.entry, this.nowMs());
      return this.send(from, { kind: 'write-reply', op: message.op, applied: true });
    }
    if (message.ballot !== undefined) this.acceptor.committed(message.entry.key, message.ballot);
    const outcome = this.storage.apply(message.entry);
    if (outcome.applied) return this.send(from, { kind: 'write-reply', op: message.op, applied: true });
    this.send(from, { kind: 'write-reply', op: message.op, applied: false, current: outcome.current });
  }

  /**
   * Why a consensus message about `key` planned on layout `layout` is refused, as the layout version
   * to answer with: planned on an older layout (which is sent along), or, on this one, of a key this
   * node does not replicate. Undefined when it is taken.
   */
  private refusal(key: string, layout: number): number | undefined {
    const own = this.currentLayout.version;
    if (layout < own) return own;
    if (layout === own && !this.replicates(key)) return own;
    return undefined;
  }

  /** Sends a consensus answer; a sender on an older layout is sent this node's first, as for reads. */
  private answerPaxos(from: string, message: PaxosPrepareMessage | PaxosAcceptMessage): void {
    const reply = message.kind === 'paxos-prepare' ? this.acceptor.prepare(message) : this.acceptor.accept(message);
    if (message.layout < this.currentLayout.version) this.send(from, this.layoutMessage(this.currentLayout));
    this.send(from, reply);
  }

  private replicates(key: string): boolean {
    return this.currentPlacement.writeReplicaSets(key).some((set) => set.includes(this.id));
  }

  /**
   * Replica side of a read. A read planned on an older layout is refused, with the layout sent along,
   * as writes are: the replicas it chose may have handed the key to new owners and dropped it.
   * A replica that purged the key's tombstone says so (`purged`): answering only "no entry", a read
   * that took another replica's older copy before the purge returned that copy, a deleted value
   * (simulator seed 97005134).
   */
  private serveRead(from: string, message: ReadMessage): void {
    const layout = this.currentLayout.version;
    if (message.layout < layout) {
      this.send(from, this.layoutMessage(this.currentLayout));
      return this.send(from, { kind: 'read-reply', op: message.op, entry: null, layout });
    }
    const entry = this.storage.get(message.key) ?? null;
    const purged = entry === null ? this.storage.purgeFloor(message.key) : undefined;
    this.send(from, purged === undefined ? { kind: 'read-reply', op: message.op, entry } : { kind: 'read-reply', op: message.op, entry, purged });
  }

  // ---- layout -----------------------------------------------------------------------------------

  /**
   * Pulls a newer layout, pushes an older peer ours. Of two layouts of one version, the one with the
   * higher digest wins (layout.ts supersedes), so the node holding the other pulls: compared by version
   * alone, nodes started with different --vnodes or --initial-cluster each kept their own for good, and
   * placed keys differently (a probe saw writes fail, and one that failed stored anyway).
   */
  private compareLayouts(peer: string, peerVersion: number, peerDigest: number | undefined): void {
    this.peerLayoutVersions.set(peer, peerVersion);
    const version = this.currentLayout.version;
    if (peerVersion > version || (peerVersion === version && peerDigest !== undefined && peerDigest > layoutDigest(this.currentLayout))) {
      this.send(peer, { kind: 'layout-pull' });
    } else if (peerVersion < version) this.send(peer, this.layoutMessage(this.currentLayout));
  }

  /** A layout to send, with the removed nodes this node still waits for, and for how long already (departed.ts). */
  private layoutMessage(layout: Layout): Message {
    const nowMs = this.nowMs();
    const departed = this.departedNodes.list.map(({ id, peer, removedIn, sinceMs }) => ({
      id,
      peer,
      removedIn,
      ageMs: Math.max(0, Math.floor(nowMs - sinceMs)),
    }));
    return departed.length > 0 ? { kind: 'layout', layout, departed } : { kind: 'layout', layout };
  }

  /**
   * Adopts `layout` if it supersedes the held one; returns whether it did. Stored, with the nodes it
   * removes (departed.ts), before it is taken: a store that fails (a full disk) leaves the node whole
   * on the layout it held, and the next copy a peer sends is news again. Taken first, a failed store
   * left it on the new layout with the rest of the adoption never run, and every later copy was no
   * news (found in review, and by simulator seed 7001752: the clean-up of the previous change waited
   * for good). A store that fails later in the adoption puts the layout back for the same reason.
   */
  adoptLayout(layout: Layout): boolean {
    if (!supersedes(layout, this.currentLayout)) return false;
    validateLayout(layout);
    const previous = this.currentLayout;
    this.storage.transaction(() => this.storage.setMeta(metaLayout, JSON.stringify(layout)));
    this.departedNodes.onLayout(previous, layout, this.id, this.nowMs());
    const previousPlacement = this.currentPlacement;
    this.currentLayout = layout;
    this.currentPlacement = new Placement(layout);
    try {
      this.antiEntropy.abortAll(this.monotonicMs());
      this.topology.onLayout(layout, previous);
    } catch (error) {
      this.currentLayout = previous;
      this.currentPlacement = previousPlacement;
      throw error;
    }
    this.membership.setMembers(this.memberIds(), this.monotonicMs());
    this.deps.onLayout?.(layout, previous);
    return true;
  }

  /**
   * Asks for a topology change (join, leave, strategy / RF), serialised through the layout
   * coordinator. The callback gets the new layout, whose transition then completes in the background.
   */
  proposeChange(change: LayoutChange, callback: Callback<Layout>): void {
    this.topology.propose(change, this.monotonicMs(), callback);
  }

  /** Adopts `layout` here and pushes it to every member. */
  private publishLayout(layout: Layout): void {
    this.adoptLayout(layout);
    for (const member of layout.members) {
      if (member.id !== this.id) this.send(member.id, this.layoutMessage(layout));
    }
    // A member that was just removed learns it too, so it can stop.
    for (const member of this.previousMembers) {
      if (!layout.members.some((m) => m.id === member)) this.send(member, { kind: 'layout', layout });
    }
    this.previousMembers = layout.members.map((m) => m.id);
  }

  /** Nodes a layout removed that this member still asks before purging (departed.ts). */
  get departed(): readonly DepartedNode[] {
    return this.departedNodes.list;
  }

  /** Whether this node is still a member of the layout it holds (a removed node serves nothing). */
  get isMember(): boolean {
    return this.isMemberId(this.id);
  }

  private isMemberId(id: string): boolean {
    return this.currentLayout.members.some((m) => m.id === id);
  }

  member(id: string): LayoutMember | undefined {
    return memberById(this.currentLayout, id);
  }

  private memberIds(): string[] {
    return this.currentLayout.members.map((m) => m.id);
  }

  // ---- time -------------------------------------------------------------------------------------

  /**
   * Runs timers: failure detection, request deadlines, hint delivery, anti-entropy, tombstone purges,
   * expired consensus state, topology changes. Call it often (every ~10-50 ms). They all run on the
   * monotonic clock; the wall clock is read for what is kept in the store: hints' and tombstones' ages
   * (decisions.md), and the consensus state's (on the hybrid clock).
   */
  tick(): void {
    if (this.paused) return;
    const nowMs = this.nowMs();
    const monotonicMs = this.monotonicMs();
    this.transaction(() => {
      this.membership.tick(monotonicMs);
      this.coordinator.expire(monotonicMs);
      this.hints.tick(nowMs, monotonicMs);
      this.antiEntropy.tick(monotonicMs);
      this.recovery.continue(monotonicMs);
      this.departedNodes.expire(nowMs, this.config.departedKeepMs);
      this.purger.tick(nowMs, monotonicMs);
      this.acceptor.sweep(monotonicMs);
      this.acceptor.releaseExpired(monotonicMs);
      this.acceptor.answerReleased();
      this.forwardedUpdates.forgetStale();
      this.contendedKeys.forgetExpired(monotonicMs);
      this.topology.tick(monotonicMs);
    });
  }

  /** Simulated crash: stop answering anything until `resume` (DESIGN.md §4). */
  pause(): void {
    this.paused = true;
    this.outbox = [];
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.membership.refresh();
    this.membership.announce(this.monotonicMs());
    this.recovery.begin(this.monotonicMs());
  }

  stateOf(id: string): MemberState {
    return this.membership.stateOf(id);
  }

  status(): NodeStatus {
    const { delivered, ...dropped } = this.hintsFinished();
    const nowMs = this.nowMs();
    return {
      id: this.id,
      paused: this.paused,
      recovery: this.recovery.status(),
      antiEntropy: {
        running: this.antiEntropy.running(),
        recent: this.antiEntropy.recent(),
        keysRepaired: this.antiEntropy.keysRepaired,
      },
      tombstonesPurged: this.purger.purged,
      topology: this.topology.status(),
      layout: this.currentLayout,
      members: this.membership.view(this.monotonicMs(), nowMs),
      hintsPending: this.hints.pendingCounts(),
      hintsDelivered: delivered,
      hintsDropped: dropped,
      operationsInFlight: this.coordinator.inFlight,
      entries: this.storage.counts(),
    };
  }

  memberViews(): MemberView[] {
    return this.membership.view(this.monotonicMs(), this.nowMs());
  }

  /**
   * Conditional writes: the batches this node coordinated since the start and the updates in them,
   * those it sent on to their key's coordinator, and the keys whose consensus state it forgot as
   * expired (paxosAcceptor.ts).
   */
  consensusStats(): { readonly batches: number; readonly updates: number; readonly forwarded: number; readonly statesForgotten: number } {
    return { ...this.coordinator.updateBatches(), forwarded: this.coordinator.updatesForwarded, statesForgotten: this.acceptor.forgotten };
  }

  /** Hints this node stopped holding since the start, by outcome (`NodeStatus.hintsDropped`). */
  hintsFinished(): { delivered: number; superseded: number; expired: number; trimmed: number } {
    return { delivered: this.hints.delivered, superseded: this.hints.dropped, expired: this.hints.expired, trimmed: this.hints.trimmed };
  }

  hintsPending(): Record<string, number> {
    return this.hints.pendingCounts();
  }

  /**
   * Whether this node still drops or hands over copies a topology change moved away (cleanup.ts), or,
   * removed from the layout, still holds hints: a sloppy write may live only there, and whoever stops
   * a removed node once this is false (the local cluster's front) would lose it (found in review).
   */
  get cleanupPending(): boolean {
    return this.topology.cleanupPending || (!this.isMember && this.storage.hintCounts().size > 0);
  }

  recoveryStatus(): RecoveryStatus {
    return this.recovery.status();
  }

  /** Entries this node itself stores, in key order after `cursor`; expired values as tombstones. */
  localEntries(cursor: string | null, limit: number): Entry[] {
    const nowMs = this.nowMs();
    return this.storage.scan(cursor, limit).map((entry) => visibleEntry(entry, nowMs));
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  takeOutbox(): Envelope[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  private send(to: string, message: Message): void {
    if (this.paused) return;
    const envelope: Envelope = { from: this.id, to, clock: this.hlc.reading(), message };
    (this.staged ?? this.outbox).push(envelope);
  }

  private transaction(fn: () => void): void {
    const outer = this.staged === undefined;
    if (outer) this.staged = [];
    try {
      this.storage.transaction(fn);
      if (outer) this.outbox.push(...(this.staged as Envelope[]));
    } catch (error) {
      // What the transaction stored is gone: a ceiling the clock raised in it (hlc.ts), copies the
      // clean-up dropped in it (cleanup.ts), entries anti-entropy sessions applied in it (they start
      // again, and a topology change's fill streams again: topology.ts), removed nodes and farewells
      // (departed.ts: read back).
      if (outer) {
        this.hlc.ceilingRolledBack(Number(this.storage.getMeta(metaClockCeiling) ?? '0'));
        this.departedNodes.reload();
        this.antiEntropy.abortAll(this.monotonicMs());
        this.topology.rolledBack();
      }
      throw error;
    } finally {
      if (outer) this.staged = undefined;
    }
  }

  private onMemberState(id: string, state: MemberState): void {
    if (state === 'alive') {
      this.hints.kick();
      this.topology.onMemberAlive();
      this.recovery.onAlive(id, this.monotonicMs());
    }
    this.deps.onMemberState?.(id, state);
  }

  private nextOp(): number {
    this.opCounter += 1;
    assert(Number.isSafeInteger(this.opCounter), 'operation counter overflow');
    return this.opCounter;
  }

  /** The monotonic clock (ports.ts): request deadlines and failure detection run on it. */
  private monotonicMs(): number {
    return this.clock.monotonicMs();
  }

  nowMs(): number {
    return this.clock.nowMs();
  }
}
