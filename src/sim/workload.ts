// The workload: concurrent clients, each a closed loop (one request at a time, a pause, the next), so
// that a client always waits for its acknowledgement before it reads (read-your-writes is checkable).
// Each request picks its kind from the run's mix (put, get, delete, create-only, insert), its key (with
// a hot key), its level and its coordinator (a node that is up), all from the workload's random stream.
// Every written value is unique ("v<id>"), so a read names the exact write it saw. An insert puts a
// fresh key that is never written again (Jepsen's set workload): no later write can mask its loss.
//
// A create-only write is what a client of a last-writer-wins store can do: read at the write's level,
// and put only if the key is absent. It is two requests in the history (create-read, create-put);
// concurrent creators may both succeed, which DESIGN.md §3 documents (compare-and-set needs consensus).
//
// A conditional update (keyPaxos.ts, a share `updateRate` of requests, on the same keys) is that
// consensus: half compare-and-set on the version the client last saw for the key (absent if none;
// under contention most fail, which is their point), half read-modify-write, which writes whatever
// it finds. Both write a fresh value, so the history shows which state each one replaced. Whether a
// request is an update is drawn from a stream of its own: runs without updates draw what they did.

import type { ConsistencyLevel } from '../core/quorum.js';
import type { SimCluster } from './cluster.js';
import type { Operation, RequestKind } from './history.js';
import type { Prng } from './random.js';
import type { Requests } from './requests.js';
import type { Scheduler } from './scheduler.js';
import type { OperationKind, WorkloadParameters } from './swarm.js';
import type { Trace } from './trace.js';

/** How long a client waits before trying again when no node is up to coordinate its request. */
const noCoordinatorRetryMs = 50;

export interface WorkloadDeps {
  readonly scheduler: Scheduler;
  readonly cluster: SimCluster;
  readonly requests: Requests;
  readonly random: Prng;
  readonly trace: Trace;
  readonly parameters: WorkloadParameters;
  /** Clients start no new request at or after this virtual time. */
  readonly stopAtMs: number;
}

interface Client {
  readonly name: string;
  process: number;
  coordinator: string | undefined;
  /** key -> the version this client last saw it at (null: absent), for its compare-and-set updates. */
  readonly seen: Map<string, string | null>;
}

export class Workload {
  private issued = 0;
  private inserted = 0;
  private nextValueId = 1;
  private readonly clients: Client[] = [];
  private readonly updates: Prng;

  constructor(private readonly deps: WorkloadDeps) {
    for (let i = 0; i < deps.parameters.clients; i++) {
      this.clients.push({ name: `c${i + 1}`, process: i, coordinator: undefined, seen: new Map() });
    }
    this.updates = deps.random.fork('updates');
  }

  get operationsIssued(): number {
    return this.issued;
  }

  start(): void {
    for (const client of this.clients) {
      this.deps.scheduler.after(this.deps.random.int(20), () => this.next(client));
    }
  }

  private next(client: Client): void {
    const { scheduler, parameters, random } = this.deps;
    if (scheduler.nowMs >= this.deps.stopAtMs || this.issued >= parameters.operationsMax) return;
    const node = this.pickCoordinator(client);
    if (node === undefined) {
      scheduler.after(noCoordinatorRetryMs, () => this.next(client));
      return;
    }
    this.issued += 1;
    if (parameters.updateRate > 0 && this.updates.chance(parameters.updateRate)) return this.update(client, node, this.pickKey());
    const kind = random.weighted<OperationKind>(parameters.mix);
    const key = this.pickKey();
    const then = (op: Operation) => this.after(client, op);
    switch (kind) {
      case 'put':
        return this.send(client, node, 'put', key, this.writeLevel(), then);
      case 'delete':
        return this.send(client, node, 'delete', key, this.writeLevel(), then);
      case 'get':
        return this.send(client, node, 'get', key, this.readLevel(), then);
      case 'create':
        return this.create(client, node, key);
      case 'insert':
        return this.send(client, node, 'put', `u${++this.inserted}`, this.writeLevel(), then);
    }
  }

  /** Create-only: read the key at the write's level, put only if it is absent. */
  private create(client: Client, node: string, key: string): void {
    const level = this.writeLevel();
    this.send(client, node, 'get', key, level, (read) => {
      if (read.outcome !== 'ok' || read.read !== null) {
        if (read.outcome === 'ok') this.deps.trace.event(`${client.name} create ${key}: exists, not written`);
        return this.after(client, read);
      }
      if (this.deps.cluster.stateOf(node) !== 'up') return this.after(client, read);
      this.send(client, node, 'put', key, level, (op) => this.after(client, op), 'create-put');
    }, 'create-read');
  }

  /** A conditional update: compare-and-set on the version last seen, or read-modify-write. */
  private update(client: Client, node: string, key: string): void {
    const compareAndSet = this.updates.chance(0.5);
    // Half go where the node sends them (where they arrive, unless their rounds raced: updateRouting.ts).
    // A quarter are coordinated where they arrive whatever the node would do, as by a node that believes
    // the key's coordinator down, so that rounds still race; a quarter go to the key's coordinator, as
    // from a node that saw the key raced, so that forwards run under every fault too.
    const route = this.updates.chance(0.5) ? (this.updates.chance(0.5) ? 'here' : 'coordinator') : undefined;
    const op = this.deps.requests.issue(
      {
        process: client.process,
        client: client.name,
        kind: 'update',
        key,
        value: `v${this.nextValueId++}`,
        ...(compareAndSet ? { expectVersion: client.seen.get(key) ?? null } : {}),
        ...(route ? { route } : {}),
        level: 'quorum',
        node,
        purpose: 'workload',
      },
      (done) => this.after(client, done),
    );
    if (op === undefined) this.deps.scheduler.after(noCoordinatorRetryMs, () => this.next(client));
  }

  private send(
    client: Client,
    node: string,
    kind: RequestKind,
    key: string,
    level: ConsistencyLevel,
    onDone: (op: Operation) => void,
    purpose: 'workload' | 'create-read' | 'create-put' = 'workload',
  ): void {
    const { random, parameters } = this.deps;
    const op = this.deps.requests.issue(
      {
        process: client.process,
        client: client.name,
        kind,
        key,
        ...(kind === 'put' ? { value: `v${this.nextValueId++}` } : {}),
        level,
        node,
        purpose,
        ...(kind !== 'get' && random.chance(parameters.sloppyRate) ? { sloppy: true } : {}),
        ...(kind === 'get' && random.chance(parameters.waitForAllRate) ? { waitForAll: true } : {}),
      },
      onDone,
    );
    if (op === undefined) this.deps.scheduler.after(noCoordinatorRetryMs, () => this.next(client));
  }

  private after(client: Client, op: Operation): void {
    this.noteSeen(client, op);
    // Jepsen's convention: a process whose request ended in doubt is never reused. An update that
    // failed is in doubt (a round of it may still be chosen), and exported as such (history.ts).
    if (op.outcome === 'info' || (op.kind === 'update' && op.outcome !== 'ok')) client.process += this.clients.length;
    const thinkMs = this.deps.random.int(this.deps.parameters.thinkMaxMs + 1);
    this.deps.scheduler.after(thinkMs, () => this.next(client));
  }

  /** The version an answer showed the client (a write's, or what a read or update saw). */
  private noteSeen(client: Client, op: Operation): void {
    if (op.outcome === 'ok') client.seen.set(op.key, op.version ?? null);
  }

  private pickCoordinator(client: Client): string | undefined {
    const up = this.deps.cluster.ids.filter((id) => this.deps.cluster.serves(id));
    if (up.length === 0) return undefined;
    const { random, parameters } = this.deps;
    if (client.coordinator !== undefined && up.includes(client.coordinator) && random.chance(parameters.stickyRate)) {
      return client.coordinator;
    }
    client.coordinator = random.pick(up);
    return client.coordinator;
  }

  private pickKey(): string {
    const { random, parameters } = this.deps;
    if (random.chance(parameters.hotKeyRate)) return 'k0';
    return `k${random.int(parameters.keys)}`;
  }

  private writeLevel(): ConsistencyLevel {
    return this.deps.random.weighted(this.deps.parameters.writeLevels);
  }

  private readLevel(): ConsistencyLevel {
    return this.deps.random.weighted(this.deps.parameters.readLevels);
  }
}
