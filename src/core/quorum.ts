// Consistency levels and the quorum sizes derived from them (garage's replication_mode habit): a level
// names how many of a key's N replicas must answer. With R = W = quorum, R + W > N, so a quorum read
// overlaps every quorum write.

export const consistencyLevels = ['one', 'quorum', 'all'] as const;
export type ConsistencyLevel = (typeof consistencyLevels)[number];

export function isConsistencyLevel(value: unknown): value is ConsistencyLevel {
  return typeof value === 'string' && (consistencyLevels as readonly string[]).includes(value);
}

/** How many of `replicaCount` replicas must answer at `level`. */
export function requiredReplicas(level: ConsistencyLevel, replicaCount: number): number {
  if (replicaCount <= 0) return 1;
  switch (level) {
    case 'one':
      return 1;
    case 'quorum':
      return Math.floor(replicaCount / 2) + 1;
    case 'all':
      return replicaCount;
  }
}
