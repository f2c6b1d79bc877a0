// The OpenAPI 3.1 reference of the HTTP API, served at GET /v1/openapi.json by every node (and so by
// the local cluster's front, which forwards it). test/api/openapi.test.ts checks that every route the
// server registers is here and every path here is a route, so the two cannot drift apart.
// docs/api.md is the same reference for people, with curl examples.

import type { FastifyInstance } from 'fastify';

export const openApiPath = '/v1/openapi.json';

type Json = Record<string, unknown>;

const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const errorRef = (name: string): Json => ({ $ref: `#/components/responses/${name}` });
const str = { type: 'string' };
const int = { type: 'integer' };
const object = (properties: Json, required: string[] = Object.keys(properties)): Json => ({ type: 'object', required, properties });

const keyInPath: Json = {
  name: 'key',
  in: 'path',
  required: true,
  description: 'The key, percent-encoded (UTF-8). Any characters, "/" included when encoded as %2F; at most 1 KiB by default.',
  schema: { type: 'string', minLength: 1 },
};
const nodeIdInPath: Json = { name: 'id', in: 'path', required: true, description: 'Node id ("0", "1", ... on a local cluster).', schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } };
const consistency = (fallback: string): Json => ({
  name: 'consistency',
  in: 'query',
  description: `Replicas that must answer: one, quorum (floor(N/2)+1) or all. Default: ${fallback}.`,
  schema: { type: 'string', enum: ['one', 'quorum', 'all'] },
});
const timeout: Json = {
  name: 'timeout',
  in: 'query',
  description: "Coordinator's deadline in ms (1 to 60000); past it the request fails with UNAVAILABLE. Default: the node's requestTimeoutMs (2000).",
  schema: { type: 'integer', minimum: 1, maximum: 60000 },
};
const deadline: Json = {
  name: 'x-quorumkv-deadline',
  in: 'header',
  description:
    'When the client gives up on this request (ms since 1970). A write that reaches a node more than a second after it is not started (503), so that a retry sent elsewhere is not undone by it.',
  schema: { type: 'integer', minimum: 0 },
};
const sloppy: Json = {
  name: 'sloppy',
  in: 'query',
  description: 'Count hinted writes on fallback nodes toward the level (sloppy quorum). Default false.',
  schema: { type: 'boolean', default: false },
};
const ttl: Json = {
  name: 'ttl',
  in: 'query',
  description: 'Time to live in seconds (fractions allowed, kept to the ms): from then on the key reads as absent, by the clock of the node that coordinates the read. Default: never expires.',
  schema: { type: 'number', exclusiveMinimum: 0 },
};
const ifMatch: Json = {
  name: 'If-Match',
  in: 'header',
  description:
    'A conditional write (compare-and-set): only if the key is present ("*") or at one of these versions (as x-quorumkv-version gave them, quoted or not). Runs a consensus round on a majority of the key\'s replicas; consistency and sloppy do not apply. 412 when the condition does not hold.',
  schema: { type: 'string' },
};
const ifNoneMatch: Json = {
  name: 'If-None-Match',
  in: 'header',
  description: 'Only "*": a create-only write, atomic (a consensus round); 412 when the key is present.',
  schema: { const: '*' },
};
const versionHeader: Json = { description: 'Version of the entry: `<wall ms hex>-<counter hex>-<node>`, totally ordered.', schema: { type: 'string' } };

const standardErrors = (...names: string[]): Json => Object.fromEntries(names.map((name) => [statusOf[name] as string, errorRef(name)]));
const statusOf: Record<string, string> = {
  BadRequest: '400',
  Unauthorized: '401',
  Forbidden: '403',
  NotFound: '404',
  Conflict: '409',
  PreconditionFailed: '412',
  TooLarge: '413',
  Unavailable: '503',
};
/** Every route but /v1/health may answer 401/403 (token) and 503 (node failed, or too few replicas). */
const guarded = ['Unauthorized', 'Forbidden', 'Unavailable'];

const message = (example: string): Json => json({ ...ref('Message'), example: { status: 'success', message: example } }, 'Done.');

const paths: Json = {
  '/v1/kv/{key}': {
    parameters: [keyInPath],
    get: {
      operationId: 'getKey',
      summary: 'Read a key',
      description: 'Asks the replicas, waits for the level, returns the newest version and repairs replicas that were behind.',
      tags: ['keys'],
      parameters: [consistency('quorum'), timeout],
      responses: {
        '200': {
          description: 'The value, as raw bytes.',
          headers: {
            'x-quorumkv-version': versionHeader,
            'x-quorumkv-replicas-answered': { description: 'Replicas that answered.', schema: { type: 'integer' } },
            'x-quorumkv-expires-at': { description: 'When the value expires, in ms since 1970 (only on expiring values).', schema: { type: 'integer' } },
          },
          content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
        },
        '404': {
          description: 'The key is absent (never written, or deleted: then x-quorumkv-version is the tombstone\'s).',
          headers: { 'x-quorumkv-version': versionHeader },
          content: { 'application/json': { schema: ref('Error'), example: { status: 'error', error: 'Key not found', message: 'Key k not found', code: 'NOT_FOUND' } } },
        },
        ...standardErrors('BadRequest', ...guarded),
      },
    },
    put: {
      operationId: 'putKey',
      summary: 'Write a key',
      description: 'Stamps a new version and answers once the level of replicas have it durably. Last writer (highest version) wins. With ttl the value expires; without, it never does (a write replaces the expiry too). With If-Match or If-None-Match it is a conditional write (compare-and-set, create-only).',
      tags: ['keys'],
      parameters: [consistency('quorum'), timeout, sloppy, ttl, deadline, ifMatch, ifNoneMatch],
      requestBody: {
        required: true,
        description: 'The value as raw bytes (any content type), at most 1 MiB by default.',
        content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
      },
      responses: {
        '200': { ...json(ref('WriteResult'), 'Written.'), headers: { 'x-quorumkv-version': versionHeader } },
        ...standardErrors('BadRequest', 'PreconditionFailed', 'TooLarge', ...guarded),
      },
    },
    delete: {
      operationId: 'deleteKey',
      summary: 'Delete a key',
      description: 'Writes a tombstone; succeeds whether or not the key was present. With If-Match or If-None-Match it is a conditional delete.',
      tags: ['keys'],
      parameters: [consistency('quorum'), timeout, sloppy, deadline, ifMatch, ifNoneMatch],
      responses: {
        '200': { ...json(ref('DeleteResult'), 'Deleted.'), headers: { 'x-quorumkv-version': versionHeader } },
        ...standardErrors('BadRequest', 'PreconditionFailed', 'TooLarge', ...guarded),
      },
    },
  },
  '/v1/keys': {
    get: {
      operationId: 'listKeys',
      summary: 'List keys across the cluster',
      description: 'Live keys of the whole cluster in key order, a page at a time. It lists what the replicas hold; it is not a quorum read.',
      tags: ['keys'],
      parameters: [
        { name: 'prefix', in: 'query', description: 'Only keys starting with this.', schema: { type: 'string' } },
        { name: 'match', in: 'query', description: 'Only keys matching this Redis glob (* ? [abc]).', schema: { type: 'string' } },
        { name: 'cursor', in: 'query', description: 'The `next` of the previous page; omit for the first.', schema: { type: 'string' } },
        { name: 'limit', in: 'query', description: 'Keys per page.', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } },
      ],
      responses: { '200': json(ref('KeyPage'), 'A page of keys.'), ...standardErrors('BadRequest', ...guarded) },
    },
  },
  '/v1/batch': {
    post: {
      operationId: 'batch',
      summary: 'Up to 1000 key operations in one request',
      description:
        'Operations on different keys run concurrently, one key\'s in the order given. Not a transaction: each operation succeeds or fails on its own, with its own result.',
      tags: ['keys'],
      parameters: [deadline],
      requestBody: { required: true, content: { 'application/json': { schema: ref('BatchRequest') } } },
      responses: { '200': json(ref('BatchResponse'), 'One result per operation, in order.'), ...standardErrors('BadRequest', 'TooLarge', ...guarded) },
    },
  },
  '/v1/keys/{key}/replicas': {
    get: {
      operationId: 'keyReplicas',
      summary: 'The replicas of a key',
      tags: ['cluster'],
      parameters: [keyInPath],
      responses: { '200': json(ref('Replicas'), 'The preference list.'), ...standardErrors('BadRequest', ...guarded) },
    },
  },
  '/v1/cluster': {
    get: {
      operationId: 'cluster',
      summary: 'Members, their state, strategy and replication factor',
      tags: ['cluster'],
      responses: { '200': json(ref('Cluster'), 'The cluster as the answering node sees it.'), ...standardErrors(...guarded) },
    },
  },
  '/v1/health': {
    get: {
      operationId: 'health',
      summary: 'Liveness of this node (no token needed)',
      tags: ['cluster'],
      security: [],
      responses: { '200': json(ref('Health'), 'The node process is up (a paused node says paused: true).') },
    },
  },
  '/v1/status': {
    get: {
      operationId: 'status',
      summary: "This node's own state: layout, member states, hints, entry counts, transport",
      tags: ['cluster'],
      responses: { '200': json(ref('NodeStatus'), 'The answering node.'), ...standardErrors(...guarded) },
    },
  },
  '/v1/admin/local-entries': {
    get: {
      operationId: 'localEntries',
      summary: 'The entries this node stores itself (not a cluster read)',
      tags: ['admin'],
      parameters: [
        { name: 'cursor', in: 'query', description: 'Start after this key (`next` of the previous page).', schema: { type: 'string' } },
        { name: 'limit', in: 'query', description: 'Entries per page.', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } },
      ],
      responses: { '200': json(ref('LocalEntries'), 'A page of entries.'), ...standardErrors('BadRequest', ...guarded) },
    },
  },
  '/v1/admin/anti-entropy': {
    post: {
      operationId: 'antiEntropy',
      summary: 'Run anti-entropy (Merkle-tree repair) with every live co-replica now',
      tags: ['admin'],
      parameters: [
        { name: 'wait', in: 'query', description: 'Answer when the sessions end (on a node still counting its anti-entropy leaves after a start, wait for that first).', schema: { type: 'boolean', default: false } },
        { name: 'timeout', in: 'query', description: 'With wait: give up waiting after this many ms.', schema: { type: 'integer', minimum: 1, maximum: 600000, default: 60000 } },
      ],
      responses: {
        '200': json(
          object(
            {
              status: { const: 'success' },
              sessions: { type: 'array', items: { type: 'object', additionalProperties: true } },
              leavesBuilt: { type: 'boolean', description: 'False while the node still counts its anti-entropy leaves after a start: no session starts until it has.' },
            },
            ['status', 'sessions', 'leavesBuilt'],
          ),
          'The sessions started.',
        ),
        ...standardErrors('BadRequest', ...guarded),
      },
    },
  },
  '/v1/admin/topology': {
    get: {
      operationId: 'topology',
      summary: 'The layout and the progress of the topology change under way',
      tags: ['admin'],
      responses: { '200': json({ type: 'object', required: ['layout'], properties: { layout: ref('Layout') }, additionalProperties: true }, 'Layout and progress.'), ...standardErrors(...guarded) },
    },
  },
  '/v1/admin/join': {
    post: {
      operationId: 'join',
      summary: 'Add a member (it takes writes for its ranges while they stream to it, then serves them)',
      tags: ['admin'],
      requestBody: { required: true, content: { 'application/json': { schema: ref('NewMember') } } },
      responses: { '200': json(ref('LayoutResult'), 'The new layout.'), ...standardErrors('BadRequest', 'Conflict', ...guarded) },
    },
  },
  '/v1/admin/layout': {
    post: {
      operationId: 'changeLayout',
      summary: 'Any topology change: join, leave, or replication',
      tags: ['admin'],
      requestBody: { required: true, content: { 'application/json': { schema: ref('LayoutChange') } } },
      responses: { '200': json(ref('LayoutResult'), 'The new layout.'), ...standardErrors('BadRequest', 'Conflict', ...guarded) },
    },
  },
  '/v1/admin/replication': {
    post: {
      operationId: 'changeReplication',
      summary: 'Change the strategy and replication factor (data moves in the background)',
      tags: ['admin'],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: object({ strategy: { type: 'string', enum: ['full', 'consistent'] }, rf: { type: 'integer', minimum: 1 }, replication_factor: { type: 'integer', minimum: 1 } }, ['strategy']),
          },
        },
      },
      responses: { '200': json(ref('LayoutResult'), 'The new layout.'), ...standardErrors('BadRequest', 'Conflict', ...guarded) },
    },
  },
  '/v1/admin/nodes': {
    post: {
      operationId: 'addLocalNode',
      summary: "Start one more node process and join it (a local cluster's front only)",
      tags: ['admin'],
      'x-quorumkv-front-only': true,
      responses: {
        '201': json(object({ status: { const: 'success' }, message: str, node: { type: 'object', additionalProperties: true } }), 'The node started and is joining.'),
        ...standardErrors(...guarded),
      },
    },
  },
  '/v1/admin/nodes/{id}': {
    delete: {
      operationId: 'removeNode',
      summary: "Remove a member: a live one decommissions (its ranges move first), a dead one's ranges are re-replicated",
      description:
        "On a local cluster's front the node's process is stopped once it has left the layout. A removal waits, for each range, for every live replica and at least N - quorum + 1 replicas to have streamed it; with two of three replicas lost for good (or the only one at RF 1) it never completes, and every later change is refused. `force=true` removes such a node anyway: its ranges are re-replicated from the live replicas only, and a write that only dead nodes held is lost. Refused (400) for a member the answering coordinator does not see dead. Asked while that node's unforced removal runs, it forces it (a new layout version).",
      tags: ['admin'],
      parameters: [
        nodeIdInPath,
        {
          name: 'force',
          in: 'query',
          description: 'Remove a node lost for good even though writes only the dead nodes held are lost (like `nodetool removenode force`). Only for a node the coordinator sees dead. Default false.',
          schema: { type: 'boolean', default: false },
        },
      ],
      responses: {
        '202': json(object({ status: { const: 'success' }, message: str, layout: ref('Layout') }), 'Leaving; its ranges move to their new owners.'),
        ...standardErrors('BadRequest', 'NotFound', 'Conflict', ...guarded),
      },
    },
  },
  '/v1/admin/pause': {
    post: {
      operationId: 'pause',
      summary: 'Simulate a crash of this node: it answers nothing but /v1/health, /v1/admin/resume and /recover until resumed',
      tags: ['admin'],
      responses: { '200': message('Node 1 paused (simulated crash)'), ...standardErrors(...guarded) },
    },
  },
  '/v1/admin/resume': {
    post: {
      operationId: 'resume',
      summary: 'Resume a paused node',
      tags: ['admin'],
      responses: { '200': message('Node 1 resumed'), ...standardErrors(...guarded) },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this node: requests by operation and outcome, latency, members, hints, recovery',
      tags: ['cluster'],
      responses: {
        '200': { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
        ...standardErrors(...guarded),
      },
    },
  },
  [openApiPath]: {
    get: {
      operationId: 'openapi',
      summary: 'This document',
      tags: ['cluster'],
      responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 document.'), ...standardErrors(...guarded) },
    },
  },
  // ---- the local cluster's dashboard (front only) -------------------------------------------------
  '/': {
    get: {
      operationId: 'root',
      summary: 'Redirects to the dashboard',
      tags: ['dashboard'],
      security: [],
      'x-quorumkv-front-only': true,
      responses: { '302': { description: 'To /dashboard/.' } },
    },
  },
  '/dashboard': {
    get: {
      operationId: 'dashboardRedirect',
      summary: 'Redirects to the dashboard',
      tags: ['dashboard'],
      security: [],
      'x-quorumkv-front-only': true,
      responses: { '302': { description: 'To /dashboard/.' } },
    },
  },
  '/dashboard/{path}': {
    get: {
      operationId: 'dashboardFile',
      summary: "The dashboard's page and its files (index.html, app.js, style.css)",
      tags: ['dashboard'],
      security: [],
      'x-quorumkv-front-only': true,
      parameters: [{ name: 'path', in: 'path', required: true, description: 'A file of the page; empty for index.html.', schema: { type: 'string' } }],
      responses: { '200': { description: 'The file.' }, '404': { description: 'No such file.' } },
    },
  },
  '/v1/dashboard/state': {
    get: {
      operationId: 'dashboardState',
      summary: 'Everything the dashboard shows, in one document: members, ring, keys per node, traffic, hints, repair',
      tags: ['dashboard'],
      'x-quorumkv-front-only': true,
      responses: { '200': json({ type: 'object', additionalProperties: true }, 'The state.'), ...standardErrors('Unauthorized', 'Forbidden') },
    },
  },
  // ---- the prototype's routes (shared/seed/SEED-BEHAVIOUR.md) ----------------------------------------
  '/write': {
    post: {
      operationId: 'prototypeWrite',
      summary: "Create a key (the prototype's write): 409 when it exists",
      description: 'A read then a write: two creates of one key racing each other can both succeed.',
      tags: ['prototype'],
      parameters: [consistency('reads at one, writes at quorum counting hints (sloppy)')],
      requestBody: { required: true, content: { 'application/json': { schema: ref('PrototypeWriteRequest') } } },
      responses: {
        '200': message('Key k written successfully'),
        '409': errorRef('Conflict'),
        ...standardErrors('BadRequest', 'TooLarge', ...guarded),
      },
    },
  },
  '/read/{key}': {
    get: {
      operationId: 'prototypeRead',
      summary: "Read a key (the prototype's read): the newest value any live replica holds",
      tags: ['prototype'],
      parameters: [keyInPath, consistency('one, waiting for every replica that can answer')],
      responses: { '200': json(ref('PrototypeRead'), 'The value as text.'), ...standardErrors('BadRequest', 'NotFound', ...guarded) },
    },
  },
  '/delete/{key}': {
    delete: {
      operationId: 'prototypeDelete',
      summary: "Delete a key (the prototype's delete): 404 when it is absent",
      tags: ['prototype'],
      parameters: [keyInPath, consistency('reads at one, writes at quorum counting hints (sloppy)')],
      responses: { '200': message('Key k deleted successfully'), ...standardErrors('BadRequest', 'NotFound', ...guarded) },
    },
  },
  '/nodes': {
    get: {
      operationId: 'prototypeNodes',
      summary: 'Nodes and whether each is alive',
      tags: ['prototype'],
      responses: { '200': json(ref('PrototypeNodes'), 'The nodes.'), ...standardErrors(...guarded) },
    },
  },
  '/nodes_for_key/{key}': {
    get: {
      operationId: 'prototypeNodesForKey',
      summary: 'The replicas of a key (consistent strategy only)',
      tags: ['prototype'],
      parameters: [keyInPath],
      responses: {
        '200': json({ type: 'object', required: ['status', 'key', 'nodes'], properties: { status: { const: 'success' }, key: { type: 'string' }, nodes: { type: 'array', items: { type: ['integer', 'string'] } } } }, 'The replicas, by id.'),
        ...standardErrors('BadRequest', ...guarded),
      },
    },
  },
  '/set_replication_strategy': {
    post: {
      operationId: 'setReplicationStrategy',
      summary: 'Change the strategy and replication factor (data moves to the new owners in the background)',
      tags: ['prototype', 'admin'],
      requestBody: { required: true, content: { 'application/json': { schema: ref('StrategyRequest') } } },
      responses: { '200': json(ref('StrategyResult'), 'The new layout.'), ...standardErrors('BadRequest', 'Conflict', ...guarded) },
    },
  },
  '/fail/{id}': {
    post: {
      operationId: 'failNode',
      summary: 'Fail a node: on a local cluster its process is killed (SIGKILL); on a node, the member is paused',
      tags: ['prototype', 'admin'],
      parameters: [nodeIdInPath],
      responses: { '200': message('Node 1 failed'), ...standardErrors('BadRequest', 'NotFound', ...guarded) },
    },
  },
  '/recover/{id}': {
    post: {
      operationId: 'recoverNode',
      summary: 'Recover a failed node: restarted on its data (local cluster) or resumed; it then catches up',
      tags: ['prototype', 'admin'],
      parameters: [nodeIdInPath],
      responses: { '200': message('Node 1 recovered'), ...standardErrors('BadRequest', 'NotFound', ...guarded) },
    },
  },
};

const errorCodes = [
  'UNAVAILABLE',
  'OVERLOADED',
  'WRITE_CONTENTION',
  'NOT_FOUND',
  'EXISTS',
  'BAD_REQUEST',
  'KEY_TOO_LARGE',
  'VALUE_TOO_LARGE',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'LAYOUT_CONFLICT',
  'UNKNOWN_NODE',
  'NO_ROUTE',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'INTERNAL',
];


const schemas: Json = {
  Error: {
    type: 'object',
    description: 'Every error. `error` and `message` are the prototype\'s; `code` is stable; more fields depend on the code.',
    required: ['status', 'error', 'message', 'code'],
    properties: {
      status: { const: 'error' },
      error: { type: 'string', description: 'Short name, e.g. "Key not found".' },
      message: str,
      code: { type: 'string', enum: errorCodes },
      answered: { type: 'integer', description: 'UNAVAILABLE: replicas that answered.' },
      needed: { type: 'integer', description: 'UNAVAILABLE: replicas the level needs.' },
      replicas: { type: 'integer', description: 'UNAVAILABLE: replicas of the key.' },
      paused: { type: 'boolean', description: 'UNAVAILABLE: true when this node is failed (paused); try another node.' },
    },
    additionalProperties: true,
  },
  Message: object({ status: { const: 'success' }, message: str }),
  WriteResult: object({
    status: { const: 'success' },
    key: str,
    version: str,
    replicasAcked: { type: 'integer', description: 'Owners holding the write when it was acknowledged (not given for a conditional write).' },
    hintsAcked: { type: 'integer', description: 'Fallback nodes holding it as a hint for an unreachable owner (not given for a conditional write).' },
    expiresMs: { type: 'integer', description: 'With ttl: when the value expires, in ms since 1970.' },
    conditional: { const: true, description: 'A conditional write (If-Match, If-None-Match).' },
  }, ['status', 'key', 'version']),
  DeleteResult: object(
    { status: { const: 'success' }, key: str, deleted: { const: true }, version: str, replicasAcked: int, hintsAcked: int, conditional: { const: true } },
    ['status', 'key', 'deleted', 'version'],
  ),
  KeyPage: object({ keys: { type: 'array', items: str }, next: { type: ['string', 'null'], description: 'Pass back as cursor for the next page; null on the last page.' } }),
  BatchOp: {
    type: 'object',
    required: ['op', 'key'],
    properties: {
      op: { type: 'string', enum: ['put', 'get', 'delete'] },
      key: str,
      value: { type: 'string', description: 'put: the value as UTF-8 text.' },
      valueBase64: { type: 'string', contentEncoding: 'base64', description: 'put: the value as base64 bytes (instead of value).' },
      ttl: { type: 'number', exclusiveMinimum: 0, description: 'put: time to live in seconds, counted from when the batch arrived.' },
    },
  },
  BatchRequest: object(
    {
      ops: { type: 'array', items: ref('BatchOp'), minItems: 1, maxItems: 1000 },
      consistency: { type: 'string', enum: ['one', 'quorum', 'all'] },
      timeout: { type: 'integer', minimum: 1, maximum: 60000, description: "Coordinator's deadline per operation, in ms." },
    },
    ['ops'],
  ),
  BatchResult: {
    type: 'object',
    required: ['op', 'key', 'status'],
    properties: {
      op: { type: 'string', enum: ['put', 'get', 'delete'] },
      key: str,
      status: { type: 'string', enum: ['success', 'error'] },
      version: { type: 'string', description: 'put, delete, and a get that found the key.' },
      found: { type: 'boolean', description: 'get: whether the key is present.' },
      value: { type: 'string', description: 'get: the value when it is valid UTF-8.' },
      valueBase64: { type: 'string', contentEncoding: 'base64', description: 'get: the value as base64.' },
      expiresAt: { type: 'integer', description: 'get: when the value expires, in ms since 1970 (only on expiring values).' },
      replicasAcked: int,
      hintsAcked: int,
      deleted: { const: true },
      code: { type: 'string', enum: errorCodes, description: 'status error: the stable code.' },
      message: { type: 'string', description: 'status error: what went wrong.' },
    },
  },
  BatchResponse: object({
    status: { type: 'string', enum: ['success', 'partial'], description: 'partial when some operation failed.' },
    failed: { type: 'integer', description: 'Operations that failed.' },
    results: { type: 'array', items: ref('BatchResult') },
  }),
  LayoutMember: object({ id: str, peer: str, http: str, resp: str, role: { type: 'string', enum: ['active', 'joining', 'leaving'] } }, ['id', 'peer', 'http', 'role']),
  Layout: object(
    {
      version: int,
      members: { type: 'array', items: ref('LayoutMember') },
      strategy: { type: 'string', enum: ['consistent', 'full'] },
      rf: int,
      vnodes: int,
      pending: object({ strategy: { type: 'string', enum: ['consistent', 'full'] }, rf: int }),
      forced: { const: true, description: 'The leave under way was forced: it waits only for live replicas, giving up writes only dead nodes held.' },
    },
    ['version', 'members', 'strategy', 'rf', 'vnodes'],
  ),
  NewMember: object({ id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' }, peer: { type: 'string', description: 'host:port' }, http: { type: 'string', description: 'host:port' }, resp: { type: 'string', description: 'host:port' } }, ['id', 'peer', 'http']),
  LayoutChange: {
    oneOf: [
      object({ type: { const: 'join' }, member: ref('NewMember') }),
      object({ type: { const: 'leave' }, id: str, force: { type: 'boolean', description: 'See DELETE /v1/admin/nodes/{id}?force=true.' } }, ['type', 'id']),
      object({ type: { const: 'replication' }, strategy: { type: 'string', enum: ['consistent', 'full'] }, rf: { type: 'integer', minimum: 1 } }, ['type', 'strategy']),
    ],
  },
  LayoutResult: object({ status: { const: 'success' }, layout: ref('Layout') }),
  Replicas: object({ key: str, strategy: { type: 'string', enum: ['consistent', 'full'] }, rf: int, replicas: { type: 'array', items: str }, writeReplicaSets: { type: 'array', items: { type: 'array', items: str } } }),
  Member: object({
    id: str,
    http: { type: 'string', description: 'host:port of its HTTP API.' },
    peer: { type: 'string', description: 'host:port of its node-to-node transport.' },
    resp: { type: ['string', 'null'], description: 'host:port of its Redis protocol.' },
    role: str,
    state: { type: 'string', enum: ['alive', 'suspect', 'dead'] },
    incarnation: int,
    sinceMs: int,
  }),
  Cluster: object({
    node: { type: 'string', description: 'The node that answered.' },
    layoutVersion: int,
    strategy: { type: 'string', enum: ['consistent', 'full'] },
    rf: int,
    replicas: { type: 'integer', description: 'Replicas per key now.' },
    vnodes: int,
    pending: { type: ['object', 'null'] },
    members: { type: 'array', items: ref('Member') },
    hintsPending: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Hints this node holds, by target node.' },
    removed: { type: 'boolean', description: 'The layout this node runs no longer lists it: it serves nothing but this route.' },
    cleanupPending: {
      type: 'boolean',
      description: 'This node still drops or hands over copies a topology change moved away, or, removed, still holds hints (a removed node: keep it running until removed is true and this is false).',
    },
    departed: {
      type: 'array',
      items: object({ id: str, removedIn: int }),
      description: 'Nodes a leave removed that this member still waits for: it asks them before purging a tombstone.',
    },
  }),
  Health: {
    ...object(
      {
        status: { const: 'ok' },
        id: str,
        paused: { type: 'boolean' },
        removed: { type: 'boolean', description: 'The node was removed from the cluster: it refuses reads and writes (503 removed).' },
        recovery: { type: 'string', description: 'Phase of the catch-up after a restart.' },
      },
      ['status', 'id', 'paused', 'removed'],
    ),
    additionalProperties: true,
  },
  NodeStatus: {
    ...object({
      id: str,
      paused: { type: 'boolean' },
      layout: { type: 'object' },
      members: { type: 'array', items: { type: 'object' } },
      hintsPending: { type: 'object', additionalProperties: { type: 'integer' } },
      entries: object({ live: int, tombstones: int }),
    }),
    additionalProperties: true,
  },
  LocalEntries: object({
    node: str,
    entries: { type: 'array', items: object({ key: str, version: str, tombstone: { type: 'boolean' }, wallMs: int }) },
    next: { type: ['string', 'null'], description: 'Cursor of the next page; null on the last.' },
  }),
  PrototypeWriteRequest: object({ key: { type: 'string', minLength: 1 }, value: { description: 'Text; any other JSON is stored as its JSON text.' } }),
  PrototypeRead: object({ key: str, value: str, message: { type: 'string', example: 'Read from replica 2' }, status: { const: 'success' }, version: str }),
  PrototypeNodes: object({
    status: { const: 'success' },
    strategy: str,
    replication_factor: int,
    nodes: {
      type: 'array',
      items: object(
        {
          node_id: { type: ['integer', 'string'] },
          status: { type: 'string', enum: ['alive', 'suspect', 'dead'] },
          port: int,
          address: str,
          process: { type: 'string', enum: ['starting', 'running', 'stopped', 'unknown'], description: 'Local cluster front only.' },
        },
        ['node_id', 'status', 'port'],
      ),
    },
  }),
  StrategyRequest: object(
    {
      strategy: { type: 'string', enum: ['full', 'consistent'] },
      replication_factor: { type: 'integer', minimum: 1, description: 'consistent: at most the node count. Default: unchanged.' },
    },
    ['strategy'],
  ),
  StrategyResult: object({ status: { const: 'success' }, message: str, strategy: str, replication_factor: int, layoutVersion: int }),
};

const errorResponse = (description: string, example: Json): Json => ({
  description,
  content: { 'application/json': { schema: ref('Error'), example: { status: 'error', ...example } } },
});

const responses: Json = {
  BadRequest: errorResponse('Malformed request (BAD_REQUEST).', { error: 'Bad Request', message: 'consistency must be one, quorum or all, got "two"', code: 'BAD_REQUEST' }),
  Unauthorized: errorResponse('No token sent while the cluster requires one (UNAUTHORIZED).', {
    error: 'Unauthorized',
    message: 'Missing API token: send Authorization: Bearer <token>',
    code: 'UNAUTHORIZED',
  }),
  Forbidden: errorResponse('Wrong token (FORBIDDEN; the prototype\'s answer).', { error: 'Unauthorized', message: 'Invalid API token', code: 'FORBIDDEN' }),
  NotFound: errorResponse('No such key (NOT_FOUND) or node (UNKNOWN_NODE).', { error: 'Key not found', message: 'Key k not found', code: 'NOT_FOUND' }),
  Conflict: errorResponse('The key exists (EXISTS), or a layout change is in progress (LAYOUT_CONFLICT).', {
    error: 'Key already exists',
    message: 'Key k already exists',
    code: 'EXISTS',
  }),
  PreconditionFailed: errorResponse('A conditional write whose condition did not hold (PRECONDITION_FAILED); version is the key\'s current one, or null when absent.', {
    error: 'Precondition Failed',
    message: 'the condition did not hold: key k is at version 01a2203d2c7e-00000000-0',
    code: 'PRECONDITION_FAILED',
    version: '01a2203d2c7e-00000000-0',
  }),
  TooLarge: errorResponse('Key or value over the limit (KEY_TOO_LARGE, VALUE_TOO_LARGE).', {
    error: 'Value too large',
    message: 'value is 2000000 bytes, the limit is 1048576',
    code: 'VALUE_TOO_LARGE',
  }),
  Unavailable: errorResponse(
    'Too few replicas answered for the level (UNAVAILABLE, with answered/needed/replicas), the node is failed (paused: true) or overloaded (OVERLOADED).',
    { error: 'Unavailable', message: 'write failed: 1 of 3 replicas answered, 2 needed', code: 'UNAVAILABLE', answered: 1, needed: 2, replicas: 3 },
  ),
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'quorumkv HTTP API',
    version: '1.0.0',
    description:
      'A leaderless, Dynamo-style replicated key-value store. Every node (and a local cluster\'s front) serves this API; any node coordinates any request. See docs/api.md.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [{ url: 'http://127.0.0.1:5000', description: "A local cluster's front (quorumkv start)" }],
  tags: [
    { name: 'keys', description: 'Read, write, delete and list keys.' },
    { name: 'cluster', description: 'The cluster as a node sees it.' },
    { name: 'admin', description: 'Operator actions; they need the admin token when the cluster has one.' },
    { name: 'prototype', description: "The prototype's routes, with its status codes and bodies." },
    { name: 'dashboard', description: "The web dashboard of a local cluster (served by its front only)." },
  ],
  // A token is needed only when the cluster was started with one.
  security: [{ bearerAuth: [] }, {}],
  paths,
  components: {
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'The cluster\'s --token (admin routes: --admin-token if set).' } },
    schemas,
    responses,
  },
} as const;

/** Serves the document at GET /v1/openapi.json. */
export function registerOpenApiRoute(app: FastifyInstance): void {
  const body = JSON.stringify(openApiDocument);
  app.get(openApiPath, async (_request, reply) => reply.type('application/json; charset=utf-8').send(body));
}

/**
 * The OpenAPI path of a fastify route: `/read/:key` is `/read/{key}`; a trailing wildcard is {key}
 * under /v1/kv/ (a key may hold "/") and {path} elsewhere (the dashboard's files).
 */
export function openApiPathOf(fastifyUrl: string): string {
  const named = fastifyUrl.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  return named.replace(/\*$/, named.startsWith('/v1/kv/') ? '{key}' : '{path}');
}
