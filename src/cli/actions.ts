// What each CLI command and shell command does, once: check the input, call the typed client, and
// give back both the text for people and the JSON for scripts. adminCommands.ts prints one or the
// other; shell.ts prints the text. Failures are thrown (QuorumKvError or CliError).

import { isQuorumKvError, type Consistency, type QuorumKvClient } from '../client/index.js';
import { CliError, exitCodes } from './clientCommands.js';
import { checkKey, checkNodeId, checkStrategy, checkValue } from './inputChecks.js';
import { renderLocalEntries, renderNodes, renderStatus, renderStoppedNodes } from './statusTable.js';

export interface ActionResult {
  /** For people, ending with a newline ('' prints nothing). */
  readonly text: string;
  readonly json: unknown;
  /** Non-zero when part of the action failed (recover-all), though it completed. */
  readonly exitCode?: number;
  /** For people, not part of the output (a command writes it to stderr): say, that a list goes on. */
  readonly note?: string;
}

export interface Level {
  readonly consistency?: Consistency | undefined;
}

export async function putAction(
  client: QuorumKvClient,
  key: string,
  value: string,
  options: Level & { readonly ttlMs?: number } = {},
): Promise<ActionResult> {
  const result = await client.put(checkKey(key), value, options);
  return { text: `OK ${result.version}\n`, json: { status: 'success', ...result } };
}

export async function getAction(client: QuorumKvClient, key: string, level: Level = {}): Promise<ActionResult> {
  const entry = await client.get(checkKey(key), level);
  if (!entry) throw new CliError(`Key ${key} not found`, exitCodes.notFound, { code: 'NOT_FOUND', key });
  return { text: `${entry.text()}\n`, json: { key, value: entry.text(), version: entry.version } };
}

export async function delAction(client: QuorumKvClient, key: string, level: Level = {}): Promise<ActionResult> {
  const result = await client.delete(checkKey(key), level);
  return { text: 'OK\n', json: { status: 'success', ...result } };
}

/** The prototype's write: create-only, 409 (exit 4) when the key exists. */
export async function writeAction(client: QuorumKvClient, key: string, value: string): Promise<ActionResult> {
  const result = await client.create(checkKey(key), checkValue(value));
  return { text: `${result.message}\n`, json: { status: 'success', key, message: result.message } };
}

/** The prototype's read: the newest value any replica holds, and which replica answered. */
export async function readAction(client: QuorumKvClient, key: string): Promise<ActionResult> {
  const result = await client.read(checkKey(key));
  if (!result) throw new CliError(`Key ${key} not found`, exitCodes.notFound, { code: 'NOT_FOUND', key });
  return { text: `${result.value}\n`, json: { status: 'success', ...result } };
}

export async function failAction(client: QuorumKvClient, id: string): Promise<ActionResult> {
  const checked = checkNodeId(id, await client.cluster());
  const result = await client.admin.fail(checked);
  return { text: `${result.message}\n`, json: { status: 'success', node: checked, message: result.message } };
}

export async function recoverAction(client: QuorumKvClient, id: string): Promise<ActionResult> {
  // A failed (paused) node answers nothing but its recovery, and a front with every node down has no
  // node to list the members: then the id is checked for its form only, and the recovery itself
  // says whether there is such a node.
  const cluster = await client.cluster().catch((error: unknown) => (isQuorumKvError(error, 'UNAVAILABLE') ? undefined : Promise.reject(error)));
  const checked = checkNodeId(id, cluster);
  const result = await client.admin.recover(checked);
  return { text: `${result.message}\n`, json: { status: 'success', node: checked, message: result.message } };
}

export async function recoverAllAction(client: QuorumKvClient): Promise<ActionResult> {
  const outcomes = await client.admin.recoverAll();
  const text = outcomes.map((o) => (o.ok ? o.message : `Node ${o.id} not recovered: ${o.message}`)).join('\n');
  const failed = outcomes.some((o) => !o.ok);
  return { text: `${text}\n`, json: { status: failed ? 'error' : 'success', nodes: outcomes }, ...(failed ? { exitCode: exitCodes.refused } : {}) };
}

export async function nodesAction(client: QuorumKvClient): Promise<ActionResult> {
  let overview: Awaited<ReturnType<QuorumKvClient['admin']['overview']>>;
  try {
    overview = await client.admin.overview();
  } catch (error) {
    // With every node down none can describe the cluster; a local cluster's front still lists its
    // members, all dead (docs/decisions.md). What it says is shown, not the 503.
    if (!isQuorumKvError(error, 'UNAVAILABLE')) throw error;
    const front = await client.admin.nodes().catch(() => Promise.reject(error));
    return { text: renderStoppedNodes(front), json: front };
  }
  const { cluster, nodes } = overview;
  return {
    text: renderNodes(cluster, nodes),
    json: { strategy: cluster.strategy, rf: cluster.rf, replicas: cluster.replicas, layoutVersion: cluster.layoutVersion, nodes },
  };
}

export async function statusAction(client: QuorumKvClient): Promise<ActionResult> {
  const status = await client.admin.clusterStatus();
  return { text: renderStatus(status), json: status };
}

/** Checked against the cluster's node count first, as the prototype's menu did. */
export async function strategyAction(client: QuorumKvClient, strategy: string, rf?: string): Promise<ActionResult> {
  const checked = checkStrategy(strategy, rf, await client.cluster());
  const result = await client.admin.setStrategy(checked.strategy, checked.rf);
  return { text: `${result.message}\n`, json: { status: 'success', ...result } };
}

export async function replicasAction(client: QuorumKvClient, key: string): Promise<ActionResult> {
  const view = await client.replicas(checkKey(key));
  const moving = view.writeReplicaSets.length > 1 ? ` (moving; writes also go to ${view.writeReplicaSets.map((s) => s.join(', ')).join(' | ')})` : '';
  return { text: `${view.replicas.join(', ')}${moving}\n`, json: view };
}

export async function localEntriesAction(client: QuorumKvClient, id: string, page: { cursor?: string; limit?: number }): Promise<ActionResult> {
  const checked = checkNodeId(id, await client.cluster());
  const result = await client.admin.localEntries(checked, page);
  return { text: renderLocalEntries(result), json: result };
}

/**
 * Up to `limit` keys in key order, from `cursor` on; when more may follow, `more` says how to go on
 * (the command line's `--cursor` by default, the shell's own words there).
 */
export async function keysAction(
  client: QuorumKvClient,
  prefix: string | undefined,
  limit: number,
  cursor?: string,
  more: (next: string) => string = (next) => `--cursor ${JSON.stringify(next)}`,
): Promise<ActionResult> {
  const keys: string[] = [];
  let next: string | null = cursor ?? null;
  do {
    const page = await client.list({ ...(prefix ? { prefix } : {}), cursor: next, limit: limit - keys.length });
    keys.push(...page.keys);
    next = page.cursor;
  } while (next !== null && keys.length < limit);
  const note = next === null ? undefined : `more: ${more(next)}\n`;
  return { text: keys.map((k) => `${k}\n`).join(''), json: { keys, next }, ...(note ? { note } : {}) };
}

/** The prototype's delete: says whether the key was there (the shell's `del`). */
export async function deleteExistingAction(client: QuorumKvClient, key: string): Promise<ActionResult> {
  const deleted = await client.deleteExisting(checkKey(key));
  if (!deleted) throw new CliError(`Key ${key} not found`, exitCodes.notFound, { code: 'NOT_FOUND', key });
  return { text: `Key ${key} deleted successfully\n`, json: { status: 'success', key, deleted } };
}
