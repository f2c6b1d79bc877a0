// Versions never go backwards (DESIGN.md §3), checked on the writes themselves rather than through a
// later read (a read only shows the winner: a write stamped too low and then overwritten by a third
// write would go unnoticed). README "Guarantees":
//   "Because a quorum write and any later quorum write overlap in at least one replica, a write that
//    starts after another was acknowledged at quorum always gets the higher version and wins, whatever
//    the clocks say."
// and a quorum read writes what it returns back to a quorum before answering (blocking read repair),
// so a version a quorum read returned is held by a quorum as well: "A replica that already holds a
// newer version than an incoming write answers with that version instead of an acknowledgement; the
// coordinator advances its clock past it, re-stamps and sends again" (DESIGN.md §3).
//
// Exact conditions: the later write must itself be acknowledged at quorum (level quorum or all, not
// sloppy: a write at `one`, or one that hint holders acknowledged, may have met none of the replicas
// that hold the newer version, and is then ordered by its clock alone), and it must have begun after
// the earlier version became visible (the earlier write's acknowledgement, or the read's answer).
// Writes that overlap in time, failed writes and writes in doubt are ordered arbitrarily.

import { describeOp, newestVisibleBefore, quorumAcknowledged, visibleAtQuorum, type CheckInput, type Violation } from './model.js';

const checker = 'write-order';

export function checkWriteOrder(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const byKey = new Map<string, (typeof input.history)[number][]>();
  for (const op of input.history) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  for (const [key, ops] of byKey) {
    const visible = visibleAtQuorum(ops);
    for (const write of ops) {
      if (!quorumAcknowledged(write) || write.version === undefined) continue;
      const floor = newestVisibleBefore(visible, write.invokeMs);
      if (floor !== undefined && write.version <= floor.version) {
        violations.push({
          checker,
          key,
          message: `${describeOp(write)} was acknowledged at version ${write.version}, not above ${floor.version} seen at quorum by ${describeOp(floor.op)} before it began`,
        });
      }
    }
  }
  return violations;
}
