// Scriptable commands for every shell action beyond put/get/del/status: fail, recover, recover-all,
// nodes, strategy, replicas, the prototype's write and read, local-entries and keys. Each takes
// --url/--token/--json and exits with the codes of clientCommands.ts.

import { InvalidArgumentError, type Command } from 'commander';
import type { QuorumKvClient } from '../client/index.js';
import {
  failAction,
  keysAction,
  localEntriesAction,
  nodesAction,
  readAction,
  recoverAction,
  recoverAllAction,
  replicasAction,
  strategyAction,
  writeAction,
  type ActionResult,
} from './actions.js';
import { addClientOptions, runCommand, withClient, type ClientOptions } from './clientCommands.js';

export function registerAdminCommands(program: Command): void {
  const command = (name: string, description: string) => addClientOptions(program.command(name).description(description));
  const run = (options: ClientOptions, action: (client: QuorumKvClient) => Promise<ActionResult>) =>
    runCommand(options, async () => {
      const result = await withClient(options, action);
      process.stdout.write(options.json ? JSON.stringify(result.json) + '\n' : result.text);
      if (!options.json && result.note) process.stderr.write(result.note);
      if (result.exitCode) process.exitCode = result.exitCode;
    });

  command('fail', 'fail a node: kill its process (local cluster) or pause it (simulated crash)')
    .argument('<id>', 'node id')
    .action((id: string, options: ClientOptions) => run(options, (client) => failAction(client, id)));

  command('recover', 'recover a failed node; it catches up from its peers')
    .argument('<id>', 'node id')
    .action((id: string, options: ClientOptions) => run(options, (client) => recoverAction(client, id)));

  command('recover-all', 'recover every failed node')
    .action((options: ClientOptions) => run(options, (client) => recoverAllAction(client)));

  command('nodes', 'the nodes: state, addresses, how many keys each stores')
    .action((options: ClientOptions) => run(options, (client) => nodesAction(client)));

  command('strategy', 'set the replication strategy: full, or consistent with a replication factor')
    .argument('<strategy>', 'full or consistent')
    .argument('[rf]', 'replication factor (consistent; at most the node count)')
    .action((strategy: string, rf: string | undefined, options: ClientOptions) => run(options, (client) => strategyAction(client, strategy, rf)));

  command('replicas', 'the nodes that hold a key')
    .argument('<key>')
    .action((key: string, options: ClientOptions) => run(options, (client) => replicasAction(client, key)));

  command('write', "create a key (the prototype's write): fails with exit code 4 when it exists")
    .argument('<key>')
    .argument('<value>')
    .action((key: string, value: string, options: ClientOptions) => run(options, (client) => writeAction(client, key, value)));

  command('read', "read a key the prototype's way: the newest value any live replica holds")
    .argument('<key>')
    .action((key: string, options: ClientOptions) => run(options, (client) => readAction(client, key)));

  command('local-entries', 'the entries one node stores itself (not a cluster read)')
    .requiredOption('--node <id>', 'node id')
    .option('--cursor <key>', 'start after this key (the "more" line of the previous page)')
    .option('--limit <n>', 'entries per page (1 to 10000)', pageLimit, 100)
    .action((options: ClientOptions & { node: string; cursor?: string; limit: number }) =>
      run(options, (client) =>
        localEntriesAction(client, options.node, { limit: options.limit, ...(options.cursor !== undefined ? { cursor: options.cursor } : {}) }),
      ),
    );

  command('keys', 'list keys across the cluster, in key order')
    .argument('[prefix]', 'only keys starting with this')
    .option('--limit <n>', 'at most this many keys (when more follow, a "more" line on stderr says how to go on)', pageLimit, 1000)
    .option('--cursor <cursor>', 'go on where a listing stopped (its "more" line, or "next" in --json)')
    .action((prefix: string | undefined, options: ClientOptions & { limit: number; cursor?: string }) =>
      run(options, (client) => keysAction(client, prefix, options.limit, options.cursor)),
    );
}

function pageLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 10_000) throw new InvalidArgumentError('must be an integer from 1 to 10000');
  return n;
}
