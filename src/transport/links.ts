// What both ends of a peer connection share (tcp.ts dials, inbound.ts accepts): socket settings, the
// handshake's frame bound, and the clearing of the timers each end keeps per connection.

import type net from 'node:net';

/** Handshake frames are tiny; a small bound keeps unauthenticated clients from making us buffer much. */
export const handshakeFrameBytesMax = 1024;
/** TCP keepalive on every peer connection, so that a vanished host is noticed even when idle. */
const keepAliveDelayMs = 10_000;

export interface TransportLogger {
  warn(obj: object, msg: string): void;
}

/** Frames go out at once (no Nagle delay) and a silent connection is probed by the kernel. */
export function configurePeerSocket(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, keepAliveDelayMs);
}

export function clearHandshakeTimer(link: { handshakeTimer: NodeJS.Timeout | null }): void {
  if (link.handshakeTimer) clearTimeout(link.handshakeTimer);
  link.handshakeTimer = null;
}

export function clearAckTimer(link: { ackTimer: NodeJS.Timeout | null }): void {
  if (link.ackTimer) clearTimeout(link.ackTimer);
  link.ackTimer = null;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
