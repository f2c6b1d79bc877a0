// Property 2 (DESIGN.md §5): convergence. Once healed and repaired, every replica of a key holds the
// same version, read from each node's storage directly (not through the protocol). Deleted keys need
// care, because purging a tombstone leaves no entry, only a purge floor (a local guard, not data):
//   - a live value must be held, at one version, by every replica;
//   - live tombstones must agree on their version, and a replica without an entry must have purged
//     that version (a floor at least as new): the purge is then merely in progress;
//   - when no replica holds an entry, the key is gone everywhere, whatever floors remain (a replica
//     that became one after the purge, in a topology change, has none; an older delete leaves an older one).

import type { CheckInput, StoredState, Violation } from './model.js';

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

export function checkConvergence(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  for (const [key, keyState] of input.finalState) {
    const states = keyState.replicas.map((id) => keyState.stored.get(id));
    if (!converged(states)) {
      violations.push({
        checker,
        key,
        message: `replicas of ${key} disagree after heal: ${keyState.replicas.map((id, i) => `${id}=${describe(states[i])}`).join(' ')}`,
      });
    }
  }
  return violations;
}
