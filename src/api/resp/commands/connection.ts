// Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, CLIENT and the quorumkv-specific
// QUORUMKV CONSISTENCY. They change or describe the connection's session and answer at once.
//
// AUTH. When the node has a client token, every command but AUTH, HELLO and QUIT needs one of
// `AUTH <token>`, `AUTH default <token>` or `HELLO <proto> AUTH default <token>` first (the admin
// token is accepted too, as on HTTP). Otherwise the connection starts authenticated.

import { timingSafeEqual } from 'node:crypto';
import { isConsistencyLevel } from '../../../core/quorum.js';
import { encodeBulk, encodeError, encodeInteger, encodeNull, encodeReply, MapReply, replyOk, replyPong, SimpleString, VerbatimReply } from '../replies.js';
import { isValidClientName, type Session } from '../session.js';
import { echoed, errors, parseSmallInteger, unknownSubcommand, word, wrongArity } from './common.js';
import { defineCommand } from './define.js';
import type { Call, CommandSpec, ServerContext } from './types.js';

/** The Redis version quorumkv speaks the protocol of (HELLO, INFO redis_version). */
export const redisCompatibleVersion = '7.2.0';
export const quorumkvVersion = '0.1.0';

export const ping = defineCommand({
  name: 'ping',
  arity: -1,
  flags: ['fast'],
  docs: { summary: 'Returns PONG, or the message given.', since: '1.0.0', group: 'connection', synopsis: '[message]' },
  run(call) {
    if (call.args.length > 2) return call.reply(wrongArity('ping'));
    call.reply(call.args.length === 2 ? encodeBulk(call.args[1] as Buffer) : replyPong);
  },
});

export const echo = defineCommand({
  name: 'echo',
  arity: 2,
  flags: ['fast'],
  docs: { summary: 'Returns the given string.', since: '1.0.0', group: 'connection', synopsis: 'message' },
  run: (call) => call.reply(encodeBulk(call.args[1] as Buffer)),
});

function sameSecret(given: Buffer, expected: string): boolean {
  const wanted = Buffer.from(expected, 'utf8');
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Whether user/password open this server: user "default" and the client or admin token. */
function credentialsAccepted(server: ServerContext, user: Buffer, password: Buffer): boolean {
  if (user.toString('utf8') !== 'default') return false;
  const { token, adminToken } = server.auth;
  if (!token) return true; // no password configured: the default user has none ("nopass")
  return sameSecret(password, token) || (adminToken !== undefined && adminToken !== '' && sameSecret(password, adminToken));
}

export const auth = defineCommand({
  name: 'auth',
  arity: -2,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'],
  noAuth: true,
  docs: { summary: 'Authenticates the connection with the client token.', since: '1.0.0', group: 'connection', synopsis: '[username] password' },
  run(call) {
    if (call.args.length > 3) return call.reply(errors.syntax);
    const { session, server } = call;
    if (call.args.length === 2 && !server.auth.token) {
      return call.reply(
        encodeError(
          'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
        ),
      );
    }
    const user = call.args.length === 3 ? (call.args[1] as Buffer) : Buffer.from('default');
    if (!credentialsAccepted(server, user, call.args[call.args.length - 1] as Buffer)) return call.reply(errors.wrongPass);
    session.authenticated = true;
    call.reply(replyOk);
  },
});

function helloReply(session: Session): Buffer {
  return encodeReply(
    new MapReply([
      ['server', 'redis'],
      ['version', redisCompatibleVersion],
      ['proto', session.protocol],
      ['id', session.id],
      ['mode', 'standalone'],
      ['role', 'master'],
      ['modules', []],
    ]),
    session.protocol,
  );
}

export const hello = defineCommand({
  name: 'hello',
  arity: -1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'],
  noAuth: true,
  docs: {
    summary: 'Switches the protocol (2 or 3), optionally authenticating and naming the connection.',
    since: '6.0.0',
    group: 'connection',
    synopsis: '[protover [AUTH username password] [SETNAME clientname]]',
  },
  run(call) {
    const { session, server, args } = call;
    let protocol = session.protocol;
    if (args.length >= 2) {
      const requested = parseSmallInteger(args[1]);
      if (requested === undefined) return call.reply(encodeError('ERR Protocol version is not an integer or out of range'));
      if (requested !== 2 && requested !== 3) return call.reply(encodeError('NOPROTO unsupported protocol version'));
      protocol = requested;
    }
    let credentials: [Buffer, Buffer] | undefined;
    let name: string | undefined;
    for (let i = 2; i < args.length; i++) {
      const option = word(args[i]);
      if (option === 'AUTH' && i + 2 < args.length) {
        credentials = [args[i + 1] as Buffer, args[i + 2] as Buffer];
        i += 2;
      } else if (option === 'SETNAME' && i + 1 < args.length) {
        name = (args[i + 1] as Buffer).toString('utf8');
        i += 1;
      } else {
        return call.reply(encodeError(`ERR Syntax error in HELLO option '${echoed(args[i] as Buffer)}'`, 'latin1'));
      }
    }
    if (credentials && !credentialsAccepted(server, credentials[0], credentials[1])) return call.reply(errors.wrongPass);
    if (!credentials && !session.authenticated) {
      return call.reply(
        encodeError(
          'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
        ),
      );
    }
    if (name !== undefined && !isValidClientName(name)) return call.reply(clientNameError);
    if (credentials) session.authenticated = true;
    if (name !== undefined) session.name = name;
    session.protocol = protocol;
    call.reply(helloReply(session));
  },
});

export const select = defineCommand({
  name: 'select',
  arity: 2,
  flags: ['loading', 'stale', 'fast'],
  docs: { summary: 'Selects database 0, the only one.', since: '1.0.0', group: 'connection', synopsis: 'index' },
  run(call) {
    const index = parseSmallInteger(call.args[1]);
    if (index === undefined) return call.reply(errors.notInteger);
    call.reply(index === 0 ? replyOk : encodeError('ERR DB index is out of range'));
  },
});

export const quit = defineCommand({
  name: 'quit',
  arity: -1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'],
  noAuth: true,
  docs: { summary: 'Closes the connection after answering OK.', since: '1.0.0', group: 'connection' },
  run: (call) => call.replyAndClose(replyOk),
});

// ---- CLIENT ---------------------------------------------------------------------------------------

const clientNameError = encodeError('ERR Client names cannot contain spaces, newlines or special characters.');

function clientSubcommand(name: string, arity: number, summary: string, run: (call: Call) => void, synopsis?: string): CommandSpec {
  return defineCommand({
    name: `client|${name}`,
    arity,
    flags: ['noscript', 'loading', 'stale'],
    docs: { summary, since: '2.4.0', group: 'connection', ...(synopsis ? { synopsis } : {}) },
    run,
  });
}

const clientHelp = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'LIST',
  '    Return information about all client connections.',
  'SETINFO <option> <value>',
  '    Set client meta attr. Options are: LIB-NAME, LIB-VER.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'NO-EVICT (ON|OFF), NO-TOUCH (ON|OFF)',
  '    Accepted and ignored.',
  'HELP',
  '    Print this help.',
];

/** CLIENT NO-EVICT / NO-TOUCH: ON or OFF (ignored), anything else a syntax error, as in Redis. */
function onOrOff(call: Call): void {
  const value = word(call.args[2]);
  call.reply(value === 'ON' || value === 'OFF' ? replyOk : errors.syntax);
}

const clientTypes = new Set(['NORMAL', 'MASTER', 'SLAVE', 'REPLICA', 'PUBSUB']);

/**
 * CLIENT LIST's lines, with Redis's options and errors: `TYPE t` (every connection here is of type
 * normal), or `ID id ...` (those connections).
 */
function clientListLines(call: Call): string[] | Buffer {
  const { args } = call;
  const lines = call.server.clientLines(Date.now());
  if (args.length === 2) return lines;
  const option = word(args[2]);
  if (option === 'TYPE' && args.length === 4) {
    const type = word(args[3]);
    if (!clientTypes.has(type)) return encodeError(`ERR Unknown client type '${echoed(args[3] as Buffer)}'`, 'latin1');
    return type === 'NORMAL' ? lines : [];
  }
  if (option === 'ID' && args.length > 3) {
    const ids = new Set<number>();
    for (const bytes of args.slice(3)) {
      const id = parseSmallInteger(bytes);
      if (id === undefined) return encodeError('ERR Invalid client ID');
      ids.add(id);
    }
    return lines.filter((line) => ids.has(Number(/^id=(\d+)/.exec(line)?.[1])));
  }
  return errors.syntax;
}

const clientSubcommands: readonly CommandSpec[] = [
  clientSubcommand(
    'setname',
    3,
    'Sets the connection name.',
    (call) => {
      const name = (call.args[2] as Buffer).toString('utf8');
      if (!isValidClientName(name)) return call.reply(clientNameError);
      call.session.name = name;
      call.reply(replyOk);
    },
    'connection-name',
  ),
  clientSubcommand('getname', 2, 'Returns the name of the connection.', (call) =>
    call.reply(call.session.name === '' ? encodeNull(call.protocol) : encodeReply(call.session.name, call.protocol)),
  ),
  clientSubcommand('id', 2, 'Returns the unique id of the connection.', (call) => call.reply(encodeInteger(call.session.id))),
  clientSubcommand('info', 2, 'Returns information about the connection.', (call) =>
    call.reply(encodeReply(new VerbatimReply(call.session.describe(Date.now(), 0, 0) + '\n'), call.protocol)),
  ),
  clientSubcommand(
    'list',
    -2,
    'Lists the open connections of this node.',
    (call) => {
      const lines = clientListLines(call);
      if (Buffer.isBuffer(lines)) return call.reply(lines);
      call.reply(encodeReply(new VerbatimReply(lines.map((line) => line + '\n').join('')), call.protocol));
    },
    '[TYPE type] [ID client-id ...]',
  ),
  clientSubcommand(
    'setinfo',
    4,
    'Sets the client library name or version.',
    (call) => {
      const option = word(call.args[2]);
      const value = (call.args[3] as Buffer).toString('utf8');
      if (option !== 'LIB-NAME' && option !== 'LIB-VER') {
        return call.reply(encodeError(`ERR Unrecognized option '${echoed(call.args[2] as Buffer)}'`, 'latin1'));
      }
      if (!isValidClientName(value)) {
        return call.reply(encodeError(`ERR ${option.toLowerCase()} cannot contain spaces, newlines or special characters.`));
      }
      if (option === 'LIB-NAME') call.session.libraryName = value;
      else call.session.libraryVersion = value;
      call.reply(replyOk);
    },
    'LIB-NAME libname | LIB-VER libver',
  ),
  clientSubcommand('no-evict', 3, 'Accepted and ignored (nothing is evicted).', onOrOff, 'ON | OFF'),
  clientSubcommand('no-touch', 3, 'Accepted and ignored.', onOrOff, 'ON | OFF'),
  clientSubcommand('help', 2, 'Shows the CLIENT subcommands.', (call) => call.reply(encodeReply(clientHelp.map((line) => new SimpleString(line)), call.protocol))),
];

/** Runs `parent <sub> ...` from a subcommand table, with Redis's errors for unknown ones and arity. */
export function dispatchSubcommand(call: Call, parent: string, table: readonly CommandSpec[]): void {
  const sub = call.args[1] as Buffer;
  const name = `${parent}|${sub.toString('latin1').toLowerCase()}`;
  const spec = table.find((candidate) => candidate.name === name);
  if (spec === undefined) return call.reply(unknownSubcommand(sub, parent));
  const count = call.args.length;
  if ((spec.arity > 0 && count !== spec.arity) || (spec.arity < 0 && count < -spec.arity)) return call.reply(wrongArity(name));
  spec.run(call);
}

export const client = defineCommand({
  name: 'client',
  arity: -2,
  flags: ['noscript', 'loading', 'stale'],
  docs: { summary: 'Connection commands: SETNAME, GETNAME, ID, INFO, LIST, SETINFO.', since: '2.4.0', group: 'connection' },
  subcommands: clientSubcommands,
  run: (call) => dispatchSubcommand(call, 'client', clientSubcommands),
});

// ---- QUORUMKV -------------------------------------------------------------------------------------

const quorumkvHelp = [
  'QUORUMKV <subcommand> [<arg> ...]. Subcommands are:',
  'CONSISTENCY [ONE|QUORUM|ALL|DEFAULT]',
  "    Show or set this connection's consistency level for reads and writes.",
  "    DEFAULT follows the node's default level.",
  'HELP',
  '    Print this help.',
];

const quorumkvSubcommands: readonly CommandSpec[] = [
  defineCommand({
    name: 'quorumkv|consistency',
    arity: -2,
    flags: ['fast'],
    docs: {
      summary: "Shows or sets the connection's consistency level (one, quorum, all, or default).",
      since: '7.2.0',
      group: 'connection',
      synopsis: '[ONE | QUORUM | ALL | DEFAULT]',
    },
    run(call) {
      if (call.args.length > 3) return call.reply(wrongArity('quorumkv|consistency'));
      const { session, server } = call;
      if (call.args.length === 2) {
        return call.reply(encodeReply(session.consistency ?? server.node.defaultConsistency, call.protocol));
      }
      const level = (call.args[2] as Buffer).toString('latin1').toLowerCase();
      if (level === 'default') session.consistency = undefined;
      else if (isConsistencyLevel(level)) session.consistency = level;
      else return call.reply(encodeError('ERR consistency must be one, quorum, all or default'));
      call.reply(replyOk);
    },
  }),
  defineCommand({
    name: 'quorumkv|help',
    arity: 2,
    docs: { summary: 'Shows the QUORUMKV subcommands.', since: '7.2.0', group: 'connection' },
    run: (call) => call.reply(encodeReply(quorumkvHelp.map((line) => new SimpleString(line)), call.protocol)),
  }),
];

export const quorumkv = defineCommand({
  name: 'quorumkv',
  arity: -2,
  flags: ['fast'],
  docs: { summary: 'quorumkv-specific settings of the connection (CONSISTENCY).', since: '7.2.0', group: 'connection' },
  subcommands: quorumkvSubcommands,
  run: (call) => dispatchSubcommand(call, 'quorumkv', quorumkvSubcommands),
});

export const connectionCommands = [ping, echo, auth, hello, select, quit, client, quorumkv];
