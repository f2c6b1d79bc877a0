// Node-to-node transport over TCP. Each node keeps one outgoing connection per peer, used only for
// sending, and accepts incoming connections used only for receiving (inbound.ts), so A->B and B->A
// are two connections and neither side ever has to decide who owns a shared one.
//
// Delivery is best effort: `send` never blocks and never throws for network reasons. A message is
// dropped (and counted) when its peer is unknown or its queue is full, and frames written to a
// connection that then fails are lost; the protocol above copes with loss by timeouts. What the
// transport does guarantee is order per peer and batching:
// - outgoing frames queued in one event-loop turn are written with one socket.write (throughput);
// - incoming frames that arrive in one event-loop turn, from every peer and from this node itself,
//   are handed to the core as one batch, which the core applies in one storage transaction (group
//   commit: one fsync for all of them, rather than one per connection and one for local writes).
//
// Connections are authenticated with the cluster secret (handshake.ts): the server sends a random
// nonce, the client answers with HMAC-SHA256(secret, nonce), and only then does the server send a
// welcome and accept envelopes. The client waits for the welcome before writing any envelope, so a
// rejected connection loses nothing from the queue (frameQueue.ts).
//
// The server acknowledges what it receives (an ack frame at most every `stallTimeoutMs / 4`), and a
// connection whose frames go unacknowledged for `stallTimeoutMs` is closed and dialled again. Across a
// network cut, `write` goes on succeeding: the kernel keeps the frames and retransmits them with a
// backoff that doubles up to two minutes, so after the cut healed, nodes saw each other dead for about
// as long again as it had lasted (70 s after a cut of 150 s; found with real cuts between network
// namespaces, test/integration/partition.test.ts). A fresh connection gets through within seconds.
//
// A frame that waited in a peer's queue longer than `queueAgeMaxMs` (the runtime passes the request
// timeout) is dropped rather than sent: its request has been answered or has failed by then, and a
// write it carried is kept as a hint by its coordinator. Sent anyway, the few seconds of traffic
// queued while a peer was down reached it in one flood when it came back: thousands of reads and
// writes nobody waited for, handled before anything current (`bench failover`).

import net from 'node:net';
import tls from 'node:tls';
import type { Envelope } from '../core/messages.js';
import { ackWithinMsMin, isAck, isChallenge, isWelcome, proofFor, type AckFrame, type ProofFrame } from './handshake.js';
import { checkFrameBytesMax, encodeFrame, FrameDecoder, frameBytesMaxDefault, frameHeaderBytes } from './codec.js';
import { FrameQueue } from './frameQueue.js';
import { InboundConnections } from './inbound.js';
import { clearAckTimer, clearHandshakeTimer, configurePeerSocket, errorMessage, handshakeFrameBytesMax, type TransportLogger } from './links.js';

export type { TransportLogger } from './links.js';

export interface TransportAddress {
  host: string;
  port: number;
}

export interface TcpTransportOptions {
  nodeId: string;
  listen: TransportAddress;
  clusterSecret: string;
  /** Bound on frames queued for one peer (and on envelopes queued for local delivery). */
  queueMessagesMax?: number;
  /** Bound on bytes queued for one peer: 50,000 messages of up to 1 MiB would not fit in memory. */
  queueBytesMax?: number;
  /** Frames queued longer than this are dropped, not sent (default: kept until sent). */
  queueAgeMaxMs?: number;
  frameBytesMax?: number;
  /** First reconnect delay; it doubles on each failure up to `reconnectDelayMaxMs`. */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  /** A connection that has not completed its handshake by then is closed. */
  handshakeTimeoutMs?: number;
  /**
   * A connection whose peer takes in nothing for this long while there is data for it, or (a peer
   * that acknowledges) acknowledges nothing of what it was sent, is closed and dialled again. TCP
   * alone would keep it for minutes: a peer host that vanished without a reset (a power loss, a
   * partition), or came back as a new process that the old socket never reaches.
   */
  stallTimeoutMs?: number;
  /** Where warnings go; its lines should name the node (the transport's objects do not). */
  logger?: TransportLogger;
  /**
   * Mutual TLS (runtime/tls.ts): every connection, both ways, presents `cert` and accepts only a peer
   * whose certificate `ca` signed; a dialled peer's must also name the address dialled. Without it,
   * plain TCP (the cluster secret's handshake runs either way).
   */
  tls?: PeerTls | undefined;
}

export interface PeerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

export interface PeerStats {
  connected: boolean;
  queued: number;
}

export interface TransportStats {
  /** Envelopes written to a socket or delivered locally. */
  sent: number;
  /** Envelopes handed to the batch handler (from the network or local). */
  received: number;
  /** Envelopes given up: unknown peer, full queue, oversized, peer removed, no handler, stopped. */
  dropped: number;
  peers: Record<string, PeerStats>;
}

export type BatchHandler = (batch: Envelope[]) => void;

const queueMessagesMaxDefault = 50_000;
const queueBytesMaxDefault = 64 * 1024 * 1024;
const reconnectDelayMsDefault = 100;
const reconnectDelayMaxMsDefault = 1000;
const handshakeTimeoutMsDefault = 5000;
const stallTimeoutMsDefault = 5000;
/** Bound on one socket.write, so draining a long queue does not build one huge buffer. */
const writeBatchBytesMax = 1024 * 1024;
/** Bound on accepted connections, authenticated or not; a cluster needs one per peer. */
const inboundConnectionsMax = 1024;

/** One outgoing connection attempt; replaced, never reused, after it closes. */
interface OutgoingLink {
  readonly socket: net.Socket;
  readonly decoder: FrameDecoder;
  phase: 'challenge' | 'welcome' | 'ready';
  handshakeTimer: NodeJS.Timeout | null;
  /** Runs while a write waits for 'drain': the peer stopped taking data if it fires. */
  stallTimer: NodeJS.Timeout | null;
  /** The peer acknowledges frames (its welcome said so); `written` and `acked` count them. */
  acks: boolean;
  written: number;
  acked: number;
  /** Runs while frames are unacknowledged, restarted by each ack that makes progress. */
  ackTimer: NodeJS.Timeout | null;
  /** Why the link failed, reported once when it closes. */
  failure: string | null;
}

interface Peer {
  readonly nodeId: string;
  address: TransportAddress;
  /** Frames waiting for the connection (queued at performance.now()); bounded by queueMessagesMax and queueBytesMax. */
  readonly queue: FrameQueue;
  link: OutgoingLink | null;
  reconnectTimer: NodeJS.Timeout | null;
  reconnectDelayMs: number;
  flushImmediate: NodeJS.Immediate | null;
  /** The socket's buffer is full: write again on 'drain', not before, so our bounded queue holds the backlog. */
  awaitingDrain: boolean;
  /** One warning per outage, not one per retry. */
  outageLogged: boolean;
  removed: boolean;
}

/** Without a logger of its own (whose lines name the node already), warnings go to stderr. */
function stderrLogger(nodeId: string): TransportLogger {
  return {
    warn(obj, msg) {
      console.warn(`[transport ${nodeId}] ${msg}`, obj);
    },
  };
}

export class TcpTransport {
  private readonly nodeId: string;
  private readonly listenAddress: TransportAddress;
  private readonly secret: string;
  private readonly queueMessagesMax: number;
  private readonly queueBytesMax: number;
  private readonly queueAgeMaxMs: number;
  private readonly frameBytesMax: number;
  private readonly reconnectDelayMs: number;
  private readonly reconnectDelayMaxMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly stallTimeoutMs: number;
  private readonly logger: TransportLogger;

  private readonly peers = new Map<string, Peer>();
  private readonly inbound: InboundConnections;
  private server: net.Server | null = null;
  private handler: BatchHandler | null = null;
  /** Envelopes received (or sent to ourselves) this event-loop turn, delivered together. */
  private inbox: Envelope[] = [];
  private localQueued = 0;
  private inboxImmediate: NodeJS.Immediate | null = null;
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private readonly counters = { sent: 0, received: 0, dropped: 0 };
  private readonly tls: PeerTls | undefined;

  constructor(options: TcpTransportOptions) {
    this.tls = options.tls;
    this.nodeId = requireNonEmpty(options.nodeId, 'nodeId');
    this.secret = requireNonEmpty(options.clusterSecret, 'clusterSecret');
    this.listenAddress = requireAddress(options.listen, 'listen', 0); // port 0: any free port
    this.queueMessagesMax = requirePositiveInteger(options.queueMessagesMax ?? queueMessagesMaxDefault, 'queueMessagesMax');
    this.queueBytesMax = requirePositiveInteger(options.queueBytesMax ?? queueBytesMaxDefault, 'queueBytesMax');
    this.queueAgeMaxMs = options.queueAgeMaxMs === undefined ? Infinity : requirePositiveInteger(options.queueAgeMaxMs, 'queueAgeMaxMs');
    this.frameBytesMax = checkFrameBytesMax(options.frameBytesMax ?? frameBytesMaxDefault);
    this.reconnectDelayMs = requirePositiveInteger(options.reconnectDelayMs ?? reconnectDelayMsDefault, 'reconnectDelayMs');
    this.reconnectDelayMaxMs = Math.max(
      this.reconnectDelayMs,
      requirePositiveInteger(options.reconnectDelayMaxMs ?? reconnectDelayMaxMsDefault, 'reconnectDelayMaxMs'),
    );
    this.handshakeTimeoutMs = requirePositiveInteger(options.handshakeTimeoutMs ?? handshakeTimeoutMsDefault, 'handshakeTimeoutMs');
    this.stallTimeoutMs = requirePositiveInteger(options.stallTimeoutMs ?? stallTimeoutMsDefault, 'stallTimeoutMs');
    this.logger = options.logger ?? stderrLogger(this.nodeId);
    this.inbound = new InboundConnections({
      nodeId: this.nodeId,
      secret: this.secret,
      frameBytesMax: this.frameBytesMax,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      logger: this.logger,
      receive: (batch) => this.enqueue(batch),
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Starts listening; resolves once the port is bound. */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('transport was stopped; create a new one'));
    if (this.server) return Promise.reject(new Error('transport already started'));
    const accept = (socket: net.Socket): void => {
      if (this.stopped) socket.destroy();
      else this.inbound.accept(socket);
    };
    const server = this.tls
      ? tls.createServer({ ...this.tls, requestCert: true, rejectUnauthorized: true }, accept)
      : net.createServer(accept);
    // A peer without a certificate the CA signed (or one not speaking TLS) never gets to the handshake.
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) =>
      this.logger.warn({ from: socket.remoteAddress, error: error.message.trim() }, 'refused a peer connection: TLS handshake failed'),
    );
    server.maxConnections = inboundConnectionsMax;
    this.server = server;
    const { host, port } = this.listenAddress;
    return new Promise((resolve, reject) => {
      const onListenError = (error: NodeJS.ErrnoException): void => {
        this.server = null;
        server.close();
        const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.message;
        reject(new Error(`node ${this.nodeId} cannot listen on ${host}:${port}: ${reason}`, { cause: error }));
      };
      server.once('error', onListenError);
      server.listen({ host, port }, () => {
        server.off('error', onListenError);
        server.on('error', (error) => this.logger.warn({ error: error.message }, 'server error'));
        resolve();
      });
    });
  }

  /** The bound address (useful with port 0). */
  address(): TransportAddress {
    const bound = this.server?.address();
    if (!bound || typeof bound === 'string') throw new Error('transport is not listening');
    return { host: bound.address, port: bound.port };
  }

  /** Closes the server and every connection and cancels every timer; queued messages are discarded. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopped = true;
    for (const peer of this.peers.values()) this.discardPeer(peer);
    this.inbound.closeAll();
    if (this.inboxImmediate) clearImmediate(this.inboxImmediate);
    this.inboxImmediate = null;
    this.counters.dropped += this.inbox.length;
    this.inbox = [];
    this.localQueued = 0;
    const server = this.server;
    this.stopping = new Promise((resolve) => {
      if (!server) return resolve();
      // Resolves once every accepted socket has closed; they were all destroyed above.
      server.close(() => resolve());
    });
    return this.stopping;
  }

  // ---- peers -----------------------------------------------------------------------------------

  /** Adds or updates a peer. Throws on a malformed address: that is a configuration bug, not a network failure. */
  setPeer(nodeId: string, address: TransportAddress): void {
    requireNonEmpty(nodeId, 'nodeId');
    requireAddress(address, `address of ${nodeId}`, 1);
    // Messages to ourselves never touch the network, so our own address is not needed.
    if (nodeId === this.nodeId || this.stopped) return;
    const peer = this.peers.get(nodeId);
    if (!peer) {
      this.peers.set(nodeId, this.newPeer(nodeId, address));
      return;
    }
    if (peer.address.host === address.host && peer.address.port === address.port) return;
    peer.address = { host: address.host, port: address.port };
    this.redirect(peer);
  }

  /** Drops the connection to a peer's old address and, if anything is queued, connects to the new one now. */
  private redirect(peer: Peer): void {
    const link = peer.link;
    if (link) this.detachLink(peer, link);
    if (peer.reconnectTimer) clearTimeout(peer.reconnectTimer);
    peer.reconnectTimer = null;
    peer.reconnectDelayMs = this.reconnectDelayMs;
    peer.outageLogged = false;
    if (peer.queue.length > 0) this.connect(peer);
  }

  removePeer(nodeId: string): void {
    const peer = this.peers.get(nodeId);
    if (!peer) return;
    this.peers.delete(nodeId);
    this.discardPeer(peer);
  }

  private newPeer(nodeId: string, address: TransportAddress): Peer {
    return {
      nodeId,
      address: { host: address.host, port: address.port },
      queue: new FrameQueue(),
      link: null,
      reconnectTimer: null,
      reconnectDelayMs: this.reconnectDelayMs,
      flushImmediate: null,
      awaitingDrain: false,
      outageLogged: false,
      removed: false,
    };
  }

  private discardPeer(peer: Peer): void {
    peer.removed = true;
    if (peer.reconnectTimer) clearTimeout(peer.reconnectTimer);
    if (peer.flushImmediate) clearImmediate(peer.flushImmediate);
    peer.reconnectTimer = null;
    peer.flushImmediate = null;
    this.counters.dropped += peer.queue.clear();
    if (peer.link) this.detachLink(peer, peer.link);
  }

  // ---- sending ---------------------------------------------------------------------------------

  send(envelope: Envelope): void {
    if (this.stopped) {
      this.counters.dropped += 1;
      return;
    }
    if (envelope.to === this.nodeId) {
      this.sendLocally(envelope);
      return;
    }
    const peer = this.peers.get(envelope.to);
    // A queue full of frames too old to send makes room for new ones.
    if (peer && peer.queue.length >= this.queueMessagesMax) this.dropStale(peer);
    if (!peer || peer.queue.length >= this.queueMessagesMax) {
      this.counters.dropped += 1;
      return;
    }
    const frame = encodeFrame(envelope);
    if (peer.queue.bytes + frame.length > this.queueBytesMax) this.dropStale(peer);
    if (!this.admitFrame(peer, frame)) {
      this.counters.dropped += 1;
      return;
    }
    peer.queue.push(frame, performance.now());
    if (peer.link?.phase === 'ready') this.scheduleFlush(peer);
    else if (!peer.link && !peer.reconnectTimer) this.connect(peer);
  }

  /** Drops (and counts) the frames at the front of the queue that waited longer than queueAgeMaxMs. */
  private dropStale(peer: Peer): void {
    this.counters.dropped += peer.queue.dropQueuedBefore(performance.now() - this.queueAgeMaxMs);
  }

  private admitFrame(peer: Peer, frame: Buffer): boolean {
    if (frame.length - frameHeaderBytes > this.frameBytesMax) {
      // The receiver would close the connection on it, losing everything behind it: a bug upstream.
      this.logger.warn({ peer: peer.nodeId, frameBytes: frame.length, frameBytesMax: this.frameBytesMax }, 'dropping oversized message');
      return false;
    }
    return peer.queue.bytes + frame.length <= this.queueBytesMax;
  }

  private sendLocally(envelope: Envelope): void {
    if (this.localQueued >= this.queueMessagesMax) {
      this.counters.dropped += 1;
      return;
    }
    this.localQueued += 1;
    this.counters.sent += 1;
    // Asynchronous like a network delivery, so the core never re-enters itself from inside `send`.
    this.enqueue([envelope]);
  }

  private scheduleFlush(peer: Peer): void {
    if (peer.flushImmediate || peer.awaitingDrain) return;
    // One write per event-loop turn: everything sent during this turn goes out together.
    peer.flushImmediate = setImmediate(() => {
      peer.flushImmediate = null;
      this.flush(peer);
    });
  }

  /**
   * Writes now what waits for a scheduled flush. Called after a batch is handled, so that its replies
   * leave in this event-loop turn: a flush scheduled from inside a setImmediate would run only after
   * the next turn's I/O.
   */
  private flushScheduled(): void {
    for (const peer of this.peers.values()) {
      if (peer.flushImmediate === null) continue;
      clearImmediate(peer.flushImmediate);
      peer.flushImmediate = null;
      this.flush(peer);
    }
  }

  private flush(peer: Peer): void {
    const link = peer.link;
    if (!link || link.phase !== 'ready' || peer.queue.length === 0 || peer.awaitingDrain) return;
    this.dropStale(peer);
    if (peer.queue.length === 0) return;
    const batch = peer.queue.take(writeBatchBytesMax);
    this.counters.sent += batch.frames.length;
    const data = batch.frames.length === 1 ? (batch.frames[0] as Buffer) : Buffer.concat(batch.frames, batch.bytes);
    link.written += batch.frames.length;
    if (link.acks) link.ackTimer ??= this.ackDeadline(link);
    if (!link.socket.write(data)) {
      peer.awaitingDrain = true;
      link.stallTimer ??= this.deadline(link, 'stallTimer', `peer took in nothing for ${this.stallTimeoutMs} ms`);
    } else if (peer.queue.length > 0) this.scheduleFlush(peer);
  }

  // ---- outgoing connections --------------------------------------------------------------------

  private connect(peer: Peer): void {
    peer.reconnectTimer = null;
    if (peer.removed || this.stopped) return;
    const { host, port } = peer.address;
    const socket = this.tls ? tls.connect({ host, port, ...this.tls }) : net.connect({ host, port });
    configurePeerSocket(socket);
    const link: OutgoingLink = {
      socket,
      decoder: new FrameDecoder({ frameBytesMax: handshakeFrameBytesMax }),
      phase: 'challenge',
      handshakeTimer: setTimeout(() => this.failOutgoing(link, 'handshake timed out'), this.handshakeTimeoutMs),
      stallTimer: null,
      acks: false,
      written: 0,
      acked: 0,
      ackTimer: null,
      failure: null,
    };
    peer.link = link;
    socket.on('data', (chunk: Buffer) => this.onOutgoingData(peer, link, chunk));
    socket.on('drain', () => {
      clearStallTimer(link);
      if (peer.link !== link) return;
      peer.awaitingDrain = false;
      this.scheduleFlush(peer);
    });
    socket.on('error', (error) => {
      link.failure ??= error.message;
    });
    socket.on('close', () => this.onOutgoingClose(peer, link));
  }

  private onOutgoingData(peer: Peer, link: OutgoingLink, chunk: Buffer): void {
    if (peer.link !== link) return;
    let frames: unknown[];
    try {
      frames = link.decoder.push(chunk);
    } catch (error) {
      this.failOutgoing(link, `malformed frame from the server: ${errorMessage(error)}`);
      return;
    }
    // The server sends handshake frames, then only acks.
    for (const frame of frames) {
      const ok = link.phase === 'ready' && link.acks && isAck(frame) ? this.onAck(link, frame) : this.advanceOutgoingHandshake(peer, link, frame);
      if (!ok) return;
    }
  }

  /** Returns false once the link has failed. */
  private advanceOutgoingHandshake(peer: Peer, link: OutgoingLink, frame: unknown): boolean {
    if (link.phase === 'challenge' && isChallenge(frame)) {
      const proof: ProofFrame = {
        handshake: 'proof',
        nodeId: this.nodeId,
        proof: proofFor(this.secret, frame.nonce),
        ackWithinMs: Math.max(ackWithinMsMin, Math.floor(this.stallTimeoutMs / 4)),
      };
      link.phase = 'welcome';
      link.socket.write(encodeFrame(proof));
      return true;
    }
    if (link.phase === 'welcome' && isWelcome(frame)) {
      if (frame.nodeId !== peer.nodeId) {
        this.failOutgoing(link, `address ${formatAddress(peer.address)} is node ${JSON.stringify(frame.nodeId)}`);
        return false;
      }
      link.acks = frame.acks === true;
      this.onOutgoingReady(peer, link);
      return true;
    }
    // The server sends nothing after its welcome but acks; anything else is a protocol violation.
    this.failOutgoing(link, `unexpected handshake frame in phase ${link.phase}`);
    return false;
  }

  /** An ack that makes progress restarts the wait for the next; one for frames never sent fails the link. */
  private onAck(link: OutgoingLink, frame: AckFrame): boolean {
    if (frame.ack > link.written || frame.ack < link.acked) {
      this.failOutgoing(link, `ack of ${frame.ack} frames, ${link.acked} acked and ${link.written} sent`);
      return false;
    }
    if (frame.ack === link.acked) return true;
    link.acked = frame.ack;
    clearAckTimer(link);
    if (link.acked < link.written) link.ackTimer = this.ackDeadline(link);
    return true;
  }

  private ackDeadline(link: OutgoingLink): NodeJS.Timeout {
    return this.deadline(link, 'ackTimer', `peer acknowledged nothing for ${this.stallTimeoutMs} ms`);
  }

  /**
   * Fails `link` `stallTimeoutMs` from now unless its `timer` is cleared or replaced first (a drain,
   * an ack that makes progress). The decision waits for the I/O of the turn the timer fires in:
   * Node runs timers before it reads sockets, and a process that stood still past the deadline (a GC
   * pause, SIGSTOP) failed links whose ack was already in the socket (a soak: a node stopped for 8 s
   * dropped both its peer connections on resuming, and what they held).
   */
  private deadline(link: OutgoingLink, timer: 'ackTimer' | 'stallTimer', reason: string): NodeJS.Timeout {
    const handle: NodeJS.Timeout = setTimeout(() => {
      setImmediate(() => {
        if (link[timer] === handle) this.failOutgoing(link, reason);
      });
    }, this.stallTimeoutMs);
    return handle;
  }

  private onOutgoingReady(peer: Peer, link: OutgoingLink): void {
    link.phase = 'ready';
    clearHandshakeTimer(link);
    peer.reconnectDelayMs = this.reconnectDelayMs;
    peer.outageLogged = false;
    this.scheduleFlush(peer);
  }

  private failOutgoing(link: OutgoingLink, reason: string): void {
    link.failure ??= reason;
    link.socket.destroy();
  }

  private closeOutgoing(link: OutgoingLink): void {
    clearHandshakeTimer(link);
    clearStallTimer(link);
    clearAckTimer(link);
    link.socket.destroy();
  }

  /** Forgets `link` (closing it); its close event will then find it replaced and do nothing. */
  private detachLink(peer: Peer, link: OutgoingLink): void {
    peer.link = null;
    peer.awaitingDrain = false;
    if (peer.flushImmediate) clearImmediate(peer.flushImmediate);
    peer.flushImmediate = null;
    this.closeOutgoing(link);
  }

  private onOutgoingClose(peer: Peer, link: OutgoingLink): void {
    clearHandshakeTimer(link);
    clearStallTimer(link);
    clearAckTimer(link);
    if (peer.link !== link) return; // replaced (address change) or discarded
    this.detachLink(peer, link);
    if (peer.removed || this.stopped) return;
    this.noteOutage(peer, link);
    // Frames too old to send go at each failed attempt, not only when the peer is back or the queue
    // full: to a member that stays dead, or a removed node still asked before purges, they sat in the
    // queue for good, and `queued` in the status counted them (a topology soak saw hundreds).
    this.dropStale(peer);
    // Reconnect only while there is something to send; an idle peer reconnects lazily on `send`, and
    // its attempts back off afresh from then.
    if (peer.queue.length > 0) this.scheduleReconnect(peer);
    else peer.reconnectDelayMs = this.reconnectDelayMs;
  }

  private noteOutage(peer: Peer, link: OutgoingLink): void {
    if (peer.outageLogged) return;
    peer.outageLogged = true;
    const reason =
      link.failure ??
      (link.phase === 'ready' ? 'connection closed' : 'closed during handshake (wrong cluster secret?)');
    this.logger.warn({ peer: peer.nodeId, address: formatAddress(peer.address), reason }, 'peer unreachable; retrying');
  }

  private scheduleReconnect(peer: Peer): void {
    peer.reconnectTimer = setTimeout(() => this.connect(peer), peer.reconnectDelayMs);
    peer.reconnectDelayMs = Math.min(peer.reconnectDelayMs * 2, this.reconnectDelayMaxMs);
  }

  // ---- delivery --------------------------------------------------------------------------------

  /** Sets the handler for incoming batches (one handler; a later call replaces it). */
  onBatch(handler: BatchHandler): void {
    this.handler = handler;
  }

  /**
   * Holds envelopes until the end of this event-loop turn's I/O (setImmediate runs after the poll
   * phase), so that what arrived on every connection in this turn, and what this node sent itself,
   * reaches the core as one batch.
   */
  private enqueue(envelopes: Envelope[]): void {
    if (this.inbox.length === 0) this.inbox = envelopes;
    else for (const envelope of envelopes) this.inbox.push(envelope);
    this.inboxImmediate ??= setImmediate(() => {
      this.inboxImmediate = null;
      const batch = this.inbox;
      this.inbox = [];
      this.localQueued = 0;
      this.deliver(batch);
      this.flushScheduled();
    });
  }

  private deliver(batch: Envelope[]): void {
    if (!this.handler) {
      this.counters.dropped += batch.length;
      return;
    }
    this.counters.received += batch.length;
    // A throwing handler is a bug in the core; it propagates (and fails loudly) rather than being hidden.
    this.handler(batch);
  }

  stats(): TransportStats {
    const peers: Record<string, PeerStats> = {};
    for (const peer of this.peers.values()) {
      peers[peer.nodeId] = { connected: peer.link?.phase === 'ready', queued: peer.queue.length };
    }
    return { ...this.counters, peers };
  }
}

function clearStallTimer(link: OutgoingLink): void {
  if (link.stallTimer) clearTimeout(link.stallTimer);
  link.stallTimer = null;
}

function formatAddress(address: TransportAddress): string {
  return `${address.host}:${address.port}`;
}

function requireNonEmpty(value: string, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

function requireAddress(address: TransportAddress, name: string, portMin: number): TransportAddress {
  const { host, port } = address;
  if (typeof host !== 'string' || host.length === 0 || !Number.isInteger(port) || port < portMin || port > 65_535) {
    throw new TypeError(`${name} must be { host: non-empty string, port: integer in [${portMin}, 65535] }`);
  }
  return { host, port };
}

function requirePositiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
