// Where a key's conditional writes are coordinated. A node coordinates the updates it is sent, until
// one of its rounds of a key meets another node's round (a replica promised a higher ballot of that
// node): from then on, for as long as the key keeps being updated through it, it sends the key's
// updates on to one node, the key's first replica on the ring that it sees alive (itself included; a
// suspect is passed over, as its forwards would likely go unanswered). So the updates of a hot key
// from every node wait in one queue and go in batches (updateQueue.ts), instead of racing one
// another's rounds: a counter INCRed through three nodes at once failed a fifth of its INCRs with an
// unknown outcome that way (the twenty-sixth session's measurements). A key nobody races is
// coordinated where its updates arrive: sent on, each would cost two more messages, and uniform
// INCRs over 10,000 keys ran about a fifth slower (the twenty-seventh session's).
//
// Routing is a matter of speed, not of safety: two nodes that disagree on who is up each coordinate
// (the round keeps them safe against each other, keyPaxos.ts), and an update is sent on at most once,
// never again by the node it reached. A forwarded update whose answer does not come within its
// deadline fails with an unknown outcome, as it would had its own coordinator crashed.
//
// An update must take effect at most once, and a network may deliver a message twice (the simulator's
// does: seed 27 applied an update twice before `ForwardedUpdateLog`). So the coordinator remembers the
// forwards it ran until a copy would be too old to run anyway, by the hybrid clock, which never goes
// back, not even across a restart. What a restart forgets is covered by the clock too: every forward
// run before it was observed below the clock's durable ceiling (hlc.ts), so one sent below the ceiling
// the node restarted at may have run, and is refused with an unknown outcome.

import type { Callback, Coordinator, CoordinatorDeps, Operation, ReplyMessage } from './coordinator.js';
import { DeadlineQueue } from './deadlines.js';
import { QuorumError } from './errors.js';
import { ceilingMarginMs } from './hlc.js';
import type { UpdateOptions, UpdateOutcome } from './keyPaxos.js';
import type { UpdateReplyMessage } from './messages.js';
import type { UpdateSpec } from './updateSpec.js';

/**
 * The time a forwarded update's coordinator is given is the forwarder's, less this share (at most
 * `forwardMarginMsMax`): room for the answer to come back before the forwarder gives up, so a
 * coordinator's "timed out" reaches the client as the known outcome it is.
 */
const forwardMarginShare = 0.2;
const forwardMarginMsMax = 250;

/** The node that coordinates a contended key's conditional writes, as this node sees it: the first of its `replicas` (in ring order) alive. */
export function updateCoordinator(replicas: readonly string[], selfId: string, isAlive: (id: string) => boolean): string {
  return replicas.find((id) => id === selfId || isAlive(id)) ?? selfId;
}

/** How long a key stays contended on a node after the last update of it there (or the last race). */
export const contendedHoldMs = 2000;

/**
 * The keys whose updates this node sends on to their coordinator: those whose rounds met another
 * node's lately. A key stays while it keeps being updated through this node, and is forgotten
 * `contendedHoldMs` after the last update (on the monotonic clock), so a hot key does not go back to
 * racing between two of its updates.
 */
export class ContendedKeys {
  /** key -> when it stops being contended; in that order, as each mark moves the key to the end. */
  private readonly until = new Map<string, number>();

  /** A round of `key` met another node's. */
  mark(key: string, monotonicMs: number): void {
    this.until.delete(key);
    this.until.set(key, monotonicMs + contendedHoldMs);
  }

  /** Whether `key` is contended; an update of it now keeps it so. */
  touch(key: string, monotonicMs: number): boolean {
    const until = this.until.get(key);
    if (until === undefined || until < monotonicMs) return false;
    this.mark(key, monotonicMs);
    return true;
  }

  forgetExpired(monotonicMs: number): void {
    for (const [key, until] of this.until) {
      if (until >= monotonicMs) return;
      this.until.delete(key);
    }
  }
}

/** An answer from another node, as the error it reported (codes and details kept). */
function reportedError(error: NonNullable<UpdateReplyMessage['error']>): QuorumError {
  return new QuorumError(error.code, error.message, error.details);
}

/** A conditional write sent on to the node that coordinates its key, waiting for its answer. */
export class ForwardedUpdate implements Operation {
  readonly deadlineMs: number;
  private readonly op: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly deps: CoordinatorDeps,
    private readonly to: string,
    private readonly key: string,
    private readonly spec: UpdateSpec,
    options: UpdateOptions,
    private readonly callback: Callback<UpdateOutcome>,
  ) {
    this.timeoutMs = options.timeoutMs ?? deps.config.requestTimeoutMs;
    this.deadlineMs = deps.monotonicMs() + this.timeoutMs;
    this.op = deps.nextOp();
  }

  start(): void {
    this.coordinator.register(this.op, this);
    const margin = Math.min(forwardMarginMsMax, Math.floor(this.timeoutMs * forwardMarginShare));
    const timeoutMs = Math.max(1, this.timeoutMs - margin);
    const sentAtMs = this.deps.clock.reading().wallMs;
    this.deps.send(this.to, { kind: 'update-forward', op: this.op, key: this.key, spec: this.spec, timeoutMs, sentAtMs });
  }

  onReply(from: string, message: ReplyMessage): void {
    if (from !== this.to || message.kind !== 'update-reply') return;
    this.coordinator.unregister(this.op);
    if (message.outcome !== undefined) this.callback({ ok: true, value: message.outcome });
    else if (message.error !== undefined) this.callback({ ok: false, error: reportedError(message.error) });
  }

  expire(): void {
    this.callback({
      ok: false,
      error: new QuorumError(
        'UNAVAILABLE',
        `update of "${this.key}" sent to ${this.to}, which coordinates it, got no answer within ${this.timeoutMs} ms: the update may have taken effect`,
        { coordinator: this.to, outcomeUnknown: true },
      ),
    });
  }
}

/**
 * How long past its timeout a forward is remembered (and a copy of it run), on the hybrid clock: a
 * second for clocks apart, and the margin a restarted node's clock may start ahead of every other's
 * (its ceiling, hlc.ts), which every node then follows. Less, and every forward in flight when a
 * node restarted would look too old to run.
 */
const rememberedPastTimeoutMs = ceilingMarginMs + 1000;

/** What to do with a forward that arrived: run it, or not, and why not. */
export type Admission = 'run' | 'duplicate' | 'stale' | 'before-restart';

/**
 * The forwards this node ran, on the node that coordinates them: each is run once, whatever copies
 * of it the network delivers. `clockWallMs` is the hybrid clock's reading, which has observed every
 * forward's `sentAtMs` before it is admitted; `restartedAtMs` is the ceiling the clock restarted at.
 */
export class ForwardedUpdateLog {
  /** "from op" of each forward run and remembered. */
  private readonly ran = new Set<string>();
  /** When to forget each: the clock reading past which a copy is stale, by a number of its own. */
  private readonly forgetting = new DeadlineQueue();
  private readonly idOf = new Map<number, string>();
  private next = 0;
  /** The highest clock reading seen: readings follow the physical clock, which may step back. */
  private latestMs: number;

  constructor(
    private readonly clockWallMs: () => number,
    private readonly restartedAtMs: number,
  ) {
    this.latestMs = clockWallMs();
  }

  admit(from: string, op: number, sentAtMs: number, timeoutMs: number): Admission {
    const id = `${from} ${op}`;
    if (this.ran.has(id)) return 'duplicate';
    const staleAtMs = sentAtMs + timeoutMs + rememberedPastTimeoutMs;
    if (this.now() > staleAtMs) return 'stale'; // its sender gave up on it; a copy it ran was forgotten
    if (sentAtMs < this.restartedAtMs) return 'before-restart';
    this.ran.add(id);
    this.idOf.set(this.next, id);
    this.forgetting.push(staleAtMs, this.next);
    this.next += 1;
    return 'run';
  }

  /** Forgets the forwards whose copies would be stale now. */
  forgetStale(): void {
    for (const number of this.forgetting.popDue(this.now() - 1)) {
      this.ran.delete(this.idOf.get(number) as string);
      this.idOf.delete(number);
    }
  }

  private now(): number {
    this.latestMs = Math.max(this.latestMs, this.clockWallMs());
    return this.latestMs;
  }
}
