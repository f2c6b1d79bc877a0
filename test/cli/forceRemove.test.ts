// Removing a node lost for good, against a real local cluster at RF 1: its removal cannot complete
// (its ranges have no other replica to stream from), `remove-node --force` forces the stuck removal
// with a warning of what is lost, and force is refused for a live node, through the CLI, the HTTP
// routes and the typed client. Build first (`npm run build`): commands run as `node dist/src/main.js ...`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, QuorumKvError, type QuorumKvClient } from '../../src/client/index.js';
import { startLocalCluster, waitFor, type LocalCluster } from '../client/localCluster.js';
import { runCli } from './runCli.js';

const testTimeoutMs = 240_000;

interface ClusterJson {
  layoutVersion: number;
  members: { id: string; role: string; state: string }[];
}

describe('remove-node --force', { timeout: testTimeoutMs }, () => {
  let cluster: LocalCluster;
  let kv: QuorumKvClient;
  const cli = (...args: string[]) => runCli([...args, '--url', cluster.front]);
  /** Node 0's view: the lowest id, so the layout coordinator. */
  const view = async (): Promise<ClusterJson> => (await (await fetch(`${cluster.nodeUrls.get('0')}/v1/cluster`)).json()) as ClusterJson;

  before(async () => {
    cluster = await startLocalCluster({ nodes: 3, rf: 1 });
    kv = connect({ url: cluster.front });
  });
  after(async () => {
    await kv?.close();
    await cluster?.stop();
  });

  it('forces the stuck removal of a dead node, and refuses force for a live one', { timeout: testTimeoutMs }, async () => {
    assert.equal((await cli('fail', '2')).code, 0);
    await waitFor(async () => (await view()).members.some((m) => m.id === '2' && m.state === 'dead'), 60_000, 'node 0 to see node 2 dead');

    // A live node decommissions; force would give up its copies, and is refused.
    const live = await cli('remove-node', '1', '--force');
    assert.equal(live.code, 2, live.stderr);
    assert.match(live.stderr, /400: node 1 is not dead in the layout coordinator's view/);
    await assert.rejects(kv.admin.removeNode('1', { force: true }), (error) => error instanceof QuorumKvError && error.code === 'BAD_REQUEST');
    const maybe = await fetch(`${cluster.nodeUrls.get('0')}/v1/admin/nodes/2?force=maybe`, { method: 'DELETE' });
    assert.equal(maybe.status, 400);
    assert.match(((await maybe.json()) as { message: string }).message, /force must be true or false/);

    // Unforced, the removal starts and waits: at RF 1 nothing holds node 2's ranges but node 2.
    const removal = await cli('remove-node', '2');
    assert.equal(removal.code, 0, removal.stderr);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const stuck = await view();
    assert.equal(stuck.members.find((m) => m.id === '2')?.role, 'leaving', 'the removal is stuck');
    const other = await cli('remove-node', '1');
    assert.equal(other.code, 4, 'another change waits for it (409)');
    assert.match(other.stderr, /409/);
    // `topology` marks the dead and says what would complete the change, and what it costs.
    const topology = await cli('topology');
    assert.equal(topology.code, 0, topology.stderr);
    assert.match(topology.stdout, /2 \(leaving, dead\)/);
    assert.match(topology.stdout, /node 2 is dead and held the only copy of its ranges: .* `quorumkv remove-node 2 --force` completes it, losing the writes that only dead nodes held/);
    // Through the front, the layout coordinator answers: whom the change waits for, every time (it
    // was whichever node the front picked, and only the coordinator knows).
    assert.match(topology.stdout, /^layout v\d+: consistent rf 1\n/);
    assert.match(topology.stdout, /change under way; waiting for: [^(]/);
    for (let i = 0; i < 3; i++) assert.equal((await cli('topology')).stdout, topology.stdout, `run ${i + 2} of topology`);
    for (let i = 0; i < 4; i++) {
      const answer = (await (await fetch(`${cluster.front}/v1/admin/topology`)).json()) as { node: string; coordinator: string; waitingFor: string[] };
      assert.equal(answer.node, answer.coordinator, `request ${i + 1} to the front`);
      assert.notDeepEqual(answer.waitingFor, []);
    }

    // Forced: a new layout version with the flag, a warning of what is lost, and it completes.
    const forced = await cli('remove-node', '2', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /^warning: node 2 is being removed by force: .* a write that only dead nodes held .* is lost/);
    await waitFor(async () => !(await view()).members.some((m) => m.id === '2'), 60_000, 'node 2 to leave the layout');
    const after = await view();
    assert.ok(after.layoutVersion >= stuck.layoutVersion + 2, `forced (v${stuck.layoutVersion + 1}), then final: v${after.layoutVersion}`);
    assert.deepEqual(after.members.map((m) => m.role), ['active', 'active']);

    // Changes run again: the next one is accepted, through the typed client.
    const next = await kv.admin.removeNode('1');
    assert.match(next.message, /Node 1 is leaving/);
    assert.equal(next.layout.forced, undefined);
    assert.equal(next.layout.members.find((m) => m.id === '1')?.role, 'leaving');
  });
});
