// Conditional updates (keyPaxos.ts) do what a last-writer-wins write cannot: each sees the key's
// current value and writes only if no other update came between. The other checkers hold an applied
// update to a quorum write's rules and one that wrote nothing to a quorum read's (model.ts); this one
// checks what only consensus promises, per key:
//   - no lost update: among the updates that were applied, the one that wrote the higher version saw
//     at least the version the other wrote (so no two saw the same state and both wrote over it).
//     "No entry at all" stands for a purged tombstone as well as for a key never written, so an
//     update that saw nothing is excused when a delete (or an update writing none) that may have left
//     a tombstone at least that new was invoked before it ended;
//   - real time: an applied update saw at least every version visible at quorum before it began (an
//     acknowledged quorum write, sloppy ones excluded, or a quorum read's answer), as a quorum read
//     would; and it wrote above what it saw, and a compare-and-set saw the version it required;
//   - at most once: an update's value (each is unique) shows under one version only, wherever it
//     shows (reads, what other updates saw, the replicas after heal), and never as the value of an
//     update that answered it wrote nothing, nor as what an update saw before it wrote it itself.
//     Commits carry a fixed version (no re-stamping as for puts), so a second version is a second
//     round that chose the same update: applied twice (an INCR counted twice).
// Updates that failed or ended in doubt have no known outcome: they are never the pair's later one,
// and they count only where a write in doubt may (a tombstone that may have been left).

import { writtenValue, type Operation } from '../history.js';
import { absentExplained, describeOp, leavesTombstone, newestVisibleBefore, visibleAtQuorum, writesOf, type CheckInput, type Violation } from './model.js';

const checker = 'updates';

const isApplied = (op: Operation): boolean => op.kind === 'update' && op.outcome === 'ok' && op.applied === true && op.version !== undefined;

export function checkUpdates(input: CheckInput): Violation[] {
  const violations: Violation[] = [];
  const byKey = new Map<string, Operation[]>();
  for (const op of input.history) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  for (const [key, ops] of byKey) {
    if (!ops.some((op) => op.kind === 'update')) continue;
    const fail = (message: string) => violations.push({ checker, key, message });
    const writes = writesOf(ops, key);
    const applied = ops.filter(isApplied).sort((a, b) => ((a.version as string) < (b.version as string) ? -1 : 1));
    const visible = visibleAtQuorum(ops);

    for (const [i, update] of applied.entries()) {
      const previous = update.previousVersion;
      const written = update.version as string;
      if (previous !== undefined && written <= previous) fail(`${describeOp(update)} wrote version ${written}, not above the ${previous} it saw`);
      if (update.expectVersion !== undefined && (update.expectVersion ?? undefined) !== previous) {
        fail(`${describeOp(update)} applied a compare-and-set on ${update.expectVersion ?? 'absent'}, yet saw ${previous ?? 'absent'}`);
      }

      // No lost update: the applied update written just below this one must be what it saw, or older.
      const below = applied[i - 1];
      if (below !== undefined) {
        const belowVersion = below.version as string;
        const lost =
          previous === undefined
            ? !writes.some((w) => leavesTombstone(w) && w.invokeMs <= (update.completeMs as number) && (w.version === undefined || w.version >= belowVersion))
            : previous < belowVersion;
        if (lost) {
          const same = previous === below.previousVersion;
          fail(
            same
              ? `lost update: ${describeOp(below)} and ${describeOp(update)} both saw ${previous ?? 'no entry'} and both wrote`
              : `lost update: ${describeOp(update)} saw ${previous ?? 'no entry'}, older than ${belowVersion} written by ${describeOp(below)}`,
          );
        }
      }

      // Real time: what was visible at quorum before it began.
      const floor = newestVisibleBefore(visible, update.invokeMs);
      if (floor !== undefined) {
        const stale =
          previous === undefined
            ? !floor.tombstone && !absentExplained(floor.version, writes, update.completeMs as number)
            : previous < floor.version;
        if (stale) fail(`${describeOp(update)} saw ${previous ?? 'no entry'}, older than ${floor.version} seen at quorum by ${describeOp(floor.op)} before it began`);
      }
    }

    // At most once: every version each update's value shows under.
    const updatesByValue = new Map<string, Operation>();
    for (const op of ops) if (op.kind === 'update' && op.written !== undefined) updatesByValue.set(op.written, op);
    const shownUnder = new Map<Operation, Map<string, string>>(); // update -> version -> where
    const show = (value: string | null | undefined, version: string | undefined, where: string, by?: Operation) => {
      const source = value === null || value === undefined ? undefined : updatesByValue.get(value);
      if (source === undefined) return;
      if (by === source) return fail(`${describeOp(by)} saw its own value: it took effect before it decided`);
      if (source.outcome === 'ok' && source.applied === false) return fail(`${where} shows ${value}, which ${describeOp(source)} answered it never wrote`);
      if (version === undefined) return;
      const versions = shownUnder.get(source) ?? new Map<string, string>();
      shownUnder.set(source, versions);
      if (!versions.has(version)) versions.set(version, where);
    };
    for (const op of ops) {
      if (op.outcome !== 'ok') continue;
      if (op.kind === 'get') show(op.read, op.version, describeOp(op));
      if (op.kind === 'update') show(op.read, op.previousVersion, describeOp(op), op);
      if (isApplied(op)) show(writtenValue(op), op.version, describeOp(op));
    }
    for (const [node, stored] of input.finalState.get(key)?.stored ?? []) show(stored.value, stored.version, `${node} after heal`);
    for (const [source, versions] of shownUnder) {
      if (versions.size > 1) {
        const where = [...versions].map(([version, seen]) => `${version} (${seen})`).join(', ');
        fail(`${describeOp(source)} took effect twice: its value ${source.written} shows under ${where}`);
      }
    }
  }
  return violations;
}
