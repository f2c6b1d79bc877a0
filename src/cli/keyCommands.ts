// put, get, del and status: the scriptable key commands (`quorumkv put k v`).

import type { Command } from 'commander';
import {
  addClientOptions,
  CliError,
  delCommand,
  getCommand,
  putCommand,
  statusCommand,
  type ClientOptions,
} from './clientCommands.js';
import { printStatus } from './statusTable.js';

export function registerKeyCommands(program: Command): void {
  const clientCommand = (name: string, description: string) =>
    addClientOptions(program.command(name).description(description));

  const runClient = async (options: ClientOptions, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      if (error instanceof CliError) {
        if (options.json) process.stdout.write(JSON.stringify({ error: error.message, body: error.body ?? null }) + '\n');
        else process.stderr.write(`quorumkv: ${error.message}\n`);
        process.exit(error.exitCode);
      }
      throw error;
    }
  };

  clientCommand('put', 'write a key')
    .argument('<key>')
    .argument('<value>')
    .option('--consistency <level>', 'one, quorum or all')
    .option('--ttl <seconds>', 'expire the key after this many seconds')
    .option('--if-absent', 'only if the key is absent (atomic; exit 5 when it is present)')
    .option('--if-present', 'only if the key is present (atomic; exit 5 when it is absent)')
    .option('--if-version <version>', 'only if the key is at this version (compare-and-set; exit 5 when it is not)')
    .action(async (key: string, value: string, options: ClientOptions) =>
      runClient(options, async () => {
        const result = await putCommand(options, key, value);
        process.stdout.write(options.json ? JSON.stringify(result) + '\n' : `OK ${(result as { version: string }).version}\n`);
      }),
    );

  clientCommand('get', 'read a key')
    .argument('<key>')
    .option('--consistency <level>', 'one, quorum or all')
    .action(async (key: string, options: ClientOptions) =>
      runClient(options, async () => {
        const result = await getCommand(options, key);
        process.stdout.write(options.json ? JSON.stringify(result) + '\n' : `${result.value}\n`);
      }),
    );

  clientCommand('del', 'delete a key')
    .alias('delete')
    .argument('<key>')
    .option('--consistency <level>', 'one, quorum or all')
    .option('--if-present', 'only if the key is present (atomic; exit 5 when it is absent)')
    .option('--if-version <version>', 'only if the key is at this version (exit 5 when it is not)')
    .action(async (key: string, options: ClientOptions) =>
      runClient(options, async () => {
        const result = await delCommand(options, key);
        process.stdout.write(options.json ? JSON.stringify(result) + '\n' : 'OK\n');
      }),
    );

  clientCommand('status', 'show the cluster: members, their state, strategy')
    .action(async (options: ClientOptions) =>
      runClient(options, async () => {
        const result = await statusCommand(options);
        if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
        else printStatus(result);
      }),
    );
}
