// `quorumkv shell` driven as a script would drive it: commands piped on stdin against a real local
// cluster. Without a terminal it prints results only (no prompts, no menu screens), reports errors on
// stderr, checks input before sending, and exits with the code of the last failed command. Covers
// the prototype's numbered menu step by step, fail/recover/recover-all and the nodes table.
// Build first (`npm run build`): the shell runs as `node dist/src/main.js shell`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closedPort, host, startLocalCluster, waitFor, type LocalCluster } from '../client/localCluster.js';
import { runCli } from './runCli.js';

// Generous: a loaded 2-CPU machine takes seconds to start each CLI process and node.
const testTimeoutMs = 180_000;

describe('quorumkv shell with piped commands', { timeout: 10 * testTimeoutMs }, () => {
  let cluster: LocalCluster;
  const shell = (input: string, ...extra: string[]) => runCli(['shell', '--url', cluster.front, ...extra], { input });

  before(async () => {
    cluster = await startLocalCluster({ nodes: 3 });
  });
  after(async () => cluster?.stop());

  it('runs commands and prints only their results', { timeout: testTimeoutMs }, async () => {
    const run = await shell(
      ['put greeting hello   world', 'get greeting', 'put spaced "two  spaces"', 'get spaced', 'read greeting', 'keys gree', 'del greeting', 'get greeting', '', '# a comment', 'exit', 'get spaced'].join('\n') + '\n',
    );
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /^OK [0-9a-f]+-/);
    assert.equal(lines[1], 'hello world');
    assert.match(lines[2] as string, /^OK /);
    assert.equal(lines[3], 'two  spaces');
    assert.equal(lines[4], 'hello world');
    assert.equal(lines[5], 'greeting');
    assert.equal(lines[6], 'Key greeting deleted successfully');
    assert.equal(lines.length, 7, `nothing after exit, no prompts: ${JSON.stringify(run.stdout)}`);
    assert.equal(run.stderr, 'error: Key greeting not found\n');
    assert.equal(run.code, 1, 'the exit code of the last failure (not found)');
  });

  it('pages through more keys than one listing shows, with the cursor it gives on stderr', { timeout: testTimeoutMs }, async () => {
    // The "more:" line was on stdout, read as a key by a script, and gave a --cursor the shell refused.
    const { connect } = await import('../../src/client/index.js');
    const kv = connect({ url: cluster.front });
    try {
      await kv.batch(Array.from({ length: 130 }, (_, i) => ({ op: 'put' as const, key: `page:${String(i).padStart(3, '0')}`, value: 'v' })));
    } finally {
      await kv.close();
    }
    const first = await shell('keys page:\n');
    assert.equal(first.code, 0, first.stderr);
    const firstKeys = first.stdout.trimEnd().split('\n');
    assert.equal(firstKeys.length, 100);
    assert.ok(firstKeys.every((key) => key.startsWith('page:')), 'stdout holds keys only');
    const more = /^more: (keys "page:" "[^"]+")\n$/.exec(first.stderr);
    assert.ok(more, `the next page's command on stderr: ${JSON.stringify(first.stderr)}`);
    const second = await shell(`${more[1]}\n`);
    assert.equal(second.code, 0, second.stderr);
    const secondKeys = second.stdout.trimEnd().split('\n');
    assert.equal(secondKeys.length, 30);
    assert.deepEqual([...firstKeys, ...secondKeys].sort(), Array.from({ length: 130 }, (_, i) => `page:${String(i).padStart(3, '0')}`));
    assert.equal(second.stderr, '', 'no more after the last page');
  });

  it('writes a key that expires with setex', { timeout: testTimeoutMs }, async () => {
    const run = await shell(['setex session 600 abc def', 'get session', 'setex session soon abc', 'setex session 600'].join('\n') + '\n');
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /^OK /);
    assert.equal(lines[1], 'abc def');
    assert.deepEqual(run.stderr.trimEnd().split('\n'), [
      'error: TTL must be a positive number of seconds, got "soon"',
      'error: usage: setex <key> <seconds> <value>',
    ]);
    const response = await fetch(`${cluster.front}/v1/kv/session`);
    const expiresAt = Number(response.headers.get('x-quorumkv-expires-at'));
    assert.ok(expiresAt > Date.now() + 500_000 && expiresAt <= Date.now() + 600_000, `expires at ${expiresAt}`);
  });

  it('checks input before sending, as the prototype did', { timeout: testTimeoutMs }, async () => {
    const run = await shell(
      [
        'put "" value',
        'put "   " value',
        'put key "  "',
        'write key',
        'fail one',
        'fail 7',
        'recover x',
        'strategy consistent 4',
        'strategy consistent zero',
        'strategy ring 2',
        'get "unbalanced',
        'frobnicate',
        'get a b',
        'consistency two',
      ].join('\n') + '\n',
    );
    assert.equal(run.stdout, '');
    assert.deepEqual(run.stderr.trimEnd().split('\n'), [
      'error: Key must not be empty',
      'error: Key must not be empty',
      'error: Value must not be empty',
      'error: usage: write <key> <value>',
      'error: Node id must be a number, got "one"',
      'error: Node 7 does not exist (nodes: 0, 1, 2)',
      'error: Node id must be a number, got "x"',
      'error: Replication factor 4 is larger than the node count (3)',
      'error: Replication factor must be a positive integer, got "zero"',
      'error: Strategy must be "full" or "consistent", got "ring"',
      'error: unbalanced double quotes',
      'error: unknown command "frobnicate"; type help',
      'error: usage: get <key>',
      'error: consistency must be one, quorum, all or default, got "two"',
    ]);
    assert.equal(run.code, 2, 'usage errors');
  });

  it("offers the prototype's numbered menu, step by step", { timeout: testTimeoutMs }, async () => {
    const run = await shell(
      [
        'menu',
        '2', 'menu-key', 'menu value', // write
        '2', 'menu-key', 'again', // write again: create-only, refused
        '3', 'menu-key', // read
        '1', 'consistent', '5', // strategy with rf > nodes: refused before sending
        '1', 'consistent', '2', // strategy
        '4', 'menu-key', // delete
        '3', 'menu-key', // read: gone
        '5', 'abc', // fail: not a number
        '12', // not an option
        '0', // back to the prompt
        'get menu-key',
        'menu',
        '9', // exit
        'put after-exit x',
      ].join('\n') + '\n',
    );
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, run.stdout);
    assert.deepEqual([lines[0], lines[1], lines[3]], ['Key menu-key written successfully', 'menu value', 'Key menu-key deleted successfully']);
    assert.match(lines[2] as string, /^Replication strategy set to consistent with replication factor 2\b/);
    assert.deepEqual(run.stderr.trimEnd().split('\n'), [
      'error: 409 EXISTS: Key menu-key already exists',
      'error: Replication factor 5 is larger than the node count (3)',
      'error: Key menu-key not found',
      'error: Node id must be a number, got "abc"',
      'error: Invalid option "12": choose 0 to 9',
      'error: Key menu-key not found',
    ]);
    const after = await shell('strategy consistent 3\n');
    assert.match(after.stdout, /^Replication strategy set to consistent with replication factor 3\b/);
  });

  it('fails and recovers nodes, and shows them in the nodes table with key counts', { timeout: 2 * testTimeoutMs }, async () => {
    const failed = await shell(['put n1 one', 'put n2 two', 'fail 2', 'nodes', 'get n1'].join('\n') + '\n');
    assert.equal(failed.stderr, '');
    assert.equal(failed.code, 0);
    assert.match(failed.stdout, /^Node 2 failed$/m);
    const table = failed.stdout.slice(failed.stdout.indexOf('strategy '));
    assert.match(table, /│ node │ state\s+│ http\s+│ redis\s+│ keys │ tombstones │ hints for it │/);
    assert.match(table, /│ 0 +│ alive +│ 127\.0\.0\.1:\d+ +│ 127\.0\.0\.1:\d+ +│ \d+ +│/);
    assert.match(table, /│ 2 +│ dead \(stopped\) +│ [^│]+│ [^│]+│ - +│ - +│/);
    assert.match(failed.stdout, /^one$/m, 'reads go on with a node down');

    const recovered = await shell(['recover-all', 'nodes'].join('\n') + '\n');
    assert.equal(recovered.stderr, '');
    assert.match(recovered.stdout, /^Node 0 recovered\nNode 1 recovered\nNode 2 recovered$/m);
    // The process answers again at once (its key count shows); gossip may take a moment to agree.
    assert.match(recovered.stdout, /│ 2 +│ \w+ +│ [^│]+│ [^│]+│ \d+ +│/);
    await waitFor(async () => /│ 2 +│ alive /.test((await shell('nodes\n')).stdout), 60_000, 'node 2 alive again');

    const single = await shell(['fail 1', 'recover 1'].join('\n') + '\n');
    assert.equal(single.stdout, 'Node 1 failed\nNode 1 recovered\n');
    await waitFor(async () => (await shell('nodes\n')).stdout.includes('│ 1    │ alive'), 60_000, 'node 1 alive again');
  });

  it('prints JSON lines with --json', { timeout: testTimeoutMs }, async () => {
    const run = await shell('put j 1\nget j\nget nope\n', '--json');
    const [put, get, missing] = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(put?.status, 'success');
    assert.deepEqual({ key: get?.key, value: get?.value }, { key: 'j', value: '1' });
    assert.deepEqual(missing, { error: 'Key nope not found', code: 'NOT_FOUND', exitCode: 1 });
    assert.equal(run.code, 1);
  });

  it('help lists every command', { timeout: testTimeoutMs }, async () => {
    const run = await shell('help\nhelp put\n');
    for (const name of ['put', 'write', 'get', 'read', 'del', 'strategy', 'fail', 'recover', 'recover-all', 'nodes', 'menu', 'exit']) {
      assert.match(run.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
    }
    assert.match(run.stdout, /^put <key> <value>: write a key \(overwrites\) \(also set\)$/m);
    assert.equal(run.code, 0);
  });
});

describe('quorumkv shell without a cluster', { timeout: testTimeoutMs }, () => {
  it('says the cluster cannot be reached and exits with 3', { timeout: testTimeoutMs }, async () => {
    const url = `http://${host}:${await closedPort()}`;
    const run = await runCli(['shell', '--url', url], { input: 'get a\n' });
    assert.equal(run.code, 3);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `error: cannot reach the cluster at ${url} (ECONNREFUSED); is it running? (quorumkv start)\n`);
  });

  it('takes the address from QUORUMKV_URL', { timeout: testTimeoutMs }, async () => {
    const url = `http://${host}:${await closedPort()}`;
    const run = await runCli(['shell'], { input: '', env: { QUORUMKV_URL: url } });
    assert.equal(run.code, 3);
    assert.match(run.stderr, new RegExp(`cannot reach the cluster at ${url.replace(/\./g, '\\.')}`));
  });
});
