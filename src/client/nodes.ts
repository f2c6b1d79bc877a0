// The nodes a client talks to: one keep-alive connection pool per node, the order to try them in
// (round-robin, because any node coordinates any request), and a short cool-down for a node that just
// failed so that the next requests do not wait on it again.
//
// Conditional writes go by key instead (`orderFor`): every client with the same nodes sends those of
// one key to the same node first (rendezvous hashing), where they queue and go in batches, one
// consensus round each. (The nodes also pass a key's updates on to one node once they race there,
// core/updateRouting.ts, at the cost of a message each way.)

import { Pool } from 'undici';
import { QuorumKvError } from './errors.js';

/** How long a node that could not be reached is tried only after the others. */
export const nodeCooldownMs = 2_000;
/** Connections kept open per node; requests beyond this wait in the pool's queue. */
export const connectionsPerNodeDefault = 16;
/** A bound on the node list, so a corrupt cluster view cannot make the client open pools without end. */
export const nodeCountMax = 256;

export interface Node {
  /** `http://host:port` plus any path prefix, without a trailing slash: how errors name the node. */
  readonly url: string;
  readonly origin: string;
  /** Path prefix when the cluster sits behind a proxy under a path, '' otherwise. */
  readonly basePath: string;
  readonly pool: Pool;
  /** Given by the caller (kept for good) rather than discovered (replaced by each discovery). */
  readonly configured: boolean;
  downUntilMs: number;
}

export interface NodeSetOptions {
  readonly connectionsPerNode: number;
  readonly connectTimeoutMs: number;
  /** CA (PEM) for https nodes, instead of Node's own. */
  readonly ca?: string | Uint8Array | undefined;
}

export function normalizeUrl(raw: string): { url: string; origin: string; basePath: string } {
  let parsed: URL;
  try {
    parsed = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new QuorumKvError('BAD_REQUEST', `not a URL: "${raw}"`, undefined);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new QuorumKvError('BAD_REQUEST', `URL must be http or https: "${raw}"`, undefined);
  }
  const basePath = parsed.pathname.replace(/\/+$/, '');
  return { url: parsed.origin + basePath, origin: parsed.origin, basePath };
}

/**
 * A member's http address (`host:port`, from GET /v1/cluster) as a URL in the scheme of the node
 * asked (https for a TLS cluster); an unspecified listen address means "the host I asked".
 */
export function memberUrl(http: string, answeredBy: URL): string {
  const at = http.lastIndexOf(':');
  const host = http.slice(0, at);
  const port = http.slice(at + 1);
  const unspecified = host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
  return `${answeredBy.protocol}//${unspecified ? answeredBy.hostname : host}:${port}`;
}

/**
 * `items` ordered by rendezvous hashing on `key`: highest score of (key, name) first. Every caller with
 * the same names gets the same order, and removing one moves only the keys that ranked it first.
 */
export function rendezvousOrder<T>(key: string, items: readonly T[], name: (item: T) => string): T[] {
  const scored = items.map((item) => ({ item, score: fnv1a(`${key}\u0000${name(item)}`) }));
  return scored.sort((a, b) => b.score - a.score).map(({ item }) => item);
}

/** 32-bit FNV-1a over the string's UTF-16 code units, mixed once more so that close inputs spread. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  return (hash ^ (hash >>> 12)) >>> 0;
}

function upFirst(nodes: readonly Node[], nowMs: number): Node[] {
  return [...nodes.filter((n) => n.downUntilMs <= nowMs), ...nodes.filter((n) => n.downUntilMs > nowMs)];
}

export class NodeSet {
  private nodes: Node[] = [];
  /** Nodes asked directly (node()), outside the rotation. */
  private readonly targets = new Map<string, Node>();
  private cursor = 0;
  private closed = false;

  constructor(
    urls: readonly string[],
    private readonly options: NodeSetOptions,
  ) {
    if (urls.length === 0) throw new QuorumKvError('BAD_REQUEST', 'connect() needs url or urls', undefined);
    for (const url of urls) this.add(url, true);
  }

  get size(): number {
    return this.nodes.length;
  }

  urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Every node, starting from the next in turn, those cooling down after a failure last. */
  order(nowMs: number): Node[] {
    this.assertOpen();
    const count = this.nodes.length;
    const start = this.cursor++ % count;
    const rotated = [...this.nodes.slice(start), ...this.nodes.slice(0, start)];
    return upFirst(rotated, nowMs);
  }

  /** Every node in the order `key` gives them (the same for every client), those cooling down last. */
  orderFor(key: string, nowMs: number): Node[] {
    this.assertOpen();
    return upFirst(rendezvousOrder(key, this.nodes, (node) => node.url), nowMs);
  }

  /**
   * The node with this URL, for a request to it alone (an admin read of one node's state). A node
   * not in the rotation gets its own pool but stays out of the rotation: asking a node about itself
   * must not make it a coordinator of the client's other requests.
   */
  node(url: string): Node {
    this.assertOpen();
    const { url: normalized } = normalizeUrl(url);
    const known = this.nodes.find((n) => n.url === normalized) ?? this.targets.get(normalized);
    if (known) return known;
    if (this.targets.size >= nodeCountMax) throw new QuorumKvError('BAD_REQUEST', `more than ${nodeCountMax} nodes`, undefined);
    const target = this.create(url, false);
    this.targets.set(normalized, target);
    return target;
  }

  markDown(node: Node, nowMs: number): void {
    node.downUntilMs = nowMs + nodeCooldownMs;
  }

  markUp(node: Node): void {
    node.downUntilMs = 0;
  }

  /** Replaces the discovered nodes with these; nodes given by the caller stay. */
  replaceDiscovered(urls: readonly string[]): void {
    this.assertOpen();
    const wanted = new Set(urls.map((url) => normalizeUrl(url).url));
    const keep: Node[] = [];
    for (const node of this.nodes) {
      if (node.configured || wanted.has(node.url)) keep.push(node);
      else void node.pool.close().catch(() => undefined);
    }
    this.nodes = keep;
    for (const url of wanted) {
      if (this.nodes.length >= nodeCountMax) break;
      if (!this.nodes.some((n) => n.url === url)) this.add(url, false);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.nodes, ...this.targets.values()].map((node) => node.pool.close().catch(() => undefined)));
  }

  private add(url: string, configured: boolean): Node {
    const { url: normalized } = normalizeUrl(url);
    const existing = this.nodes.find((n) => n.url === normalized);
    if (existing) return existing;
    if (this.nodes.length >= nodeCountMax) throw new QuorumKvError('BAD_REQUEST', `more than ${nodeCountMax} nodes`, undefined);
    // A node asked directly before joins the rotation with its pool.
    const target = this.targets.get(normalized);
    this.targets.delete(normalized);
    const node = target ? { ...target, configured } : this.create(url, configured);
    this.nodes.push(node);
    return node;
  }

  private create(url: string, configured: boolean): Node {
    const { url: normalized, origin, basePath } = normalizeUrl(url);
    const pool = new Pool(origin, {
      connections: this.options.connectionsPerNode,
      connectTimeout: this.options.connectTimeoutMs,
      // The servers keep idle connections 65 s; close ours first so we never write on a closing socket.
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      // Deadlines are ours (transport.ts): one timer per attempt that aborts the request.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(this.options.ca !== undefined ? { connect: { ca: typeof this.options.ca === 'string' ? this.options.ca : Buffer.from(this.options.ca) } } : {}),
    });
    return { url: normalized, origin, basePath, pool, configured, downUntilMs: 0 };
  }

  private assertOpen(): void {
    if (this.closed) throw new QuorumKvError('CLOSED', 'the client is closed', undefined);
  }
}
