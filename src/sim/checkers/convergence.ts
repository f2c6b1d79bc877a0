// Property 2 (DESIGN.md §5): convergence. Once healed and repaired, every replica of a key holds the
// same version, read from each node's storage directly (not through the protocol). Deleted keys need
// care, because purging a tombstone leaves no entry:
//   - a purged tombstone counts as the tombstone it was (its purge floor names the version), so a
//     replica that purged version v and one that still holds tombstone v agree (the second purges next);
//   - a replica with no entry and no floor (one that became a replica after the key was purged
//     everywhere, in a topology change) agrees with replicas that purged it, but not with one that
//     still holds a live tombstone or value: that one would have to reach it by repair.

import type { CheckInput, StoredState, Violation } from './model.js';

const checker = 'convergence';

type Held = { readonly kind: 'value' | 'tombstone' | 'purged'; readonly text: string } | { readonly kind: 'nothing'; readonly text: string };

function held(state: StoredState | undefined): Held {
  if (state?.version !== undefined) {
    if (state.value === null || state.value === undefined) return { kind: 'tombstone', text: `deleted@${state.version}` };
    return { kind: 'value', text: `${state.value}@${state.version}` };
  }
  if (state?.purgeFloor !== undefined) return { kind: 'purged', text: `deleted@${state.purgeFloor}` };
  return { kind: 'nothing', text: 'absent' };
}

export function checkConvergence(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  for (const [key, keyState] of input.finalState) {
    const replicas = keyState.replicas.map((id) => ({ id, held: held(keyState.stored.get(id)) }));
    const known = replicas.filter((r) => r.held.kind !== 'nothing');
    const versions = new Set(known.map((r) => r.held.text));
    const nothingAllowed = known.every((r) => r.held.kind === 'purged');
    const converged = versions.size <= 1 && (nothingAllowed || known.length === replicas.length);
    if (!converged) {
      violations.push({
        checker,
        key,
        message: `replicas of ${key} disagree after heal: ${replicas.map((r) => `${r.id}=${r.held.text}`).join(' ')}`,
      });
    }
  }
  return violations;
}
