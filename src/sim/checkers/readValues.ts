// Reads return only what was written, at every level (reads at `one` included, which no real-time
// rule binds): DESIGN.md §1 "Every stored entry carries a version ... Versions are totally ordered"
// and "Conflicts resolve last-writer-wins by version, everywhere the same way", and README "Reads at
// `one` ... fast, and possibly stale": stale, never invented.
//   - Every successful read, at any level and for any purpose, answers "absent" or a value that a
//     put of the same key wrote, invoked before the read completed. Not another key's value, not a
//     value from the future, and not the value of a write that expired (the simulator's expired
//     writes carry the value "expired" with an expiry in the past on every clock: README "Key
//     expiry": from the expiry on, a read coordinated by any node whose clock has passed it answers
//     "absent", at every level).
//   - One version names one state: a version (an HLC stamp, with the issuing node as tie-breaker) is
//     never seen with two different values, nor as a value and as a delete, across acknowledged
//     writes, reads at any level and the replicas' final storage. Two states under one version would
//     make last-writer-wins pick differently on different replicas. (A write re-stamped after a
//     replica answered with a newer version may leave copies under its earlier stamp: one write
//     can have several versions, so only this direction is checked.)
// What a conditional update saw (the key's value when it decided) is a read like any other, and the
// value it wrote, when applied, a write (an update that answered it wrote nothing is the updates
// checker's business).

import { isWrite, writtenValue, type Operation } from '../history.js';
import { describeOp, type CheckInput, type Violation } from './model.js';

const checker = 'read-values';

function describeState(value: string | null): string {
  return value === null ? 'a delete' : value;
}

export function checkReadValues(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const putsByValue = new Map<string, Operation>();
  for (const op of input.history) if ((op.kind === 'put' || op.kind === 'update') && op.written !== undefined) putsByValue.set(op.written, op);

  // key -> version -> the state first seen under it, and where.
  const states = new Map<string, Map<string, { readonly value: string | null; readonly where: string }>>();
  const see = (key: string, version: string, value: string | null, where: string) => {
    const byVersion = states.get(key) ?? new Map<string, { readonly value: string | null; readonly where: string }>();
    states.set(key, byVersion);
    const first = byVersion.get(version);
    if (first === undefined) {
      byVersion.set(version, { value, where });
    } else if (first.value !== value) {
      violations.push({
        checker,
        key,
        message: `version ${version} of ${key} names two states: ${describeState(first.value)} (${first.where}) and ${describeState(value)} (${where})`,
      });
    }
  };

  for (const op of input.history) {
    if (op.outcome !== 'ok') continue;
    if (op.kind === 'get' || op.kind === 'update') {
      const value = op.read ?? null;
      // An update read the key before it wrote: under the version it saw, not the one it wrote.
      const version = op.kind === 'update' ? op.previousVersion : op.version;
      if (value !== null) {
        const source = putsByValue.get(value);
        if (source === undefined || source.key !== op.key || source.invokeMs > (op.completeMs as number)) {
          const why =
            source === undefined
              ? 'no client wrote that value'
              : source.key !== op.key
                ? `it was written to ${source.key} by ${describeOp(source)}`
                : `it was written by ${describeOp(source)}, which began after the read ended`;
          violations.push({ checker, key: op.key, message: `${describeOp(op)} returned ${value}: ${why}` });
          continue;
        }
      }
      if (version !== undefined) see(op.key, version, value, describeOp(op));
    }
    if (isWrite(op) && op.version !== undefined) see(op.key, op.version, writtenValue(op), describeOp(op));
  }
  for (const [key, keyState] of input.finalState) {
    for (const [node, stored] of keyState.stored) {
      if (stored.version !== undefined) see(key, stored.version, stored.value ?? null, `stored on ${node} after heal`);
    }
  }
  return violations;
}
