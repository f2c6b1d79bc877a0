// One real quorumkv node: the deterministic core wired to the system clock, a SQLite store, the TCP
// peer transport and timers. This is the only place (with the simulator) where the core's effects are
// carried out: after every input, the node's outbox is handed to the transport.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CoreConfig } from '../core/config.js';
import type { Callback, ReadOptions, ReadOutcome, WriteOptions, WriteOutcome } from '../core/coordinator.js';
import type { SessionProgress } from '../core/antiEntropy.js';
import type { UpdateOptions, UpdateOutcome } from '../core/keyPaxos.js';
import type { UpdateSpec } from '../core/updateSpec.js';
import type { Layout } from '../core/layout.js';
import type { LayoutChange } from '../core/layoutChange.js';
import { QuorumError } from '../core/errors.js';
import { IdTable } from '../core/idTable.js';
import { QuorumNode } from '../core/node.js';
import type { Envelope } from '../core/messages.js';
import type { Clock, Random } from '../core/ports.js';
import { SqliteStorage } from '../storage/sqlite.js';
import type { AsyncSync } from '../storage/walSync.js';
import { TcpTransport } from '../transport/tcp.js';
import { parseHostPort, type HostPort } from './address.js';
import { NodeMetrics, type Operation } from './metrics.js';
import type { MemberHttp, NodeTls } from './tls.js';

/** How a client request is answered: the core's `Callback`, or whatever a request threw. */
export type RequestCallback<T> = (result: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown }) => void;

export interface NodeRuntimeOptions {
  readonly id: string;
  readonly peer: HostPort;
  readonly dataDir: string;
  readonly clusterSecret: string;
  readonly config: CoreConfig;
  readonly fsync: 'commit' | 'periodic';
  /** With fsync 'periodic': how often the WAL is synced to disk. */
  readonly syncIntervalMs?: number;
  readonly initialLayout?: Layout;
  /** Asked for a layout when the store holds none (a node joining an existing cluster). */
  readonly joinLayout?: () => Promise<Layout>;
  readonly logger: Logger;
  /** How often the core's timers run; request deadlines are this precise. */
  readonly tickIntervalMs?: number;
  /** Most messages held for an fdatasync at once (default heldMessagesMaxDefault); more are dropped. */
  readonly heldMessagesMax?: number;
  /** fdatasync of the write-ahead log on the thread pool (tests give one that hangs, as a disk can). */
  readonly syncFileAsync?: AsyncSync;
  /** Mutual TLS between peers (runtime/tls.ts); plain TCP without. */
  readonly tls?: NodeTls | undefined;
  /** How this node sends HTTP requests to members (http, or https under TLS); plain http without. */
  readonly memberHttp?: MemberHttp;
}

/**
 * Messages held for an fdatasync are bounded: a disk whose fdatasync hangs would otherwise have every
 * acknowledgement and read answer of the node pile up in memory until it ran out. Dropping one is
 * what a lossy network does, which every protocol here allows for: a coordinator missing an
 * acknowledgement times out and keeps a hint, a read asks the other replicas. At a few hundred bytes
 * a message, the default bound is some tens of megabytes: 20 s or more of a busy node's replies.
 */
export const heldMessagesMaxDefault = 200_000;

/** An fdatasync running this long is warned of, and again every as long while it runs. */
const slowSyncWarnMs = 5000;

/** The system's wall clock, and for deadlines its monotonic one (the process's `performance.now()`). */
export const systemClock: Clock = { nowMs: () => Date.now(), monotonicMs: () => performance.now() };
export const systemRandom: Random = { next: () => Math.random() };

export class NodeRuntime {
  private tickTimer: NodeJS.Timeout | undefined;
  /** When the tick timer last ran (performance.now()): how long ago tells whether the process stood still. */
  private lastTickAtMs = performance.now();
  /** Until then (performance.now()) writes are not started: the process stood still just before. */
  private writesRefusedUntilMs = 0;
  private ticked = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Messages waiting for the fdatasync of the commit generation they were produced at. */
  private held: { readonly generation: number; readonly envelopes: Envelope[] } | undefined;
  /** Messages held for an fdatasync, all generations together. */
  private heldCount = 0;
  /** Messages dropped because the held ones reached heldMessagesMax; and whether this stall said so. */
  private heldDroppedCount = 0;
  private heldDropWarned = false;
  private slowSyncWarnedAt = 0;
  /** Fails a request not yet answered (startAnsweredOnce); `pause` answers them all (see there). */
  private readonly unanswered = new IdTable<(error: QuorumError) => void>(); // not a Set: see idTable.ts
  private nextRequestId = 0;
  readonly metrics: NodeMetrics;

  private constructor(
    readonly node: QuorumNode,
    readonly storage: SqliteStorage,
    readonly transport: TcpTransport,
    readonly options: NodeRuntimeOptions,
  ) {
    this.metrics = new NodeMetrics(this);
  }

  static async start(options: NodeRuntimeOptions): Promise<NodeRuntime> {
    const { logger } = options;
    // The WAL is fdatasynced off the event loop; flush() holds back what depends on it (see there).
    const dbPath = join(options.dataDir, 'quorumkv.db');
    const fresh = !existsSync(dbPath);
    const storage = SqliteStorage.open(dbPath, {
      fsync: options.fsync,
      deferCommitSync: true,
      checkpointInBackground: true,
      onCheckpointerFailure: (error) =>
        logger.warn({ err: error }, 'background checkpointer failed; checkpointing on commit instead'),
      ...(options.syncFileAsync ? { syncFileAsync: options.syncFileAsync } : {}),
      readCacheBytes: options.config.readCacheBytes,
    });
    let initialLayout = options.initialLayout;
    const stored = storage.getMeta('layout');
    if (stored !== undefined && options.joinLayout && storedMembers(stored)?.includes(options.id) === false) {
      // It would keep that layout and ignore --join, serving nothing (a node removed, then restarted).
      storage.close();
      throw new Error(
        `node ${options.id} is not a member of the cluster stored in ${options.dataDir} (it was removed, or the directory is another node's): ` +
          'to join, start it on an empty data directory',
      );
    }
    if (stored === undefined && options.joinLayout) {
      try {
        initialLayout = await options.joinLayout();
      } catch (error) {
        storage.close();
        // A join that failed leaves no database behind (it held nothing): a second try starts as fresh.
        if (fresh) {
          await storage.whenClosed();
          for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
        }
        throw error;
      }
    }
    const transport = new TcpTransport({
      nodeId: options.id,
      listen: options.peer,
      clusterSecret: options.clusterSecret,
      // By then a request has been answered or has failed, and its writes are hints (tcp.ts).
      queueAgeMaxMs: options.config.requestTimeoutMs,
      logger: { warn: (obj, msg) => logger.warn(obj, msg) },
      tls: options.tls,
    });
    let runtime: NodeRuntime | undefined;
    const node = new QuorumNode({
      id: options.id,
      storage,
      clock: systemClock,
      random: systemRandom,
      config: options.config,
      ...(initialLayout ? { initialLayout } : {}),
      onLayout: (layout, previous) => {
        runtime?.applyPeerAddresses(layout);
        // Another layout of the version this node ran: members were started with different settings.
        if (layout.version === previous.version) {
          logger.warn(
            { layoutVersion: layout.version },
            'a member runs another layout of this version, and this node takes it (every node takes the same one): start every member with the same --initial-cluster, --strategy, --rf and --vnodes',
          );
        } else logger.info({ layoutVersion: layout.version }, 'adopted cluster layout');
      },
      onMemberState: (id, state) => logger.info({ member: id, state }, 'member state changed'),
    });
    runtime = new NodeRuntime(node, storage, transport, options);
    runtime.applyPeerAddresses(node.layout);
    transport.onBatch((batch) => {
      try {
        node.receive(batch);
      } catch (error) {
        logger.error({ err: error }, 'failed to handle a batch of peer messages');
      }
      runtime?.flush();
    });
    try {
      await transport.start();
    } catch (error) {
      storage.close();
      throw error;
    }
    runtime.startTimers();
    node.start();
    runtime.flush();
    logger.info({ id: options.id, peer: options.peer, layoutVersion: node.layout.version }, 'node started');
    return runtime;
  }

  /**
   * Hands everything the core wants sent to the transport. A message may reveal or acknowledge what
   * this node has committed (a write's acknowledgement, a read's answer), so while commits are not yet
   * on disk every message waits for the fdatasync that covers them: no replica acknowledges a write, or
   * shows a value, that a power loss could take back. Held messages keep their order; a client
   * request's own messages may overtake them (see flushRequest), as the protocol allows.
   */
  flush(): void {
    const envelopes = this.node.takeOutbox();
    if (envelopes.length === 0) return;
    const { storage } = this;
    if (storage.durable) {
      for (const envelope of envelopes) this.transport.send(envelope);
      return;
    }
    const room = (this.options.heldMessagesMax ?? heldMessagesMaxDefault) - this.heldCount;
    if (envelopes.length > room) {
      this.heldDroppedCount += envelopes.length - Math.max(0, room);
      envelopes.length = Math.max(0, room);
      if (!this.heldDropWarned) {
        this.heldDropWarned = true;
        this.options.logger.warn(
          { held: this.heldCount, syncRunningMs: Math.round(storage.syncRunningMs()) },
          'dropping messages: too many wait for an fdatasync that has not finished',
        );
      }
      if (envelopes.length === 0) return;
    }
    const generation = storage.commitGeneration;
    this.heldCount += envelopes.length;
    if (this.held?.generation === generation) {
      this.held.envelopes.push(...envelopes);
      return;
    }
    const held = { generation, envelopes };
    this.held = held;
    storage.whenDurable(() => {
      if (this.held === held) this.held = undefined;
      this.heldCount -= held.envelopes.length;
      this.heldDropWarned = false;
      if (this.stopped || this.node.isPaused) return;
      for (const envelope of held.envelopes) this.transport.send(envelope);
    });
  }

  /**
   * Sends what a client request produced at once: its messages carry the request (a new entry, a key
   * to read), nothing this node has stored, so they need not wait for its pending fdatasync.
   */
  private flushRequest(): void {
    for (const envelope of this.node.takeOutbox()) this.transport.send(envelope);
  }

  put(key: string, value: Uint8Array, options: Partial<WriteOptions>): Promise<WriteOutcome> {
    return promised((callback) => this.putThen(key, value, options, callback));
  }

  remove(key: string, options: Partial<WriteOptions>): Promise<WriteOutcome> {
    return promised((callback) => this.removeThen(key, options, callback));
  }

  get(key: string, options: Partial<ReadOptions>): Promise<ReadOutcome> {
    return promised((callback) => this.getThen(key, options, callback));
  }

  // The same operations with a callback, for the RESP server: a read at `one` is answered within the
  // call, and its reply can go out in the same socket write as the others of that read, with no hop
  // through promises (each took several microtask jobs per request).

  putThen(key: string, value: Uint8Array, options: Partial<WriteOptions>, callback: RequestCallback<WriteOutcome>): void {
    this.request('put', (done) => this.startWrite(done, () => this.node.put(key, value, options, done)), callback);
  }

  removeThen(key: string, options: Partial<WriteOptions>, callback: RequestCallback<WriteOutcome>): void {
    this.request('delete', (done) => this.startWrite(done, () => this.node.remove(key, options, done)), callback);
  }

  /**
   * Starts a write this node coordinates, unless the process has just stood still (SIGSTOP, a paused
   * VM, a synchronous stall) for longer than a request's timeout. A write read right after that may
   * have waited in the kernel while its client gave up and wrote the key through another node; given
   * a version now, it would win over that newer, acknowledged write (a fault probe: 10 of 10 over
   * RESP, and over HTTP without a deadline header). The node cannot tell when a request was sent, so
   * it refuses every write for a request timeout after it stood still: what piled up on open
   * connections is read before the tick runs again, and what came on new ones a loop turn later.
   */
  private startWrite<T>(done: Callback<T>, start: () => void): void {
    const now = performance.now();
    const stillMs = this.ticked ? now - this.lastTickAtMs : 0;
    if (stillMs <= this.node.config.requestTimeoutMs && now >= this.writesRefusedUntilMs) return start();
    done({
      ok: false,
      error: new QuorumError(
        'UNAVAILABLE',
        'this node stood still (stopped or stalled) for longer than a request timeout just now: a write read now may be older than its ' +
          "client's timeout, so it is not started; send it again",
        { stoodStill: true }, // the front and the client send it on to another node, as for a paused one
      ),
    });
  }

  /** A conditional write (keyPaxos.ts): `spec` says what it requires of the key's current value and what it writes (updateSpec.ts). */
  update(key: string, spec: UpdateSpec, options: UpdateOptions = {}): Promise<UpdateOutcome> {
    return promised((callback) => this.updateThen(key, spec, options, callback));
  }

  updateThen(key: string, spec: UpdateSpec, options: UpdateOptions, callback: RequestCallback<UpdateOutcome>): void {
    this.request('update', (done) => this.startWrite(done, () => this.node.update(key, spec, options, done)), callback);
  }

  getThen(key: string, options: Partial<ReadOptions>, callback: RequestCallback<ReadOutcome>): void {
    this.request('get', (done) => this.node.get(key, options, done), callback);
  }

  repairNow(): SessionProgress[] {
    const sessions = this.node.repairNow();
    this.flush();
    return sessions;
  }

  /** A topology change through the layout coordinator; resolves with the new layout. */
  proposeChange(change: LayoutChange): Promise<Layout> {
    return this.call<Layout>((callback) => this.node.proposeChange(change, callback));
  }

  /**
   * A simulated crash. The requests this node coordinates, and the topology changes it asked for,
   * are failed at once, as a crashed process's clients see their connections drop: paused, the core
   * runs no deadlines and would hold them until the resume. Their outcome is unknown (a write may
   * have reached replicas, the layout coordinator may make the change), like a timeout's.
   */
  pause(): void {
    this.node.pause();
    this.options.logger.warn('paused: simulating a crash, answering nothing until resumed');
    const error = new QuorumError(
      'UNAVAILABLE',
      `node ${this.node.id} failed (simulated crash) with this request in flight: it may still take effect (a write may have been applied)`,
      { paused: true },
    );
    for (const abandon of this.unanswered.values()) abandon(error);
  }

  resume(): void {
    // The front's /recover resumes every node it names, paused or not: only a real resume is news.
    if (!this.node.isPaused) return;
    this.node.resume();
    this.flush();
    this.options.logger.warn('resumed');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.syncTimer);
    await this.transport.stop();
    this.storage.close();
    await this.storage.whenClosed(); // so that the data directory can be removed once stop resolves
  }

  /**
   * A client read or write: the core only sends messages for it (it writes nothing itself). Like a
   * promise, the first answer counts and a throw is an answer.
   *
   * The callback never runs inside the core's call stack. What it starts next (a RESP connection's
   * next command) would enter the core in the middle of a step, say a batch of peer messages, and its
   * flushRequest would send the acknowledgements that step queued before their fdatasync (tried:
   * redis-benchmark -P 16 then failed with WRITE_CONTENTION). An answer given during `start` (a read
   * at `one` from this node's own copy) is passed on once `start` returns; a later one, in a microtask,
   * after the step and its flush.
   */
  private request<T>(operation: Operation, start: (done: Callback<T>) => void, callback: RequestCallback<T>): void {
    const measure = this.metrics.startRequest(operation);
    let starting = true;
    let answer: Parameters<RequestCallback<T>>[0] | undefined;
    const deliver = (): void => {
      const result = answer as Parameters<RequestCallback<T>>[0];
      measure(result.ok ? 'ok' : (result.error as { code?: unknown } | null | undefined)?.code);
      try {
        callback(result);
      } catch (error) {
        this.options.logger.error({ err: error }, `answering a ${operation} failed`);
      }
    };
    this.startAnsweredOnce(start, (result) => {
      answer = result;
      if (!starting) queueMicrotask(deliver);
    });
    const answeredAtOnce = answer !== undefined;
    starting = false;
    this.flushRequest();
    if (answeredAtOnce) deliver();
  }

  /** An admin request (a topology change): answered once, and at the pause like a client's. */
  private call<T>(start: (callback: Callback<T>) => void): Promise<T> {
    return promised<T>((callback) => {
      this.startAnsweredOnce(start, callback);
      this.flush();
    });
  }

  /**
   * Starts a request whose first answer is the only one passed to `answer` (a throw is an answer).
   * Until then `pause` can answer it. A paused node's core sends nothing and runs no deadlines:
   * started while paused, the request would wait for the resume, so it is refused instead.
   */
  private startAnsweredOnce<T>(start: (done: Callback<T>) => void, answer: RequestCallback<T>): void {
    let answered = false;
    const id = this.nextRequestId++;
    const done: RequestCallback<T> = (result) => {
      if (answered) return;
      answered = true;
      this.unanswered.delete(id);
      answer(result);
    };
    const abandon = (error: QuorumError): void => done({ ok: false, error });
    this.unanswered.set(id, abandon);
    try {
      if (this.node.isPaused) abandon(pausedError(this.node.id));
      else start(done);
    } catch (error) {
      done({ ok: false, error });
    }
  }

  /** Messages that wait for an fdatasync to be sent (acknowledgements, read answers). */
  get messagesHeld(): number {
    return this.heldCount;
  }

  /** Messages dropped since the start because heldMessagesMax were already held. */
  get messagesHeldDropped(): number {
    return this.heldDroppedCount;
  }

  private startTimers(): void {
    this.lastTickAtMs = performance.now();
    this.tickTimer = setInterval(() => {
      const now = performance.now();
      const stillMs = now - this.lastTickAtMs;
      this.lastTickAtMs = now;
      // Not the first tick: before it the node was still starting (compiling, opening the API), and
      // had read no request yet.
      const wasRunning = this.ticked;
      this.ticked = true;
      if (wasRunning && stillMs > this.node.config.requestTimeoutMs) {
        this.writesRefusedUntilMs = now + this.node.config.requestTimeoutMs;
        this.options.logger.warn({ stillMs: Math.round(stillMs) }, 'the process stood still; writes are refused for a request timeout');
      }
      try {
        this.node.tick();
      } catch (error) {
        this.options.logger.error({ err: error }, 'tick failed');
      }
      this.flush();
      this.warnOfSlowSync();
    }, this.options.tickIntervalMs ?? 10);
    if (this.options.fsync === 'periodic') {
      this.syncTimer = setInterval(() => this.storage.sync(), this.options.syncIntervalMs ?? 1000);
    }
  }

  /**
   * A disk that stops answering leaves an fdatasync running for ever: the node then acknowledges
   * nothing and holds every message that waits for it. Nothing is lost (they were not acknowledged),
   * but the node is as good as down while it looks up: said every few seconds, as etcd warns of
   * slow fsyncs, so that an operator sees why.
   */
  private warnOfSlowSync(): void {
    const runningMs = this.storage.syncRunningMs();
    if (runningMs < slowSyncWarnMs || Date.now() - this.slowSyncWarnedAt < slowSyncWarnMs) return;
    this.slowSyncWarnedAt = Date.now();
    this.options.logger.warn(
      { runningMs: Math.round(runningMs), messagesHeld: this.heldCount },
      'the fdatasync of the write-ahead log has not returned: this node acknowledges nothing until it does; is the disk failing?',
    );
  }

  /**
   * Peer addresses of the members, and of the removed nodes the purger still asks (departed.ts).
   * Called while the core adopts a layout, inside its storage transaction: an address the transport
   * cannot use is logged, never thrown, which would roll the adoption back on disk only.
   */
  private applyPeerAddresses(layout: Layout): void {
    for (const member of [...layout.members, ...this.node.departed]) {
      if (member.id === this.options.id) continue;
      try {
        this.transport.setPeer(member.id, parseHostPort(member.peer));
      } catch (error) {
        this.options.logger.error({ err: error, member: member.id, peer: member.peer }, 'cannot use the peer address of a member');
      }
    }
  }
}

/** The answer of a paused node (a simulated crash) to a request: ask another node. */
function pausedError(id: string): QuorumError {
  return new QuorumError('UNAVAILABLE', `node ${id} is failed (simulated crash)`, { paused: true });
}

function promised<T>(start: (callback: RequestCallback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((result) => (result.ok ? resolve(result.value) : reject(result.error))));
}

/** The member ids of a stored layout; undefined if malformed (node.ts says so when it starts). */
function storedMembers(stored: string): string[] | undefined {
  try {
    const members = (JSON.parse(stored) as { members?: unknown }).members;
    return Array.isArray(members) ? members.map((m: { id?: unknown }) => String(m?.id)) : undefined;
  } catch {
    return undefined;
  }
}
