// Goal: with a separate admin token, the client token reads what the admin routes show (the topology
// and a node's local entries) but changes nothing; the admin token does both. `quorumkv topology`
// with the client token was a 403 (a README walk). The CLI takes the admin token as --admin-token or
// QUORUMKV_ADMIN_TOKEN, the variable `quorumkv start` reads: it had to be passed as --token.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildServer } from '../../src/api/server.js';
import { runCli } from '../cli/runCli.js';
import { startOneNode, type TestNode } from '../runtime/inProcessNodes.js';

describe('the client token and the admin token', () => {
  let node: TestNode;
  before(async () => {
    node = await startOneNode({ requestTimeoutMs: 1000 });
  });
  after(async () => {
    await node?.stop();
  });

  it('the client token reads the topology and local entries; only the admin token changes the layout', async () => {
    const app = buildServer({
      runtime: node.runtime,
      auth: { token: 'client', adminToken: 'admin' },
      control: { fail: async () => undefined, recover: async () => undefined },
    });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    try {
      for (const url of ['/v1/admin/topology', '/v1/admin/local-entries']) {
        assert.equal((await app.inject({ method: 'GET', url, headers: as('client') })).statusCode, 200, url);
        assert.equal((await app.inject({ method: 'GET', url, headers: as('admin') })).statusCode, 200, url);
        assert.equal((await app.inject({ method: 'GET', url })).statusCode, 401, url);
      }
      const change = { method: 'POST' as const, url: '/v1/admin/replication', payload: { strategy: 'consistent', rf: 1 } };
      const withClientToken = await app.inject({ ...change, headers: as('client') });
      assert.equal(withClientToken.statusCode, 403);
      assert.match(JSON.parse(withClientToken.body).message, /^This route needs the admin token/, 'not "Invalid API token": it is valid');
      assert.equal(JSON.parse((await app.inject({ ...change, headers: as('guess') })).body).message, 'Invalid API token');
      assert.equal((await app.inject({ ...change, headers: as('admin') })).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('a token is taken only as a Bearer credential (any case), not bare or under another scheme', async () => {
    const app = buildServer({
      runtime: node.runtime,
      auth: { token: 'client' },
      control: { fail: async () => undefined, recover: async () => undefined },
    });
    const status = async (authorization: string) =>
      (await app.inject({ method: 'GET', url: '/v1/admin/topology', headers: { authorization } })).statusCode;
    try {
      assert.equal(await status('Bearer client'), 200);
      assert.equal(await status('bearer client'), 200, 'RFC 6750: the scheme is case-insensitive');
      const bare = await app.inject({ method: 'GET', url: '/v1/admin/topology', headers: { authorization: 'client' } });
      assert.equal(bare.statusCode, 401, 'a bare token was taken as one');
      assert.match(JSON.parse(bare.body).message, /must be "Bearer <token>"/);
      assert.equal(await status('Basic client'), 401);
      assert.equal(await status('Bearer'), 401);
      assert.equal(await status('Bearer wrong'), 403);
    } finally {
      await app.close();
    }
  });

  it('the CLI sends --admin-token (or QUORUMKV_ADMIN_TOKEN) instead of --token, for admin commands and the rest', { timeout: 120_000 }, async () => {
    const app = buildServer({
      runtime: node.runtime,
      auth: { token: 'client', adminToken: 'admin' },
      control: { fail: async () => undefined, recover: async () => undefined },
    });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const change = ['strategy', 'consistent', '1', '--url', url];
      const refused = await runCli([...change, '--token', 'client']);
      assert.equal(refused.code, 4, refused.stderr);
      assert.match(refused.stderr, /needs the admin token/);
      const withFlag = await runCli([...change, '--token', 'client', '--admin-token', 'admin']);
      assert.equal(withFlag.code, 0, withFlag.stderr);
      const withEnv = await runCli(change, { env: { QUORUMKV_ADMIN_TOKEN: 'admin' } });
      assert.equal(withEnv.code, 0, withEnv.stderr);
      // Nodes take the admin token on every route: one variable serves a whole session.
      const put = await runCli(['put', 'k', 'v', '--url', url], { env: { QUORUMKV_ADMIN_TOKEN: 'admin' } });
      assert.equal(put.code, 0, put.stderr);
      const wrong = await runCli(['get', 'k', '--url', url, '--admin-token', 'guess']);
      assert.equal(wrong.code, 4, wrong.stderr);
      assert.match(wrong.stderr, /Invalid API token/);
    } finally {
      await app.close();
    }
  });
});
