// Settings of the core, each with its unit, default and trade-off (memberlist's config.go habit).
// Validated once at start; presets for a local cluster (fast detection on loopback) and for a LAN.

import { consistencyLevels, isConsistencyLevel, type ConsistencyLevel } from './quorum.js';

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;

export interface CoreConfig {
  /** A client request that has not met its quorum by then fails with UNAVAILABLE. Longer rides out
   *  slow replicas; shorter answers sooner when replicas are gone. */
  readonly requestTimeoutMs: number;
  /** Level used when a request names none. */
  readonly defaultConsistency: ConsistencyLevel;
  /** Reads that wait for every reachable replica (the prototype's routes) give the replicas that have
   *  not answered this long after R did, then answer from those that did: longer finds the newest
   *  version on slow replicas more often, shorter keeps a just-crashed replica from holding reads. */
  readonly readStragglerWaitMs: number;
  /** Coordinated requests in flight on one node; past it, new ones fail fast with OVERLOADED. */
  readonly pendingOperationsMax: number;
  /** How often a write that met a newer version re-stamps above it before failing WRITE_CONTENTION. */
  readonly restampMax: number;

  /** SWIM: one member is probed per interval. Shorter detects failures sooner but costs more traffic. */
  readonly probeIntervalMs: number;
  /** SWIM: time to wait for a direct ack before asking others to probe indirectly. Must stay below
   *  the probe interval; too short on a busy network raises false suspicions. */
  readonly probeTimeoutMs: number;
  /** SWIM: members asked to probe indirectly (k). More makes false suspicion rarer, costs messages. */
  readonly indirectProbes: number;
  /** SWIM: a suspect is declared dead after this many probe intervals, scaled by log10(members). A
   *  longer suspicion gives a slow node time to refute; a shorter one routes around the dead sooner. */
  readonly suspicionMultiplier: number;
  /** SWIM: each membership update is piggybacked this many times * log10(members + 1). */
  readonly retransmitMultiplier: number;
  /** SWIM: updates piggybacked on one message at most. */
  readonly gossipUpdatesMax: number;

  /** Hints older than this are dropped (anti-entropy repairs what they carried). */
  readonly hintWindowMs: number;
  /** Hints kept per unreachable target; the oldest go first beyond it. */
  readonly hintsPerTargetMax: number;
  /** Hints sent to a returning target per delivery round. */
  readonly hintBatchMax: number;
  readonly hintDeliveryIntervalMs: number;
  /** Hints delivered per second to one returning target; 0 means unpaced. Lower spares the node that
   *  just came back, busy catching up, and the clients; higher brings its copies up to date sooner. */
  readonly hintsPerSecondMax: number;

  /** Pause between scheduled anti-entropy sessions (each drawn within a quarter of it either way);
   *  0 turns scheduled repair off. */
  readonly antiEntropyIntervalMs: number;
  /** Keys exchanged per anti-entropy step (a named bound on message size). */
  readonly antiEntropyKeysMax: number;
  /** Repair and streaming pace, in keys moved per second per session; 0 means unpaced. Lower keeps
   *  client latency steady while a replica is rebuilt; higher rebuilds it sooner. */
  readonly antiEntropyKeysPerSecondMax: number;

  /** Tombstones are purged only after this long, and only once every replica holds them. */
  readonly tombstoneGraceMs: number;
  readonly tombstonePurgeIntervalMs: number;
  /**
   * How long members wait for a node the layout removed to hand over what it still holds (departed.ts):
   * until then they ask it before purging a tombstone, and take its old copies. A node removed for
   * good holds back purges this long; one back later drops its copies older than the grace period.
   */
  readonly departedKeepMs: number;

  /** Key and value size limits (DESIGN.md §1). */
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;

  /** Bytes of committed entries a node's store keeps in memory for reads (storage/readCache.ts), as
   *  heap it holds; 0 keeps none. More answers more reads without SQLite and takes more memory: the
   *  node's resident memory grows by up to about twice this. */
  readonly readCacheBytes: number;
}

export const defaultConfig: CoreConfig = {
  requestTimeoutMs: 2 * second,
  defaultConsistency: 'quorum',
  readStragglerWaitMs: 100,
  pendingOperationsMax: 100_000,
  restampMax: 8,

  probeIntervalMs: 1 * second,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  suspicionMultiplier: 4,
  retransmitMultiplier: 4,
  gossipUpdatesMax: 16,

  hintWindowMs: 3 * hour,
  hintsPerTargetMax: 100_000,
  hintBatchMax: 256,
  hintDeliveryIntervalMs: 1 * second,
  hintsPerSecondMax: 1000,

  antiEntropyIntervalMs: 1 * minute,
  antiEntropyKeysMax: 1000,
  antiEntropyKeysPerSecondMax: 100_000,

  tombstoneGraceMs: 10 * 24 * hour,
  tombstonePurgeIntervalMs: 1 * minute,
  departedKeepMs: 10 * 24 * hour,

  keyBytesMax: 1024,
  valueBytesMax: 1024 * 1024,

  readCacheBytes: 8 * 1024 * 1024, // some 24,000 entries of 100-byte values
};

/** Loopback: failures are seen within a few seconds (a killed node is dead in < 5 s). */
export const localPreset: Partial<CoreConfig> = {
  probeIntervalMs: 400,
  probeTimeoutMs: 150,
  suspicionMultiplier: 4,
  antiEntropyIntervalMs: 10 * second,
};

export const lanPreset: Partial<CoreConfig> = {};

export const presets = { local: localPreset, lan: lanPreset } as const;

export function resolveConfig(overrides: Partial<CoreConfig> = {}): CoreConfig {
  const config: CoreConfig = { ...defaultConfig, ...overrides };
  validateConfig(config);
  return config;
}

export function validateConfig(config: CoreConfig): void {
  for (const [name, value] of Object.entries(config)) {
    if (typeof defaultConfig[name as keyof CoreConfig] === 'number' && !Number.isSafeInteger(value)) {
      throw new Error(`setting ${name} must be a whole number, got ${String(value)}`);
    }
  }
  const positive: (keyof CoreConfig)[] = [
    'requestTimeoutMs',
    'pendingOperationsMax',
    'probeIntervalMs',
    'probeTimeoutMs',
    'suspicionMultiplier',
    'retransmitMultiplier',
    'gossipUpdatesMax',
    'hintWindowMs',
    'hintsPerTargetMax',
    'hintBatchMax',
    'hintDeliveryIntervalMs',
    'antiEntropyKeysMax',
    'tombstonePurgeIntervalMs',
    'keyBytesMax',
    'valueBytesMax',
  ];
  for (const name of positive) {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new Error(`setting ${name} must be a positive number, got ${String(value)}`);
    }
  }
  if (!isConsistencyLevel(config.defaultConsistency)) {
    throw new Error(`setting defaultConsistency must be one of ${consistencyLevels.join(', ')}, got ${String(config.defaultConsistency)}`);
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new Error('setting probeTimeoutMs must be shorter than probeIntervalMs');
  }
  if (config.hintsPerSecondMax < 0) throw new Error('setting hintsPerSecondMax cannot be negative');
  if (
    config.antiEntropyIntervalMs < 0 ||
    config.antiEntropyKeysPerSecondMax < 0 ||
    config.tombstoneGraceMs < 0 ||
    config.departedKeepMs < 0 ||
    config.restampMax < 0 ||
    config.indirectProbes < 0
  ) {
    throw new Error('settings antiEntropyIntervalMs, tombstoneGraceMs, departedKeepMs, restampMax and indirectProbes cannot be negative');
  }
  if (!Number.isSafeInteger(config.readCacheBytes) || config.readCacheBytes < 0) {
    throw new Error(`setting readCacheBytes must be a whole number of bytes, 0 or more, got ${String(config.readCacheBytes)}`);
  }
}

/**
 * What a real node refuses on top of validateConfig, though the core runs with it (the simulator
 * explores such settings on purpose): tombstones purged before the hints of older writes expire. A
 * fallback node holding such a hint, and no newer copy of its key, would deliver it after the purge;
 * a replica that joined after the purge holds no purge floor, takes it, and the deleted key is back.
 */
export function checkDeploymentConfig(config: CoreConfig): void {
  if (config.tombstoneGraceMs <= config.hintWindowMs) {
    throw new Error(
      `setting tombstoneGraceMs (${config.tombstoneGraceMs} ms) must be longer than hintWindowMs ` +
        `(${config.hintWindowMs} ms): a hint older than a purge could bring a deleted key back; lower hintWindowMs too`,
    );
  }
}

/** `--set name=value` overrides, checked against the known names; a number where the setting is one. */
export function parseSettings(pairs: readonly string[]): Partial<CoreConfig> {
  const settings: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`"${pair}" is not name=value`);
    const name = pair.slice(0, at);
    const raw = pair.slice(at + 1);
    if (!(name in defaultConfig)) {
      throw new Error(`unknown setting "${name}"; known: ${Object.keys(defaultConfig).join(', ')}`);
    }
    if (typeof defaultConfig[name as keyof CoreConfig] !== 'number') {
      settings[name] = raw;
      continue;
    }
    // Every number setting is a whole count, ms or bytes: 1.5 passed this check and then stopped the
    // nodes with a message about an internal option; 0x10 and 1e3 were taken as 16 and 1000.
    if (!/^-?\d{1,15}$/.test(raw.trim())) throw new Error(`setting ${name} must be a whole number (digits only), got "${raw}"`);
    settings[name] = Number(raw.trim());
  }
  return settings as Partial<CoreConfig>;
}
