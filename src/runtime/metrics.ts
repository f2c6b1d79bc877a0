// Prometheus metrics of one node (`GET /metrics`): request counts and latencies by operation and
// outcome, plus gauges read from the core when scraped (members by state, hints, anti-entropy,
// transport). Counting happens at the API edge; the core stays free of any metrics library.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeRuntime } from './nodeRuntime.js';

/** `update`: a conditional write (compare-and-set, INCR, ...) through a consensus round (keyPaxos.ts). */
export type Operation = 'get' | 'put' | 'delete' | 'update';

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'outcome'>;
  private readonly latency: Histogram<'operation'>;

  constructor(runtime: NodeRuntime) {
    this.registry.setDefaultLabels({ node: runtime.node.id });
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'quorumkv_requests_total',
      help: 'Client requests coordinated by this node, by operation and outcome (ok or an error code).',
      labelNames: ['operation', 'outcome'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'quorumkv_request_duration_seconds',
      help: 'Latency of coordinated client requests.',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge<string>) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          collect(this);
        },
      });
    gauge('quorumkv_members', 'Members by state as this node sees them.', ['state'], (g) => {
      const counts = { alive: 0, suspect: 0, dead: 0 };
      for (const m of runtime.node.memberViews()) counts[m.state] += 1;
      for (const [state, count] of Object.entries(counts)) g.set({ state }, count);
    });
    gauge('quorumkv_hints_pending', 'Hints held here, by target.', ['target'], (g) => {
      g.reset();
      for (const [target, count] of Object.entries(runtime.node.hintsPending())) g.set({ target }, count);
    });
    gauge('quorumkv_hints_finished', 'Hints this node stopped holding since the start, by outcome: delivered, superseded (it holds something newer for the key), expired (hintWindowMs) or trimmed (hintsPerTargetMax).', ['outcome'], (g) => {
      for (const [outcome, count] of Object.entries(runtime.node.hintsFinished())) g.set({ outcome }, count);
    });
    gauge('quorumkv_update_batches', 'Batches of conditional writes this node coordinated since the start (the updates of one key that queued behind a round go in the next).', [], (g) =>
      g.set(runtime.node.consensusStats().batches),
    );
    gauge('quorumkv_update_batched', 'Conditional writes in those batches: divided by quorumkv_update_batches, the mean batch.', [], (g) =>
      g.set(runtime.node.consensusStats().updates),
    );
    gauge('quorumkv_updates_forwarded', "Conditional writes this node sent on to the node that coordinates their key's (its first replica up) since the start.", [], (g) =>
      g.set(runtime.node.consensusStats().forwarded),
    );
    gauge('quorumkv_consensus_states_forgotten', 'Keys whose consensus state (for conditional writes) this node forgot since the start, older than the tombstone grace period.', [], (g) =>
      g.set(runtime.node.consensusStats().statesForgotten),
    );
    gauge('quorumkv_recovering', '1 while this node catches up after a (re)start.', [], (g) =>
      g.set(runtime.node.recoveryStatus().phase === 'recovering' ? 1 : 0),
    );
    gauge('quorumkv_layout_version', 'The cluster layout version this node runs.', [], (g) => g.set(runtime.node.layout.version));
    const fsyncs = new Histogram({
      name: 'quorumkv_wal_fsync_duration_seconds',
      help: 'How long each fdatasync of the write-ahead log took (fsync commit; etcd: etcd_disk_wal_fsync_duration_seconds).',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    runtime.storage.observeSyncs((seconds) => fsyncs.observe(seconds));
    gauge('quorumkv_wal_fsync_running_seconds', 'How long the fdatasync under way has run (0 when none): a disk that stops answering grows it.', [], (g) =>
      g.set(runtime.storage.syncRunningMs() / 1000),
    );
    gauge('quorumkv_messages_held', 'Messages (acknowledgements, read answers) waiting for an fdatasync before they are sent.', [], (g) =>
      g.set(runtime.messagesHeld),
    );
    gauge('quorumkv_messages_held_dropped', 'Messages dropped because too many already waited for an fdatasync (a disk that stopped answering).', [], (g) =>
      g.set(runtime.messagesHeldDropped),
    );
    gauge('quorumkv_read_cache_entries', 'Entries in the read cache (setting readCacheBytes).', [], (g) =>
      g.set(runtime.storage.readCacheStats().entries),
    );
    gauge('quorumkv_read_cache_bytes', 'Estimated bytes the read cache holds (what readCacheBytes bounds).', [], (g) =>
      g.set(runtime.storage.readCacheStats().bytes),
    );
    gauge('quorumkv_read_cache_lookups', 'Reads of the local store since the start, by whether the read cache held the key.', ['result'], (g) => {
      const { hits, misses } = runtime.storage.readCacheStats();
      g.set({ result: 'hit' }, hits);
      g.set({ result: 'miss' }, misses);
    });
    gauge('quorumkv_peer_messages_dropped', 'Peer messages dropped by the transport (full queues, unknown peers).', [], (g) =>
      g.set(runtime.transport.stats().dropped),
    );
  }

  /** Starts timing a coordinated request; the function returned counts it with its outcome. */
  startRequest(operation: Operation): (outcome: unknown) => void {
    const started = performance.now();
    return (outcome) => {
      this.latency.observe({ operation }, (performance.now() - started) / 1000);
      this.requests.inc({ operation, outcome: typeof outcome === 'string' ? outcome : 'error' });
    };
  }
}
