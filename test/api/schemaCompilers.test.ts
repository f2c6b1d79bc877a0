// fastify's schema compilers load when a route first needs one, not when a server is created.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import Fastify from 'fastify';
import { lazySchemaController } from '../../src/api/schemaCompilers.js';

const loaded = (name: string) => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes(`/node_modules/${name}/`));

test('a server without schemas never loads ajv; a route with one still validates and serializes', async () => {
  const plain = Fastify({ logger: false, schemaController: lazySchemaController });
  plain.get('/plain', async () => ({ ok: true }));
  await plain.ready();
  assert.equal((await plain.inject({ method: 'GET', url: '/plain' })).json().ok, true);
  await plain.close();
  assert.equal(loaded('@fastify/ajv-compiler'), false, 'ajv compiler loaded without a schema');
  assert.equal(loaded('@fastify/fast-json-stringify-compiler'), false);

  const checked = Fastify({ logger: false, schemaController: lazySchemaController });
  checked.get(
    '/checked',
    {
      schema: {
        querystring: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } }, required: ['n'] },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    },
    async (request) => ({ n: (request.query as { n: number }).n, dropped: 'by the response schema' }),
  );
  await checked.ready();
  assert.equal((await checked.inject({ method: 'GET', url: '/checked?n=0' })).statusCode, 400);
  const good = await checked.inject({ method: 'GET', url: '/checked?n=3' });
  assert.deepEqual(good.json(), { n: 3 });
  await checked.close();
  assert.equal(loaded('@fastify/ajv-compiler'), true);
});
