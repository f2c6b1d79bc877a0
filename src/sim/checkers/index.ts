// Every property checker, each in its own module (tigerbeetle's habit), run over one run's result.

import { checkConvergence } from './convergence.js';
import { checkLostWrites } from './lostWrites.js';
import type { Checker, CheckInput, Violation } from './model.js';
import { checkReadValues } from './readValues.js';
import { checkReadYourWrites } from './readYourWrites.js';
import { checkRealTimeReads } from './realTimeReads.js';
import { checkResurrection } from './resurrection.js';
import { checkTimeliness } from './timeliness.js';
import { checkUpdates } from './updates.js';
import { checkWriteOrder } from './writeOrder.js';

export type { CheckInput, KeyState, StoredState, Violation } from './model.js';

export const checkers: readonly { readonly name: string; readonly check: Checker }[] = [
  { name: 'lost-writes', check: checkLostWrites },
  { name: 'convergence', check: checkConvergence },
  { name: 'resurrection', check: checkResurrection },
  { name: 'read-your-writes', check: checkReadYourWrites },
  { name: 'real-time-reads', check: checkRealTimeReads },
  { name: 'write-order', check: checkWriteOrder },
  { name: 'read-values', check: checkReadValues },
  { name: 'timeliness', check: checkTimeliness },
  { name: 'updates', check: checkUpdates },
];

export function checkAll(input: CheckInput): Violation[] {
  return checkers.flatMap(({ check }) => check(input));
}
