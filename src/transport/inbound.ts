// The receiving end of the peer transport (tcp.ts): connections that peers dial to this node, used
// only for receiving. Each must prove the cluster secret before anything it sends is taken
// (handshake.ts); after that, every data event's frames are checked and handed on as one batch, and
// the frames received are acknowledged when the peer asks for it.

import type net from 'node:net';
import type { Envelope } from '../core/messages.js';
import { encodeFrame, FrameDecoder, FrameError, isEnvelope } from './codec.js';
import { askedAckWithinMs, isProof, newNonce, proofMatches, protocolVersion, type AckFrame, type ChallengeFrame, type WelcomeFrame } from './handshake.js';
import { clearAckTimer, clearHandshakeTimer, configurePeerSocket, errorMessage, handshakeFrameBytesMax, type TransportLogger } from './links.js';

export interface InboundOptions {
  readonly nodeId: string;
  readonly secret: string;
  readonly frameBytesMax: number;
  /** A connection that has not proved the secret by then is closed. */
  readonly handshakeTimeoutMs: number;
  readonly logger: TransportLogger;
  /** Takes the valid envelopes of one data event, in order. */
  readonly receive: (batch: Envelope[]) => void;
}

interface InboundLink {
  readonly socket: net.Socket;
  readonly nonce: Buffer;
  decoder: FrameDecoder;
  phase: 'proof' | 'ready' | 'closed';
  peerId: string | null;
  handshakeTimer: NodeJS.Timeout | null;
  /** The client asked for acks within this delay (handshake.ts); undefined: it did not. */
  ackWithinMs: number | undefined;
  /** Envelope frames received on this connection, the count an ack reports. */
  received: number;
  ackTimer: NodeJS.Timeout | null;
}

export class InboundConnections {
  private readonly links = new Set<InboundLink>();

  constructor(private readonly options: InboundOptions) {}

  accept(socket: net.Socket): void {
    configurePeerSocket(socket);
    const link: InboundLink = {
      socket,
      nonce: newNonce(),
      decoder: new FrameDecoder({ frameBytesMax: handshakeFrameBytesMax }),
      phase: 'proof',
      peerId: null,
      handshakeTimer: setTimeout(() => this.reject(link, 'handshake timed out'), this.options.handshakeTimeoutMs),
      ackWithinMs: undefined,
      received: 0,
      ackTimer: null,
    };
    this.links.add(link);
    // Resets and the like from a peer going away are routine; 'close' follows and cleans up.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearHandshakeTimer(link);
      clearAckTimer(link);
      this.links.delete(link);
    });
    socket.on('data', (chunk: Buffer) => this.onData(link, chunk));
    const challenge: ChallengeFrame = { handshake: 'challenge', protocolVersion, nonce: link.nonce };
    socket.write(encodeFrame(challenge));
  }

  /** Closes every connection (the transport stops). */
  closeAll(): void {
    for (const link of this.links) this.close(link);
  }

  private onData(link: InboundLink, chunk: Buffer): void {
    if (link.phase === 'closed') return;
    let frames: unknown[];
    try {
      frames = link.decoder.push(chunk);
    } catch (error) {
      const reason = error instanceof FrameError ? error.message : errorMessage(error);
      this.reject(link, `malformed frame: ${reason}`);
      return;
    }
    if (link.phase === 'proof') this.checkProof(link, frames);
    else this.receiveFrames(link, frames);
  }

  private checkProof(link: InboundLink, frames: unknown[]): void {
    if (frames.length === 0) return; // the proof is still arriving
    const [frame] = frames;
    if (frames.length > 1 || link.decoder.bufferedBytes > 0) {
      this.reject(link, 'sent data before the welcome');
      return;
    }
    if (!isProof(frame) || !proofMatches(this.options.secret, link.nonce, frame.proof)) {
      this.reject(link, 'authentication failed');
      return;
    }
    link.phase = 'ready';
    link.peerId = frame.nodeId;
    // A peer keeps one connection to each node, so a new one from it means it gave up on the old
    // (it saw the old one stall: a network cut). The old socket would otherwise linger, carrying
    // nothing, until TCP keepalive found it dead, about a minute after cuts over two minutes.
    for (const other of this.links) {
      if (other !== link && other.phase === 'ready' && other.peerId === frame.nodeId) this.close(other);
    }
    link.decoder = new FrameDecoder({ frameBytesMax: this.options.frameBytesMax });
    link.ackWithinMs = askedAckWithinMs(frame);
    clearHandshakeTimer(link);
    const welcome: WelcomeFrame = { handshake: 'welcome', nodeId: this.options.nodeId, ...(link.ackWithinMs !== undefined ? { acks: true } : {}) };
    link.socket.write(encodeFrame(welcome));
  }

  /** Hands on one data event's frames as one batch, or none of them if any is invalid. */
  private receiveFrames(link: InboundLink, frames: unknown[]): void {
    const batch: Envelope[] = [];
    for (const frame of frames) {
      const problem = this.envelopeProblem(link, frame);
      if (problem) {
        this.reject(link, problem);
        return;
      }
      batch.push(frame as Envelope);
    }
    if (batch.length === 0) return;
    link.received += batch.length;
    this.options.receive(batch);
    // One ack covers whatever arrives before it goes: at most one small write per delay and connection.
    const delayMs = link.ackWithinMs;
    if (delayMs !== undefined) {
      link.ackTimer ??= setTimeout(() => {
        link.ackTimer = null;
        if (link.phase === 'ready') link.socket.write(encodeFrame({ ack: link.received } satisfies AckFrame));
      }, delayMs);
    }
  }

  private envelopeProblem(link: InboundLink, frame: unknown): string | null {
    if (!isEnvelope(frame)) return 'frame is not an envelope';
    if (frame.to !== this.options.nodeId) return `envelope addressed to ${JSON.stringify(frame.to)}`;
    // Every node sends over its own connections, so `from` must be the authenticated peer.
    if (frame.from !== link.peerId) return `envelope from ${JSON.stringify(frame.from)} on a connection from ${link.peerId}`;
    return null;
  }

  private reject(link: InboundLink, reason: string): void {
    if (link.phase === 'closed') return;
    const remote = `${link.socket.remoteAddress ?? '?'}:${link.socket.remotePort ?? '?'}`;
    this.options.logger.warn({ remote, peer: link.peerId, reason }, 'closing incoming connection');
    this.close(link);
  }

  private close(link: InboundLink): void {
    link.phase = 'closed';
    clearHandshakeTimer(link);
    clearAckTimer(link);
    link.socket.destroy();
  }
}
