// `quorumkv node`: runs one member as a process: its store, peer transport and HTTP API, until it is
// told to stop (SIGTERM/SIGINT) or its parent (a local cluster) goes away.

import { mkdirSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { QuorumError } from '../core/errors.js';
import { checkDeploymentConfig, resolveConfig, presets, type CoreConfig } from '../core/config.js';
import { isMemberId } from '../core/validate.js';
import { parseLayout, rfDefault, vnodesDefault, type Layout, type LayoutMember, type Strategy } from '../core/layout.js';
import { buildServer, type NodeControl } from '../api/server.js';
import { startRespServer, type RespServerHandle } from '../api/resp/server.js';
import { formatHostPort, isLoopback, isWildcard, parseHostPort, type HostPort } from './address.js';
import { NodeRuntime } from './nodeRuntime.js';
import { loadNodeTls, MemberHttp } from './tls.js';
import { joinProof, joinProofHeader } from '../transport/handshake.js';

export interface NodeMainOptions {
  readonly id: string;
  readonly http: HostPort;
  readonly peer: HostPort;
  readonly resp?: HostPort | undefined;
  readonly dataDir: string;
  readonly initialCluster?: readonly LayoutMember[];
  /** HTTP address (host:port) of any member of an existing cluster to join. */
  readonly join?: string | undefined;
  readonly strategy: Strategy;
  readonly rf: number;
  readonly vnodes: number;
  readonly token?: string | undefined;
  readonly adminToken?: string | undefined;
  readonly clusterSecret?: string | undefined;
  readonly fsync: 'commit' | 'periodic';
  readonly preset: keyof typeof presets;
  readonly settings: Partial<CoreConfig>;
  /** Log to this file instead of stdout. */
  readonly logFile?: string;
  /** TLS for clients and peers (runtime/tls.ts): all three files, or none. */
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsCa?: string | undefined;
}

export interface RunningNode {
  readonly runtime: NodeRuntime;
  readonly httpAddress: HostPort;
  stop(): Promise<void>;
}

/** Parses `id/peerHost:port/httpHost:port[/respHost:port]` members, comma-separated. */
export function parseInitialCluster(text: string): LayoutMember[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [id, peer, http, resp] = part.split('/');
      if (!id || !peer || !http) throw new Error(`initial cluster member must be id/peer/http[/resp], got "${part}"`);
      return {
        id,
        peer: formatHostPort(parseHostPort(peer)),
        http: formatHostPort(parseHostPort(http)),
        ...(resp ? { resp: formatHostPort(parseHostPort(resp)) } : {}),
        role: 'active' as const,
      };
    });
}

export async function runNode(options: NodeMainOptions): Promise<RunningNode> {
  const config = resolveConfig({ ...presets[options.preset], ...options.settings });
  checkDeploymentConfig(config);
  const exposed = !isLoopback(options.http.host) || !isLoopback(options.peer.host);
  if (exposed && (!options.token || !options.clusterSecret)) {
    throw new Error(
      'refusing to listen beyond loopback without --token and --cluster-secret (protected mode, like Redis)',
    );
  }
  if (!isMemberId(options.id)) throw new Error(`--id must be 1 to 64 letters, digits, '.', '_' or '-', got "${options.id}"`);
  if (options.initialCluster) {
    const ids = options.initialCluster.map((m) => m.id);
    const bad = ids.find((id) => !isMemberId(id));
    if (bad !== undefined) throw new Error(`--initial-cluster member id "${bad}" must be 1 to 64 letters, digits, '.', '_' or '-'`);
    // Started so, the node ran forever in a cluster it was not part of, serving nothing.
    if (!ids.includes(options.id)) throw new Error(`--id ${options.id} is not in --initial-cluster (members: ${ids.join(', ')})`);
  }
  // A joining node announces its --http and --peer as given: the members would dial 0.0.0.0 (on
  // another machine, themselves). Found by a probe of hand-run clusters.
  if (options.join !== undefined) {
    const wildcard = [options.http, options.peer, ...(options.resp ? [options.resp] : [])].find((address) => isWildcard(address.host));
    if (wildcard) {
      throw new Error(`--join announces this node's addresses as given, and ${formatHostPort(wildcard)} is not one the members can dial: give the address they reach this machine at`);
    }
  }
  const tls = loadNodeTls(options);
  const memberHttp = new MemberHttp(tls);
  mkdirSync(options.dataDir, { recursive: true });
  const logger: Logger = options.logFile
    ? pino({ base: { node: options.id } }, pino.destination({ dest: options.logFile, sync: true, mkdir: true }))
    : pino({ base: { node: options.id } });
  const initialLayout: Layout | undefined = options.initialCluster
    ? { version: 1, members: options.initialCluster, strategy: options.strategy, rf: options.rf, vnodes: options.vnodes }
    : undefined;
  const runtime = await NodeRuntime.start({
    id: options.id,
    peer: options.peer,
    dataDir: options.dataDir,
    clusterSecret: clusterSecretOf(options),
    config,
    fsync: options.fsync,
    ...(initialLayout ? { initialLayout } : {}),
    ...(options.join ? { joinLayout: () => askToJoin(options, memberHttp, options.join as string) } : {}),
    logger,
    tls,
    memberHttp,
  });
  const control = memberControl(runtime, memberHttp, options.adminToken ?? options.token);
  const app = buildServer({ runtime, auth: { token: options.token, adminToken: options.adminToken }, control, tls });
  try {
    await app.listen({ host: options.http.host, port: options.http.port });
  } catch (error) {
    await runtime.stop();
    throw error;
  }
  let resp: RespServerHandle | undefined;
  if (options.resp) {
    try {
      resp = await startRespServer(runtime, options.resp, { token: options.token, adminToken: options.adminToken }, tls);
    } catch (error) {
      await app.close();
      await runtime.stop();
      throw error;
    }
    logger.info({ resp: resp.address }, 'Redis protocol listening');
  }
  const address = app.server.address();
  const httpAddress = typeof address === 'object' && address ? { host: options.http.host, port: address.port } : options.http;
  logger.info({ http: httpAddress, tls: tls !== undefined }, 'HTTP API listening');
  return {
    runtime,
    httpAddress,
    async stop() {
      await resp?.close();
      await app.close();
      await runtime.stop();
      await memberHttp.close();
      logger.flush?.();
    },
  };
}

/** The secret node-to-node connections prove: a fixed one for nodes on loopback started without. */
function clusterSecretOf(options: NodeMainOptions): string {
  return options.clusterSecret ?? 'quorumkv-loopback';
}

/** Asks a member of an existing cluster to add this node; answers the layout that includes it. */
async function askToJoin(options: NodeMainOptions, memberHttp: MemberHttp, seed: string): Promise<Layout> {
  const token = options.adminToken ?? options.token;
  const seedAddress = formatHostPort(parseHostPort(seed));
  const url = memberHttp.url(seedAddress, '/v1/admin/join');
  const body = {
    id: options.id,
    peer: formatHostPort(options.peer),
    http: formatHostPort(options.http),
    ...(options.resp ? { resp: formatHostPort(options.resp) } : {}),
  };
  let lastError = '';
  let unavailable = 0;
  let unreachable = 0;
  // The seed may be busy finishing another change (409): try for a while. It may be starting: ten
  // seconds. A 503 (no majority, a member dead) rarely passes in seconds: a few tries, then its reason.
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const response = await memberHttp.fetch(seedAddress, '/v1/admin/join', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [joinProofHeader]: joinProof(clusterSecretOf(options), body.id, body.peer),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const answer = (await response.json()) as { layout?: unknown; message?: string; code?: string };
      if (response.ok) {
        const layout = parseLayout(answer.layout);
        if (layout) return layout;
        throw new Error(`${url} answered without a layout`);
      }
      lastError = `${response.status} ${answer.message ?? ''}`;
      if (answer.code === 'UNAVAILABLE' && ++unavailable >= 5) break;
      if (answer.code !== 'LAYOUT_CONFLICT' && answer.code !== 'UNAVAILABLE') break;
    } catch (error) {
      // fetch says "fetch failed"; why is in its cause (ECONNREFUSED: nothing listens there).
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      lastError = `${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
      if (++unreachable >= 10) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`could not join through ${seed}: ${lastError}`);
}

/** fail/recover on a node: pause or resume itself, or ask the named member to over HTTP. */
function memberControl(runtime: NodeRuntime, memberHttp: MemberHttp, adminToken: string | undefined): NodeControl {
  const forward = async (id: string, action: 'pause' | 'resume') => {
    if (id === runtime.node.id) {
      if (action === 'pause') setImmediate(() => runtime.pause());
      else runtime.resume();
      return;
    }
    const member = runtime.node.member(id);
    if (!member) throw unknownNode(id);
    const response = await memberHttp.fetch(member.http, `/v1/admin/${action}`, {
      method: 'POST',
      headers: adminToken ? { authorization: `Bearer ${adminToken}` } : {},
      signal: AbortSignal.timeout(runtime.node.config.requestTimeoutMs),
    });
    if (!response.ok) {
      const body = await response.text().catch(() => '');
      throw new QuorumError('UNAVAILABLE', `node ${id} answered ${response.status} to ${action}: ${body.slice(0, 200)}`);
    }
  };
  return { fail: (id) => forward(id, 'pause'), recover: (id) => forward(id, 'resume') };
}

function unknownNode(id: string): QuorumError {
  return new QuorumError('UNKNOWN_NODE', `no node with id ${id}`, { id });
}

export const nodeDefaults = { strategy: 'consistent' as Strategy, rf: rfDefault, vnodes: vnodesDefault };
