// The core stays deterministic (DESIGN.md §5): no file under src/core reaches IO, the clock, timers or
// randomness, and it imports nothing from outside src/core. This test fails when one does.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const coreDir = join(import.meta.dirname, '..', '..', 'src', 'core');

const forbidden: [RegExp, string][] = [
  [/from\s+['"]node:/, 'imports a node: module'],
  [/\brequire\(/, 'uses require'],
  [/\bDate\b/, 'uses Date (the clock comes through the Clock port)'],
  [/Math\.random/, 'uses Math.random (randomness comes through the Random port)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'sets a timer (time comes in through tick)'],
  [/\bprocess\./, 'touches process'],
  [/performance\.now/, 'reads the clock'],
  [/\bPromise\b|\basync\b|\bawait\b/, 'holds a promise (the core answers through callbacks, in order)'],
];

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

test('no file under src/core reaches IO, the clock, timers or randomness', () => {
  const files = readdirSync(coreDir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 5, 'found the core files');
  const problems: string[] = [];
  for (const file of files) {
    const source = withoutComments(readFileSync(join(coreDir, file), 'utf8'));
    for (const [pattern, why] of forbidden) if (pattern.test(source)) problems.push(`src/core/${file} ${why}`);
    for (const match of source.matchAll(/from\s+['"]([^'"]+)['"]/g)) {
      const specifier = match[1] as string;
      if (!specifier.startsWith('./')) problems.push(`src/core/${file} imports "${specifier}" from outside src/core`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the purity check itself catches a forbidden use', () => {
  const bad = withoutComments("import x from 'node:fs';\nconst t = Date.now(); // fine in a comment: Math.random\n");
  assert.ok(forbidden.some(([pattern]) => pattern.test(bad)));
  assert.ok(!/Math\.random/.test(bad), 'comments are ignored');
});
