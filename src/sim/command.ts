// `quorumkv sim` (and `npm run sim -- ...`): runs seeds of the deterministic simulator.
//   --seeds N          seeds 1..N; exits non-zero on the first failure, printing the seed and the
//                      exact replay command
//   --seed S           one seed; --trace prints its event trace (the same bytes on every run)
//   --time-limit SEC   fresh seeds (consecutive from --from, or from a random start) until the limit;
//                      prints runs per second
//   --history FILE     writes the client history of the run (the failing one with --seeds) as JSON
// Wall-clock time is read here only to report speed; it never reaches a run or its trace.

import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { isSeed } from './random.js';
import { describeFailure, failureTraceTailLines, runSeed, type RunOptions, type RunResult } from './runner.js';

interface SimCliOptions {
  seeds?: number;
  seed?: number;
  from?: number;
  trace?: boolean;
  verbose?: boolean;
  timeLimit?: number;
  history?: string;
  historyFormat: 'knossos' | 'elle';
  sweep: boolean;
}

function seedArgument(value: string): number {
  const n = Number(value);
  if (!isSeed(n)) throw new InvalidArgumentError('must be an integer from 0 to 4294967295');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function registerSimCommands(program: Command): void {
  program
    .command('sim')
    .description('run the deterministic simulator: seeded clusters with faults, checked for lost writes and more')
    .option('--seeds <n>', 'run seeds 1..n; stop at the first failure', positiveInteger)
    .option('--seed <s>', 'run one seed', seedArgument)
    .option('--trace', 'print the event trace of the run (with --seed)', false)
    .option('--verbose', 'put every delivered message in the trace too', false)
    .option('--time-limit <seconds>', 'run fresh seeds until the limit; print runs per second', positiveNumber)
    .option('--from <s>', 'first seed of --time-limit (default: a random one)', seedArgument)
    .option('--history <file>', 'write the client history as JSON (Jepsen ops): the run of --seed, or the failing one')
    .addOption(new Option('--history-format <format>', 'knossos: f read/write; elle: single-key txns').choices(['knossos', 'elle']).default('knossos'))
    .option('--sweep', 'add a read-repair sweep of every key to the heal phase (tells anti-entropy bugs from others)', false)
    .action((options: SimCliOptions) => {
      const runOptions: RunOptions = {
        healSweep: options.sweep,
        ...(options.verbose ? { verbose: true } : {}),
      };
      const modes = [options.seeds !== undefined, options.seed !== undefined, options.timeLimit !== undefined].filter(Boolean).length;
      if (modes !== 1) {
        process.stderr.write('quorumkv sim: give exactly one of --seeds N, --seed S, --time-limit SECONDS\n');
        process.exitCode = 2;
        return;
      }
      if (options.trace && options.seed === undefined) {
        process.stderr.write('quorumkv sim: --trace prints one run: give it with --seed S\n');
        process.exitCode = 2;
        return;
      }
      if (options.seed !== undefined) return runOne(options.seed, options, runOptions);
      if (options.seeds !== undefined) return runMany(options.seeds, options, runOptions);
      return runTimed(options.timeLimit as number, options, runOptions);
    });
}

function runOne(seed: number, options: SimCliOptions, runOptions: RunOptions): void {
  const result = runSeed(seed, runOptions);
  if (options.trace) process.stdout.write(result.trace);
  writeHistory(result, options);
  if (result.ok) {
    process.stdout.write(`seed ${seed} ok: ${summary(result)} trace sha256 ${result.traceHash}\n`);
    return;
  }
  process.stdout.write(describeFailure(result) + '\n');
  process.exitCode = 1;
}

function runMany(count: number, options: SimCliOptions, runOptions: RunOptions): void {
  const startedMs = performance.now();
  let requests = 0;
  for (let seed = 1; seed <= count; seed++) {
    const result = runSeed(seed, runOptions);
    requests += result.stats.operations;
    if (!result.ok) return fail(result, options);
    if (seed % 50 === 0 || seed === count) {
      const seconds = (performance.now() - startedMs) / 1000;
      process.stdout.write(`${seed}/${count} seeds ok, ${requests} requests, ${seconds.toFixed(1)}s, ${(seed / seconds).toFixed(1)} runs/s\n`);
    }
  }
  noHistoryWritten(options);
}

/** --history with many seeds writes the failing one's: say so when none failed (it looked ignored). */
function noHistoryWritten(options: SimCliOptions): void {
  if (options.history !== undefined) {
    process.stdout.write(`no history written to ${options.history}: with many seeds it is the failing one's (--seed S writes any run's)\n`);
  }
}

function runTimed(limitSeconds: number, options: SimCliOptions, runOptions: RunOptions): void {
  const first = options.from ?? randomInt(0, 2 ** 31);
  const startedMs = performance.now();
  let runs = 0;
  let requests = 0;
  process.stdout.write(`running seeds from ${first} for ${limitSeconds}s\n`);
  while ((performance.now() - startedMs) / 1000 < limitSeconds) {
    const seed = (first + runs) % 2 ** 32;
    const result = runSeed(seed, runOptions);
    runs += 1;
    requests += result.stats.operations;
    if (!result.ok) return fail(result, options);
  }
  const seconds = (performance.now() - startedMs) / 1000;
  process.stdout.write(
    `${runs} seeds ok (${first}..${(first + runs - 1) % 2 ** 32}), ${requests} requests, ${seconds.toFixed(1)}s: ${(runs / seconds).toFixed(2)} runs/s\n`,
  );
  noHistoryWritten(options);
}

function fail(result: RunResult, options: SimCliOptions): void {
  const tail = result.trace.trimEnd().split('\n').slice(-failureTraceTailLines);
  process.stdout.write(`--- last ${tail.length} lines of the trace ---\n${tail.join('\n')}\n---\n`);
  process.stdout.write(describeFailure(result) + '\n');
  writeHistory(result, options);
  process.exitCode = 1;
}

function writeHistory(result: RunResult, options: SimCliOptions): void {
  if (options.history === undefined) return;
  // A JSON array with one event per line: readable as a whole, and greppable.
  const events = result.history.toJepsen(options.historyFormat).map((event) => JSON.stringify(event));
  writeFileSync(options.history, `[${events.join(',\n')}]\n`);
  process.stdout.write(`history of seed ${result.seed} written to ${options.history}\n`);
}

function summary(result: RunResult): string {
  const s = result.stats;
  return `${s.operations} requests (${s.operationsOk} ok), ${s.messagesSent} messages, ${s.virtualMs}ms virtual,`;
}
