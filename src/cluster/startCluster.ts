// `quorumkv start` (= `npm start`): a local cluster of node processes plus the front on 127.0.0.1:5000.
// Data lives under ./data and survives restarts; Ctrl-C or SIGTERM stops every process.

import { resolve } from 'node:path';
import { checkDeploymentConfig, parseSettings, presets, resolveConfig } from '../core/config.js';
import type { Strategy } from '../core/layout.js';
import { registerDashboard } from '../dashboard/dashboard.js';
import { Front } from './front.js';
import { loadCluster, newCluster, saveCluster, type LocalCluster } from './clusterFile.js';
import { Supervisor } from './supervisor.js';
import { registerTopologyFrontRoutes } from './topologyFront.js';

export interface StartOptions {
  readonly nodes: number;
  readonly strategy: Strategy;
  readonly rf: number;
  readonly vnodes: number;
  readonly port: number;
  readonly host: string;
  readonly data: string;
  readonly token?: string | undefined;
  readonly adminToken?: string | undefined;
  readonly fsync: 'commit' | 'periodic';
  readonly settings: readonly string[];
  readonly quiet?: boolean;
  /** Options given on the command line (not defaults): on a restart, those the data overrules are named. */
  readonly given?: ReadonlySet<string>;
}

export interface StartedCluster {
  readonly cluster: LocalCluster;
  readonly supervisor: Supervisor;
  readonly front: Front;
  readonly frontUrl: string;
  stop(): Promise<void>;
}

export async function startCluster(options: StartOptions): Promise<StartedCluster> {
  // Every node would refuse bad settings, one by one, into its stderr file: say it once, up front.
  const config = resolveConfig({ ...presets.local, ...parseSettings(options.settings) });
  checkDeploymentConfig(config);
  const dataDir = resolve(options.data);
  const existing = loadCluster(dataDir);
  const cluster =
    existing ??
    newCluster({
      nodes: options.nodes,
      strategy: options.strategy,
      rf: options.rf,
      vnodes: options.vnodes,
      frontPort: options.port,
      host: options.host,
    });
  if (!existing) saveCluster(dataDir, cluster);
  const log = (line: string) => {
    if (!options.quiet) process.stdout.write(line + '\n');
  };
  const supervisor = new Supervisor({
    dataDir,
    cluster,
    token: options.token,
    adminToken: options.adminToken,
    fsync: options.fsync,
    settings: options.settings,
    onExit: (id, code, signal) => log(`node ${id} exited unexpectedly (${signal ?? `code ${code}`})`),
  });
  const stopOnExit = () => supervisor.killAllNow();
  process.once('exit', stopOnExit);
  try {
    await supervisor.startAll();
  } catch (error) {
    supervisor.killAllNow();
    throw error;
  }
  // The nodes' layout, not cluster.json: a strategy change at runtime lives in the nodes' stores.
  const view = await waitForMutualAlive(supervisor, options.token, 10_000);
  const layout = { strategy: view?.strategy ?? cluster.strategy, rf: view?.rf ?? cluster.rf };
  const auth = { token: options.token, adminToken: options.adminToken };
  const front: Front = new Front({
    supervisor,
    auth,
    bodyLimitBytes: 4 * 1024 * 1024,
    requestTimeoutMs: config.requestTimeoutMs,
    layout,
    registerExtraRoutes: (app) => {
      registerTopologyFrontRoutes(app, { supervisor, front: () => front, cluster, dataDir, auth, log });
      registerDashboard(app, { supervisor, auth });
    },
  });
  try {
    await front.listen(cluster.host, cluster.frontPort);
  } catch (error) {
    await supervisor.stopAll();
    throw error;
  }
  const frontUrl = `http://${cluster.host}:${cluster.frontPort}`;
  log(`quorumkv local cluster ${existing ? '(restarted from ' + dataDir + ')' : 'started'}`);
  if (existing) {
    const ignored = overruledOptions(options, existing, layout);
    if (ignored.length > 0) {
      log(`  note:     ${ignored.join(', ')} ignored: ${dataDir} holds a cluster already (use another --data for a`);
      log('            new one, or change this one with add-node, decommission and strategy)');
    }
  }
  log(`  front:    ${frontUrl}  (the prototype's routes and /v1/*)`);
  log(`  dashboard: ${frontUrl}/`);
  log(`  strategy: ${replicationLine(view ?? layout)}`);
  for (const member of cluster.members) {
    log(`  node ${member.id}:   http://${member.http}  redis ${member.resp}  peer ${member.peer}  pid ${supervisor.pid(member.id)}`);
  }
  log(`  data:     ${dataDir}`);
  log('Press Ctrl-C to stop.');
  return {
    cluster,
    supervisor,
    front,
    frontUrl,
    async stop() {
      process.removeListener('exit', stopOnExit);
      await front.close();
      await supervisor.stopAll();
    },
  };
}

interface LayoutView {
  readonly strategy: Strategy;
  readonly rf: number;
  /** The replication settings a change under way leads to (GET /v1/cluster). */
  readonly pending?: { readonly strategy: Strategy; readonly rf: number } | null;
  readonly members?: { readonly state: string; readonly role?: string }[];
}

/**
 * The start banner's replication, from a node's /v1/cluster: a cluster restarted in the middle of a
 * change says so, and where the change leads, rather than only the settings it is leaving.
 */
export function replicationLine(view: LayoutView): string {
  const settings = (strategy: Strategy, rf: number) => (strategy === 'consistent' ? `consistent, replication factor ${rf}` : strategy);
  const now = settings(view.strategy, view.rf);
  if (view.pending) return `${now} -> ${settings(view.pending.strategy, view.pending.rf)} (a change is under way: quorumkv topology)`;
  if (view.members?.some((m) => m.role !== undefined && m.role !== 'active')) return `${now} (a topology change is under way: quorumkv topology)`;
  return now;
}

/**
 * Waits (bounded) until every node sees every member alive, so that the cluster a user gets back has
 * finished its first round of failure detection (a node that started a little later is briefly
 * suspected by the others until it answers their probes). Returns a node's view of the layout.
 */
async function waitForMutualAlive(supervisor: Supervisor, token: string | undefined, timeoutMs: number): Promise<LayoutView | undefined> {
  const deadline = Date.now() + timeoutMs;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let view: LayoutView | undefined;
  while (Date.now() < deadline) {
    const views = await Promise.all(
      supervisor.runningIds().map(async (id) => {
        try {
          const response = await fetch(`http://${supervisor.member(id)?.http}/v1/cluster`, { headers, signal: AbortSignal.timeout(1000) });
          return (await response.json()) as LayoutView;
        } catch {
          return undefined;
        }
      }),
    );
    view = views.find((each) => each !== undefined) ?? view;
    if (views.every((each) => each?.members?.every((m) => m.state === 'alive') === true)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return view;
}

/** The options given for a new cluster that a restart on existing data does not follow, with what it has. */
function overruledOptions(options: StartOptions, existing: LocalCluster, layout: { strategy: Strategy; rf: number }): string[] {
  const given = options.given ?? new Set<string>();
  const has: [string, string | number, string | number][] = [
    ['nodes', options.nodes, existing.members.length],
    ['strategy', options.strategy, layout.strategy],
    ['rf', options.rf, layout.rf],
    ['vnodes', options.vnodes, existing.vnodes],
    ['port', options.port, existing.frontPort],
    ['host', options.host, existing.host],
  ];
  return has.filter(([name, wanted, actual]) => given.has(name) && wanted !== actual).map(([name, wanted, actual]) => `--${name} ${wanted} (it has ${actual})`);
}
