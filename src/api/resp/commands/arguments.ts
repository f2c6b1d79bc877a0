// COMMAND DOCS `arguments` from a command's one-line synopsis ("key value [NX | XX] [GET]"), in the
// shape Redis 7 gives them (name, type, token, flags, nested arguments), so that redis-cli's help and
// hints show the arguments. Grammar: lower-case words are arguments, upper-case words are tokens (a
// token followed by a lower-case word is that argument with the token), [ ... ] is optional, "|"
// separates alternatives, and "..." repeats what precedes it.

import { MapReply, SetReply, SimpleString, type RespValue } from '../replies.js';

export interface CommandArgument {
  readonly name: string;
  readonly type: 'key' | 'string' | 'integer' | 'pattern' | 'pure-token' | 'oneof' | 'block';
  readonly token?: string;
  readonly optional?: boolean;
  readonly multiple?: boolean;
  readonly arguments?: readonly CommandArgument[];
}

const integerNames = new Set(['count', 'increment', 'decrement', 'index', 'protover', 'cursor']);

function typeOf(name: string): CommandArgument['type'] {
  if (name === 'key') return 'key';
  if (name === 'pattern') return 'pattern';
  return integerNames.has(name) ? 'integer' : 'string';
}

/** Parses a synopsis; throws on one that does not follow the grammar (a bug in the table). */
export function parseSynopsis(synopsis: string): CommandArgument[] {
  const words = synopsis.replace(/\[/g, ' [ ').replace(/\]/g, ' ] ').replace(/\|/g, ' | ').split(/\s+/).filter((w) => w !== '');
  let index = 0;
  /** Set when "..." ends a sequence of several items: the whole group repeats ("[key value ...]"). */
  let groupRepeats = false;
  const endsSequence = (word: string | undefined) => word === undefined || word === ']' || word === '|';

  const sequence = (): CommandArgument[] => {
    const items: CommandArgument[] = [];
    let repeats = false;
    while (index < words.length && words[index] !== ']' && words[index] !== '|') {
      const word = words[index++] as string;
      if (word === '...') {
        if (items.length > 1 && endsSequence(words[index])) {
          repeats = true;
          continue;
        }
        const last = items.pop();
        if (last === undefined) throw new Error(`"..." with nothing before it in "${synopsis}"`);
        items.push({ ...last, multiple: true });
      } else if (word === '[') {
        items.push(optionalGroup());
      } else if (/^[A-Z][A-Z0-9_-]*$/.test(word)) {
        const next = words[index];
        if (next !== undefined && /^[a-z][a-z0-9-]*$/.test(next)) {
          index += 1;
          items.push({ name: next, type: typeOf(next), token: word });
        } else {
          items.push({ name: word.toLowerCase(), type: 'pure-token', token: word });
        }
      } else if (/^[a-z][a-z0-9-]*$/.test(word)) {
        items.push({ name: word, type: typeOf(word) });
      } else {
        throw new Error(`unexpected "${word}" in "${synopsis}"`);
      }
    }
    groupRepeats = repeats;
    return collapseRepeats(items);
  };

  const optionalGroup = (): CommandArgument => {
    const alternatives: CommandArgument[][] = [sequence()];
    let repeats = groupRepeats;
    while (words[index] === '|') {
      index += 1;
      alternatives.push(sequence());
      repeats = false;
    }
    if (words[index] !== ']') throw new Error(`unclosed "[" in "${synopsis}"`);
    index += 1;
    return { ...single(alternatives), optional: true, ...(repeats ? { multiple: true } : {}) };
  };

  const single = (alternatives: CommandArgument[][]): CommandArgument => {
    if (alternatives.length > 1) {
      const options = alternatives.map((alternative) => (alternative.length === 1 ? (alternative[0] as CommandArgument) : block(alternative)));
      return { name: options.map((o) => o.name).join('-'), type: 'oneof', arguments: options };
    }
    const only = alternatives[0] as CommandArgument[];
    return only.length === 1 ? (only[0] as CommandArgument) : block(only);
  };

  const block = (items: CommandArgument[]): CommandArgument => ({ name: items.map((i) => i.name).join('-'), type: 'block', arguments: items });

  const alternatives: CommandArgument[][] = [sequence()];
  while (words[index] === '|') {
    index += 1;
    alternatives.push(sequence());
  }
  if (index < words.length) throw new Error(`unexpected "${words[index]}" in "${synopsis}"`);
  return alternatives.length > 1 ? [single(alternatives)] : (alternatives[0] as CommandArgument[]);
}

/**
 * "key [key ...]" is one argument that repeats, and "key value [key value ...]" one block that
 * repeats, as Redis describes them (redis-cli then shows "key [key ...]").
 */
function collapseRepeats(items: CommandArgument[]): CommandArgument[] {
  const out: CommandArgument[] = [];
  for (const item of items) {
    if (item.optional && item.multiple) {
      const repeated = item.type === 'block' ? (item.arguments ?? []) : [{ ...item, optional: undefined, multiple: undefined }];
      const before = out.slice(out.length - repeated.length);
      if (repeated.length > 0 && before.length === repeated.length && before.every((b, i) => sameArgument(b, repeated[i] as CommandArgument))) {
        out.splice(out.length - repeated.length, repeated.length);
        out.push(repeated.length === 1 ? { ...(repeated[0] as CommandArgument), multiple: true } : { ...item, optional: undefined, multiple: true });
        continue;
      }
    }
    out.push(item);
  }
  return out.map(withoutUndefined);
}

function sameArgument(a: CommandArgument, b: CommandArgument): boolean {
  return JSON.stringify(withoutUndefined(a)) === JSON.stringify(withoutUndefined(b));
}

function withoutUndefined(argument: CommandArgument): CommandArgument {
  return Object.fromEntries(Object.entries(argument).filter(([, value]) => value !== undefined)) as unknown as CommandArgument;
}

/** One argument as COMMAND DOCS gives it (a map). */
export function argumentReply(argument: CommandArgument): MapReply {
  const entries: [RespValue, RespValue][] = [
    ['name', argument.name],
    ['type', argument.type],
  ];
  if (argument.type === 'key') entries.push(['key_spec_index', 0]);
  if (argument.token !== undefined) entries.push(['token', argument.token]);
  const flags: string[] = [];
  if (argument.optional) flags.push('optional');
  if (argument.multiple) flags.push('multiple');
  if (flags.length > 0) entries.push(['flags', new SetReply(flags.map((flag) => new SimpleString(flag)))]);
  if (argument.arguments) entries.push(['arguments', argument.arguments.map(argumentReply)]);
  return new MapReply(entries);
}
