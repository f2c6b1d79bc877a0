// What a Redis command is to the server: its table entry (arity, key positions, flags and docs, as
// Redis describes commands in COMMAND and COMMAND DOCS) and the call it runs with. A command answers
// exactly once, through `call.reply`; the connection puts the answers back in request order.

import type { ReadOutcome, WriteOutcome } from '../../../core/coordinator.js';
import type { UpdateOutcome } from '../../../core/keyPaxos.js';
import type { UpdateSpec } from '../../../core/updateSpec.js';
import type { ConsistencyLevel } from '../../../core/quorum.js';
import type { ClusterScan } from '../../../runtime/clusterScan.js';
import type { ApiAuth } from '../../auth.js';
import type { Protocol } from '../replies.js';
import type { Session } from '../session.js';
import type { ScanCursors } from './cursors.js';

/**
 * How a command touches data, which decides how it is ordered against the commands pipelined before
 * it on the same connection: `read` waits for earlier writes of its keys, `write` for every earlier
 * command on its keys, `keyspace` (SCAN, KEYS, DBSIZE) for every earlier data command, and `none`
 * runs at once.
 */
export type Access = 'none' | 'read' | 'write' | 'keyspace';

export interface CommandDocs {
  readonly summary: string;
  /** Redis version that introduced it (COMMAND DOCS `since`). */
  readonly since: string;
  /** connection, string, generic, server, ... */
  readonly group: string;
  readonly complexity?: string;
  /** Argument synopsis shown by redis-cli's help, e.g. "key value [NX|XX]". */
  readonly synopsis?: string;
}

export interface CommandSpec {
  /** Lower-case name, as COMMAND reports it. */
  readonly name: string;
  /** Redis arity: N means exactly N words with the name, -N at least N. */
  readonly arity: number;
  /** COMMAND flags: write, readonly, fast, noauth, loading, stale, ... */
  readonly flags: readonly string[];
  readonly access: Access;
  /** Key positions: first, last (negative counts from the end), step; zeros when keyless. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  /** Runs before AUTH when a password is set (AUTH, HELLO, QUIT). */
  readonly noAuth?: boolean;
  /** Needs the data path: refused while the node is failed (paused). */
  readonly needsStore: boolean;
  readonly docs: CommandDocs;
  /** Subcommands (CLIENT SETNAME, ...) for COMMAND DOCS; lower-case "parent|sub" names. */
  readonly subcommands?: readonly CommandSpec[];
  run(call: Call): void;
}

/** An operation's outcome: a QuorumError when the store refused; anything else is a bug. */
export type StoreResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };
export type StoreCallback<T> = (result: StoreResult<T>) => void;

/** How a command writes a value: at a level (undefined: the node's default), expiring or not. */
export interface StoreWrite {
  readonly consistency: ConsistencyLevel | undefined;
  /** The wall-clock millisecond the value expires at; absent: never. */
  readonly expiresMs?: number;
}

/** The data path: the same coordinator as the HTTP API. */
export interface KvStore {
  get(key: string, consistency: ConsistencyLevel | undefined, callback: StoreCallback<ReadOutcome>): void;
  put(key: string, value: Uint8Array, write: StoreWrite, callback: StoreCallback<WriteOutcome>): void;
  remove(key: string, consistency: ConsistencyLevel | undefined, callback: StoreCallback<WriteOutcome>): void;
  /** A conditional write through a consensus round on the key's replicas (keyPaxos.ts): atomic per key. */
  update(key: string, spec: UpdateSpec, callback: StoreCallback<UpdateOutcome>): void;
}

export interface ServerStats {
  connectionsReceived: number;
  commandsProcessed: number;
  rejectedConnections: number;
}

/** What a node tells INFO, HELLO and friends about itself. */
export interface NodeFacts {
  readonly nodeId: string;
  readonly tcpPort: number;
  readonly defaultConsistency: ConsistencyLevel;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  isPaused(): boolean;
  /** Whether the layout still lists this node: a removed one serves no command that reads or writes. */
  isMember(): boolean;
  /** Live and tombstone entries this node stores itself, and how many of the live ones carry an expiry. */
  localCounts(): { live: number; tombstones: number; expiring: number };
  /** Members as this node sees them: id, state, resp address. */
  members(): readonly { id: string; state: string; resp: string | null; http: string }[];
  layoutSummary(): { strategy: string; rf: number; replicas: number; version: number };
  operationsInFlight(): number;
}

/** Shared by every connection of one server. */
export interface ServerContext {
  readonly store: KvStore;
  readonly scan: ClusterScan;
  readonly cursors: ScanCursors;
  readonly auth: ApiAuth;
  readonly node: NodeFacts;
  readonly commands: ReadonlyMap<string, CommandSpec>;
  readonly stats: ServerStats;
  readonly startedAtMs: number;
  /** This node's wall clock, which EX/PX and TTL count from. */
  nowMs(): number;
  /** Sessions of the open connections, for CLIENT LIST and INFO clients. */
  clientLines(nowMs: number): string[];
  connectedClients(): number;
  /** Logs an unexpected failure (never a client's mistake). */
  logError(error: unknown, command: string): void;
}

export interface Call {
  /** The command words; args[0] is the name as sent. */
  readonly args: readonly Buffer[];
  /** The connection's protocol when the command arrived. */
  readonly protocol: Protocol;
  /** The connection's level when the command arrived (undefined: the node's default). */
  readonly consistency: ConsistencyLevel | undefined;
  readonly session: Session;
  readonly server: ServerContext;
  /** Answers the command (exactly once). */
  reply(bytes: Buffer): void;
  /** Answers, then closes the connection once every earlier answer is written (QUIT). */
  replyAndClose(bytes: Buffer): void;
}
