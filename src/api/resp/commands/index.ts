// The command table: every command the Redis-protocol server answers, by lower-case name.

import { connectionCommands } from './connection.js';
import { expiryCommands } from './expiry.js';
import { keyCommands } from './keys.js';
import { serverCommands } from './server.js';
import { stringCommands } from './strings.js';
import type { CommandSpec } from './types.js';

export function commandTable(): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const spec of [...connectionCommands, ...stringCommands, ...expiryCommands, ...keyCommands, ...serverCommands]) {
    if (table.has(spec.name)) throw new Error(`command ${spec.name} is defined twice`);
    table.set(spec.name, spec);
  }
  return table;
}

export type { Call, CommandSpec, KvStore, NodeFacts, ServerContext } from './types.js';
