// Property 4 (DESIGN.md §5): read-your-writes at quorum. A client that waited for the acknowledgement
// of its quorum write and then reads the key at quorum sees that write, or a write that overlapped or
// followed it (never one its write superseded; "absent" only through a delete that overlapped or
// followed it), at a version no older than the one its write was acknowledged with.

import { isWrite, writtenValue, type Operation } from '../history.js';
import { describeOp, effectiveEndMs, isQuorumRead, quorumAcknowledged, writesOf, type CheckInput, type Violation } from './model.js';

const checker = 'read-your-writes';

export function checkReadYourWrites(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const byClient = new Map<string, Operation[]>();
  for (const op of input.history) {
    const list = byClient.get(op.client) ?? [];
    list.push(op);
    byClient.set(op.client, list);
  }
  for (const ops of byClient.values()) {
    const ownLatest = new Map<string, Operation>(); // key -> the client's last write acknowledged at quorum
    for (const op of ops) {
      if (isWrite(op)) {
        if (quorumAcknowledged(op)) ownLatest.set(op.key, op);
        continue;
      }
      const own = ownLatest.get(op.key);
      if (own === undefined || !isQuorumRead(op) || (own.completeMs as number) >= op.invokeMs) continue;
      const value = op.read ?? null;
      const sources = writesOf(input.history, op.key).filter(
        (w) => writtenValue(w) === value && w.invokeMs <= (op.completeMs as number),
      );
      const allowed = sources.some((w) => w === own || effectiveEndMs(w) >= own.invokeMs);
      if (!allowed) {
        violations.push({ checker, key: op.key, message: `${describeOp(op)} does not see its own ${describeOp(own)}` });
      } else if (own.version !== undefined && op.version !== undefined && op.version < own.version) {
        violations.push({
          checker,
          key: op.key,
          message: `${describeOp(op)} read version ${op.version}, older than its own write's ${own.version} (${describeOp(own)})`,
        });
      }
    }
  }
  return violations;
}
