// Catching up after a (re)start or a resume (DESIGN.md §4): the node runs an anti-entropy session
// with each live co-replica and is "recovering" until every one of them has completed. A co-replica
// that comes alive later, not synced with since the start, makes it recovering again until it is.

import type { AntiEntropy } from './antiEntropy.js';
import type { MemberState } from './membership.js';

export interface RecoveryStatus {
  readonly phase: 'recovering' | 'ready';
  readonly peersSynced: string[];
  readonly peersPending: string[];
}

export interface RecoveryDeps {
  readonly antiEntropy: Pick<AntiEntropy, 'coReplicas' | 'isRunningWith' | 'start'>;
  readonly stateOf: (id: string) => MemberState;
}

export class Recovery {
  private recovering = true;
  private readonly peersSynced = new Set<string>();

  constructor(private readonly deps: RecoveryDeps) {}

  /** Starts over: every live co-replica is to be synced with again. */
  begin(monotonicMs: number): void {
    this.recovering = true;
    this.peersSynced.clear();
    this.continue(monotonicMs);
  }

  /** Runs anti-entropy with each live co-replica not yet synced; ready once all are. Every tick. */
  continue(monotonicMs: number): void {
    if (!this.recovering) return;
    const pending = this.pending();
    if (pending.length === 0) {
      this.recovering = false;
      return;
    }
    for (const peer of pending) {
      if (this.deps.antiEntropy.isRunningWith(peer)) continue;
      this.deps.antiEntropy.start(peer, 'recovery', monotonicMs, undefined, (progress) => {
        if (progress.state === 'done') this.peersSynced.add(progress.peer);
      });
    }
  }

  /**
   * A co-replica seen alive that this node has not synced with since it started is caught up with
   * now. A node restarted while cut off from its co-replicas found none alive, so it was "ready" at
   * once, synced with nobody; the writes hints could not hold (hintsPerTargetMax) then waited for a
   * scheduled session, or for ever without them (found with real cuts, test/integration/).
   */
  onAlive(id: string, monotonicMs: number): void {
    if (this.peersSynced.has(id) || !this.deps.antiEntropy.coReplicas().includes(id)) return;
    this.recovering = true;
    this.continue(monotonicMs);
  }

  status(): RecoveryStatus {
    return {
      phase: this.recovering ? 'recovering' : 'ready',
      peersSynced: [...this.peersSynced].sort(),
      peersPending: this.recovering ? this.pending() : [],
    };
  }

  private pending(): string[] {
    return this.deps.antiEntropy.coReplicas().filter((id) => !this.peersSynced.has(id) && this.deps.stateOf(id) === 'alive');
  }
}
