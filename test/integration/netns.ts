// Real network partitions between real node processes: each node runs in a network namespace of its
// own, joined to the others by a bridge in the root namespace, and the tests cut traffic between
// two nodes silently (packets vanish: no reset, no ICMP, no error to the sender) and heal it.
//
// The layout of one cluster (x.y unique per cluster, n a counter of this test process):
//
//   root namespace:  bridge qkv<pid>b<n>  10.x.y.254/24  (the test process reaches every node here)
//                      |  host end qkv<pid>h<k> of each veth pair, with an htb qdisc (see `cut`)
//   namespace qkv-<pid>-<k>:  eth0 10.x.y.<i>/24, lo up; the node listens on 10.x.y.<i>:5001 (HTTP),
//                      :6001 (peers), :6379 (RESP), started with `ip netns exec`
//
// Cuts are made where the sender cannot notice them: on the host end of the receiver's veth (its
// egress is the traffic going into the receiver), a u32 filter matching `ip src <sender>` classifies
// the packets into an htb class whose only qdisc is a `pfifo limit 0`, which drops everything. This
// machine's kernel has neither the `prio` qdisc nor the gact (`action drop`) module, and a drop on
// the sender's own interface would be reported to its TCP stack as local congestion (NET_XMIT_DROP)
// rather than vanish. ARP is not filtered (the filters match IPv4 only), so a cut is pure packet loss.
//
// Everything a cluster creates (processes, namespaces, bridge, veths, temp directory, the lock of its
// subnet) is removed by `destroy()`, by `destroyAll()` (call it from an `after` hook: a test that
// times out never reaches its own `finally`), on process exit and on SIGINT/SIGTERM; the nodes also
// exit when this process goes away (--exit-with-parent, over the IPC channel), and leftovers of a
// test process that died without cleaning up (its pid is in every name) are swept at the next start.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addNodeOutput, http, localEntryMap, memberStates, processAlive, projectRoot, waitFor } from './harness.js';

const execFileAsync = promisify(execFile);

/** The node program, as `node dist/bundle/main.js` from the checkout (README, Running nodes yourself). */
export const bundleMain = join(projectRoot, 'dist', 'bundle', 'main.js');

export const httpPort = 5001;
export const peerPort = 6001;
export const respPort = 6379;

const prefix = 'qkv';
const lockDir = join(tmpdir(), 'quorumkv-netns-subnets');

function findTool(name: string): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

const ipTool = findTool('ip');
const tcTool = findTool('tc');
const ssTool = findTool('ss');

async function run(tool: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(tool, args, { timeout: 10_000 });
    return stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

function runSync(tool: string, args: readonly string[]): string {
  return execFileSync(tool, args, { timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Like runSync, but a failure (already gone, say) is ignored: for cleanup. */
function tryRunSync(tool: string, args: readonly string[]): void {
  try {
    runSync(tool, args);
  } catch {
    // already gone
  }
}

// ---- can this machine do it? ----------------------------------------------------------------------

let support: Promise<string | undefined> | undefined;

/**
 * Why network namespaces cannot be used here (not root, no CAP_NET_ADMIN, no `ip`/`tc`, a kernel
 * without the qdiscs a cut needs), or undefined when they can. Tests skip with this reason.
 */
export function netnsUnavailableReason(): Promise<string | undefined> {
  support ??= probeSupport();
  return support;
}

async function probeSupport(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (!existsSync(bundleMain)) return undefined; // not a reason to skip: startNetnsCluster says to build
  const ns = `${prefix}-${process.pid}-probe`;
  try {
    await run(ipTool, ['netns', 'add', ns]);
  } catch (error) {
    return `cannot create a network namespace (needs root or CAP_NET_ADMIN): ${(error as Error).message}`;
  }
  try {
    // A veth pair inside the probe namespace, with the qdiscs and filter a cut uses.
    await run(ipTool, ['-n', ns, 'link', 'add', 'name', 'pa', 'type', 'veth', 'peer', 'name', 'pb']);
    await addBlackhole(['-n', ns], 'pa');
    await run(tcTool, ['-n', ns, 'filter', 'add', 'dev', 'pa', 'parent', '1:', 'protocol', 'ip', 'pref', '10', 'u32', 'match', 'ip', 'src', '10.0.0.1/32', 'classid', '1:2']);
    return undefined;
  } catch (error) {
    return `this kernel cannot drop packets with tc (htb, pfifo, u32): ${(error as Error).message}`;
  } finally {
    tryRunSync(ipTool, ['netns', 'del', ns]);
  }
}

/** htb at the root of `dev`: unclassified packets pass (default class 1:1 does not exist), class 1:2 drops all. */
async function addBlackhole(nsArgs: readonly string[], dev: string): Promise<void> {
  await run(tcTool, [...nsArgs, 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1']);
  await run(tcTool, [...nsArgs, 'class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:2', 'htb', 'rate', '10gbit', 'quantum', '60000']);
  await run(tcTool, [...nsArgs, 'qdisc', 'add', 'dev', dev, 'parent', '1:2', 'handle', '2:', 'pfifo', 'limit', '0']);
}

// ---- what is alive, for cleanup ---------------------------------------------------------------------

const live = new Set<NetnsCluster>();
let counter = 0;
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) cluster.destroySync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const cluster of live) cluster.destroySync();
      process.kill(process.pid, signal);
    });
  }
}

/** Removes every cluster this process still has (for an `after` hook). */
export async function destroyAll(): Promise<void> {
  for (const cluster of [...live]) await cluster.destroy();
}

function pidAlive(pid: number): boolean {
  try {
    return processAlive(pid);
  } catch {
    return true; // EPERM: it exists
  }
}

/**
 * Removes what test processes that died without cleaning up left behind: their namespaces (after
 * stopping the node processes in them), bridges, veths and subnet locks. Only names this harness
 * makes, and only of processes that are gone.
 */
async function sweepLeftovers(): Promise<void> {
  const namespaces = (await run(ipTool, ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '');
  for (const ns of namespaces) {
    const match = /^qkv-(\d+)-\w+$/.exec(ns);
    if (!match || pidAlive(Number(match[1]))) continue;
    let pids: number[] = [];
    try {
      pids = (await run(ipTool, ['netns', 'pids', ns])).split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // gone meanwhile
    }
    for (const pid of pids) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (cmdline.includes('main.js')) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    tryRunSync(ipTool, ['netns', 'del', ns]);
  }
  const links = (await run(ipTool, ['-o', 'link', 'show'])).split('\n');
  for (const line of links) {
    const match = /^\d+: (qkv(\d+)[bh]\d+)[@:]/.exec(line);
    if (!match || pidAlive(Number(match[2]))) continue;
    tryRunSync(ipTool, ['link', 'del', match[1] as string]);
  }
  for (const name of readdirSync(tmpdir())) {
    const match = /^quorumkv-netns-(\d+)-/.exec(name);
    if (match && !pidAlive(Number(match[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  let locks: string[] = [];
  try {
    locks = readdirSync(lockDir);
  } catch {
    return;
  }
  for (const name of locks) {
    try {
      const pid = Number(readFileSync(join(lockDir, name), 'utf8'));
      if (!pidAlive(pid)) rmSync(join(lockDir, name), { force: true });
    } catch {
      // taken or removed meanwhile
    }
  }
}

/**
 * A /24 in 10.0.0.0/8 that no route of this machine covers and that no other test process holds (a
 * lock file per subnet, with the holder's pid). Returns its first three octets and the lock's path.
 */
async function claimSubnet(): Promise<{ base: string; lock: string }> {
  mkdirSync(lockDir, { recursive: true });
  const taken = routePrefixes(await run(ipTool, ['-4', 'route', 'show', 'table', 'all']));
  for (let attempt = 0; attempt < 200; attempt++) {
    const x = 64 + Math.floor(Math.random() * 190);
    const y = Math.floor(Math.random() * 256);
    const base = `10.${x}.${y}`;
    const network = ((10 << 24) | (x << 16) | (y << 8)) >>> 0;
    if (taken.some(([address, bits]) => overlaps(network, 24, address, bits))) continue;
    const lock = join(lockDir, base);
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return { base, lock };
    } catch {
      // another run holds it
    }
  }
  throw new Error('found no free /24 in 10.0.0.0/8 for the test bridge');
}

/** The destinations of `ip route` lines as [address, prefix length] (the default route excluded). */
function routePrefixes(routes: string): Array<[number, number]> {
  const prefixes: Array<[number, number]> = [];
  for (const line of routes.split('\n')) {
    const match = /(?:^|\s)(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?/.exec(line.replace(/^(local|broadcast|unicast)\s+/, ''));
    if (!match || line.startsWith('default')) continue;
    const [a, b, c, d] = [1, 2, 3, 4].map((i) => Number(match[i]));
    prefixes.push([(((a as number) << 24) | ((b as number) << 16) | ((c as number) << 8) | (d as number)) >>> 0, match[5] ? Number(match[5]) : 32]);
  }
  return prefixes;
}

function overlaps(a: number, aBits: number, b: number, bBits: number): boolean {
  const bits = Math.min(aBits, bBits);
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

// ---- clusters -------------------------------------------------------------------------------------

export interface NetnsClusterOptions {
  /** Number of nodes (default 3), ids '1'..'n'. */
  readonly nodes?: number;
  readonly rf?: number;
  readonly vnodes?: number;
  /** --preset of every node (default local). */
  readonly preset?: 'local' | 'lan';
  /** `name=value` node settings (--set). */
  readonly settings?: readonly string[];
  /** Wait after the start until every node sees every member alive (default true). */
  readonly settle?: boolean;
}

export interface NetnsNode {
  readonly id: string;
  /** Its address on the bridge. */
  readonly ip: string;
  /** http://<ip>:5001 */
  readonly url: string;
  readonly ns: string;
  /** Host end of its veth pair (root namespace): its qdisc drops what is cut towards this node. */
  readonly hostVeth: string;
  readonly dataDir: string;
  readonly stderrFile: string;
  readonly logFile: string;
}

interface NodeProcess {
  readonly child: ChildProcess;
  exited: boolean;
}

export class NetnsCluster {
  readonly nodes: NetnsNode[] = [];
  readonly token = randomBytes(12).toString('hex');
  readonly clusterSecret = randomBytes(16).toString('hex');
  readonly dir: string;
  readonly bridge: string;
  private readonly processes = new Map<string, NodeProcess>();
  /** `from>to` pairs whose packets are dropped, with the filter's pref. */
  private readonly cuts = new Map<string, number>();
  private subnetLock: string | undefined;
  private destroyed = false;
  private readonly namespaces: string[] = [];
  private bridgeMade = false;
  /** The first three octets of the cluster's /24. */
  private base = '';

  private constructor(readonly options: NetnsClusterOptions) {
    const n = ++counter;
    this.dir = mkdtempSync(join(tmpdir(), `quorumkv-netns-${process.pid}-`));
    this.bridge = `${prefix}${process.pid}b${n}`;
  }

  /** Starts a cluster; on any failure removes whatever it had made and throws. */
  static async start(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
    if (!existsSync(bundleMain)) throw new Error(`${bundleMain} is missing: run \`npm run build\` before the integration tests`);
    installExitHooks();
    await sweepLeftovers();
    const cluster = new NetnsCluster(options);
    live.add(cluster);
    try {
      await cluster.makeNetwork();
      await Promise.all(cluster.nodes.map((node) => cluster.startNode(node)));
      if (options.settle ?? true) await cluster.waitForAllAlive(15_000);
      return cluster;
    } catch (error) {
      if (error instanceof Error) {
        const tail = cluster.stderrTail();
        if (tail) error.message += `\n${tail}`;
      }
      await cluster.destroy();
      throw error;
    }
  }

  get ids(): string[] {
    return this.nodes.map((n) => n.id);
  }

  node(id: string): NetnsNode {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  url(id: string): string {
    return this.node(id).url;
  }

  others(id: string): NetnsNode[] {
    return this.nodes.filter((n) => n.id !== id);
  }

  pid(id: string): number | undefined {
    return this.processes.get(id)?.child.pid;
  }

  /** Whether the node's process still runs. */
  running(id: string): boolean {
    const proc = this.processes.get(id);
    return proc !== undefined && !proc.exited;
  }

  private async makeNetwork(): Promise<void> {
    const count = this.options.nodes ?? 3;
    const { base, lock } = await claimSubnet();
    this.subnetLock = lock;
    await run(ipTool, ['link', 'add', this.bridge, 'type', 'bridge']);
    this.bridgeMade = true;
    await run(ipTool, ['addr', 'add', `${base}.254/24`, 'dev', this.bridge]);
    await run(ipTool, ['link', 'set', this.bridge, 'up']);
    this.base = base;
    for (let i = 1; i <= count; i++) this.nodes.push(await this.makeNamespace(i));
  }

  /** Node `i`'s namespace, its veth pair on the bridge (with the blackhole qdisc) and address `<base>.i`. */
  private async makeNamespace(i: number): Promise<NetnsNode> {
    const k = ++counter;
    const ns = `${prefix}-${process.pid}-${k}`;
    const hostVeth = `${prefix}${process.pid}h${k}`;
    const id = String(i);
    const ip = `${this.base}.${i}`;
    const dataDir = join(this.dir, `node-${id}`);
    await run(ipTool, ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await run(ipTool, ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run(ipTool, ['link', 'set', hostVeth, 'master', this.bridge]);
    await run(ipTool, ['link', 'set', hostVeth, 'up']);
    await addBlackhole([], hostVeth);
    await run(ipTool, ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await run(ipTool, ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await run(ipTool, ['-n', ns, 'link', 'set', 'lo', 'up']);
    return {
      id,
      ip,
      url: `http://${ip}:${httpPort}`,
      ns,
      hostVeth,
      dataDir,
      stderrFile: join(this.dir, `node-${id}.stderr`),
      logFile: join(dataDir, 'node.log'),
    };
  }

  /** The node's command line after `node` (secrets go in the environment, as the local cluster does). */
  private nodeArgs(node: NetnsNode): string[] {
    const initialCluster = this.nodes.map((m) => `${m.id}/${m.ip}:${peerPort}/${m.ip}:${httpPort}/${m.ip}:${respPort}`).join(',');
    const args = [
      bundleMain,
      'node',
      '--id', node.id,
      '--http', `${node.ip}:${httpPort}`,
      '--peer', `${node.ip}:${peerPort}`,
      '--resp', `${node.ip}:${respPort}`,
      '--data', node.dataDir,
      '--initial-cluster', initialCluster,
      '--strategy', 'consistent',
      '--rf', String(this.options.rf ?? Math.min(3, this.nodes.length)),
      '--vnodes', String(this.options.vnodes ?? 64),
      '--preset', this.options.preset ?? 'local',
      '--log-file', node.logFile,
      '--exit-with-parent',
    ];
    for (const setting of this.options.settings ?? []) args.push('--set', setting);
    return args;
  }

  /** Starts the node's process in its namespace and waits until its HTTP API answers. */
  async startNode(node: NetnsNode, timeoutMs = 30_000): Promise<void> {
    if (this.running(node.id)) return;
    mkdirSync(node.dataDir, { recursive: true });
    const errFd = openSync(node.stderrFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, QUORUMKV_TOKEN: this.token, QUORUMKV_CLUSTER_SECRET: this.clusterSecret };
    delete env.QUORUMKV_ADMIN_TOKEN;
    // `ip netns exec` execs the command, so the child's pid is the node's, and the IPC channel that
    // --exit-with-parent listens on reaches it.
    const child = spawn(ipTool, ['netns', 'exec', node.ns, process.execPath, '--v8-pool-size=1', ...this.nodeArgs(node)], {
      env,
      stdio: ['ignore', errFd, errFd, 'ipc'],
    });
    closeSync(errFd);
    const proc: NodeProcess = { child, exited: false };
    this.processes.set(node.id, proc);
    child.on('exit', () => {
      proc.exited = true;
    });
    child.on('error', () => {
      proc.exited = true;
    });
    // Only the exit matters; the channel must not keep this process alive.
    child.unref();
    child.channel?.unref();
    await waitFor(
      async () => {
        if (proc.exited) throw new Error(`node ${node.id} exited while starting`);
        const response = await http('GET', `${node.url}/v1/health`, { timeoutMs: 1000 });
        return response.status === 200;
      },
      timeoutMs,
      { what: `node ${node.id} (${node.url}) to answer /v1/health`, intervalMs: 100 },
    ).catch((error: Error) => {
      if (proc.exited) error.message = `node ${node.id} exited while starting: ${this.stderrTail(40)}`;
      throw error;
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stopNode(id: string, graceMs = 5000): Promise<void> {
    const proc = this.processes.get(id);
    if (!proc || proc.exited) return;
    const exited = new Promise<void>((resolve) => {
      if (proc.exited) resolve();
      proc.child.once('exit', () => resolve());
    });
    proc.child.kill('SIGTERM');
    const force = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(force);
  }

  /** SIGKILL of the node's process (a crash); resolves when it has exited. */
  async killNode(id: string): Promise<void> {
    await this.stopNode(id, 0);
  }

  // ---- cuts -------------------------------------------------------------------------------------

  private pref(from: string, to: string): number {
    void to;
    return 10 + this.ids.indexOf(from);
  }

  /** From now on, every packet `from` sends to `to` vanishes (`to` can still send to `from`). */
  async cutOneWay(from: string, to: string): Promise<void> {
    const key = `${from}>${to}`;
    if (this.cuts.has(key)) return;
    const pref = this.pref(from, to);
    await run(tcTool, ['filter', 'add', 'dev', this.node(to).hostVeth, 'parent', '1:', 'protocol', 'ip', 'pref', String(pref), 'u32', 'match', 'ip', 'src', `${this.node(from).ip}/32`, 'classid', '1:2']);
    this.cuts.set(key, pref);
  }

  /** Lets `from`'s packets reach `to` again. */
  async healOneWay(from: string, to: string): Promise<void> {
    const key = `${from}>${to}`;
    const pref = this.cuts.get(key);
    if (pref === undefined) return;
    await run(tcTool, ['filter', 'del', 'dev', this.node(to).hostVeth, 'parent', '1:', 'protocol', 'ip', 'pref', String(pref)]);
    this.cuts.delete(key);
  }

  /** No packet between `a` and `b`, either way. */
  async cut(a: string, b: string): Promise<void> {
    await Promise.all([this.cutOneWay(a, b), this.cutOneWay(b, a)]);
  }

  async heal(a: string, b: string): Promise<void> {
    await Promise.all([this.healOneWay(a, b), this.healOneWay(b, a)]);
  }

  /** Cuts `id` off from every other node (the test process still reaches it). */
  async isolate(id: string): Promise<void> {
    await Promise.all(this.others(id).map((other) => this.cut(id, other.id)));
  }

  /** Removes every cut. */
  async healAll(): Promise<void> {
    for (const key of [...this.cuts.keys()]) {
      const [from, to] = key.split('>') as [string, string];
      await this.healOneWay(from, to);
    }
  }

  /** The cuts in force, as `from>to`. */
  cutPairs(): string[] {
    return [...this.cuts.keys()];
  }

  /** Packets the blackhole of `to` dropped so far (all senders), from tc's statistics. */
  async droppedTowards(to: string): Promise<number> {
    const text = await run(tcTool, ['-s', 'qdisc', 'show', 'dev', this.node(to).hostVeth]);
    const section = text.split(/\n(?=qdisc )/).find((part) => part.startsWith('qdisc pfifo 2:')) ?? '';
    const match = /dropped (\d+)/.exec(section);
    return match ? Number(match[1]) : 0;
  }

  /**
   * The kernel's view of the node's established TCP connections to other nodes' peer ports (`ss -tnoi`
   * in its namespace: send queue, retransmission timer and backoff), for a failure's message; empty
   * when `ss` is missing.
   */
  async peerSockets(id: string): Promise<string> {
    try {
      const text = await run(ipTool, ['netns', 'exec', this.node(id).ns, ssTool, '-tnoi', 'state', 'established', 'dport', `= :${peerPort}`]);
      // Lines alternate: `Recv-Q Send-Q local peer timer:(...)`, then the details of that socket.
      const lines = text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Recv-Q'));
      const sockets: string[] = [];
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const [, sendQ, local, peer, timer] = (lines[i] as string).trim().split(/\s+/);
        const details = (lines[i + 1] as string).trim().split(/\s+/).filter((field) => /^(rto|backoff|unacked|notsent|lastsnd|lastrcv|lastack):/.test(field));
        sockets.push(`${local} -> ${peer} send-q ${sendQ} ${timer ?? ''} ${details.join(' ')}`);
      }
      return sockets.join('\n');
    } catch {
      return '';
    }
  }

  /**
   * The node's TCP sockets to other nodes' peer port and from them to its own (`ss -tan` in its
   * namespace, the listener left out), counted by state (ESTAB, FIN-WAIT-1, SYN-SENT...): normally
   * one outgoing and one incoming connection per peer, a few more for a while after a cut.
   */
  async peerSocketStates(id: string): Promise<Record<string, number>> {
    const text = await run(ipTool, ['netns', 'exec', this.node(id).ns, ssTool, '-tanH']);
    const states: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const [state, , , local, peer] = line.trim().split(/\s+/);
      if (!state || !local || !peer || state === 'LISTEN') continue;
      if (!local.endsWith(`:${peerPort}`) && !peer.endsWith(`:${peerPort}`)) continue;
      states[state] = (states[state] ?? 0) + 1;
    }
    return states;
  }

  // ---- what the nodes say -------------------------------------------------------------------------

  /** Waits until each of `observers` sees each of `targets` in `state`. */
  async waitForState(targets: readonly string[], state: string, timeoutMs: number, observers: readonly string[] = this.ids): Promise<void> {
    await waitFor(
      async () => {
        for (const observer of observers) {
          const view = await memberStates(this.url(observer), this.token);
          for (const target of targets) if (target !== observer && view.get(target) !== state) return false;
        }
        return true;
      },
      timeoutMs,
      { what: `${targets.join(', ')} to be ${state} in the view of ${observers.join(', ')}`, intervalMs: 100 },
    );
  }

  /** Waits until every node sees every member alive. */
  async waitForAllAlive(timeoutMs = 15_000): Promise<void> {
    await this.waitForState(this.ids, 'alive', timeoutMs);
  }

  /** The last lines of every node's stderr that is not empty. */
  stderrTail(lines = 20): string {
    return this.tails((node) => node.stderrFile, 'stderr', lines);
  }

  /** The last lines of every node's log (JSON lines). */
  logTail(lines = 30): string {
    return this.tails((node) => node.logFile, 'log', lines);
  }

  private tails(fileOf: (node: NetnsNode) => string, kind: string, lines: number): string {
    const parts: string[] = [];
    for (const node of this.nodes) {
      const file = fileOf(node);
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8').trimEnd();
      if (text) parts.push(`--- node ${node.id} ${kind} (${file})\n${text.split('\n').slice(-lines).join('\n')}`);
    }
    return parts.join('\n');
  }

  /**
   * Waits, without reading any key (a quorum read would repair the copies it reads), until each key's
   * copies on `nodes` (GET /v1/admin/local-entries) have one version, or are all absent. Returns those
   * versions and the time it took.
   */
  async waitForAgreement(
    keys: readonly string[],
    timeoutMs: number,
    nodes: readonly string[] = this.ids,
  ): Promise<{ versions: Map<string, string | undefined>; tookMs: number }> {
    const start = Date.now();
    const versions = await waitFor(
      async () => {
        const views = await Promise.all(nodes.map((id) => localEntryMap(this.url(id), this.token)));
        const agreed = new Map<string, string | undefined>();
        const differ: string[] = [];
        for (const key of keys) {
          const held = views.map((view) => view.get(key)?.version);
          if (held.some((v) => v !== held[0])) differ.push(`${key}: ${held.map((v) => v ?? 'absent').join(' / ')}`);
          agreed.set(key, held[0]);
        }
        // Thrown, the reason is what waitFor reports at its timeout.
        if (differ.length > 0) throw new Error(`${differ.length} keys differ: ${differ.slice(0, 3).join('; ')}`);
        return agreed;
      },
      timeoutMs,
      { what: `nodes ${nodes.join(', ')} to hold the same version of every key`, intervalMs: 500 },
    );
    return { versions, tookMs: Date.now() - start };
  }

  // ---- cleanup ----------------------------------------------------------------------------------

  /** Stops every node, removes the namespaces, the bridge, the veths and (unless `keepDir`) the directory. */
  async destroy(keepDir = false): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.ids.filter((id) => this.running(id)).map((id) => this.stopNode(id).catch(() => undefined)));
    this.destroySync(keepDir);
  }

  /** The same, synchronously (for process exit): SIGKILL of whatever still runs. */
  destroySync(keepDir = false): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const proc of this.processes.values()) {
      if (!proc.exited && proc.child.pid !== undefined) {
        try {
          process.kill(proc.child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    // A namespace whose processes are gone is freed at once, and with it the veth pair.
    for (const ns of this.namespaces) {
      for (let i = 0; i < 50; i++) {
        let pids = '';
        try {
          pids = runSync(ipTool, ['netns', 'pids', ns]).trim();
        } catch {
          break;
        }
        if (!pids) break;
        execFileSync('sleep', ['0.1']);
      }
      tryRunSync(ipTool, ['netns', 'del', ns]);
    }
    for (const node of this.nodes) tryRunSync(ipTool, ['link', 'del', node.hostVeth]);
    if (this.bridgeMade) tryRunSync(ipTool, ['link', 'del', this.bridge]);
    if (this.subnetLock) rmSync(this.subnetLock, { force: true });
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs `body` against a fresh cluster in namespaces, then always destroys it. A failure's message
 * gets every node's stderr (and, with QUORUMKV_TEST_LOGS=1, the tail of their logs);
 * QUORUMKV_TEST_KEEP=1 keeps a failed test's directory (node logs in node-<id>/node.log).
 */
export async function withNetnsCluster(options: NetnsClusterOptions, body: (cluster: NetnsCluster) => Promise<void>): Promise<void> {
  const cluster = await NetnsCluster.start(options);
  let failed = false;
  try {
    await body(cluster);
  } catch (error) {
    failed = true;
    if (error instanceof Error) error.message += `\ncuts in force at the failure: ${cluster.cutPairs().join(' ') || 'none'}`;
    addNodeOutput(error, cluster);
    throw error;
  } finally {
    const keep = failed && process.env.QUORUMKV_TEST_KEEP === '1';
    await cluster.destroy(keep);
    if (keep) process.stderr.write(`kept the failed test's cluster directory ${cluster.dir}\n`);
  }
}

