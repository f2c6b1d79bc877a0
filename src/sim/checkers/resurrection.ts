// Property 3 (DESIGN.md §5): no resurrection. Once a delete is acknowledged at quorum, no quorum read
// that begins afterwards (during the run or after heal) returns a value whose write was acknowledged
// at quorum before the delete began. Only a write that overlapped or followed the delete may bring
// the key back. Purged tombstones must hold this too (the purge floor keeps stale copies out).

import { isWrite, writtenValue } from '../history.js';
import { describeOp, effectiveEndMs, isQuorumRead, leavesTombstone, quorumAcknowledged, type CheckInput, type Violation } from './model.js';

const checker = 'resurrection';

export function checkResurrection(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const deletes = input.history.filter((op) => leavesTombstone(op) && quorumAcknowledged(op));
  if (deletes.length === 0) return violations;
  const writesByValue = new Map(
    input.history.filter((op) => isWrite(op) && writtenValue(op) !== null).map((op) => [writtenValue(op) as string, op]),
  );
  for (const read of input.history) {
    if (!isQuorumRead(read) || read.read === null || read.read === undefined) continue;
    const source = writesByValue.get(read.read);
    if (source === undefined) continue; // an invented value: the lost-writes and read checkers report it
    const sourceEndMs = effectiveEndMs(source);
    for (const del of deletes) {
      if (del.key !== read.key || (del.completeMs as number) >= read.invokeMs) continue;
      if (sourceEndMs < del.invokeMs) {
        violations.push({
          checker,
          key: read.key,
          message: `${describeOp(read)} resurrected ${read.read} (${describeOp(source)}) deleted by ${describeOp(del)}`,
        });
        break;
      }
    }
  }
  return violations;
}
