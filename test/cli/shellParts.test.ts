// The shell's pieces that need no cluster: splitting lines into words (redis-cli's quoting), Tab
// completion, the history file, input checks, and the mapping of error codes to exit codes.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuorumKvError, type ClusterView } from '../../src/client/index.js';
import { CliError, exitCodeOf, exitCodes } from '../../src/cli/clientCommands.js';
import { checkKey, checkNodeId, checkStrategy, checkValue } from '../../src/cli/inputChecks.js';
import { completer, historyLinesMax, historyPath, loadHistory, saveHistory } from '../../src/cli/shellHistory.js';
import { splitWords, WordsError } from '../../src/cli/shellWords.js';

const cluster = { members: [{ id: '0' }, { id: '1' }, { id: 'edge-a' }] } as unknown as ClusterView;

function usageMessage(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof CliError);
    return `${error.exitCode}: ${error.message}`;
  }
  return 'no error';
}

describe('shell words', () => {
  it('splits on spaces and keeps quoted text whole, with redis-cli escapes', () => {
    assert.deepEqual(splitWords('  put  k   v '), ['put', 'k', 'v']);
    assert.deepEqual(splitWords('put k "hello  world"'), ['put', 'k', 'hello  world']);
    assert.deepEqual(splitWords(`put k 'it''s' "a\\"b" "tab\\there" "\\x41\\x42"`), ['put', 'k', 'its', 'a"b', 'tab\there', 'AB']);
    assert.deepEqual(splitWords(`put k 'no \\n escape' 'it\\'s'`), ['put', 'k', 'no \\n escape', "it's"]);
    assert.deepEqual(splitWords('put "" x'), ['put', '', 'x']);
    assert.deepEqual(splitWords('pre"fix and"post'), ['prefix andpost']);
    assert.deepEqual(splitWords(''), []);
    assert.throws(() => splitWords('get "open'), WordsError);
    assert.throws(() => splitWords("get 'open"), WordsError);
  });
});

describe('shell completion', () => {
  const complete = completer(() => ['0', '1', '12']);

  it('completes command names, then node ids, strategies and levels', () => {
    assert.deepEqual(complete('rec'), [['recover', 'recover-all'], 'rec']);
    assert.deepEqual(complete(''), [complete('')[0], '']);
    assert.ok(complete('')[0].includes('menu'));
    assert.deepEqual(complete('fail 1'), [['1', '12'], '1']);
    assert.deepEqual(complete('strategy c'), [['consistent'], 'c']);
    assert.deepEqual(complete('consistency '), [['one', 'quorum', 'all', 'default'], '']);
    assert.deepEqual(complete('get some'), [[], 'some'], 'keys are not completed');
    assert.deepEqual(complete('fail 1 x'), [[], 'x']);
  });
});

describe('shell history', () => {
  it('lives in ~/.quorumkv_history, or $QUORUMKV_HISTORY, or nowhere when that is empty', () => {
    assert.match(historyPath({}) ?? '', /\.quorumkv_history$/);
    assert.equal(historyPath({ QUORUMKV_HISTORY: '/tmp/h' }), '/tmp/h');
    assert.equal(historyPath({ QUORUMKV_HISTORY: '' }), undefined);
  });

  it('saves oldest first, loads newest first, keeps the last lines, private to its owner', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorumkv-history-'));
    try {
      const path = join(dir, 'history');
      assert.deepEqual(loadHistory(path), [], 'a missing file is an empty history');
      saveHistory(path, ['get b', 'put a 1']);
      assert.equal(readFileSync(path, 'utf8'), 'put a 1\nget b\n');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(loadHistory(path), ['get b', 'put a 1']);
      writeFileSync(path, Array.from({ length: historyLinesMax + 5 }, (_, i) => `get k${i}`).join('\n'));
      const loaded = loadHistory(path);
      assert.equal(loaded.length, historyLinesMax);
      assert.equal(loaded[0], `get k${historyLinesMax + 4}`);
      saveHistory(join(dir, 'missing-dir', 'history'), ['x']); // not fatal
      assert.deepEqual(loadHistory(undefined), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('input checks', () => {
  it('refuse blank keys and values, and odd node ids, before anything is sent', () => {
    assert.equal(usageMessage(() => checkKey('  ')), '2: Key must not be empty');
    assert.equal(usageMessage(() => checkValue('')), '2: Value must not be empty');
    assert.equal(checkKey(' spaced '), ' spaced ');
    assert.equal(checkNodeId(' 1 ', cluster), '1');
    assert.equal(checkNodeId('edge-a', cluster), 'edge-a', 'named members are accepted');
    assert.equal(checkNodeId('5'), '5', 'without a cluster view, any number');
    assert.equal(usageMessage(() => checkNodeId('x1', cluster)), '2: Node id must be a number, got "x1"');
    assert.equal(usageMessage(() => checkNodeId('7', cluster)), '1: Node 7 does not exist (nodes: 0, 1, edge-a)');
  });

  it('refuse a replication factor larger than the node count', () => {
    assert.deepEqual(checkStrategy('Consistent', '3', cluster), { strategy: 'consistent', rf: 3 });
    assert.deepEqual(checkStrategy('full', undefined, cluster), { strategy: 'full' });
    assert.equal(usageMessage(() => checkStrategy('consistent', '4', cluster)), '2: Replication factor 4 is larger than the node count (3)');
    assert.equal(usageMessage(() => checkStrategy('consistent', '0', cluster)), '2: Replication factor must be a positive integer, got "0"');
    assert.equal(usageMessage(() => checkStrategy('consistent', '1.5', cluster)), '2: Replication factor must be a positive integer, got "1.5"');
    assert.equal(usageMessage(() => checkStrategy('ring', '1', cluster)), '2: Strategy must be "full" or "consistent", got "ring"');
  });
});

describe('exit codes', () => {
  it('map the client error codes the way scripts expect', () => {
    const code = (c: QuorumKvError['code']) => exitCodeOf(new QuorumKvError(c, 'x', undefined));
    assert.equal(code('NOT_FOUND'), exitCodes.notFound);
    assert.equal(code('UNKNOWN_NODE'), exitCodes.notFound);
    assert.equal(code('BAD_REQUEST'), exitCodes.usage);
    assert.equal(code('UNREACHABLE'), exitCodes.unreachable);
    assert.equal(code('TIMEOUT'), exitCodes.unreachable);
    for (const refused of ['UNAVAILABLE', 'EXISTS', 'KEY_TOO_LARGE', 'VALUE_TOO_LARGE', 'UNAUTHORIZED', 'FORBIDDEN', 'OVERLOADED'] as const) {
      assert.equal(code(refused), exitCodes.refused, refused);
    }
  });
});
