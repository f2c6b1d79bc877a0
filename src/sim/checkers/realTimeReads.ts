// Quorum reads in real time (what makes properties 1 and 4 hold at every moment, not only after
// heal). A quorum read that begins after a write was acknowledged at quorum, or after another quorum
// read returned, answers with a version at least as new: quorums overlap, and a quorum read writes
// the newest version back to a quorum before answering (blocking read repair), so what one quorum
// read saw, every later one sees. Also on values: the read's value must not come from a write that an
// earlier acknowledged write superseded. An absent answer (no entry) stands for a purged tombstone, so
// it is accepted where the newest known version is a tombstone, or a delete may have left a newer one.

import { absentExplained, describeOp, isQuorumRead, newestVisibleBefore, realTimeVerdict, visibleAtQuorum, writesOf, type CheckInput, type Violation } from './model.js';
import type { Operation } from '../history.js';

const checker = 'real-time-reads';

export function checkRealTimeReads(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const keys = [...new Set(input.history.map((op) => op.key))];
  for (const key of keys) {
    const ops = input.history.filter((op) => op.key === key);
    const writes = writesOf(input.history, key);
    // Versions that became visible at quorum, with the time they did (acknowledgement or read end).
    const visible = visibleAtQuorum(ops);
    for (const read of ops) {
      if (!isQuorumRead(read)) continue;
      const floor = newestVisibleBefore(visible, read.invokeMs);
      if (floor !== undefined) {
        const stale =
          read.version === undefined
            ? !floor.tombstone && !absentExplained(floor.version, writes, read.completeMs as number)
            : read.version < floor.version;
        if (stale) {
          violations.push({
            checker,
            key,
            message: `${describeOp(read)} read version ${read.version ?? 'none'}, older than ${floor.version} seen at quorum by ${describeOp(floor.op)}`,
          });
          continue;
        }
      }
      const verdict = realTimeVerdict(read.read ?? null, writes, read.invokeMs, read.completeMs as number);
      if (!verdict.allowed) {
        const why =
          verdict.sources.length === 0
            ? 'no client wrote that value'
            : `its write was superseded by ${describeOp(verdict.supersededBy as Operation)} before the read began`;
        violations.push({ checker, key, message: `${describeOp(read)} is stale: ${why}` });
      }
    }
  }
  return violations;
}
