// The frames that open a peer connection, and the proof in them: the server sends a random nonce,
// the client answers with HMAC-SHA256(cluster secret, nonce), and the server welcomes it. A frame is
// checked on its way in like any other (it comes from another process, or anyone).

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
}

export interface WelcomeFrame {
  handshake: 'welcome';
  nodeId: string;
}

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
