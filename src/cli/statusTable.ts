// The cluster status as a table for people (`quorumkv status`).

import Table from 'cli-table3';

interface ClusterStatus {
  node: string;
  layoutVersion: number;
  strategy: string;
  rf: number;
  replicas: number;
  members: { id: string; http: string; resp: string | null; role: string; state: string }[];
  hintsPending: Record<string, number>;
}

export function printStatus(value: unknown): void {
  const status = value as ClusterStatus;
  const table = new Table({ head: ['node', 'state', 'role', 'http', 'redis', 'hints for it'], style: { head: [], border: [] } });
  for (const m of status.members) {
    table.push([m.id, m.state, m.role, m.http, m.resp ?? '-', String(status.hintsPending[m.id] ?? 0)]);
  }
  process.stdout.write(
    `strategy ${status.strategy}, ${status.replicas} replicas per key, layout v${status.layoutVersion} (seen by node ${status.node})\n`,
  );
  process.stdout.write(table.toString() + '\n');
}
