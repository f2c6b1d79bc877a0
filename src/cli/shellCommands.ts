// The shell's commands: one table of names, arguments and help, so that dispatch, `help` and tab
// completion cannot disagree. Each command checks its arguments before anything is sent.

import type { Consistency, QuorumKvClient } from '../client/index.js';
import { consistencyLevels } from '../client/index.js';
import {
  deleteExistingAction,
  failAction,
  getAction,
  keysAction,
  localEntriesAction,
  nodesAction,
  putAction,
  readAction,
  recoverAction,
  recoverAllAction,
  replicasAction,
  statusAction,
  strategyAction,
  writeAction,
  type ActionResult,
} from './actions.js';
import { ttlMsOf } from './clientCommands.js';
import { checkValue, usage } from './inputChecks.js';

export interface ShellState {
  readonly client: QuorumKvClient;
  /** Level for put/get in this shell; undefined leaves it to the cluster. */
  consistency: Consistency | undefined;
}

/** What the shell loop does after a command. */
export type Next = 'continue' | 'exit' | 'menu';

export interface ShellCommand {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Argument synopsis for help and usage errors. */
  readonly args: string;
  readonly help: string;
  /** Words after the command: at least min, at most max (Infinity: the rest is the value). */
  readonly min: number;
  readonly max: number;
  /** What tab completes for the first argument. */
  readonly complete?: 'nodes' | 'strategies' | 'levels' | 'commands';
  readonly run: (state: ShellState, args: string[]) => Promise<ActionResult | Next>;
}

const keysListedMax = 100;

/** put and write take the rest of the line as the value: `put greeting hello world`. */
function valueOf(args: string[]): string {
  return checkValue(args.slice(1).join(' '));
}

export const shellCommands: readonly ShellCommand[] = [
  {
    name: 'put',
    aliases: ['set'],
    args: '<key> <value>',
    help: 'write a key (overwrites)',
    min: 2,
    max: Infinity,
    run: (s, a) => putAction(s.client, a[0] as string, valueOf(a), { consistency: s.consistency }),
  },
  {
    name: 'setex',
    args: '<key> <seconds> <value>',
    help: 'write a key that expires after this many seconds (as Redis SETEX)',
    min: 3,
    max: Infinity,
    run: (s, a) => {
      const ttlMs = ttlMsOf(a[1] as string, 'TTL');
      return putAction(s.client, a[0] as string, checkValue(a.slice(2).join(' ')), { consistency: s.consistency, ttlMs });
    },
  },
  {
    name: 'write',
    args: '<key> <value>',
    help: "create a key, refused if it exists (the prototype's write)",
    min: 2,
    max: Infinity,
    run: (s, a) => writeAction(s.client, a[0] as string, valueOf(a)),
  },
  { name: 'get', args: '<key>', help: 'read a key', min: 1, max: 1, run: (s, a) => getAction(s.client, a[0] as string, { consistency: s.consistency }) },
  {
    name: 'read',
    args: '<key>',
    help: "read the prototype's way: the newest value any live replica holds",
    min: 1,
    max: 1,
    run: (s, a) => readAction(s.client, a[0] as string),
  },
  { name: 'del', aliases: ['delete'], args: '<key>', help: 'delete a key', min: 1, max: 1, run: (s, a) => deleteExistingAction(s.client, a[0] as string) },
  {
    name: 'keys',
    args: '[prefix] [cursor]',
    help: `list keys, ${keysListedMax} at a time (the cursor that the line "more:" gives goes on from there)`,
    min: 0,
    max: 2,
    run: (s, a) => keysAction(s.client, a[0] || undefined, keysListedMax, a[1], (next) => `keys ${JSON.stringify(a[0] ?? '')} ${JSON.stringify(next)}`),
  },
  { name: 'replicas', args: '<key>', help: 'the nodes that hold a key', min: 1, max: 1, run: (s, a) => replicasAction(s.client, a[0] as string) },
  {
    name: 'strategy',
    args: '<full|consistent> [rf]',
    help: 'set the replication strategy (rf at most the node count)',
    min: 1,
    max: 2,
    complete: 'strategies',
    run: (s, a) => strategyAction(s.client, a[0] as string, a[1]),
  },
  { name: 'fail', args: '<node>', help: 'fail a node', min: 1, max: 1, complete: 'nodes', run: (s, a) => failAction(s.client, a[0] as string) },
  { name: 'recover', args: '<node>', help: 'recover a failed node', min: 1, max: 1, complete: 'nodes', run: (s, a) => recoverAction(s.client, a[0] as string) },
  { name: 'recover-all', args: '', help: 'recover every failed node', min: 0, max: 0, run: (s) => recoverAllAction(s.client) },
  { name: 'nodes', args: '', help: 'the nodes: state, addresses, keys each stores', min: 0, max: 0, run: (s) => nodesAction(s.client) },
  { name: 'status', args: '', help: 'the cluster: strategy, members, hints', min: 0, max: 0, run: (s) => statusAction(s.client) },
  {
    name: 'local-entries',
    args: '<node>',
    help: 'what one node stores itself (first 100 entries)',
    min: 1,
    max: 1,
    complete: 'nodes',
    run: (s, a) => localEntriesAction(s.client, a[0] as string, { limit: 100 }),
  },
  {
    name: 'consistency',
    args: '[one|quorum|all|default]',
    help: 'show or set the level of put and get in this shell',
    min: 0,
    max: 1,
    complete: 'levels',
    run: async (s, a) => setConsistency(s, a[0]),
  },
  { name: 'menu', args: '', help: "the prototype's numbered menu (1-9)", min: 0, max: 0, run: async () => 'menu' },
  { name: 'help', args: '[command]', help: 'this help', min: 0, max: 1, complete: 'commands', run: async (_s, a) => helpText(a[0]) },
  { name: 'exit', aliases: ['quit'], args: '', help: 'leave the shell (also Ctrl-D)', min: 0, max: 0, run: async () => 'exit' },
];

export function findCommand(name: string): ShellCommand | undefined {
  const lower = name.toLowerCase();
  return shellCommands.find((c) => c.name === lower || c.aliases?.includes(lower));
}

export function commandNames(): string[] {
  return shellCommands.flatMap((c) => [c.name, ...(c.aliases ?? [])]).sort();
}

/** Runs one parsed line: checks the command and its argument count, then the command itself. */
export async function runWords(state: ShellState, words: string[]): Promise<ActionResult | Next> {
  const [name, ...args] = words;
  if (name === undefined) return 'continue';
  const command = findCommand(name);
  if (!command) throw usage(`unknown command "${name}"; type help`);
  if (args.length < command.min || args.length > command.max) throw usage(`usage: ${synopsis(command)}`);
  return command.run(state, args);
}

function synopsis(command: ShellCommand): string {
  return command.args ? `${command.name} ${command.args}` : command.name;
}

function setConsistency(state: ShellState, level: string | undefined): ActionResult {
  if (level !== undefined) {
    const lower = level.toLowerCase();
    if (lower === 'default') state.consistency = undefined;
    else if ((consistencyLevels as readonly string[]).includes(lower)) state.consistency = lower as Consistency;
    else throw usage(`consistency must be one, quorum, all or default, got "${level}"`);
  }
  const shown = state.consistency ?? "the cluster's default (quorum)";
  return { text: `consistency: ${shown}\n`, json: { consistency: state.consistency ?? null } };
}

export function helpText(name?: string): ActionResult {
  if (name !== undefined) {
    const command = findCommand(name);
    if (!command) throw usage(`unknown command "${name}"; type help`);
    const aliases = command.aliases?.length ? ` (also ${command.aliases.join(', ')})` : '';
    return { text: `${synopsis(command)}: ${command.help}${aliases}\n`, json: null };
  }
  const width = Math.max(...shellCommands.map((c) => synopsis(c).length));
  const lines = shellCommands.map((c) => `  ${synopsis(c).padEnd(width)}  ${c.help}`);
  const footer =
    'Quote values with spaces kept exactly: put k "two  spaces". Ids are node ids (fail 1). Up/down: history; Tab: completion.';
  return { text: `Commands:\n${lines.join('\n')}\n${footer}\n`, json: null };
}
