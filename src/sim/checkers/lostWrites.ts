// Property 1 (DESIGN.md §5): no acknowledged write is lost. After faults heal and repair completes, a
// quorum read of each key (the heal phase's "final" reads) returns the last write acknowledged at
// quorum, or a write that overlapped it in time; never a write that was already superseded when the
// last acknowledged one began. Checked on values (what clients saw, whatever the versions say) and on
// versions: the final version is at least the version of every acknowledged write, at any level,
// sloppy or not (durability: whoever acknowledged a write, as replica or as hint holder, held it
// durably, and nothing moves a replica's version backwards).

import type { Operation } from '../history.js';
import { absentExplained, describeOp, leavesTombstone, realTimeVerdict, writesOf, type CheckInput, type Violation } from './model.js';

const checker = 'lost-writes';

export function checkLostWrites(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  // The heal phase retries a final read that failed: judge each key by its last one.
  const finals = new Map(input.history.filter((op) => op.purpose === 'final').map((op) => [op.key, op]));
  // A run that made final reads makes one of every key its clients used: a key without one is unchecked.
  if (finals.size > 0) {
    for (const key of new Set(input.history.map((op) => op.key))) {
      if (!finals.has(key)) violations.push({ checker, key, message: `${key} had no final read after heal` });
    }
  }
  for (const final of finals.values()) {
    const key = final.key;
    if (final.outcome !== 'ok') {
      violations.push({ checker, key, message: `the final read of ${key} after heal did not succeed: ${describeOp(final)} ${final.error ?? ''}` });
      continue;
    }
    const writes = writesOf(input.history, key).filter((w) => w.invokeMs <= final.invokeMs);
    const value = final.read ?? null;
    const verdict = realTimeVerdict(value, writes, Infinity, Infinity);
    if (!verdict.allowed) {
      const shown = value ?? 'absent';
      const why =
        verdict.sources.length === 0
          ? value === null
            ? `no delete explains it, yet ${describeOp(verdict.supersededBy as never)} was acknowledged`
            : 'no client wrote that value'
          : `it was written by ${verdict.sources.map(describeOp).join('; ')}, superseded by ${describeOp(verdict.supersededBy as never)}`;
      violations.push({ checker, key, message: `after heal ${key} reads ${shown}: ${why}` });
      continue;
    }
    // Versions: the final version must be at least every acknowledged version. A write that only hint
    // holders acknowledged is exempt once its hints may have expired: expiry drops its only copies
    // (a known limit of hint expiry, see the simulator's notes; seed 73 with a 1 s hint window).
    const hintsMayHaveExpired = (w: Operation) =>
      w.sloppy && w.replicasAcked === 0 && final.invokeMs - w.invokeMs > input.hintWindowMs;
    // A write at `one` that a single replica (or only a hint holder) acknowledged may have lived only
    // on that node; if it was removed while down and never came back, the write went with it (README
    // "Known limitations": "A write acknowledged at `one` lives on the replica that took it until
    // repair or hints copy it elsewhere. If that node is lost for good before then (`remove-node` of a
    // dead node), the write is lost with it"). Seed 2138586: n2, cut off, acknowledged writes at `one`
    // as their coordinator, crashed, and was removed for good. The node that took the write is not
    // always the coordinator: a coordinator that is not a replica of the key forwards the write, and
    // its one acknowledgement comes from another node, which the history does not name. So any node
    // lost for good may have held it (and as many nodes lost as copies acknowledged may have held
    // them all).
    const lostWithItsNode = (w: Operation) =>
      w.level === 'one' && (input.lostForGood?.size ?? 0) >= Math.max(1, w.replicasAcked ?? 0);
    const acknowledged = writes.filter(
      (w) => w.outcome === 'ok' && w.version !== undefined && !hintsMayHaveExpired(w) && !lostWithItsNode(w),
    );
    const newest = acknowledged.reduce<(typeof acknowledged)[number] | undefined>(
      (best, w) => (best === undefined || (w.version as string) > (best.version as string) ? w : best),
      undefined,
    );
    if (newest === undefined) continue;
    // No entry at all is a purged tombstone: fine if a delete newer than `newest` may have left it.
    const lost =
      final.version === undefined
        ? !leavesTombstone(newest) && !absentExplained(newest.version as string, writes, Infinity)
        : final.version < (newest.version as string);
    if (lost) {
      violations.push({
        checker,
        key,
        message: `after heal ${key} is at version ${final.version ?? 'none'}, older than ${newest.version} acknowledged by ${describeOp(newest)}`,
      });
    }
  }
  return violations;
}
