// Topology commands: add-node (local cluster), decommission / remove-node, and the progress of the
// change under way. Same --url/--token/--json and exit codes as the other client commands.

import type { Command } from 'commander';
import type { ClusterView } from '../client/index.js';
import { addClientOptions, CliError, exitCodes, failOn, request, type ClientOptions } from './clientCommands.js';
import { checkNodeId } from './inputChecks.js';

async function run(options: ClientOptions, work: () => Promise<unknown>, text: (result: any) => string): Promise<void> {
  try {
    const result = await work();
    process.stdout.write(options.json ? JSON.stringify(result) + '\n' : text(result) + '\n');
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (options.json) process.stdout.write(JSON.stringify({ error: error.message, body: error.body ?? null }) + '\n');
    else process.stderr.write(`quorumkv: ${error.message}\n`);
    process.exit(error.exitCode);
  }
}

async function call(options: ClientOptions, method: string, path: string): Promise<unknown> {
  const response = await request(options, method, path);
  if (!response.ok) return failOn(response);
  return response.json();
}

/** The id checked against the members, as fail and recover check it: an unknown one names the members. */
async function memberId(options: ClientOptions, id: string): Promise<string> {
  return checkNodeId(id, (await call(options, 'GET', '/v1/cluster')) as ClusterView);
}

/**
 * The front answers add-node once the new process serves and has joined: asking every node first, then
 * a join that retries while the cluster is busy, took over 30 s with a member hung (a topology probe).
 */
const addNodeTimeoutMs = 120_000;

export function registerTopologyCommands(program: Command): void {
  addClientOptions(program.command('add-node').description('start one more node process on the local cluster and join it')).action(
    (options: ClientOptions) =>
      run(
        options,
        async () => {
          const response = await request(options, 'POST', '/v1/admin/nodes', undefined, addNodeTimeoutMs);
          // Only a local cluster's front starts processes: a node of a hand-started cluster has no such route.
          if (response.status === 404 && (await response.clone().text()).includes('"NO_ROUTE"')) {
            throw new CliError(
              `${options.url} starts no node processes (add-node is for the front of \`quorumkv start\`): start the new node with \`quorumkv node --join <address of a member>\``,
              exitCodes.usage,
            );
          }
          if (!response.ok) return failOn(response);
          return response.json();
        },
        (r) => `node ${r.node.id} started at http://${r.node.http} and is joining; data moves to it in the background`,
      ),
  );

  addClientOptions(program.command('decommission').description('move a node\'s ranges to their new owners, then stop it'))
    .argument('<id>')
    .action((id: string, options: ClientOptions) =>
      run(
        options,
        async () => call(options, 'DELETE', `/v1/admin/nodes/${encodeURIComponent(await memberId(options, id))}`),
        () => `node ${id} is leaving; see progress with: quorumkv topology`,
      ),
    );

  addClientOptions(
    program
      .command('remove-node')
      .description('remove a node for good: a dead one\'s ranges are re-replicated from the survivors (a live one decommissions)'),
  )
    .argument('<id>')
    .option(
      '--force',
      'for a node lost for good whose removal cannot complete (RF 3 with two of a range\'s replicas dead, RF 1 with one): ' +
        're-replicate from the live replicas only, losing writes that only dead nodes held; refused for a node not seen dead',
      false,
    )
    .action((id: string, options: ClientOptions & { force: boolean }) => {
      return run(
        options,
        async () => call(options, 'DELETE', `/v1/admin/nodes/${encodeURIComponent(await memberId(options, id))}${options.force ? '?force=true' : ''}`),
        () =>
          options.force
            ? `warning: node ${id} is being removed by force: its ranges are re-replicated from the live replicas only, ` +
              'and a write that only dead nodes held (acknowledged at quorum on them alone) is lost.\n' +
              `node ${id} is leaving; see progress with: quorumkv topology`
            : `node ${id} is leaving; see progress with: quorumkv topology`,
      );
    });

  addClientOptions(program.command('topology').description('the layout and the progress of the change under way')).action(
    (options: ClientOptions) =>
      run(
        options,
        async () => {
          const [topology, cluster] = (await Promise.all([
            call(options, 'GET', '/v1/admin/topology'),
            call(options, 'GET', '/v1/cluster'),
          ])) as [Record<string, unknown>, { members: { id: string; state: string }[] }];
          return { ...topology, dead: cluster.members.filter((m) => m.state === 'dead').map((m) => m.id) };
        },
        (r) => {
          const dead = new Set<string>(r.dead);
          const members: { id: string; role: string }[] = r.layout.members;
          const lines = [
            `layout v${r.layoutVersion}: ${replication(r.layout)}${r.layout.pending ? ` -> ${replication(r.layout.pending)}` : ''}`,
            `members: ${members.map((m) => `${m.id} (${m.role}${dead.has(m.id) ? ', dead' : ''})`).join(', ')}${r.layout.forced ? ' (removal forced)' : ''}`,
            r.inTransition
              ? `change under way; waiting for: ${r.waitingFor.map((id: string) => (dead.has(id) ? `${id} (dead)` : id)).join(', ') || '(coordinator: ' + r.coordinator + ')'}`
              : 'no change under way',
          ];
          // The removal of a dead node waits for ranges whose live replicas are too few when another
          // node is dead too (or at RF 1): it never completes, and only the operator can give those up.
          const leavingDead = members.find((m) => m.role === 'leaving' && dead.has(m.id));
          if (r.inTransition && !r.layout.forced && leavingDead && (dead.size > 1 || r.layout.rf === 1)) {
            lines.push(
              `node ${leavingDead.id} is dead${dead.size > 1 ? ', and so is another node' : ' and held the only copy of its ranges'}: ` +
                'ranges whose live replicas are too few keep this change from completing. ' +
                `If ${leavingDead.id} is lost for good, \`quorumkv remove-node ${leavingDead.id} --force\` completes it, losing the writes that only dead nodes held.`,
            );
          }
          // A dead member the change waits for (it died after the change started) holds it until it is
          // back; its removal joins the change, which then goes on without it.
          const waitedDead = (r.waitingFor as string[]).filter((id) => dead.has(id) && members.some((m) => m.id === id && m.role !== 'leaving'));
          if (r.inTransition && waitedDead.length > 0) {
            lines.push(
              `node ${waitedDead.join(', ')} ${waitedDead.length === 1 ? 'is' : 'are'} dead and the change waits for ${waitedDead.length === 1 ? 'it' : 'them'}: ` +
                `recover ${waitedDead.length === 1 ? 'it' : 'them'}, or \`quorumkv remove-node ${waitedDead[0]}\`, which joins that removal to this change.`,
            );
          }
          // Through the local cluster's front, every node's fill (`fills`); from a node, its own.
          const fills: [string, FillView][] = r.fills ? Object.entries(r.fills as Record<string, FillView>) : r.fill ? [[r.node ?? '(this one)', r.fill]] : [];
          for (const [id, fill] of fills) {
            lines.push(`node ${id} fills ${fill.rangesTotal} ranges: ${fill.keysReceived} keys / ${fill.bytesReceived} bytes received, ${fill.done ? 'done' : 'in progress'}`);
          }
          return lines.join('\n');
        },
      ),
  );
}

interface FillView {
  rangesTotal: number;
  keysReceived: number;
  bytesReceived: number;
  done: boolean;
}

/** `full` keeps a copy on every node whatever the rf says ("full rf 3" on four nodes read as three copies). */
function replication(settings: { strategy: string; rf: number }): string {
  return settings.strategy === 'full' ? 'full (every node)' : `${settings.strategy} rf ${settings.rf}`;
}
