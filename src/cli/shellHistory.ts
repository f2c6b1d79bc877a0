// The shell's history file and tab completion. History lives in ~/.quorumkv_history (or
// $QUORUMKV_HISTORY; set it empty to keep none), oldest line first like a shell's, readable only by
// its owner since values typed in it may be private.

import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { consistencyLevels } from '../client/index.js';
import { commandNames, findCommand } from './shellCommands.js';

/** Lines kept in the history file and in readline. */
export const historyLinesMax = 1000;

/** The history file, or undefined when history is turned off. */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.QUORUMKV_HISTORY;
  if (configured !== undefined) return configured === '' ? undefined : configured;
  return join(homedir(), '.quorumkv_history');
}

/** History for readline: newest first. A missing or unreadable file is an empty history. */
export function loadHistory(path: string | undefined): string[] {
  if (path === undefined) return [];
  try {
    const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '');
    return lines.slice(-historyLinesMax).reverse();
  } catch {
    return [];
  }
}

/** Writes readline's history (newest first) to the file, oldest first. Failing to save is not fatal. */
export function saveHistory(path: string | undefined, newestFirst: readonly string[]): void {
  if (path === undefined) return;
  try {
    const lines = newestFirst.slice(0, historyLinesMax).reverse();
    writeFileSync(path, lines.length > 0 ? lines.join('\n') + '\n' : '', { mode: 0o600 });
  } catch {
    // A read-only home must not stop the shell.
  }
}

/**
 * readline's completer: command names for the first word; for the first argument, node ids,
 * strategies, levels or command names, as the command's table entry says.
 */
export function completer(nodeIds: () => readonly string[]): (line: string) => [string[], string] {
  return (line) => {
    const words = line.trimStart().split(/\s+/);
    if (words.length <= 1) {
      const partial = words[0] ?? '';
      return [matching(commandNames(), partial), partial];
    }
    const command = findCommand(words[0] as string);
    const partial = words[words.length - 1] as string;
    if (!command?.complete || words.length > 2) return [[], partial];
    const choices: Record<NonNullable<typeof command.complete>, () => readonly string[]> = {
      nodes: nodeIds,
      strategies: () => ['consistent', 'full'],
      levels: () => [...consistencyLevels, 'default'],
      commands: commandNames,
    };
    return [matching(choices[command.complete](), partial), partial];
  };
}

function matching(candidates: readonly string[], partial: string): string[] {
  const hits = candidates.filter((c) => c.startsWith(partial.toLowerCase()) || c.startsWith(partial));
  return hits.length > 0 ? hits : [];
}
