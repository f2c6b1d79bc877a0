// The Redis-protocol (RESP2/RESP3) server of a node: a thin socket layer over the command table.
// Every data command goes through the node's coordinator, like the HTTP API.
//
// Pipelining. A client may send many commands before reading any answer. They are decoded as they
// arrive and answered strictly in request order, although they complete out of order: each command
// gets a slot in the connection's queue, and the answered prefix of the queue is written in one
// socket.write, once per read (or once per turn of the event loop for commands that completed
// later).
//
// Ordering within a connection. Commands on different keys run concurrently. Commands on one key run
// as if one after the other: a read waits for earlier writes of its keys, a write waits for every
// earlier command on its keys (so SET k 1, SET k 2, GET k pipelined answer 2, and INCRs from one
// connection never lose a count). SCAN, KEYS and DBSIZE wait for every earlier data command, and
// later data commands wait for them. Connection commands (HELLO, AUTH, CLIENT, QUORUMKV, ...) run at
// once, in order, so a pipelined command sees the protocol, login and level set before it.
//
// Limits. A malformed or oversized frame is answered `-ERR Protocol error: ...` and closes that
// connection (after the answers before it), never the server. Reading pauses while a connection
// holds too many unwritten commands, or too many of their bytes (arguments and answers: 10,000
// pipelined SETs of 1 MiB waiting behind a slow one would otherwise hold 10 GiB), or too many
// unsent bytes.

import net from 'node:net';
import tls from 'node:tls';
import type { ReadOptions, WriteOptions } from '../../core/coordinator.js';
import type { ConsistencyLevel } from '../../core/quorum.js';
import { QuorumError } from '../../core/errors.js';
import type { HostPort } from '../../runtime/address.js';
import { createClusterScan } from '../../runtime/clusterScan.js';
import type { NodeRuntime } from '../../runtime/nodeRuntime.js';
import type { ApiAuth } from '../auth.js';
import { removedError } from '../errors.js';
import { clusterView } from '../views.js';
import { encodeError, type Protocol } from './replies.js';
import {
  argumentCountMaxDefault,
  commandBytesMaxDefault,
  inlineBytesMaxDefault,
  RequestDecoder,
  unauthenticatedLimits,
  type DecoderLimits,
  type DecoderSink,
} from './requests.js';
import { CommandOrder, type OrderedCall } from './commandOrder.js';
import { errorReplyFor, errors, replyWithError, unknownCommand, wrongArity } from './commands/common.js';
import { ScanCursors } from './commands/cursors.js';
import { commandTable } from './commands/index.js';
import type { Call, CommandSpec, KvStore, NodeFacts, ServerContext, ServerStats } from './commands/types.js';
import { Session } from './session.js';

export interface RespServerHandle {
  readonly address: HostPort;
  close(): Promise<void>;
}

export interface RespServerLimits extends DecoderLimits {
  /** Unwritten commands on one connection before it stops reading. */
  readonly pendingCommandsMax: number;
  /** Bytes of unwritten commands (their arguments and answers) on one connection before it stops reading. */
  readonly pendingBytesMax: number;
  /** Unsent reply bytes on one connection before it stops reading. */
  readonly outputBytesHighWater: number;
}

const pendingCommandsMaxDefault = 10_000;
const pendingBytesMaxDefault = 64 * 1024 * 1024;
const outputBytesHighWaterDefault = 64 * 1024 * 1024;
/** After a protocol error or QUIT, a peer that keeps the connection open is cut off after this. */
const closeGraceMs = 10_000;
/** A stopping server waits this long past a request timeout for its commands' answers to go out. */
const closeAnswersMarginMs = 1000;

/**
 * `tls`: serve RESP over TLS with this certificate (`redis-cli --tls --cacert ...`, a `rediss://`
 * URL); plain TCP without.
 */
export async function startRespServer(
  runtime: NodeRuntime,
  address: HostPort,
  auth: ApiAuth,
  tlsOptions?: { readonly cert: Buffer; readonly key: Buffer },
): Promise<RespServerHandle> {
  const config = runtime.node.config;
  const limits: RespServerLimits = {
    bulkBytesMax: config.valueBytesMax,
    argumentCountMax: argumentCountMaxDefault,
    inlineBytesMax: inlineBytesMaxDefault,
    commandBytesMax: commandBytesMaxDefault,
    pendingCommandsMax: pendingCommandsMaxDefault,
    pendingBytesMax: pendingBytesMaxDefault,
    outputBytesHighWater: outputBytesHighWaterDefault,
  };
  const connections = new Set<Connection>();
  // Half open: a client that shuts down its side after the last command (`nc -N`, a script's pipe)
  // still gets every answer; the connection ends once they are written (Redis does the same).
  const socketOptions = { noDelay: true, keepAlive: true, allowHalfOpen: true };
  const server = tlsOptions ? tls.createServer({ ...socketOptions, cert: tlsOptions.cert, key: tlsOptions.key }) : net.createServer(socketOptions);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const listening: HostPort = typeof bound === 'object' && bound !== null ? { host: address.host, port: bound.port } : address;

  const logger = runtime.options.logger;
  const context: ServerContext = {
    store: runtimeStore(runtime),
    scan: createClusterScan(runtime, auth.token),
    cursors: new ScanCursors(),
    auth,
    node: runtimeFacts(runtime, listening.port),
    commands: commandTable(),
    stats: { connectionsReceived: 0, commandsProcessed: 0, rejectedConnections: 0 } satisfies ServerStats,
    startedAtMs: Date.now(),
    nowMs: () => Date.now(),
    clientLines: (nowMs) => [...connections].map((c) => c.describe(nowMs)),
    connectedClients: () => connections.size,
    logError: (error, command) => logger.error({ err: error, command }, 'Redis-protocol command failed'),
  };

  let nextClientId = 1;
  // A TLS server's 'connection' is the bare TCP socket; its clients speak once the handshake is done.
  server.on(tlsOptions ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    context.stats.connectionsReceived += 1;
    const connection = new Connection(socket, context, limits, nextClientId++, () => connections.delete(connection));
    connections.add(connection);
  });
  server.on('error', (error) => logger.error({ err: error }, 'Redis-protocol listener failed'));

  return {
    address: listening,
    // Commands under way are answered before their connection ends, as HTTP answers them: dropped, a
    // rolling restart left each client of the stopping node with writes of unknown outcome (a probe
    // of hand-run clusters). Input after the close is not read. A command still unanswered a request
    // timeout later (or a client that keeps its side open) is cut off.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of connections) connection.closeAfterAnswers();
        setTimeout(() => {
          for (const connection of connections) connection.destroy();
        }, runtime.node.config.requestTimeoutMs + closeAnswersMarginMs).unref();
      }),
  };
}

// ---- the data path and facts of a running node ----------------------------------------------------

function runtimeStore(runtime: NodeRuntime): KvStore {
  const node = runtime.node;
  const readOptions: Record<ConsistencyLevel, Partial<ReadOptions>> = {
    one: { consistency: 'one' },
    quorum: { consistency: 'quorum' },
    all: { consistency: 'all' },
  };
  const writeOptions: Record<ConsistencyLevel, Partial<WriteOptions>> = {
    one: { consistency: 'one', sloppy: false },
    quorum: { consistency: 'quorum', sloppy: false },
    all: { consistency: 'all', sloppy: false },
  };
  const defaults = {};
  // Through NodeRuntime's operations, like the HTTP routes, so that RESP traffic counts in the
  // node's request metrics.
  return {
    get(key, consistency, callback) {
      runtime.getThen(key, consistency ? readOptions[consistency] : defaults, callback);
    },
    put(key, value, write, callback) {
      const options = write.consistency ? writeOptions[write.consistency] : defaults;
      runtime.putThen(key, value, write.expiresMs === undefined ? options : { ...options, expiresMs: write.expiresMs }, callback);
    },
    remove(key, consistency, callback) {
      runtime.removeThen(key, consistency ? writeOptions[consistency] : defaults, callback);
    },
    update(key, spec, callback) {
      runtime.updateThen(key, spec, {}, callback);
    },
  };
}

function runtimeFacts(runtime: NodeRuntime, tcpPort: number): NodeFacts {
  const node = runtime.node;
  return {
    nodeId: node.id,
    tcpPort,
    defaultConsistency: node.config.defaultConsistency,
    keyBytesMax: node.config.keyBytesMax,
    valueBytesMax: node.config.valueBytesMax,
    isPaused: () => node.isPaused,
    isMember: () => node.isMember,
    localCounts: () => ({ ...runtime.storage.counts(), expiring: runtime.storage.countExpiring() }),
    members: () => clusterView(runtime).members,
    layoutSummary: () => ({
      strategy: node.layout.strategy,
      rf: node.layout.rf,
      replicas: node.placement.servingCount,
      version: node.layout.version,
    }),
    operationsInFlight: () => node.status().operationsInFlight,
  };
}

// ---- one command in flight ------------------------------------------------------------------------

class PendingCall implements Call, OrderedCall<PendingCall> {
  answer: Buffer | undefined = undefined;
  /** Earlier commands this one still waits for. */
  waiting = 0;
  dependents: PendingCall[] | undefined = undefined;
  /** Takes part in per-key ordering (a data command). */
  ordered = false;
  done = false;
  spec: CommandSpec | undefined = undefined;
  /** The bytes of its arguments, counted in the connection's `heldBytes` until it is written. */
  readonly argBytes: number;

  constructor(
    private readonly connection: Connection,
    readonly seq: number,
    readonly args: readonly Buffer[],
    readonly protocol: Protocol,
    readonly consistency: ConsistencyLevel | undefined,
    readonly session: Session,
    readonly server: ServerContext,
  ) {
    let argBytes = 0;
    for (const arg of args) argBytes += arg.length;
    this.argBytes = argBytes;
  }

  reply(bytes: Buffer): void {
    this.connection.complete(this, bytes);
  }

  replyAndClose(bytes: Buffer): void {
    this.connection.closeAfterAnswers();
    this.connection.complete(this, bytes);
  }
}

// ---- one client connection ------------------------------------------------------------------------

class Connection implements DecoderSink {
  private readonly decoder: RequestDecoder;
  private readonly session: Session;
  /** Commands in request order; [head, length) are not yet written, and those before are released. */
  private queue: (PendingCall | undefined)[] = [];
  private head = 0;
  /** Arguments and answers of the commands in [head, length): what reading more would add to. */
  private heldBytes = 0;
  private nextSeq = 0;
  /** Per-key order of the data commands not yet answered. */
  private readonly order = new CommandOrder<PendingCall>();
  /** Commands whose waits are over, to start without recursion. */
  private readonly ready: PendingCall[] = [];
  private draining = false;
  /** Inside a socket read: answers are written once at its end. */
  private inRead = false;
  private flushScheduled = false;
  private closing = false;
  private closed = false;
  private readingPaused = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly server: ServerContext,
    private readonly limits: RespServerLimits,
    clientId: number,
    private readonly onClose: () => void,
  ) {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const local = `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`;
    this.session = new Session(clientId, remote, local, Date.now(), Boolean(server.auth.token));
    this.decoder = new RequestDecoder(this, this.session.authenticated ? limits : unauthenticatedLimits(limits));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateFlow());
    socket.on('end', () => this.closeAfterAnswers());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  describe(nowMs: number): string {
    return this.session.describe(nowMs, this.socket.writableLength, this.queue.length - this.head);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.decoder.stop();
    this.queue = [];
    this.head = 0;
    this.heldBytes = 0;
    this.order.forget();
    this.socket.destroy();
    this.onClose();
  }

  /** QUIT: stop decoding; end the connection once every queued answer is written. */
  closeAfterAnswers(): void {
    if (this.closing) return;
    this.closing = true;
    this.decoder.stop();
    if (!this.inRead) this.flush(); // nothing may be left to answer
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.decoder.isStopped) return; // after QUIT or a protocol error: input is discarded
    this.inRead = true;
    try {
      this.decoder.push(chunk);
    } finally {
      this.inRead = false;
    }
    this.flush();
    this.updateFlow();
  }

  // ---- DecoderSink ----

  command(args: Buffer[]): void {
    const wasAuthenticated = this.session.authenticated;
    this.accept(args);
    // AUTH and HELLO ... AUTH run at once: the commands after them in this very chunk get the full limits.
    if (!wasAuthenticated && this.session.authenticated) this.decoder.setLimits(this.limits);
  }

  private accept(args: Buffer[]): void {
    const session = this.session;
    const server = this.server;
    server.stats.commandsProcessed += 1;
    session.commandsReceived += 1;
    session.lastCommandAtMs = Date.now();
    const call = new PendingCall(this, this.nextSeq++, args, session.protocol, session.consistency, session, server);
    this.queue.push(call);
    this.heldBytes += call.argBytes;

    const name = (args[0] as Buffer).toString('latin1').toLowerCase();
    const spec = server.commands.get(name);
    if (spec === undefined) return this.complete(call, unknownCommand(args));
    session.lastCommand = name;
    const count = args.length;
    if ((spec.arity > 0 && count !== spec.arity) || count < -spec.arity) return this.complete(call, wrongArity(spec.name));
    if (!session.authenticated && !spec.noAuth) return this.complete(call, errors.noAuth);
    if (spec.needsStore && server.node.isPaused()) {
      return this.complete(call, errorReplyFor(new QuorumError('UNAVAILABLE', `node ${server.node.nodeId} is failed (simulated crash)`)));
    }
    if (spec.needsStore && !server.node.isMember()) return this.complete(call, errorReplyFor(removedError(server.node.nodeId)));
    call.spec = spec;
    if (spec.access === 'none') return this.run(call);
    call.ordered = true;
    if (this.order.admit(call, spec)) this.run(call);
  }

  protocolError(message: string): void {
    const call = new PendingCall(this, this.nextSeq++, [], this.session.protocol, undefined, this.session, this.server);
    this.queue.push(call);
    this.closing = true;
    this.complete(call, encodeError(`ERR Protocol error: ${message}`));
  }

  private run(call: PendingCall): void {
    try {
      (call.spec as CommandSpec).run(call);
    } catch (error) {
      if (call.answer === undefined) replyWithError(call, error);
    }
  }

  private finishOrdered(call: PendingCall): void {
    this.order.finish(call, this.ready);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.ready.shift(); next !== undefined; next = this.ready.shift()) {
        if (!this.closed) this.run(next);
      }
    } finally {
      this.draining = false;
    }
  }

  // ---- answers ----

  complete(call: PendingCall, bytes: Buffer): void {
    if (call.answer !== undefined) return; // answered once only
    call.answer = bytes;
    this.heldBytes += bytes.length;
    if (call.ordered) this.finishOrdered(call);
    if (this.inRead || this.closed) return;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Writes the answered prefix of the queue in one write, and lets go of the commands written. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const queue = this.queue;
    let end = this.head;
    let bytes = 0;
    while (end < queue.length) {
      const answer = (queue[end] as PendingCall).answer;
      if (answer === undefined) break;
      bytes += answer.length;
      end += 1;
    }
    if (end > this.head) {
      const data = end - this.head === 1 ? ((queue[this.head] as PendingCall).answer as Buffer) : Buffer.allocUnsafe(bytes);
      let offset = 0;
      for (let i = this.head; i < end; i++) {
        const call = queue[i] as PendingCall;
        if (data !== call.answer) offset += (call.answer as Buffer).copy(data, offset);
        this.heldBytes -= call.argBytes + (call.answer as Buffer).length;
        queue[i] = undefined;
      }
      if (end === queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (end > 1024) {
        this.queue = queue.slice(end);
        this.head = 0;
      } else {
        this.head = end;
      }
      this.socket.write(data);
    }
    if (this.closing && this.head === this.queue.length) this.endGracefully();
    else this.updateFlow();
  }

  private endGracefully(): void {
    if (this.socket.writableEnded) return;
    this.socket.end();
    setTimeout(() => this.destroy(), closeGraceMs).unref();
  }

  /** Pauses reading while too much is unanswered or unsent; resumes when it drained. */
  private updateFlow(): void {
    if (this.closed) return;
    const tooMuch =
      this.queue.length - this.head > this.limits.pendingCommandsMax ||
      this.heldBytes > this.limits.pendingBytesMax ||
      this.socket.writableLength > this.limits.outputBytesHighWater;
    if (tooMuch && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    } else if (!tooMuch && this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }
}
