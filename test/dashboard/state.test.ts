// The dashboard's server side: where its files are found (from the sources under tsx and from dist/),
// the Prometheus parsing and ring view, the routes on a bare fastify (token, redirect, static files,
// a dead or hung node answered within the timeout), and GET /v1/dashboard/state on a real local
// cluster: its shape, a killed node shown stopped and unreachable, then back alive after recover.

import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import type { Supervisor } from '../../src/cluster/supervisor.js';
import { dashboardAssetCandidates, dashboardAssetsDir, registerDashboard } from '../../src/dashboard/dashboard.js';
import { parseRequestCounters } from '../../src/dashboard/metricsText.js';
import { ringView, type DashboardState } from '../../src/dashboard/state.js';
import { Ring } from '../../src/core/ring.js';
import { host, http, importCompiled, projectRoot, startDashboardCluster, waitFor } from './helpers.js';

const publicDir = join(projectRoot, 'src', 'dashboard', 'public');
const assets = ['index.html', 'app.js', 'style.css'];

describe('dashboard files', () => {
  it('are found from the sources (tsx) and from the compiled module in dist/', { timeout: 30_000 }, async () => {
    for (const file of assets) assert.ok(existsSync(join(publicDir, file)), `${file} exists in src/dashboard/public`);
    const [fromSources] = dashboardAssetCandidates();
    assert.equal(realpathSync(fromSources as string), realpathSync(publicDir), 'beside the module under tsx');
    assert.equal(realpathSync(dashboardAssetsDir()), realpathSync(publicDir));
    const compiled = await importCompiled<typeof import('../../src/dashboard/dashboard.js')>('src/dashboard/dashboard.js');
    assert.equal(realpathSync(compiled.dashboardAssetsDir()), realpathSync(publicDir), 'dist/ finds the sources folder');
  });
});

describe('dashboard parsing', () => {
  it('reads request counters and latency sums from Prometheus text', () => {
    const text = [
      '# HELP quorumkv_requests_total Client requests',
      '# TYPE quorumkv_requests_total counter',
      'quorumkv_requests_total{node="1",operation="get",outcome="ok"} 12',
      'quorumkv_requests_total{operation="get",outcome="NOT_FOUND",node="1"} 3',
      'quorumkv_requests_total{node="1",operation="put",outcome="ok"} 40',
      'quorumkv_requests_total{node="1",operation="put",outcome="UNAVAILABLE"} 2',
      'quorumkv_requests_total{node="1",operation="scan",outcome="ok"} 99',
      'quorumkv_requests_total{node="1",operation="update",outcome="ok"} 7',
      'quorumkv_request_duration_seconds_bucket{le="0.001",node="1",operation="put"} 30',
      'quorumkv_request_duration_seconds_sum{node="1",operation="put"} 0.084',
      'quorumkv_request_duration_seconds_count{node="1",operation="put"} 42',
      'process_cpu_seconds_total{node="1"} 1.5',
      'garbage line',
    ].join('\n');
    const counters = parseRequestCounters(text);
    assert.deepEqual(counters.get, { ok: 12, errors: 3, byOutcome: { NOT_FOUND: 3 }, latencySum: 0, latencyCount: 0 });
    assert.deepEqual(counters.put, { ok: 40, errors: 2, byOutcome: { UNAVAILABLE: 2 }, latencySum: 0.084, latencyCount: 42 });
    assert.deepEqual(counters.delete, { ok: 0, errors: 0, byOutcome: {}, latencySum: 0, latencyCount: 0 });
    assert.equal(counters.update.ok, 7, 'conditional writes are counted apart');
  });

  it('draws the ring as merged ranges covering it once, with primary and replica shares', () => {
    const ring = new Ring(['0', '1', '2'], 32);
    const view = ringView(ring, 2, 32);
    assert.equal(view.tokens, 96);
    assert.ok(view.ranges.length <= 96 && view.ranges.length >= 3);
    const length = (r: { start: number; end: number }) => (r.end > r.start ? r.end - r.start : view.size - r.start + r.end);
    assert.equal(view.ranges.reduce((sum, r) => sum + length(r), 0), view.size, 'the ranges cover the ring exactly once');
    for (const [i, range] of view.ranges.entries()) {
      const next = view.ranges[(i + 1) % view.ranges.length]!;
      assert.equal(next.start, range.end, 'ranges are contiguous');
      assert.notEqual(next.owner, range.owner, 'adjacent ranges of one owner are merged');
    }
    const total = (shares: Record<string, number>) => Object.values(shares).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total(view.primaryShares) - 1) < 1e-9);
    assert.ok(Math.abs(total(view.replicaShares) - 2) < 1e-9, 'each position has two replicas');
    const single = ringView(new Ring(['solo'], 1), 1, 1);
    assert.equal(single.ranges.length, 1);
    assert.equal(single.primaryShares.solo, 1);
  });
});

/** A supervisor stand-in: members at given addresses, all "running". */
function fakeSupervisor(members: { id: string; http: string }[]): Supervisor {
  const byId = new Map(members.map((m) => [m.id, { ...m, peer: `${host}:1`, resp: `${host}:2` }]));
  return {
    ids: () => [...byId.keys()],
    member: (id: string) => byId.get(id),
    stateOf: (id: string) => (byId.has(id) ? 'running' : undefined),
    pid: () => undefined,
    runningIds: () => [...byId.keys()],
  } as unknown as Supervisor;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

describe('dashboard routes', () => {
  it('serve the page, check the token, and answer within the timeout when nodes are down or hung', { timeout: 30_000 }, async () => {
    // A port nobody listens on (connection refused), and a server that accepts and never answers.
    const closed = createServer();
    const closedPort = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const sockets = new Set<Socket>();
    const hung = createServer((socket) => sockets.add(socket));
    const hungPort = await listen(hung);

    const app = Fastify({ logger: false });
    registerDashboard(app, {
      supervisor: fakeSupervisor([
        { id: '0', http: `${host}:${closedPort}` },
        { id: '1', http: `${host}:${hungPort}` },
      ]),
      auth: { token: 'client-secret', adminToken: 'admin-secret' },
      nodeTimeoutMs: 400,
    });
    try {
      await app.ready();
      const root = await app.inject({ method: 'GET', url: '/' });
      assert.equal(root.statusCode, 302);
      assert.equal(root.headers.location, '/dashboard/');

      const page = await app.inject({ method: 'GET', url: '/dashboard/' });
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.match(page.body, /<script type="module" src="app.js">/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
      for (const file of ['app.js', 'style.css']) {
        const asset = await app.inject({ method: 'GET', url: `/dashboard/${file}` });
        assert.equal(asset.statusCode, 200, file);
      }
      assert.match(String((await app.inject({ method: 'GET', url: '/dashboard/app.js' })).headers['content-type']), /javascript/);
      assert.equal((await app.inject({ method: 'GET', url: '/dashboard/../package.json' })).statusCode, 404);

      assert.equal((await app.inject({ method: 'GET', url: '/v1/dashboard/state' })).statusCode, 401, 'no token');
      assert.equal(
        (await app.inject({ method: 'GET', url: '/v1/dashboard/state', headers: { authorization: 'Bearer wrong' } })).statusCode,
        403,
        'a wrong token',
      );
      const started = Date.now();
      const answer = await app.inject({ method: 'GET', url: '/v1/dashboard/state', headers: { authorization: 'Bearer admin-secret' } });
      const tookMs = Date.now() - started;
      assert.equal(answer.statusCode, 200);
      assert.ok(tookMs < 3000, `answered in ${tookMs} ms despite a hung node`);
      const state = answer.json() as DashboardState;
      assert.equal(state.cluster, null, 'no node answered, so no layout');
      assert.equal(state.ring, null);
      assert.deepEqual(state.nodes.map((n) => n.id), ['0', '1']);
      for (const node of state.nodes) {
        assert.equal(node.reachable, false, `node ${node.id} is unreachable`);
        assert.equal(node.state, 'dead');
        assert.equal(node.requests, null);
      }
      assert.equal(state.nodes[0]?.error, 'connection refused');
      assert.equal(state.nodes[1]?.error, 'timed out');
      assert.deepEqual(state.totals, { liveCopies: 0, tombstoneCopies: 0, liveKeys: null, hintsPending: 0, nodesUp: 0, nodesTotal: 2 });
    } finally {
      await app.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  });
});

describe('dashboard state on a local cluster', () => {
  it('shows every node, the ring and traffic; a failed node stopped and unreachable; a recovered one alive', { timeout: 240_000 }, async (t) => {
    const cluster = await startDashboardCluster();
    try {
      const front = cluster.frontUrl;
      const state = async () => {
        const answer = await http('GET', `${front}/v1/dashboard/state`, { timeoutMs: 10_000 });
        assert.equal(answer.status, 200, answer.text);
        return answer.json() as DashboardState;
      };

      const root = await http('GET', `${front}/`, { redirect: 'manual' });
      assert.equal(root.status, 302);
      assert.equal(root.headers.get('location'), '/dashboard/');
      const page = await http('GET', `${front}/dashboard/`);
      assert.equal(page.status, 200);
      assert.match(page.text, /quorumkv dashboard/);
      const script = await http('GET', `${front}/dashboard/app.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
      // Other paths still reach the nodes.
      assert.equal((await http('GET', `${front}/v1/cluster`)).status, 200);

      const all = await waitFor(
        async () => {
          const s = await state();
          return s.nodes.length === 3 && s.nodes.every((n) => n.reachable && n.state === 'alive' && n.recovery?.phase === 'ready') ? s : undefined;
        },
        60_000,
        'three reachable, alive, ready nodes',
      );
      assert.ok(all.cluster);
      assert.equal(all.cluster.strategy, 'consistent');
      assert.equal(all.cluster.rf, 2);
      assert.equal(all.cluster.replicas, 2);
      assert.equal(all.cluster.vnodes, 32);
      assert.equal(all.cluster.inTransition, false);
      assert.deepEqual(all.cluster.members.map((m) => [m.id, m.role, m.state]), [['0', 'active', 'alive'], ['1', 'active', 'alive'], ['2', 'active', 'alive']]);
      for (const node of all.nodes) {
        assert.equal(node.process, 'running');
        assert.ok(typeof node.pid === 'number' && node.pid > 0);
        assert.equal(node.role, 'active');
        assert.match(node.http, /^127\.0\.0\.1:\d+$/);
        assert.ok(node.entries && node.requests && node.antiEntropy && node.topology && node.transport);
        assert.equal(node.error, null);
        assert.deepEqual(Object.keys(node.seenBy).sort(), ['0', '1', '2']);
      }
      assert.ok(all.ring);
      assert.equal(all.ring.tokens, 96);
      assert.deepEqual(all.ring.members, ['0', '1', '2']);
      assert.ok(Math.abs(Object.values(all.ring.replicaShares).reduce((a, b) => a + b, 0) - 2) < 1e-9);
      assert.equal(all.nextRing, null);

      // Writes at consistency=all land on both replicas: 2 copies per key, counted as puts.
      const keys = 20;
      for (let i = 0; i < keys; i++) {
        const put = await http('PUT', `${front}/v1/kv/dash-${i}?consistency=all`, { body: `v${i}` });
        assert.equal(put.status, 200, put.text);
      }
      const written = await waitFor(async () => {
        const s = await state();
        return s.totals.liveCopies === keys * 2 ? s : undefined;
      }, 20_000, `${keys * 2} live copies`);
      assert.equal(written.totals.liveKeys, keys, 'the keys, not their copies (2 per key)');
      const puts = written.nodes.reduce((sum, n) => sum + (n.requests?.put.ok ?? 0), 0);
      assert.ok(puts >= keys, `${puts} puts counted across the nodes`);

      // Fail node 1 through the front: its process stops; the page still answers at once.
      assert.equal((await http('POST', `${front}/fail/1`)).status, 200);
      const started = Date.now();
      const failed = await state();
      t.diagnostic(`state with node 1 killed answered in ${Date.now() - started} ms`);
      const one = failed.nodes.find((n) => n.id === '1');
      assert.ok(one);
      assert.equal(one.process, 'stopped');
      assert.equal(one.reachable, false);
      assert.equal(one.state, 'dead');
      assert.equal(one.pid, null);
      assert.equal(one.error, 'process stopped');
      assert.equal(one.entries, null);
      assert.ok(failed.cluster, 'the others still give the layout');
      assert.equal(failed.totals.nodesUp, 2);
      await waitFor(async () => {
        const s = await state();
        const seen = s.nodes.find((n) => n.id === '1')?.seenBy ?? {};
        return seen['0'] === 'dead' && seen['2'] === 'dead';
      }, 15_000, 'the other nodes to see node 1 dead');

      // Recover: running, reachable and alive again.
      assert.equal((await http('POST', `${front}/recover/1`, { timeoutMs: 60_000 })).status, 200);
      await waitFor(async () => {
        const s = await state();
        const node = s.nodes.find((n) => n.id === '1');
        return node && node.process === 'running' && node.reachable && node.state === 'alive' && node.seenBy['0'] === 'alive' && node.seenBy['2'] === 'alive';
      }, 30_000, 'node 1 alive again');
    } finally {
      await cluster.stop();
    }
  });
});
