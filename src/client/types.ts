// The shapes the client library takes and gives back. Versions are the server's strings
// (`<wall ms hex>-<counter hex>-<node>`): totally ordered, compare them only for equality.

export type Consistency = 'one' | 'quorum' | 'all';
export const consistencyLevels: readonly Consistency[] = ['one', 'quorum', 'all'];

export interface ConnectOptions {
  /** One address of the cluster (a node, or the local cluster's front). */
  readonly url?: string;
  /** Several addresses: requests go round-robin and fail over to the next when one does not answer. */
  readonly urls?: readonly string[];
  /** Bearer token (the cluster's --token; the admin token for fail/recover/strategy if it has one). */
  readonly token?: string | undefined;
  /** Deadline of one attempt on one node, in ms (default 10 000). See docs/client.md on failover. */
  readonly timeoutMs?: number;
  /** Default consistency level of reads and writes; unset leaves it to the cluster (quorum). */
  readonly consistency?: Consistency | undefined;
  /** Also use every member's HTTP address from GET /v1/cluster (refreshed on failures). Default false. */
  readonly discover?: boolean;
  /** Kept-alive connections per node (default 16). */
  readonly connectionsPerNode?: number;
  /**
   * For https URLs: the PEM of the CA that signed the nodes' certificates (`quorumkv node --tls-ca`).
   * Without it, Node's own CAs are trusted, plus those in NODE_EXTRA_CA_CERTS.
   */
  readonly ca?: string | Uint8Array | undefined;
}

export interface RequestOptions {
  readonly consistency?: Consistency | undefined;
  /** Deadline of each attempt, in ms; when given it is also passed to the coordinator (?timeout=). */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface WriteOptions extends RequestOptions {
  /** Count hinted writes to fallback nodes toward the level (sloppy quorum). Default false. */
  readonly sloppy?: boolean | undefined;
}

export interface PutOptions extends WriteOptions {
  /** Time to live in ms: from then on the key reads as absent (by the coordinating node's clock). */
  readonly ttlMs?: number | undefined;
}

/**
 * The condition of a conditional write (`putIf`, `deleteIf`): it runs a consensus round on the key's
 * replicas and writes only if the condition holds at that moment, atomically. Exactly one of these.
 */
export type WriteCondition =
  /** Only if the key is absent (never stored, deleted or expired). */
  | { readonly ifAbsent: true }
  /** Only if the key is present. */
  | { readonly ifPresent: true }
  /** Only if the key's current version is this one (GetResult.version, WriteResult.version). */
  | { readonly ifVersion: string };

export interface GetResult {
  readonly key: string;
  readonly value: Uint8Array;
  readonly version: string;
  /** How many replicas answered the read (0 when the server did not say). */
  readonly replicasAnswered: number;
  /** When the value expires (ms since 1970), or null when it never does. */
  readonly expiresAtMs: number | null;
  /** The value decoded as UTF-8. */
  text(): string;
}

export interface WriteResult {
  readonly key: string;
  readonly version: string;
  readonly replicasAcked: number;
  readonly hintsAcked: number;
}

export interface DeleteResult extends WriteResult {
  readonly deleted: true;
}

export type BatchOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string | Uint8Array; readonly ttlMs?: number }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string };

export type BatchResult =
  | { readonly op: 'put'; readonly key: string; readonly ok: true; readonly version: string }
  | { readonly op: 'delete'; readonly key: string; readonly ok: true; readonly version: string }
  | { readonly op: 'get'; readonly key: string; readonly ok: true; readonly value: GetResult | null }
  | { readonly op: BatchOp['op']; readonly key: string; readonly ok: false; readonly error: import('./errors.js').QuorumKvError };

export interface ListOptions {
  /** Only keys starting with this. */
  readonly prefix?: string;
  /** Only keys matching this Redis-style glob (* ? [abc]). */
  readonly match?: string;
  /** The `cursor` of the previous page; omit for the first page. */
  readonly cursor?: string | null;
  /** Keys per page (1 to 10 000; the server's default is 100). */
  readonly limit?: number;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface ListPage {
  readonly keys: string[];
  /** Pass it back for the next page; null when this was the last page. */
  readonly cursor: string | null;
}

export interface Member {
  readonly id: string;
  /** host:port of the member's HTTP API. */
  readonly http: string;
  readonly peer: string;
  /** host:port of its Redis protocol, when it has one. */
  readonly resp: string | null;
  readonly role: string;
  /** alive, suspect or dead, as gossip sees it from the answering node. */
  readonly state: string;
  readonly incarnation: number;
  readonly sinceMs: number;
}

export interface ClusterView {
  /** The node that answered. */
  readonly node: string;
  readonly layoutVersion: number;
  readonly strategy: 'consistent' | 'full';
  readonly rf: number;
  /** Replicas per key now (rf capped at the node count, or every node under full). */
  readonly replicas: number;
  readonly vnodes: number;
  readonly pending: { strategy: string; rf: number } | null;
  readonly members: Member[];
  readonly hintsPending: Record<string, number>;
  /** The layout this node runs no longer lists it: it serves nothing but this route. */
  readonly removed: boolean;
  /** This node still drops or hands over copies a topology change moved away (a removed node too). */
  readonly cleanupPending: boolean;
  /** Nodes a leave removed that this member still waits for: it asks them before purging a tombstone. */
  readonly departed: readonly { readonly id: string; readonly removedIn: number }[];
}

/** A cluster layout as a topology change answers it (the Layout schema of the OpenAPI document). */
export interface LayoutView {
  readonly version: number;
  readonly members: readonly { readonly id: string; readonly peer: string; readonly http: string; readonly resp?: string; readonly role: string }[];
  readonly strategy: 'consistent' | 'full';
  readonly rf: number;
  readonly vnodes: number;
  readonly pending?: { readonly strategy: string; readonly rf: number };
  /** The leave under way was forced: writes only dead nodes held are given up. */
  readonly forced?: true;
}

/** ClusterView plus the hints every node that answered holds for each member (`quorumkv status`). */
export interface ClusterStatus extends ClusterView {
  readonly hintsFor: Record<string, number>;
}

export interface ReplicasView {
  readonly key: string;
  readonly strategy: string;
  readonly rf: number;
  readonly replicas: string[];
  readonly writeReplicaSets: string[][];
}

export interface NodeStatus {
  readonly id: string;
  readonly paused: boolean;
  readonly entries: { readonly live: number; readonly tombstones: number };
  readonly hintsPending: Record<string, number>;
  readonly [more: string]: unknown;
}

export interface LocalEntriesPage {
  readonly node: string;
  readonly entries: { key: string; version: string; tombstone: boolean; wallMs: number }[];
  readonly next: string | null;
}

/** The prototype's GET /nodes, with what the local cluster's front adds (process). */
export interface PrototypeNodes {
  readonly status: 'success';
  readonly strategy: string;
  readonly replication_factor: number;
  readonly nodes: { node_id: number | string; status: string; port: number; address: string; process?: string }[];
}

/** The prototype's GET /read/<key>. */
export interface PrototypeRead {
  readonly key: string;
  readonly value: string;
  readonly message: string;
  readonly version: string;
}

/** A line of the nodes table: what gossip says, the process state, and how many keys it stores. */
export interface NodeOverview {
  readonly id: string;
  readonly state: string;
  /** running / starting / stopped when a local cluster's front answered, else null. */
  readonly process: string | null;
  readonly role: string;
  readonly http: string;
  readonly resp: string | null;
  /** Live keys the node stores, null when it could not be asked. */
  readonly keys: number | null;
  readonly tombstones: number | null;
  /** Hints held by other nodes for this one. */
  readonly hintsFor: number;
}
