// The scriptable CLI against a real local cluster: each command's text and --json output, and the
// exit codes scripts rely on: 0 ok, 1 not found, 2 usage, 3 unreachable, 4 refused.
// Build first (`npm run build`): commands run as `node dist/src/main.js ...`.

import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closedPort, host, startLocalCluster, waitFor, type LocalCluster } from '../client/localCluster.js';
import { freeBasePort } from '../ports.js';
import { runCli } from './runCli.js';

// Generous: a loaded 2-CPU machine takes seconds to start each CLI process and node.
const testTimeoutMs = 180_000;

describe('quorumkv commands', { timeout: 10 * testTimeoutMs }, () => {
  let cluster: LocalCluster;
  const cli = (...args: string[]) => runCli([...args, '--url', cluster.front]);
  const json = async (...args: string[]) => {
    const run = await cli(...args, '--json');
    assert.equal(run.code, 0, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    return JSON.parse(run.stdout) as Record<string, unknown>;
  };

  before(async () => {
    cluster = await startLocalCluster({ nodes: 3 });
  });
  after(async () => cluster?.stop());

  it('put, get, del: text, JSON and exit codes', { timeout: testTimeoutMs }, async () => {
    const put = await cli('put', 'color', 'blue');
    assert.equal(put.code, 0);
    assert.match(put.stdout, /^OK [0-9a-f]+-[0-9a-f]+-\d+\n$/);
    assert.equal((await cli('get', 'color')).stdout, 'blue\n');
    const got = await json('get', 'color', '--consistency', 'all');
    assert.deepEqual({ key: got.key, value: got.value }, { key: 'color', value: 'blue' });
    assert.equal((await cli('del', 'color')).stdout, 'OK\n');

    const missing = await cli('get', 'color');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'quorumkv: Key color not found\n');
    const missingJson = await cli('get', 'color', '--json');
    assert.equal(missingJson.code, 1);
    assert.equal((JSON.parse(missingJson.stdout) as { error: string }).error, 'Key color not found');

    assert.equal((await cli('put', 'session', 'abc', '--ttl', '600')).code, 0);
    const expiring = await json('get', 'session');
    const expiresAt = Date.parse(String(expiring.expiresAt));
    assert.ok(expiresAt > Date.now() + 500_000 && expiresAt <= Date.now() + 600_000, `expiresAt ${String(expiring.expiresAt)}`);
    const badTtl = await cli('put', 'session', 'abc', '--ttl', 'soon');
    assert.equal(badTtl.code, 2);
    assert.match(badTtl.stderr, /--ttl must be a positive number of seconds/);
    assert.equal((await cli('put', 'session', 'abc', '--ttl', '0x10')).code, 2, 'not read as 16');
  });

  it('conditional put and del: --if-absent, --if-present, --if-version (exit 5 when the condition does not hold)', { timeout: testTimeoutMs }, async () => {
    assert.equal((await cli('put', 'lock', 'me', '--if-absent')).code, 0);
    const taken = await cli('put', 'lock', 'you', '--if-absent');
    assert.equal(taken.code, 5);
    assert.equal(taken.stderr, 'quorumkv: the condition did not hold for key lock: nothing written\n');
    const { version } = await json('get', 'lock');
    assert.equal((await cli('put', 'lock', 'next', '--if-version', String(version))).code, 0);
    assert.equal((await cli('put', 'lock', 'stale', '--if-version', String(version))).code, 5, 'the version moved on');
    assert.equal((await cli('get', 'lock')).stdout, 'next\n');
    assert.equal((await cli('del', 'lock', '--if-version', String(version))).code, 5);
    assert.equal((await cli('del', 'lock', '--if-present')).code, 0);
    assert.equal((await cli('put', 'lock', 'x', '--if-present')).code, 5);
    assert.equal((await cli('put', 'lock', 'x', '--if-absent', '--if-present')).code, 2);
    assert.match((await cli('put', 'lock', 'x', '--if-absent', '--consistency', 'one')).stderr, /--consistency does not apply/);
    assert.equal((await cli('put', 'lock', 'x', '--if-version', 'nonsense')).code, 2, 'not a version: a 400');
  });

  it('add-node sent to a node, not the front, says where it works', { timeout: testTimeoutMs }, async () => {
    const run = await runCli(['add-node', '--url', cluster.nodeUrls.get('0') as string]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /starts no node processes \(add-node is for the front of `quorumkv start`\): start the new node with `quorumkv node --join/);
  });

  it('start refuses settings its nodes would refuse, before starting any node', { timeout: testTimeoutMs }, async () => {
    const dataDir = join(tmpdir(), `quorumkv-badsettings-${process.pid}`);
    const port = await closedPort();
    const start = (...settings: string[]) =>
      runCli(['start', '--data', dataDir, '--port', String(port), ...settings.flatMap((s) => ['--set', s])]);
    const purgeBeforeHints = await start('tombstoneGraceMs=60000');
    assert.equal(purgeBeforeHints.code, 2);
    assert.match(purgeBeforeHints.stderr, /setting tombstoneGraceMs \(60000 ms\) must be longer than hintWindowMs \(10800000 ms\)/);
    const probes = await start('probeTimeoutMs=5000');
    assert.equal(probes.code, 2);
    assert.equal(probes.stderr, 'quorumkv: setting probeTimeoutMs must be shorter than probeIntervalMs\n');
    assert.equal(existsSync(dataDir), false, 'nothing was created');
  });

  it('decommission and remove-node check the node id as fail does, before asking for anything', { timeout: testTimeoutMs }, async () => {
    for (const command of ['fail', 'decommission', 'remove-node']) {
      const unknown = await cli(command, '9');
      assert.equal(unknown.code, 1, command);
      assert.equal(unknown.stderr, 'quorumkv: Node 9 does not exist (nodes: 0, 1, 2)\n', command);
      const word = await cli(command, 'abc');
      assert.equal(word.code, 2, command);
      assert.equal(word.stderr, 'quorumkv: Node id must be a number, got "abc"\n', command);
    }
    assert.match((await cli('topology')).stdout, /members: 0 \(active\), 1 \(active\), 2 \(active\)\nno change under way/, 'nobody left');
  });

  it('usage errors exit with 2', { timeout: testTimeoutMs }, async () => {
    assert.equal((await cli('get')).code, 2, 'missing argument');
    assert.equal((await cli('get', 'k', '--bogus')).code, 2, 'unknown option');
    const level = await cli('get', 'k', '--consistency', 'two');
    assert.equal(level.code, 2);
    assert.match(level.stderr, /consistency must be one, quorum or all/);
    const rf = await cli('strategy', 'consistent', '4');
    assert.equal(rf.code, 2);
    assert.equal(rf.stderr, 'quorumkv: Replication factor 4 is larger than the node count (3)\n');
    assert.equal((await cli('strategy', 'ring')).code, 2);
    const fullWithRf = await cli('strategy', 'full', '2');
    assert.equal(fullWithRf.code, 2, 'the 2 was taken and ignored');
    assert.match(fullWithRf.stderr, /takes no replication factor/);
    assert.equal((await cli('fail', 'one')).code, 2);
    assert.equal((await cli('write', 'k', '   ')).code, 2);
    assert.equal((await cli('local-entries', '--node', '0', '--limit', '0')).code, 2);
    // commander's own errors exited 1, which means "not found"
    assert.equal((await runCli(['bogus'])).code, 2, 'unknown command');
    assert.equal((await runCli(['start', '--nodes', '0'])).code, 2, 'bad option value');
    assert.equal((await runCli(['start', '--nodes', '0x3'])).code, 2, 'not read as 3');
    const manyTokens = await runCli(['start', '--vnodes', '3000000']);
    assert.equal(manyTokens.code, 2, 'a typo that took 440 MB per node');
    assert.match(manyTokens.stderr, /--vnodes <n>' argument '3000000' is invalid\. must be a whole number from 1 to 4096/);
    // Node ports that cannot work are refused before anything starts (the nodes used to fail to listen).
    const nowhere = join(tmpdir(), `quorumkv-no-ports-${process.pid}`);
    const high = await runCli(['start', '--port', '65400', '--data', nowhere]);
    assert.equal(high.code, 2);
    assert.equal(high.stderr, 'quorumkv: node 0 would listen on port 65601 (front port 65400 + 201 + 0), past 65535: use a lower --port\n');
    const many = await runCli(['start', '--nodes', '101', '--port', '7000', '--data', nowhere]);
    assert.equal(many.code, 2);
    assert.match(many.stderr, /has ports for 100 nodes/);
    assert.equal(existsSync(nowhere), false, 'no data directory made');
  });

  it('start on existing data names the options it does not follow; Ctrl-C says when all is stopped', { timeout: testTimeoutMs }, async () => {
    const dataDir = join(tmpdir(), `quorumkv-restart-${process.pid}`);
    // Every port the three nodes take must be free, not only the front's.
    const port = String(await freeBasePort(3));
    const ready = (stdout: string) => stdout.includes('Press Ctrl-C to stop.');
    try {
      const first = await runCli(['start', '--nodes', '1', '--port', port, '--data', dataDir], { interruptWhen: ready });
      assert.equal(first.code, 0, first.stderr);
      assert.doesNotMatch(first.stdout, /note:/);
      assert.match(first.stdout, /stopping the cluster\.\.\.\nstopped\n$/);

      const again = await runCli(['start', '--nodes', '3', '--strategy', 'full', '--rf', '1', '--port', port, '--data', dataDir], {
        interruptWhen: ready,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /restarted from/);
      assert.match(again.stdout, /note: +--nodes 3 \(it has 1\), --strategy full \(it has consistent\) ignored/);
      assert.doesNotMatch(again.stdout, /--rf/, '--rf 1 is what it has');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('start says why a node could not start', { timeout: testTimeoutMs }, async () => {
    const dataDir = join(tmpdir(), `quorumkv-taken-${process.pid}`);
    const base = await freeBasePort(1);
    const peerPort = base + 101; // node 0's peer port (clusterFile.ts memberAt)
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(peerPort, host, resolve));
    try {
      const run = await runCli(['start', '--nodes', '1', '--port', String(base), '--data', dataDir]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, new RegExp(`node 0 exited while starting: node 0 cannot listen on ${host}:${peerPort}: address already in use \\(see `));
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('write is create-only (exit 4 when the key exists); read says which replica answered', { timeout: testTimeoutMs }, async () => {
    const created = await cli('write', 'proto', 'first');
    assert.equal(created.stdout, 'Key proto written successfully\n');
    const again = await cli('write', 'proto', 'second', '--json');
    assert.equal(again.code, 4);
    const refused = JSON.parse(again.stdout) as { code: string; exitCode: number; body: { status: number } };
    assert.deepEqual([refused.code, refused.exitCode, refused.body.status], ['EXISTS', 4, 409]);
    assert.equal((await cli('read', 'proto')).stdout, 'first\n');
    const read = await json('read', 'proto');
    assert.match(String(read.message), /^Read from replica \d+$/);
    assert.equal((await cli('read', 'proto-missing')).code, 1);
  });

  it('nodes, status, replicas and local-entries', { timeout: testTimeoutMs }, async () => {
    const nodes = await json('nodes');
    const rows = nodes.nodes as { id: string; state: string; process: string; keys: number }[];
    assert.deepEqual(rows.map((r) => r.id), ['0', '1', '2']);
    for (const row of rows) {
      assert.equal(row.process, 'running');
      assert.equal(typeof row.keys, 'number');
    }
    const table = await cli('nodes');
    assert.match(table.stdout, /^strategy consistent, 3 replicas per key, layout v\d+/);
    assert.match(table.stdout, /│ node │ state │ http/);

    const status = await json('status');
    assert.equal((status.members as unknown[]).length, 3);

    const replicas = await json('replicas', 'proto');
    assert.equal((replicas.replicas as string[]).length, 3);
    assert.match((await cli('replicas', 'proto')).stdout, /^\d, \d, \d\n$/);

    const entries = await json('local-entries', '--node', '1', '--limit', '1');
    assert.equal(entries.node, '1');
    assert.equal((entries.entries as unknown[]).length, 1);
    const text = await cli('local-entries', '--node', '1');
    assert.match(text.stdout, /^node 1: \d+ entries\n/);
    assert.match(text.stdout, /proto/);
    assert.equal((await cli('local-entries', '--node', '7')).code, 1, 'unknown node');

    assert.equal((await cli('keys', 'prot')).stdout, 'proto\n');
    assert.deepEqual(await json('keys', 'prot', '--limit', '5'), { keys: ['proto'], next: null });

    // A listing cut at --limit says so, and --cursor goes on from there: keys used to stop at 1,000
    // without a word.
    for (const key of ['page-a', 'page-b', 'page-c']) assert.equal((await cli('put', key, 'v')).code, 0);
    const first = await cli('keys', 'page-', '--limit', '2');
    assert.equal(first.stdout, 'page-a\npage-b\n');
    const more = /^more: --cursor (".*")\n$/.exec(first.stderr);
    assert.ok(more, `a "more" line on stderr: ${first.stderr}`);
    const rest = await cli('keys', 'page-', '--cursor', JSON.parse(more[1] as string) as string);
    assert.deepEqual([rest.stdout, rest.stderr], ['page-c\n', '']);
    const firstJson = await json('keys', 'page-', '--limit', '2');
    assert.equal(typeof firstJson.next, 'string');
  });

  it('fail, recover, recover-all and strategy', { timeout: 2 * testTimeoutMs }, async () => {
    assert.equal((await cli('fail', '2')).stdout, 'Node 2 failed\n');
    const down = await json('nodes');
    const two = (down.nodes as { id: string; state: string; process: string; keys: number | null }[]).find((n) => n.id === '2');
    assert.deepEqual([two?.state, two?.process, two?.keys], ['dead', 'stopped', null]);
    // status, through the front, agrees at once (it said alive until the nodes noticed).
    const statusNow = (await json('status')).members as { id: string; state: string }[];
    assert.equal(statusNow.find((m) => m.id === '2')?.state, 'dead');
    assert.equal((await cli('put', 'while-down', 'yes')).code, 0);
    assert.equal((await cli('fail', '9')).code, 1, 'no such node');

    // Each write while node 2 is down leaves a hint for it on the node that coordinated it, and the
    // front spreads writes over nodes 0 and 1. status and nodes count every node's hints; they showed
    // the answering node's alone, so the count changed with the node that answered.
    for (const key of ['down-1', 'down-2', 'down-3']) assert.equal((await cli('put', key, 'yes')).code, 0);
    const hintsForTwo = async () => ((await json('status')).hintsFor as Record<string, number>)['2'];
    const deadline = Date.now() + 30_000;
    while ((await hintsForTwo()) !== 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(await hintsForTwo(), 4, 'a hint for each write while down');
    const overview = (await json('nodes')).nodes as { id: string; hintsFor: number }[];
    assert.equal(overview.find((n) => n.id === '2')?.hintsFor, 4);
    assert.match((await cli('status')).stdout, /│ 2 +│ dead .*│ 4 +│/);

    const all = await json('recover-all');
    assert.deepEqual(all, {
      status: 'success',
      nodes: ['0', '1', '2'].map((id) => ({ id, ok: true, message: `Node ${id} recovered` })),
    });
    assert.equal((await cli('fail', '1')).code, 0);
    assert.equal((await cli('recover', '1')).stdout, 'Node 1 recovered\n');
    // On the nodes themselves fail pauses a node, which then answers only its recovery: recover sent
    // to it answered 503 (the CLI asked it for the members first), and failing it again was a 500.
    const nodeTwo = cluster.nodeUrls.get('2') as string;
    assert.equal((await runCli(['fail', '2', '--url', nodeTwo])).stdout, 'Node 2 failed\n');
    const again = await runCli(['fail', '2', '--url', cluster.nodeUrls.get('0') as string]);
    assert.equal(again.code, 0, again.stderr);
    const back = await runCli(['recover', '2', '--url', nodeTwo]);
    assert.equal(back.stdout, 'Node 2 recovered\n', back.stderr);

    // With every node down no node can list the members; the front still knows them.
    for (const id of ['0', '1', '2']) assert.equal((await cli('fail', id)).code, 0);
    // nodes shows what the front knows (it was the 503 that no node could answer).
    const allDown = await cli('nodes');
    assert.equal(allDown.code, 0, allDown.stderr);
    assert.match(allDown.stdout, /^no node is running \(strategy consistent, replication factor 3\); recover them with: quorumkv recover-all\n/);
    assert.equal((allDown.stdout.match(/dead \(stopped\)/g) ?? []).length, 3);
    // recover of one node then: it asked a node for the members first, and none could answer.
    const one = await cli('recover', '0');
    assert.equal(one.stdout, 'Node 0 recovered\n', one.stderr);
    assert.deepEqual(await json('recover-all'), {
      status: 'success',
      nodes: ['0', '1', '2'].map((id) => ({ id, ok: true, message: `Node ${id} recovered` })),
    });
    // The restarted nodes serve once they see each other alive again.
    await waitFor(async () => (await cli('get', 'while-down')).stdout === 'yes\n', 30_000, 'a read after recover-all');

    const strategy = await json('strategy', 'consistent', '2');
    assert.equal(strategy.replication_factor, 2);
    // Another change is refused (LAYOUT_CONFLICT) until this one has moved its data and completed.
    const changing = async () => {
      for (const url of cluster.nodeUrls.values()) {
        const view = (await (await fetch(`${url}/v1/cluster`)).json()) as { pending: unknown };
        if (view.pending !== null) return true;
      }
      return false;
    };
    await waitFor(async () => !(await changing()), 60_000, 'the change to RF 2 to complete');
    const full = await cli('strategy', 'full');
    assert.match(full.stdout, /^Replication strategy set to full with replication factor 3\b/, full.stderr);
    // `full` keeps a copy on every node: `topology` says so rather than an rf ("full rf 2").
    assert.match((await cli('topology')).stdout, /^layout v\d+: (consistent rf 2 -> )?full \(every node\)\n/);
    assert.equal((await cli('get', 'while-down')).stdout, 'yes\n');
  });
});

describe('quorumkv commands without a cluster', { timeout: testTimeoutMs }, () => {
  it('exit with 3 and say the cluster cannot be reached', { timeout: testTimeoutMs }, async () => {
    const url = `http://${host}:${await closedPort()}`;
    for (const args of [['get', 'k'], ['put', 'k', 'v'], ['nodes'], ['fail', '1'], ['status']]) {
      const run = await runCli([...args, '--url', url]);
      assert.equal(run.code, 3, args.join(' '));
      assert.equal(run.stderr, `quorumkv: cannot reach the cluster at ${url} (ECONNREFUSED); is it running? (quorumkv start)\n`);
    }
    const asJson = await runCli(['nodes', '--json', '--url', url]);
    assert.equal(asJson.code, 3);
    assert.equal((JSON.parse(asJson.stdout) as { code: string }).code, 'UNREACHABLE');
  });

  it('node refuses an id outside its --initial-cluster, an id no member may have, and --join on another cluster\'s data', { timeout: testTimeoutMs }, async () => {
    // Each used to start and run for good, serving nothing ("node z was removed from the cluster").
    const dataDir = join(tmpdir(), `quorumkv-node-checks-${process.pid}`);
    const node = (...args: string[]) => runCli(['node', '--http', `${host}:1`, '--peer', `${host}:2`, '--data', dataDir, ...args]);
    try {
      const outside = await node('--id', 'z', '--initial-cluster', `a/${host}:3/${host}:4,b/${host}:5/${host}:6`);
      assert.equal(outside.code, 2);
      assert.equal(outside.stderr, 'quorumkv: --id z is not in --initial-cluster (members: a, b)\n');
      const spaced = await node('--id', 'a b', '--join', `${host}:4`);
      assert.equal(spaced.code, 2);
      assert.match(spaced.stderr, /--id must be 1 to 64 letters, digits/);
      // Joining, it announces its addresses as given: the members would dial 0.0.0.0.
      const wildcard = await node('--id', 'w', '--http', '0.0.0.0:1', '--join', `${host}:4`, '--token', 't', '--cluster-secret', 's');
      assert.equal(wildcard.code, 2);
      assert.equal(wildcard.stderr, "quorumkv: --join announces this node's addresses as given, and 0.0.0.0:1 is not one the members can dial: give the address they reach this machine at\n");
      assert.equal(existsSync(dataDir), false, 'nothing made');
      // A seed nobody listens on: it said "fetch failed" after 30 s.
      const started = Date.now();
      const nobody = await runCli(['node', '--id', 'j', '--http', `${host}:1`, '--peer', `${host}:2`, '--data', `${dataDir}-join`, '--join', `${host}:${await closedPort()}`]);
      const leftBehind = existsSync(join(`${dataDir}-join`, 'quorumkv.db'));
      rmSync(`${dataDir}-join`, { recursive: true, force: true });
      assert.equal(leftBehind, false, 'no empty database left behind');
      assert.equal(nobody.code, 2);
      assert.match(nobody.stderr, /could not join through 127\.0\.0\.1:\d+: fetch failed \(ECONNREFUSED\)/);
      assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`);

      const { runNode } = await import('../../src/runtime/nodeMain.js');
      const solo = await runNode({
        id: 'a',
        http: { host, port: 0 },
        peer: { host, port: 0 },
        dataDir,
        initialCluster: [{ id: 'a', peer: `${host}:1`, http: `${host}:1`, role: 'active' }],
        strategy: 'consistent',
        rf: 1,
        vnodes: 8,
        fsync: 'commit',
        preset: 'local',
        settings: {},
        logFile: join(dataDir, 'node.log'),
        clusterSecret: 'the-cluster-secret',
      });
      // A node with another cluster secret is refused before it is voted in: in, it reached no
      // member and held every later change until removed.
      const wrongSecret = await runCli([
        'node', '--id', 'j', '--http', `${host}:1`, '--peer', `${host}:2`, '--data', `${dataDir}-secret`,
        '--join', `${host}:${solo.httpAddress.port}`, '--cluster-secret', 'another-secret',
      ], { timeoutMs: 30_000 });
      rmSync(`${dataDir}-secret`, { recursive: true, force: true });
      assert.equal(wrongSecret.code, 2);
      assert.match(wrongSecret.stderr, /could not join through 127\.0\.0\.1:\d+: 403 node j was not started with this cluster's --cluster-secret: its members would refuse its connections/);
      assert.equal(solo.runtime.node.layout.members.length, 1, 'nothing was voted in');
      await solo.stop();
      const other = await node('--id', 'c', '--join', `${host}:${await closedPort()}`);
      assert.equal(other.code, 2);
      assert.match(other.stderr, /node c is not a member of the cluster stored in .* \(it was removed, or the directory is another node's\): to join, start it on an empty data directory/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
