#!/usr/bin/env node
// The one command, `quorumkv`: the composition root. Each subcommand parses its options here and
// hands them to the layer that does the work.

import { Command, InvalidArgumentError, Option } from 'commander';
import { parseSettings } from './core/config.js';
import { isStrategy, rfDefault, vnodesDefault, vnodesMax, type Strategy } from './core/layout.js';
import { parseHostPort } from './runtime/address.js';


const program = new Command();
program.name('quorumkv').description('A replicated key-value store that loses nothing while servers fail.').version('0.1.0');
program.showHelpAfterError();
// A usage error (an unknown command, a bad option value) exits 2, as for every client command; 1 is
// "not found" (README). Subcommands inherit this.
program.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

/** Digits only: Number() would also read "0x10" and "1e3". */
function wholeNumber(value: string): number {
  return /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : NaN;
}

function positiveInt(value: string): number {
  const n = wholeNumber(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function vnodes(value: string): number {
  const n = wholeNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > vnodesMax) throw new InvalidArgumentError(`must be a whole number from 1 to ${vnodesMax}`);
  return n;
}

function port(value: string): number {
  const n = wholeNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port from 1 to 65535');
  return n;
}

function strategy(value: string): Strategy {
  if (!isStrategy(value)) throw new InvalidArgumentError('must be "consistent" or "full"');
  return value;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

program
  .command('start')
  .description('start a local cluster: node processes plus the front on 127.0.0.1:5000')
  .option('--nodes <n>', 'number of nodes', positiveInt, 3)
  .addOption(new Option('--strategy <strategy>', 'replication strategy').choices(['consistent', 'full']).default('consistent'))
  .option('--rf <n>', 'replication factor (consistent strategy; capped at the node count)', positiveInt, rfDefault)
  .option('--vnodes <n>', 'virtual-node tokens per node', vnodes, vnodesDefault)
  .option('--port <port>', 'the front port; nodes take the ports after it', port, 5000)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--data <dir>', 'data directory', './data')
  .option('--token <token>', 'API token required by every route (env QUORUMKV_TOKEN)', process.env.QUORUMKV_TOKEN)
  .option('--admin-token <token>', 'separate token for fail/recover/layout changes (env QUORUMKV_ADMIN_TOKEN)', process.env.QUORUMKV_ADMIN_TOKEN)
  .addOption(new Option('--fsync <policy>', 'commit: fsync every commit (group commit); periodic: fsync every second').choices(['commit', 'periodic']).default('commit'))
  .option('--set <name=value>', 'override a node setting (repeatable)', collect, [])
  .action(async (options, command: Command) => {
    const rf = Math.min(options.rf, options.nodes);
    const { startCluster } = await import('./cluster/startCluster.js');
    const given = new Set(Object.keys(options).filter((name) => command.getOptionValueSource(name) === 'cli'));
    // Listening before the cluster is up: a Ctrl-C while it starts exits too (startCluster kills the
    // node processes it started when this process exits).
    let cluster: Awaited<ReturnType<typeof startCluster>> | undefined;
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('\nstopping the cluster...\n');
      await cluster?.stop();
      process.stdout.write('stopped\n');
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    cluster = await startCluster({ ...options, rf, settings: options.set, given });
  });

program
  .command('node')
  .description('run one cluster member in this process')
  .requiredOption('--id <id>', 'member id')
  .requiredOption('--http <host:port>', 'client HTTP address')
  .requiredOption('--peer <host:port>', 'node-to-node address')
  .option('--resp <host:port>', 'Redis-protocol address')
  .requiredOption('--data <dir>', 'data directory')
  .option('--initial-cluster <members>', 'members of a new cluster: id/peer/http[/resp], comma-separated')
  .option('--join <host:port>', 'join an existing cluster through the HTTP address of any member')
  .addOption(new Option('--strategy <strategy>', 'replication strategy of a new cluster').argParser(strategy).default('consistent'))
  .option('--rf <n>', 'replication factor of a new cluster', positiveInt, rfDefault)
  .option('--vnodes <n>', 'virtual-node tokens per node', vnodes, vnodesDefault)
  .option('--token <token>', 'client API token (env QUORUMKV_TOKEN)', process.env.QUORUMKV_TOKEN)
  .option('--admin-token <token>', 'admin token (env QUORUMKV_ADMIN_TOKEN)', process.env.QUORUMKV_ADMIN_TOKEN)
  .option('--cluster-secret <secret>', 'secret every node-to-node connection proves (env QUORUMKV_CLUSTER_SECRET)', process.env.QUORUMKV_CLUSTER_SECRET)
  .addOption(new Option('--fsync <policy>', 'commit or periodic').choices(['commit', 'periodic']).default('commit'))
  .addOption(new Option('--preset <preset>', 'timing preset').choices(['local', 'lan']).default('local'))
  .option('--set <name=value>', 'override a setting (repeatable)', collect, [])
  .option('--log-file <path>', 'write JSON logs here instead of stdout')
  .option('--tls-cert <file>', "TLS for clients and peers: this node's certificate (PEM; with --tls-key and --tls-ca)")
  .option('--tls-key <file>', "TLS: this node's private key (PEM)")
  .option('--tls-ca <file>', "TLS: the CA that signed the members' certificates (PEM); peers must present one it signed")
  .option('--exit-with-parent', 'exit when the parent process (a local cluster) goes away', false)
  .action(async (options) => {
    const { parseInitialCluster, runNode } = await import('./runtime/nodeMain.js');
    const running = await runNode({
      id: options.id,
      http: parseHostPort(options.http),
      peer: parseHostPort(options.peer),
      resp: options.resp ? parseHostPort(options.resp) : undefined,
      dataDir: options.data,
      ...(options.initialCluster ? { initialCluster: parseInitialCluster(options.initialCluster) } : {}),
      join: options.join,
      strategy: options.strategy,
      rf: options.rf,
      vnodes: options.vnodes,
      token: options.token,
      adminToken: options.adminToken,
      clusterSecret: options.clusterSecret,
      fsync: options.fsync,
      preset: options.preset,
      settings: parseSettings(options.set),
      ...(options.logFile ? { logFile: options.logFile } : {}),
      tlsCert: options.tlsCert,
      tlsKey: options.tlsKey,
      tlsCa: options.tlsCa,
    });
    const stop = async () => {
      await running.stop();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (options.exitWithParent && process.send) process.on('disconnect', () => process.exit(0));
  });

// Other commands' modules are loaded only when asked for (or for --help): a node process starts
// faster and never loads code it does not run.
const subcommand = process.argv[2] ?? '';
if (subcommand !== 'node' && subcommand !== 'start') {
  (await import('./cli/keyCommands.js')).registerKeyCommands(program);
}
if (!['node', 'start', 'put', 'get', 'del', 'delete', 'status'].includes(subcommand)) {
  const [topology, shell, admin, bench, sim] = await Promise.all([
    import('./cli/topologyCommands.js'),
    import('./cli/shell.js'),
    import('./cli/adminCommands.js'),
    import('./bench/command.js'),
    import('./sim/command.js'),
  ]);
  topology.registerTopologyCommands(program);
  admin.registerAdminCommands(program);
  shell.registerShellCommands(program);
  bench.registerBenchCommands(program);
  sim.registerSimCommands(program);
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`quorumkv: ${(error as Error).message}\n`);
  process.exit(2); // usage error
});
