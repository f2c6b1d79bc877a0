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
  checkDeploymentConfig(resolveConfig({ ...presets.local, ...parseSettings(options.settings) }));
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
  await waitForMutualAlive(supervisor, options.token, 10_000);
  const auth = { token: options.token, adminToken: options.adminToken };
  const front: Front = new Front({
    supervisor,
    auth,
    bodyLimitBytes: 4 * 1024 * 1024,
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
  log(`  front:    ${frontUrl}  (the prototype's routes and /v1/*)`);
  log(`  dashboard: ${frontUrl}/`);
  log(`  strategy: ${cluster.strategy}${cluster.strategy === 'consistent' ? `, replication factor ${cluster.rf}` : ''}`);
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

/**
 * Waits (bounded) until every node sees every member alive, so that the cluster a user gets back has
 * finished its first round of failure detection (a node that started a little later is briefly
 * suspected by the others until it answers their probes).
 */
async function waitForMutualAlive(supervisor: Supervisor, token: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  while (Date.now() < deadline) {
    const views = await Promise.all(
      supervisor.runningIds().map(async (id) => {
        try {
          const response = await fetch(`http://${supervisor.member(id)?.http}/v1/cluster`, { headers, signal: AbortSignal.timeout(1000) });
          const body = (await response.json()) as { members?: { state: string }[] };
          return body.members?.every((m) => m.state === 'alive') === true;
        } catch {
          return false;
        }
      }),
    );
    if (views.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
