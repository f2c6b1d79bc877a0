// Conditional writes as data (updateSpec.ts): what each condition and action decides over a key that
// is absent, deleted, live, or live with an expiry; and what a spec from another node must look like.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideUpdate, isUpdateSpec, notAnInteger, wouldOverflow, type UpdateSpec } from '../../src/core/updateSpec.js';
import { makeEntry, type Entry, type Version } from '../../src/core/version.js';
import { bytes, text } from './harness.js';

const v1 = '000000000001-00000000-a' as Version;
const v2 = '000000000002-00000000-b' as Version;
const live = (value: string, expiresMs?: number): Entry => makeEntry('k', v1, bytes(value), expiresMs);
const tombstone = makeEntry('k', v2, null);

/** What `spec` writes over `current`, in words: "skip", "refused: ...", "delete", or "value[@expiry]". */
function decided(spec: UpdateSpec, current: Entry | undefined): string {
  const write = decideUpdate(spec, current);
  if (write === undefined) return 'skip';
  if ('refused' in write) return `refused: ${write.refused}`;
  if (write.value === null) return 'delete';
  return `${text(write.value) ?? ''}${write.expiresMs === undefined ? '' : `@${write.expiresMs}`}`;
}

test('set: unconditional, only if absent, only if live, keeping the expiry or not', () => {
  const set: UpdateSpec = { then: { op: 'set', value: bytes('new'), expiresMs: 500 } };
  assert.equal(decided(set, undefined), 'new@500');
  assert.equal(decided(set, live('old', 900)), 'new@500');
  const create: UpdateSpec = { when: { live: false }, then: { op: 'set', value: bytes('new') } };
  assert.equal(decided(create, undefined), 'new');
  assert.equal(decided(create, tombstone), 'new', 'a tombstone is absent');
  assert.equal(decided(create, live('old')), 'skip');
  const replace: UpdateSpec = { when: { live: true }, then: { op: 'set', value: bytes('new'), keepExpiry: true } };
  assert.equal(decided(replace, undefined), 'skip');
  assert.equal(decided(replace, live('old', 900)), 'new@900');
  assert.equal(decided({ when: { live: true }, then: { op: 'set', value: null } }, live('old')), 'delete');
});

test('versions: a live value, a tombstone or no entry at all, by version', () => {
  const ifAt = (versions: (Version | null)[]): UpdateSpec => ({ when: { versions }, then: { op: 'set', value: bytes('x') } });
  assert.equal(decided(ifAt([v1]), live('old')), 'x');
  assert.equal(decided(ifAt([v2]), live('old')), 'skip');
  assert.equal(decided(ifAt([v2]), tombstone), 'x', "a tombstone's version counts");
  assert.equal(decided(ifAt([null]), undefined), 'x', 'null: no entry');
  assert.equal(decided(ifAt([null]), tombstone), 'skip');
  assert.equal(decided(ifAt([]), live('old')), 'skip', 'an empty list never holds');
  assert.equal(decided({ when: { live: true, versions: [v2] }, then: { op: 'set', value: bytes('x') } }, tombstone), 'skip');
});

test('append and add keep the expiry; add refuses what is not an integer and what overflows', () => {
  assert.equal(decided({ then: { op: 'append', tail: bytes('!') } }, undefined), '!');
  assert.equal(decided({ then: { op: 'append', tail: bytes('!') } }, live('hi', 700)), 'hi!@700');
  const add = (by: string): UpdateSpec => ({ then: { op: 'add', by } });
  assert.equal(decided(add('5'), undefined), '5');
  assert.equal(decided(add('-3'), live('10', 700)), '7@700');
  assert.equal(decided(add('1'), live('9223372036854775806')), '9223372036854775807');
  assert.equal(decided(add('1'), live('9223372036854775807')), `refused: ${wouldOverflow}`);
  assert.equal(decided(add('1'), live('1.5')), `refused: ${notAnInteger}`);
  assert.equal(decided(add('1'), live(' 1')), `refused: ${notAnInteger}`);
});

test("expire: Redis's NX, XX, GT and LT, an expiry already past deletes, and none removes it", () => {
  const expire = (when: UpdateSpec['when'], expiresMs: number | null): UpdateSpec => ({ when, then: { op: 'expire', expiresMs, nowMs: 1000 } });
  assert.equal(decided(expire({ live: true }, 5000), undefined), 'skip');
  assert.equal(decided(expire(undefined, 5000), undefined), 'skip', 'nothing to expire');
  assert.equal(decided(expire({ live: true }, 5000), live('v')), 'v@5000');
  assert.equal(decided(expire({ live: true }, 1000), live('v')), 'delete', 'at now: gone');
  assert.equal(decided(expire({ live: true, hasExpiry: false }, 5000), live('v', 3000)), 'skip');
  assert.equal(decided(expire({ live: true, hasExpiry: true }, 5000), live('v')), 'skip');
  assert.equal(decided(expire({ live: true, expiryIs: 'later' }, 5000), live('v', 3000)), 'v@5000');
  assert.equal(decided(expire({ live: true, expiryIs: 'later' }, 5000), live('v')), 'skip', 'no expiry is later than any');
  assert.equal(decided(expire({ live: true, expiryIs: 'earlier' }, 5000), live('v')), 'v@5000');
  assert.equal(decided(expire({ live: true, expiryIs: 'earlier' }, 5000), live('v', 3000)), 'skip');
  assert.equal(decided(expire({ live: true, hasExpiry: true }, null), live('v', 3000)), 'v', 'PERSIST');
});

test('refuse: only when the condition holds', () => {
  const spec: UpdateSpec = { when: { live: true }, then: { op: 'refuse', reason: 'bad amount' } };
  assert.equal(decided(spec, undefined), 'skip');
  assert.equal(decided(spec, live('v')), 'refused: bad amount');
});

test('a spec from another node is checked before it runs', () => {
  const good: unknown[] = [
    { then: { op: 'set', value: bytes('x') } },
    { then: { op: 'set', value: null } },
    { when: { live: true, versions: [v1, null], hasExpiry: true, expiryIs: 'later' }, then: { op: 'expire', expiresMs: 5, nowMs: 1 } },
    { then: { op: 'add', by: '-9223372036854775808' } },
    { then: { op: 'append', tail: bytes('') } },
    { then: { op: 'refuse', reason: 'why' } },
  ];
  for (const spec of good) assert.ok(isUpdateSpec(spec), JSON.stringify(spec));
  const bad: unknown[] = [
    null,
    {},
    { then: { op: 'set', value: 'x' } },
    { then: { op: 'set', value: bytes('x'), expiresMs: 1.5 } },
    { then: { op: 'add', by: '9223372036854775808' } },
    { then: { op: 'add', by: '01' } },
    { then: { op: 'add', by: 1 } },
    { then: { op: 'expire', expiresMs: 5 } },
    { then: { op: 'refuse', reason: 'x'.repeat(513) } },
    { then: { op: 'drop-table' } },
    { when: { versions: ['not a version'] }, then: { op: 'set', value: null } },
    { when: { live: 'yes' }, then: { op: 'set', value: null } },
    { when: { expiryIs: 'sooner' }, then: { op: 'set', value: null } },
    { when: [], then: { op: 'set', value: null } },
  ];
  for (const spec of bad) assert.equal(isUpdateSpec(spec), false, JSON.stringify(spec));
});
