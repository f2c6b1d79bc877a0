// Messages between nodes. The core produces and consumes these plain objects; the transport encodes
// them (src/transport/codec.ts) and carries them between processes, or the simulator between
// simulated nodes. Every envelope carries the sender's hybrid clock reading (DESIGN.md §3).

import type { ClockReading } from './hlc.js';
import type { Layout } from './layout.js';
import type { MemberUpdate } from './membership.js';
import type { Entry, Version } from './version.js';

export interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly clock: ClockReading;
  readonly message: Message;
}

/** Replica write: apply `entry` (or keep it as a hint for `hintFor`, an unreachable owner). */
export interface WriteMessage {
  readonly kind: 'write';
  readonly op: number;
  readonly entry: Entry;
  readonly hintFor?: string;
}

/** `applied` false means the replica holds `current`, a version at least as new as the write's. */
export interface WriteReply {
  readonly kind: 'write-reply';
  readonly op: number;
  readonly applied: boolean;
  readonly current?: Version;
}

export interface ReadMessage {
  readonly kind: 'read';
  readonly op: number;
  readonly key: string;
}

export interface ReadReply {
  readonly kind: 'read-reply';
  readonly op: number;
  readonly entry: Entry | null;
}

/** SWIM probe; carries gossip and the sender's layout version. */
export interface PingMessage {
  readonly kind: 'ping';
  readonly seq: number;
  readonly updates: readonly MemberUpdate[];
  readonly layoutVersion: number;
}

export interface AckMessage {
  readonly kind: 'ack';
  readonly seq: number;
  readonly updates: readonly MemberUpdate[];
  readonly layoutVersion: number;
}

/** Ask the receiver to probe `target` on the sender's behalf (indirect probe). */
export interface PingRequestMessage {
  readonly kind: 'ping-req';
  readonly seq: number;
  readonly target: string;
}

/** A full cluster layout, sent when a peer is seen to hold an older one. */
export interface LayoutMessage {
  readonly kind: 'layout';
  readonly layout: Layout;
}

export interface LayoutPullMessage {
  readonly kind: 'layout-pull';
}

export type Message =
  | WriteMessage
  | WriteReply
  | ReadMessage
  | ReadReply
  | PingMessage
  | AckMessage
  | PingRequestMessage
  | LayoutMessage
  | LayoutPullMessage;
