// The prototype's numbered menu, inside the shell (`menu`, or `quorumkv shell --menu`): 1 strategy,
// 2 write, 3 read, 4 delete, 5 fail, 6 recover, 7 nodes status, 8 recover all, 9 exit; it asks for
// each input step by step and checks it before sending, as the prototype's client did. An invalid
// input is reported and the menu comes back; 0 returns to the command prompt.

import { nodeCount, usage } from './inputChecks.js';
import {
  deleteExistingAction,
  failAction,
  nodesAction,
  readAction,
  recoverAction,
  recoverAllAction,
  strategyAction,
  writeAction,
  type ActionResult,
} from './actions.js';
import type { ShellState } from './shellCommands.js';

export const menuText = `
1. Set replication strategy
2. Write key/value
3. Read a key
4. Delete a key
5. Fail a node
6. Recover a node
7. Nodes status
8. Recover all nodes
9. Exit
0. Back to the command prompt
`;

export interface MenuIo {
  /** Shows the prompt (in a terminal) and gives the next line, or null at the end of input. */
  ask(prompt: string): Promise<string | null>;
  /** Shows the menu (in a terminal only: piped input wants results, not screens). */
  showMenu(text: string): void;
  /** Prints a result or reports a failure, as the shell does for commands. */
  perform(action: () => Promise<ActionResult>): Promise<void>;
}

/** Runs the menu until 9 (exit the shell), 0 (back to the prompt) or the end of input. */
export async function runMenu(state: ShellState, io: MenuIo): Promise<'exit' | 'back'> {
  for (;;) {
    io.showMenu(menuText);
    const choice = await io.ask('Choose an option (0-9): ');
    if (choice === null) return 'exit';
    const option = choice.trim();
    if (option === '9') return 'exit';
    if (option === '0') return 'back';
    const step = steps[option];
    if (!step) {
      await io.perform(async () => {
        throw usage(`Invalid option "${option}": choose 0 to 9`);
      });
      continue;
    }
    const ended = await step(state, io);
    if (ended) return 'exit';
  }
}

/** Each step asks for its inputs; it returns true when the input ended midway. */
type Step = (state: ShellState, io: MenuIo) => Promise<boolean>;

const steps: Record<string, Step> = {
  '1': async (state, io) => {
    const strategy = await io.ask('Replication strategy (full/consistent): ');
    if (strategy === null) return true;
    let rf: string | undefined;
    if (strategy.trim().toLowerCase() === 'consistent') {
      const cluster = await state.client.cluster().catch(() => undefined);
      const range = cluster ? ` (1-${nodeCount(cluster)})` : '';
      const answer = await io.ask(`Replication factor${range}: `);
      if (answer === null) return true;
      rf = answer;
    }
    await io.perform(() => strategyAction(state.client, strategy, rf ?? undefined));
    return false;
  },
  '2': async (state, io) => {
    const key = await io.ask('Key: ');
    if (key === null) return true;
    const value = await io.ask('Value: ');
    if (value === null) return true;
    await io.perform(() => writeAction(state.client, key, value));
    return false;
  },
  '3': async (state, io) => askKey(io, (key) => readAction(state.client, key)),
  '4': async (state, io) => askKey(io, (key) => deleteExistingAction(state.client, key)),
  '5': async (state, io) => askNode(io, (id) => failAction(state.client, id)),
  '6': async (state, io) => askNode(io, (id) => recoverAction(state.client, id)),
  '7': async (state, io) => {
    await io.perform(() => nodesAction(state.client));
    return false;
  },
  '8': async (state, io) => {
    await io.perform(() => recoverAllAction(state.client));
    return false;
  },
};

async function askKey(io: MenuIo, action: (key: string) => Promise<ActionResult>): Promise<boolean> {
  const key = await io.ask('Key: ');
  if (key === null) return true;
  await io.perform(() => action(key));
  return false;
}

async function askNode(io: MenuIo, action: (id: string) => Promise<ActionResult>): Promise<boolean> {
  const id = await io.ask('Node id: ');
  if (id === null) return true;
  await io.perform(() => action(id));
  return false;
}
