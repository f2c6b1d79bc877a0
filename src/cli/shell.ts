// `quorumkv shell`: an interactive shell on a running cluster, built on node:readline (history,
// Tab completion, Ctrl-C/Ctrl-D) and the typed client. It offers the prototype's menu (`menu`) and
// a command for each of its actions (`help`). Without a terminal (commands piped in) it prints only
// results and errors, no prompts, and exits with the exit code of the last command that failed
// (0 when none did), so scripts and tests can drive it.

import { createInterface, type Interface } from 'node:readline';
import type { Command } from 'commander';
import pc from 'picocolors';
import { connect, type QuorumKvClient } from '../client/index.js';
import type { ActionResult } from './actions.js';
import { addClientOptions, asCliError, bearerToken, CliError, exitCodes, type ClientOptions } from './clientCommands.js';
import { completer, historyLinesMax, historyPath, loadHistory, saveHistory } from './shellHistory.js';
import { findCommand, runWords, type ShellState } from './shellCommands.js';
import { runMenu } from './shellMenu.js';
import { splitWords, WordsError } from './shellWords.js';
import { usage } from './inputChecks.js';

export interface ShellOptions extends ClientOptions {
  /** Start in the prototype's numbered menu. */
  readonly menu?: boolean;
}

export function registerShellCommands(program: Command): void {
  addClientOptions(program.command('shell').description("an interactive shell: commands, history, Tab completion, and the prototype's menu"))
    .option('--menu', "start in the prototype's numbered menu", false)
    .action(async (options: ShellOptions) => {
      process.exitCode = await runShell(options, { input: process.stdin, output: process.stdout, errors: process.stderr });
    });
}

export interface ShellStreams {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output: NodeJS.WritableStream & { isTTY?: boolean };
  readonly errors: NodeJS.WritableStream;
}

/** Runs the shell until exit or the end of input; resolves to the process exit code. */
export async function runShell(options: ShellOptions, streams: ShellStreams): Promise<number> {
  const interactive = streams.input.isTTY === true && streams.output.isTTY === true;
  const colors = pc.createColors(interactive && !process.env.NO_COLOR);
  const history = interactive ? historyPath() : undefined;
  let client: QuorumKvClient;
  try {
    // Long enough for a node's restart on recover, which the front waits for.
    client = connect({ url: options.url, token: bearerToken(options), timeoutMs: 35_000 });
  } catch (error) {
    streams.errors.write(`quorumkv: ${(error as Error).message}\n`);
    return exitCodes.usage;
  }
  const state: ShellState = { client, consistency: undefined };
  let nodeIds: string[] = [];

  const rl: Interface = createInterface({
    input: streams.input,
    output: streams.output,
    terminal: interactive,
    completer: completer(() => nodeIds),
    history: loadHistory(history),
    historySize: historyLinesMax,
    removeHistoryDuplicates: true,
    prompt: `quorumkv ${displayUrl(options.url)}> `,
  });
  // Take lines from here on, so that piped lines arriving during the first request are kept.
  const lines = rl[Symbol.asyncIterator]();
  const prompt = rl.getPrompt();
  let lastFailure = 0;

  // --json: one JSON line per result or failure on stdout, for programs driving the shell.
  // A note (how to page on) goes to stderr, as the commands put it: a script reading stdout reads data.
  const print = (result: ActionResult) => {
    streams.output.write(options.json && result.json !== null ? JSON.stringify(result.json) + '\n' : result.text);
    if (!options.json && result.note) streams.errors.write(result.note);
  };
  const report = (error: unknown) => {
    const failure = asCliError(error, options);
    const message = failure instanceof Error ? failure.message : String(failure);
    lastFailure = failure instanceof CliError ? failure.exitCode : exitCodes.refused;
    if (options.json) {
      const code = failure instanceof CliError ? ((failure.body as { code?: unknown } | undefined)?.code ?? null) : null;
      streams.output.write(JSON.stringify({ error: message, code, exitCode: lastFailure }) + '\n');
    } else {
      streams.errors.write(`${colors.red('error:')} ${message}\n`);
    }
  };
  const perform = async (action: () => Promise<ActionResult>) => {
    try {
      const result = await action();
      print(result);
      if (result.exitCode) lastFailure = result.exitCode;
    } catch (error) {
      report(error);
    }
  };
  const ask = async (question: string): Promise<string | null> => {
    if (interactive) {
      rl.setPrompt(question);
      rl.prompt();
    }
    const next = await lines.next();
    rl.setPrompt(prompt);
    return next.done ? null : (next.value as string);
  };

  if (interactive) {
    let interrupted = false;
    rl.on('SIGINT', () => {
      if (interrupted || rl.line === '') {
        if (interrupted) return rl.close();
        streams.output.write('\n(To exit, press Ctrl-C again or Ctrl-D or type exit)\n');
        interrupted = true;
      } else {
        // Drop the half-typed line, as a shell does (end of line, then erase back to its start).
        rl.write(null, { ctrl: true, name: 'e' });
        rl.write(null, { ctrl: true, name: 'u' });
        streams.output.write('^C\n');
      }
      rl.setPrompt(prompt);
      rl.prompt();
    });
    rl.on('line', () => {
      interrupted = false;
    });
    // Only command lines: the menu's answers (a key, "3") would be noise in the next session.
    rl.on('history', (newestFirst: string[]) => saveHistory(history, newestFirst.filter(isCommandLine)));
  }

  try {
    // The prototype's client exits with a clear message when the server cannot be reached.
    try {
      const cluster = await client.cluster();
      nodeIds = cluster.members.map((m) => m.id);
      if (interactive) {
        streams.output.write(
          `Connected to ${options.url}: ${cluster.members.length} nodes, strategy ${cluster.strategy}, ${cluster.replicas} replicas per key.\n` +
            `Type ${colors.bold('help')} for the commands, ${colors.bold('menu')} for the numbered menu, ${colors.bold('exit')} to leave.\n`,
        );
      }
    } catch (error) {
      report(error);
      return lastFailure;
    }

    let inMenu = options.menu === true;
    for (;;) {
      if (inMenu) {
        const outcome = await runMenu(state, { ask, perform, showMenu: (text) => interactive && streams.output.write(text) });
        if (outcome === 'exit') break;
        inMenu = false;
      }
      const line = await ask(prompt);
      if (line === null) break;
      let words: string[];
      try {
        words = splitWords(line);
      } catch (error) {
        report(usage(error instanceof WordsError ? error.message : String(error)));
        continue;
      }
      if (words.length === 0 || words[0]?.startsWith('#')) continue;
      let next: ActionResult | 'continue' | 'exit' | 'menu';
      try {
        next = await runWords(state, words);
      } catch (error) {
        report(error);
        continue;
      }
      if (next === 'exit') break;
      if (next === 'menu') inMenu = true;
      else if (typeof next !== 'string') {
        print(next);
        if (next.exitCode) lastFailure = next.exitCode;
      }
      // Keep Tab's node ids fresh when the user just looked at the nodes.
      if (words[0] === 'nodes' || words[0] === 'status') nodeIds = await client.cluster().then((c) => c.members.map((m) => m.id), () => nodeIds);
    }
    return lastFailure;
  } finally {
    rl.close();
    await client.close();
  }
}

function isCommandLine(line: string): boolean {
  const first = line.trimStart().split(/\s+/)[0] ?? '';
  return findCommand(first) !== undefined;
}

function displayUrl(url: string): string {
  return url.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}
