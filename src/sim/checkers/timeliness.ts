// Property 5 (DESIGN.md §5): every request gets an answer, ok or a clear error, within its timeout
// (plus the slack of the tick that expires it). Requests whose coordinator crashed or paused while
// they were in flight are exempt (their client saw the connection drop); a request the client gave
// up on (NO_ANSWER) or one still pending when the run ended is a violation. A request its coordinator
// rejected on a storage failure (STORAGE_FAILURE) was answered, with an error, at once.
// Clock jumps get no allowance: deadlines run on the monotonic clock (coordinator.ts). They ran on
// the wall clock once, and a coordinator whose clock stepped back answered that much later (found
// when the simulator first stepped clocks: seed 7000032).

import { describeOp, type CheckInput, type Violation } from './model.js';

const checker = 'timeliness';
const lostWithCoordinator = new Set(['COORDINATOR_CRASHED', 'COORDINATOR_PAUSED', 'STORAGE_FAILURE']);

export function checkTimeliness(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  for (const op of input.history) {
    if (op.outcome === undefined || op.completeMs === undefined) {
      violations.push({ checker, key: op.key, message: `${describeOp(op)} was never answered` });
      continue;
    }
    if (op.outcome === 'info' && lostWithCoordinator.has(op.error ?? '')) continue;
    if (op.outcome === 'info') {
      violations.push({ checker, key: op.key, message: `${describeOp(op)} got no answer: ${op.errorMessage ?? op.error}` });
      continue;
    }
    const tookMs = op.completeMs - op.invokeMs;
    if (tookMs > op.timeoutMs + input.answerSlackMs) {
      violations.push({
        checker,
        key: op.key,
        message: `${describeOp(op)} was answered after ${tookMs}ms, past its timeout of ${op.timeoutMs}ms`,
      });
    }
  }
  return violations;
}
