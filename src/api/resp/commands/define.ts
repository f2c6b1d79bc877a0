// A compact way to write a command table entry with Redis's defaults filled in.

import type { Access, Call, CommandDocs, CommandSpec } from './types.js';

export interface CommandDefinition {
  readonly name: string;
  readonly arity: number;
  readonly flags?: readonly string[];
  readonly access?: Access;
  /** [first, last, step]; omitted for keyless commands. */
  readonly keys?: readonly [number, number, number];
  readonly noAuth?: boolean;
  readonly docs: CommandDocs;
  readonly subcommands?: readonly CommandSpec[];
  run(call: Call): void;
}

export function defineCommand(definition: CommandDefinition): CommandSpec {
  const access = definition.access ?? 'none';
  const [firstKey, lastKey, keyStep] = definition.keys ?? [0, 0, 0];
  return {
    name: definition.name,
    arity: definition.arity,
    flags: definition.flags ?? [],
    access,
    firstKey,
    lastKey,
    keyStep,
    noAuth: definition.noAuth ?? false,
    needsStore: access !== 'none',
    docs: definition.docs,
    ...(definition.subcommands ? { subcommands: definition.subcommands } : {}),
    run: definition.run,
  };
}
