// Splits a shell line into words the way redis-cli does: spaces separate words, "double quotes" take
// escapes (\n \t \r \\ \" \xHH), 'single quotes' take everything literally but \'. So a value with
// exact spacing is `put k "hello  world"`; put and write also join unquoted words with one space.

export class WordsError extends Error {}

export function splitWords(line: string): string[] {
  const words: string[] = [];
  let index = 0;
  while (index < line.length) {
    while (index < line.length && isSpace(line[index] as string)) index++;
    if (index >= line.length) break;
    let word = '';
    while (index < line.length && !isSpace(line[index] as string)) {
      const char = line[index] as string;
      if (char === '"' || char === "'") {
        const [text, end] = quoted(line, index);
        word += text;
        index = end;
      } else {
        word += char;
        index++;
      }
    }
    words.push(word);
  }
  return words;
}

/** The text of a quoted part starting at `open`, and the index after its closing quote. */
function quoted(line: string, open: number): [string, number] {
  const quote = line[open] as string;
  let text = '';
  let index = open + 1;
  while (index < line.length) {
    const char = line[index] as string;
    if (char === quote) return [text, index + 1];
    if (char === '\\' && index + 1 < line.length) {
      const next = line[index + 1] as string;
      if (quote === "'") {
        text += next === "'" ? "'" : `\\${next}`;
        index += 2;
        continue;
      }
      const hex = next === 'x' ? line.slice(index + 2, index + 4) : '';
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        text += String.fromCharCode(parseInt(hex, 16));
        index += 4;
        continue;
      }
      text += escapes[next] ?? next;
      index += 2;
      continue;
    }
    text += char;
    index++;
  }
  throw new WordsError(`unbalanced ${quote === '"' ? 'double' : 'single'} quotes`);
}

const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', a: '\x07', '\\': '\\', '"': '"' };

function isSpace(char: string): boolean {
  return char === ' ' || char === '\t';
}
