// The frames that open a peer connection, and the proof in them: the server sends a random nonce,
// the client answers with HMAC-SHA256(cluster secret, nonce), and the server welcomes it. A frame is
// checked on its way in like any other (it comes from another process, or anyone).
//
// The client may ask, in its proof, to have what it sends acknowledged (`ackWithinMs`); a server that
// agrees says so in its welcome and then sends ack frames on the connection, which otherwise carries
// nothing back. Both fields are optional, so nodes of an older build, which neither ask nor agree,
// still connect to newer ones (and get no acks).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const protocolVersion = 1;
const nonceBytes = 32;

export interface ChallengeFrame {
  handshake: 'challenge';
  protocolVersion: number;
  nonce: Uint8Array;
}

export interface ProofFrame {
  handshake: 'proof';
  nodeId: string;
  proof: Uint8Array;
  /** Acknowledge the frames received on this connection, each within this many ms. */
  ackWithinMs?: number;
}

export interface WelcomeFrame {
  handshake: 'welcome';
  nodeId: string;
  /** The server acknowledges frames (the client asked for it). */
  acks?: boolean;
}

/** The count of envelope frames the server has received on this connection so far. */
export interface AckFrame {
  ack: number;
}

/** Bounds on the ack delay a client may ask for: a server writes at most one ack per delay. */
export const ackWithinMsMin = 20;
export const ackWithinMsMax = 60_000;

export function newNonce(): Buffer {
  return randomBytes(nonceBytes);
}

export function proofFor(secret: string | Buffer, nonce: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(nonce).digest();
}

/** Compares in constant time, so the comparison tells an attacker nothing about the expected proof. */
export function proofMatches(secret: string | Buffer, nonce: Uint8Array, proof: Uint8Array): boolean {
  const expected = proofFor(secret, nonce);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

export function isChallenge(frame: unknown): frame is ChallengeFrame {
  const value = frame as Partial<ChallengeFrame> | null;
  return (
    typeof value === 'object' &&
    value !== null &&
    value.handshake === 'challenge' &&
    value.protocolVersion === protocolVersion &&
    value.nonce instanceof Uint8Array &&
    value.nonce.length === nonceBytes
  );
}

export function isProof(frame: unknown): frame is ProofFrame {
  const value = frame as Partial<ProofFrame> | null;
  return (
    typeof value === 'object' &&
    value !== null &&
    value.handshake === 'proof' &&
    typeof value.nodeId === 'string' &&
    value.nodeId.length > 0 &&
    value.proof instanceof Uint8Array
  );
}

export function isAck(frame: unknown): frame is AckFrame {
  const value = frame as Partial<AckFrame> | null;
  return typeof value === 'object' && value !== null && Number.isSafeInteger(value.ack) && (value.ack as number) >= 0;
}

/** The ack delay a proof asks for, within the bounds; undefined when it asks for none. */
export function askedAckWithinMs(proof: ProofFrame): number | undefined {
  const asked = proof.ackWithinMs;
  if (typeof asked !== 'number' || !Number.isFinite(asked)) return undefined;
  return Math.min(ackWithinMsMax, Math.max(ackWithinMsMin, Math.floor(asked)));
}

export function isWelcome(frame: unknown): frame is WelcomeFrame {
  const value = frame as Partial<WelcomeFrame> | null;
  return typeof value === 'object' && value !== null && value.handshake === 'welcome' && typeof value.nodeId === 'string';
}

/**
 * A joining node proves the cluster secret in its join request too (a header, HMAC of its id and peer
 * address): with the wrong one it was voted in as joining, could then reach no member, and held every
 * later change until removed (a probe of hand-run clusters). Now the member it asks refuses it first.
 */
export const joinProofHeader = 'x-quorumkv-cluster-proof';

export function joinProof(secret: string, id: string, peer: string): string {
  return createHmac('sha256', secret).update(`join ${id} ${peer}`).digest('hex');
}

export function joinProofMatches(secret: string, id: string, peer: string, proof: string): boolean {
  const expected = Buffer.from(joinProof(secret, id, peer), 'utf8');
  const given = Buffer.from(proof, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
