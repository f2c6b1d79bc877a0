// The OpenAPI document (src/api/openapi.ts) against the routes that really exist: every route a node
// registers (buildServer, caught through fastify's `fastify.initialization` diagnostics channel) is
// documented, and every documented operation is a route of a node, or of the local cluster's front
// when it is marked front-only. Nodes serve the document at GET /v1/openapi.json.

import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { openApiDocument, openApiPath, openApiPathOf } from '../../src/api/openapi.js';
import { runNode, type RunningNode } from '../../src/runtime/nodeMain.js';
import { startCluster, type StartedCluster } from '../../src/cluster/startCluster.js';
import { freeBasePort } from '../ports.js';

const host = '127.0.0.1';
const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Routes of every fastify instance created while `body` runs, as "METHOD /openapi/path". */
async function routesOf<T>(body: () => Promise<T>): Promise<{ result: T; routes: Set<string> }> {
  const routes = new Set<string>();
  const channel = diagnostics.channel('fastify.initialization');
  const onInit = (message: unknown) => {
    const app = (message as { fastify: FastifyInstance }).fastify;
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        // HEAD routes are fastify's automatic twins of GET routes.
        if (method !== 'HEAD') routes.add(`${method} ${openApiPathOf(route.url)}`);
      }
    });
  };
  channel.subscribe(onInit);
  try {
    return { result: await body(), routes };
  } finally {
    channel.unsubscribe(onInit);
  }
}

function documented(frontOnly: boolean | undefined): Set<string> {
  const operations = new Set<string>();
  for (const [path, item] of Object.entries(openApiDocument.paths as Record<string, Record<string, unknown>>)) {
    for (const method of methods) {
      const operation = item[method] as Record<string, unknown> | undefined;
      if (!operation) continue;
      const isFrontOnly = operation['x-quorumkv-front-only'] === true;
      if (frontOnly === undefined || isFrontOnly === frontOnly) operations.add(`${method.toUpperCase()} ${path}`);
    }
  }
  return operations;
}

describe('the OpenAPI document', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'quorumkv-openapi-'));
  let node: RunningNode;
  let nodeRoutes: Set<string>;

  before(async () => {
    const started = await routesOf(() =>
      runNode({
        id: 'solo',
        http: { host, port: 0 },
        peer: { host, port: 0 },
        dataDir: join(dataDir, 'node'),
        initialCluster: [{ id: 'solo', peer: `${host}:1`, http: `${host}:1`, role: 'active' }],
        strategy: 'consistent',
        rf: 1,
        vnodes: 8,
        fsync: 'commit',
        preset: 'local',
        settings: {},
        logFile: join(dataDir, 'node.log'),
      }),
    );
    node = started.result;
    nodeRoutes = started.routes;
  });

  after(async () => {
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is OpenAPI 3.1 with an operation id for each operation', () => {
    assert.equal(openApiDocument.openapi, '3.1.0');
    const ids = [...documented(undefined)].map((operation) => {
      const [method, path] = operation.split(' ') as [string, string];
      const item = (openApiDocument.paths as Record<string, Record<string, { operationId?: string }>>)[path];
      return item?.[method.toLowerCase()]?.operationId;
    });
    assert.ok(ids.every((id) => typeof id === 'string' && id !== ''), 'every operation has an operationId');
    assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
  });

  it('documents every route a node registers', () => {
    assert.ok(nodeRoutes.size > 10, `caught the node's routes: ${[...nodeRoutes].join(', ')}`);
    const missing = [...nodeRoutes].filter((route) => !documented(false).has(route)).sort();
    assert.deepEqual(missing, [], 'routes missing from src/api/openapi.ts');
  });

  it('documents no operation that is not a route', () => {
    const extra = [...documented(false)].filter((operation) => !nodeRoutes.has(operation)).sort();
    assert.deepEqual(extra, [], 'documented operations no node registers');
  });

  it('every $ref points at a component', () => {
    const text = JSON.stringify(openApiDocument);
    for (const [, kind, name] of text.matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)) {
      const components = openApiDocument.components as unknown as Record<string, Record<string, unknown>>;
      assert.ok(components[kind as string]?.[name as string], `#/components/${kind}/${name}`);
    }
  });

  it(`is served at GET ${openApiPath}`, async () => {
    const response = await fetch(`http://${host}:${node.httpAddress.port}${openApiPath}`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await response.json(), JSON.parse(JSON.stringify(openApiDocument)));
  });
});

describe("the OpenAPI document and the local cluster's front", { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'quorumkv-openapi-front-'));
  let cluster: StartedCluster;
  let frontRoutes: Set<string>;

  before(async () => {
    const port = await freeBasePort(1);
    const started = await routesOf(() =>
      startCluster({ nodes: 1, strategy: 'consistent', rf: 1, vnodes: 8, port, host, data: dataDir, fsync: 'commit', settings: [], quiet: true }),
    );
    cluster = started.result;
    frontRoutes = started.routes;
  });

  after(async () => {
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('front-only operations are front routes, and the front serves the document', async () => {
    // The front's catch-all (/*) forwards everything else to a node.
    const proxied = [...frontRoutes].filter((route) => !route.endsWith(' /{path}'));
    for (const operation of documented(true)) assert.ok(proxied.includes(operation), `${operation} is a route of the front`);
    const unknown = proxied.filter((route) => !documented(undefined).has(route));
    assert.deepEqual(unknown, [], "the front's own routes are documented");
    const response = await fetch(`${cluster.frontUrl}${openApiPath}`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { openapi: string }).openapi, '3.1.0');
  });
});
