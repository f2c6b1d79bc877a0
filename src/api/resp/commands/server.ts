// Server commands: INFO, COMMAND (COUNT, DOCS, INFO, LIST, GETKEYS), CONFIG GET. They describe this
// node and the command table; ioredis reads INFO when it connects, redis-cli reads COMMAND DOCS for
// its help and hints, and redis-benchmark reads CONFIG GET save/appendonly.

import { arch, platform } from 'node:os';
import { encodeError, encodeInteger, encodeReply, MapReply, SetReply, SimpleString, VerbatimReply, type RespValue } from '../replies.js';
import { compileGlob } from '../../../runtime/clusterScan.js';
import { argumentReply, parseSynopsis } from './arguments.js';
import { keysOf, unknownSubcommand, wrongArity } from './common.js';
import { quorumkvVersion, redisCompatibleVersion } from './connection.js';
import { defineCommand } from './define.js';
import type { Call, CommandSpec, ServerContext } from './types.js';

// ---- INFO -----------------------------------------------------------------------------------------

type InfoSection = (server: ServerContext, nowMs: number) => [string, string | number][];

const infoSections: Record<string, InfoSection> = {
  server: (server, nowMs) => {
    const uptimeSeconds = Math.floor((nowMs - server.startedAtMs) / 1000);
    return [
      ['redis_version', redisCompatibleVersion],
      ['quorumkv_version', quorumkvVersion],
      ['redis_mode', 'standalone'],
      ['os', `${platform()} ${arch()}`],
      ['arch_bits', 64],
      ['process_id', process.pid],
      ['tcp_port', server.node.tcpPort],
      ['uptime_in_seconds', uptimeSeconds],
      ['uptime_in_days', Math.floor(uptimeSeconds / 86_400)],
    ];
  },
  clients: (server) => [
    ['connected_clients', server.connectedClients()],
    ['blocked_clients', 0],
  ],
  memory: () => {
    const usage = process.memoryUsage();
    return [
      ['used_memory', usage.heapUsed],
      ['used_memory_rss', usage.rss],
      ['maxmemory', 0],
    ];
  },
  persistence: () => [
    ['loading', 0],
    ['async_loading', 0],
    ['rdb_bgsave_in_progress', 0],
    ['aof_enabled', 0],
  ],
  stats: (server) => [
    ['total_connections_received', server.stats.connectionsReceived],
    ['total_commands_processed', server.stats.commandsProcessed],
    ['rejected_connections', server.stats.rejectedConnections],
  ],
  replication: () => [
    ['role', 'master'],
    ['connected_slaves', 0],
  ],
  keyspace: (server) => {
    const { live, expiring } = server.node.localCounts();
    return live > 0 ? [['db0', `keys=${live},expires=${expiring},avg_ttl=0`]] : [];
  },
  quorumkv: (server) => {
    const layout = server.node.layoutSummary();
    const counts = server.node.localCounts();
    const members = server.node.members();
    return [
      ['node_id', server.node.nodeId],
      ['node_failed', server.node.isPaused() ? 1 : 0],
      ['strategy', layout.strategy],
      ['replication_factor', layout.rf],
      ['replicas_per_key', layout.replicas],
      ['layout_version', layout.version],
      ['default_consistency', server.node.defaultConsistency],
      ['local_live_entries', counts.live],
      ['local_tombstones', counts.tombstones],
      ['operations_in_flight', server.node.operationsInFlight()],
      ['members', members.length],
      ...members.map((m, i): [string, string] => [`member${i}`, `id=${m.id},state=${m.state},http=${m.http},resp=${m.resp ?? ''}`]),
    ];
  },
};

const defaultSections = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'keyspace', 'quorumkv'];
const sectionTitles: Record<string, string> = {
  server: 'Server',
  clients: 'Clients',
  memory: 'Memory',
  persistence: 'Persistence',
  stats: 'Stats',
  replication: 'Replication',
  keyspace: 'Keyspace',
  quorumkv: 'Quorumkv',
};

/** INFO's text: "# Section" headers, "field:value" lines, CRLF line ends, a blank line between. */
export function infoText(server: ServerContext, requested: readonly string[], nowMs: number): string {
  const names = new Set<string>();
  for (const name of requested.length === 0 ? ['default'] : requested) {
    const lower = name.toLowerCase();
    if (lower === 'default' || lower === 'all' || lower === 'everything') defaultSections.forEach((s) => names.add(s));
    else if (infoSections[lower]) names.add(lower);
  }
  const blocks: string[] = [];
  for (const name of defaultSections) {
    if (!names.has(name)) continue;
    const lines = (infoSections[name] as InfoSection)(server, nowMs).map(([field, value]) => `${field}:${value}\r\n`);
    blocks.push(`# ${sectionTitles[name]}\r\n${lines.join('')}`);
  }
  return blocks.join('\r\n');
}

export const info = defineCommand({
  name: 'info',
  arity: -1,
  flags: ['loading', 'stale'],
  docs: { summary: 'Returns information about this node and the cluster as it sees it.', since: '1.0.0', group: 'server', synopsis: '[section [section ...]]' },
  run(call) {
    const sections = call.args.slice(1).map((bytes) => bytes.toString('latin1'));
    call.reply(encodeReply(new VerbatimReply(infoText(call.server, sections, Date.now())), call.protocol));
  },
});

// ---- COMMAND --------------------------------------------------------------------------------------

function allSpecs(server: ServerContext): CommandSpec[] {
  return [...server.commands.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

function commandInfo(spec: CommandSpec): RespValue {
  return [
    spec.name,
    spec.arity,
    new SetReply(spec.flags.map((flag) => new SimpleString(flag))),
    spec.firstKey,
    spec.lastKey,
    spec.keyStep,
    new SetReply([]),
    new SetReply([]),
    [],
    (spec.subcommands ?? []).map(commandInfo),
  ];
}

function commandDocs(spec: CommandSpec): MapReply {
  const entries: [RespValue, RespValue][] = [
    ['summary', spec.docs.summary],
    ['since', spec.docs.since],
    ['group', spec.docs.group],
  ];
  if (spec.docs.complexity) entries.push(['complexity', spec.docs.complexity]);
  if (spec.docs.synopsis) entries.push(['arguments', parseSynopsis(spec.docs.synopsis).map(argumentReply)]);
  if (spec.subcommands && spec.subcommands.length > 0) {
    entries.push(['subcommands', new MapReply(spec.subcommands.map((sub) => [sub.name, commandDocs(sub)]))]);
  }
  return new MapReply(entries);
}

function lookup(server: ServerContext, name: Buffer): CommandSpec | undefined {
  return server.commands.get(name.toString('latin1').toLowerCase());
}

const commandHelp = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand)',
  '    Return details about all commands.',
  'COUNT',
  '    Return the total number of commands.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple commands.',
  'GETKEYS <full-command>',
  '    Return the keys from a full command.',
  'INFO [<command-name> ...]',
  '    Return details about multiple commands.',
  'LIST',
  '    Return a list of all commands.',
  'HELP',
  '    Print this help.',
];

function runCommand(call: Call): void {
  const { server, args } = call;
  if (args.length === 1) return call.reply(encodeReply(allSpecs(server).map(commandInfo), call.protocol));
  const sub = (args[1] as Buffer).toString('latin1').toUpperCase();
  const names = args.slice(2);
  switch (sub) {
    case 'COUNT':
      if (args.length !== 2) return call.reply(wrongArity('command|count'));
      return call.reply(encodeInteger(server.commands.size));
    case 'LIST':
      return call.reply(encodeReply(allSpecs(server).map((spec) => spec.name), call.protocol));
    case 'INFO': {
      const specs = names.length === 0 ? allSpecs(server) : names.map((name) => lookup(server, name));
      return call.reply(encodeReply(specs.map((spec) => (spec ? commandInfo(spec) : null)), call.protocol));
    }
    case 'DOCS': {
      const specs = names.length === 0 ? allSpecs(server) : names.map((name) => lookup(server, name)).filter((s): s is CommandSpec => s !== undefined);
      return call.reply(encodeReply(new MapReply(specs.map((spec) => [spec.name, commandDocs(spec)])), call.protocol));
    }
    case 'GETKEYS': {
      // Redis's arity for COMMAND GETKEYS is -4: a command and at least one argument.
      if (args.length < 4) return call.reply(wrongArity('command|getkeys'));
      const spec = lookup(server, args[2] as Buffer);
      const words = args.slice(2);
      if (!spec) return call.reply(encodeError('ERR Invalid command specified'));
      if ((spec.arity > 0 && words.length !== spec.arity) || (spec.arity < 0 && words.length < -spec.arity)) {
        return call.reply(encodeError('ERR Invalid number of arguments specified for command'));
      }
      const keys = keysOf(spec, words);
      if (keys.length === 0) return call.reply(encodeError('ERR The command has no key arguments'));
      return call.reply(encodeReply(keys, call.protocol));
    }
    case 'HELP':
      return call.reply(encodeReply(commandHelp.map((line) => new SimpleString(line)), call.protocol));
    default:
      return call.reply(unknownSubcommand(args[1] as Buffer, 'command'));
  }
}

export const command = defineCommand({
  name: 'command',
  arity: -1,
  flags: ['loading', 'stale'],
  docs: { summary: 'Describes the commands quorumkv supports (COUNT, DOCS, INFO, LIST, GETKEYS).', since: '2.8.13', group: 'server', synopsis: '[COUNT | DOCS [name ...] | INFO [name ...] | LIST]' },
  run: runCommand,
});

// ---- CONFIG GET -----------------------------------------------------------------------------------

/** The settings a Redis tool may ask for, with the values that describe quorumkv. */
function configValues(server: ServerContext): [string, string][] {
  return [
    ['save', ''],
    ['appendonly', 'no'],
    ['databases', '1'],
    ['maxmemory', '0'],
    ['proto-max-bulk-len', String(server.node.valueBytesMax)],
    ['port', String(server.node.tcpPort)],
  ];
}

export const config = defineCommand({
  name: 'config',
  arity: -2,
  flags: ['loading', 'stale'],
  docs: { summary: 'CONFIG GET reports a few fixed settings; nothing can be set.', since: '2.0.0', group: 'server', synopsis: 'GET parameter [parameter ...]' },
  run(call) {
    const sub = (call.args[1] as Buffer).toString('latin1').toUpperCase();
    if (sub !== 'GET') return call.reply(unknownSubcommand(call.args[1] as Buffer, 'config'));
    if (call.args.length < 3) return call.reply(wrongArity('config|get'));
    // As in Redis, a plain name (no glob character) is answered with the name as given
    // (`CONFIG GET APPENDONLY` -> APPENDONLY), a pattern with the settings' own names; each setting once.
    const values = configValues(call.server);
    const answered = new Set<string>();
    const matches: [string, string][] = [];
    for (const bytes of call.args.slice(2)) {
      const given = bytes.toString('utf8');
      const pattern = given.toLowerCase();
      const plain = !/[[*?]/.test(given);
      const matchesName = plain ? (name: string) => name === pattern : compileGlob(pattern);
      for (const [name, value] of values) {
        if (answered.has(name) || !matchesName(name)) continue;
        answered.add(name);
        matches.push([plain ? given : name, value]);
      }
    }
    call.reply(encodeReply(new MapReply(matches), call.protocol));
  },
});

export const serverCommands = [info, command, config];
