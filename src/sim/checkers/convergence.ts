// Property 2 (DESIGN.md §5): convergence. Once healed and repaired, every replica of a key holds the
// same version, read from each node's storage directly (not through the protocol). Deleted keys need
// care, because purging a tombstone leaves no entry, only a purge floor (a local guard, not data):
//   - a live value must be held, at one version, by every replica;
//   - live tombstones must agree on their version, and a replica without an entry must have purged
//     that version (a floor at least as new): the purge is then merely in progress;
//   - when no replica holds an entry, the key is gone everywhere, whatever floors remain (a replica
//     that became one after the purge, in a topology change, has none; an older delete leaves an older one).
// And the final quorum reads (taken right after this state, with no client writing) return that
// converged state: the value at its version, or "absent" for a key that is deleted everywhere. The
// lost-writes checker judges the final reads against the history; this ties what replicas hold to
// what a reader is told (DESIGN.md §5: "every replica of a key holds the same version" and the
// final read's "last write ... acknowledged at quorum"), so a read path that answers other than its
// replicas' common state, or replicas that agree on something the final read did not show, fail.
// One exception: a message still in the network when the state was read (the settle oracle does not
// wait for the network to drain; a slow link holds one for up to 1.5 s) may deliver a write that
// failed or ended in doubt, which "may still have reached some replicas and become visible later"
// (README "Guarantees"). The final read may then show a newer version than the snapshot, if a write
// that was not acknowledged wrote it (seed 8004927: a sloppy put failed at 7727 ms, its message to
// the key's only replica arrived at 8112 ms, after the snapshot at 8100 ms). A write acknowledged
// ok cannot: its version is in the converged state already, or lost-writes fails the run.

import { isWrite, writtenValue } from '../history.js';
import { describeOp, type CheckInput, type StoredState, type Violation } from './model.js';

const checker = 'convergence';

function describe(state: StoredState | undefined): string {
  if (state?.version !== undefined) {
    return state.value === null || state.value === undefined ? `deleted@${state.version}` : `${state.value}@${state.version}`;
  }
  return state?.purgeFloor !== undefined ? `purged@${state.purgeFloor}` : 'absent';
}

function converged(states: readonly (StoredState | undefined)[]): boolean {
  const live = states.filter((s) => s?.version !== undefined) as StoredState[];
  if (live.length === 0) return true;
  const values = live.filter((s) => s.value !== null && s.value !== undefined);
  if (values.length > 0) {
    const first = values[0] as StoredState;
    return live.length === states.length && live.every((s) => s.version === first.version && s.value === first.value);
  }
  const version = (live[0] as StoredState).version as string;
  if (!live.every((s) => s.version === version)) return false;
  return states.every((s) => s?.version !== undefined || (s?.purgeFloor !== undefined && s.purgeFloor >= version));
}

/** The state converged replicas agree on: their common live value, or null (deleted or gone everywhere). */
function agreed(states: readonly (StoredState | undefined)[]): StoredState | undefined {
  return states.find((s) => s?.version !== undefined);
}

export function checkConvergence(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  // The heal phase retries a final read that failed: the last one of each key counts.
  const finals = new Map(input.history.filter((op) => op.purpose === 'final' && op.outcome === 'ok').map((op) => [op.key, op]));
  for (const [key, keyState] of input.finalState) {
    const states = keyState.replicas.map((id) => keyState.stored.get(id));
    if (!converged(states)) {
      violations.push({
        checker,
        key,
        message: `replicas of ${key} disagree after heal: ${keyState.replicas.map((id, i) => `${id}=${describe(states[i])}`).join(' ')}`,
      });
      continue;
    }
    const final = finals.get(key);
    if (final === undefined) continue;
    const common = agreed(states);
    const value = common?.value ?? null;
    const read = final.read ?? null;
    // A tombstone may be purged between the snapshot and the read: absent then reads with no version.
    const matches = read === value && (value === null ? final.version === undefined || final.version === common?.version : final.version === common?.version);
    const landedLate =
      final.version !== undefined &&
      (common?.version === undefined || final.version > common.version) &&
      input.history.some((w) => w.key === key && isWrite(w) && w.outcome !== 'ok' && writtenValue(w) === read);
    if (!matches && !landedLate) {
      violations.push({
        checker,
        key,
        message: `${describeOp(final)} read ${read ?? 'absent'}@${final.version ?? 'none'}, but every replica of ${key} holds ${describe(common)}`,
      });
    }
  }
  return violations;
}
