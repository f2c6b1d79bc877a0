// Goal: a cluster run with `quorumkv node --tls-cert --tls-key --tls-ca` (DESIGN.md §7, optional TLS
// for clients and peers) serves HTTP and the Redis protocol over TLS, replicates over mutual-TLS peer
// connections, lets a node join through a member over https, and refuses a peer whose certificate its
// CA did not sign (and one that speaks no TLS) before any handshake of ours.
// The certificates are made with the openssl command; without it the test is skipped, saying so.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connect } from '../../src/client/index.js';
import { runCli } from '../cli/runCli.js';
import { freeBasePort } from '../ports.js';
import { assertBuilt, compiledMain, host, sleep, waitFor } from './harness.js';

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'the openssl command is missing (apt-get install -y openssl)';

/** A CA, and a certificate it signed for 127.0.0.1 that serves both as server and as client. */
function makeCertificates(dir: string, name: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(result.status, 0, `openssl ${args.join(' ')}: ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-days', '2', '-subj', `/CN=${name} CA`);
  run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name} node`);
  writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  run('x509', '-req', '-in', `${name}.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  return { ca: join(dir, `${name}-ca.pem`), cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

describe('TLS for clients and peers', { skip: opensslMissing, timeout: 120_000 }, () => {
  let dir: string;
  let certs: { ca: string; cert: string; key: string };
  let base: number;
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const http = (i: number) => `${host}:${base + 1 + i}`;
  const peer = (i: number) => `${host}:${base + 101 + i}`;
  const resp = (i: number) => base + 201 + i;

  const startNode = (id: number, placement: string[]) => {
    const log = join(dir, `node-${id}.log`);
    logs.push(log);
    const child = spawn(process.execPath, [
      compiledMain, 'node', '--id', String(id), '--http', http(id), '--peer', peer(id), '--resp', `${host}:${resp(id)}`,
      '--data', join(dir, `data-${id}`), '--log-file', log,
      '--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca,
      '--set', 'probeIntervalMs=200', '--set', 'probeTimeoutMs=80', '--set', 'requestTimeoutMs=2000',
      ...placement,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    return child;
  };
  const clientFor = (...ids: number[]) => connect({ urls: ids.map((i) => `https://${http(i)}`), ca: readFileSync(certs.ca), timeoutMs: 5_000 });

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'quorumkv-tls-'));
    certs = makeCertificates(dir, 'cluster');
    base = await freeBasePort(4);
    const initial = [0, 1, 2].map((i) => `${i}/${peer(i)}/${http(i)}/${host}:${resp(i)}`).join(',');
    for (const i of [0, 1, 2]) startNode(i, ['--initial-cluster', initial]);
    const client = clientFor(0);
    try {
      await waitFor(async () => (await client.cluster()).members.every((m) => m.state === 'alive'), 30_000, { what: 'three members alive over TLS' });
    } finally {
      await client.close();
    }
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await sleep(200);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves https and RESP over TLS, and replicates over mutual-TLS peer connections', async () => {
    const client = clientFor(0);
    try {
      const written = await client.put('greeting', 'over tls', { consistency: 'all' });
      assert.equal(written.replicasAcked, 3, 'every replica took it: the peers talk over TLS');
    } finally {
      await client.close();
    }
    const elsewhere = clientFor(2);
    try {
      assert.equal((await elsewhere.get('greeting', { consistency: 'all' }))?.text(), 'over tls');
    } finally {
      await elsewhere.close();
    }
    const redis = new Redis({ host, port: resp(1), tls: { ca: readFileSync(certs.ca) }, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      assert.equal(await redis.get('greeting'), 'over tls');
      assert.equal(await redis.set('from-redis', 'yes'), 'OK');
      // DBSIZE asks every member for its keys: the node's own https requests trust the cluster's CA.
      assert.equal(await redis.dbsize(), 2);
    } finally {
      redis.disconnect();
    }
    // The CLI trusts the CA through Node's NODE_EXTRA_CA_CERTS.
    const cli = await runCli(['get', 'from-redis', '--url', `https://${http(1)}`], { env: { NODE_EXTRA_CA_CERTS: certs.ca } });
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, 'yes\n');
    const untrusted = await runCli(['get', 'from-redis', '--url', `https://${http(1)}`]);
    assert.notEqual(untrusted.code, 0, 'a client that does not trust the CA is refused');
    // The benchmark measures a TLS cluster too.
    const bench = await runCli(['bench', '--target', `https://${http(0)},${http(1)}`, '--workload', 'a', '--clients', '4', '--keys', '50', '--duration', '1', '--warmup', '0', '--json'], {
      env: { NODE_EXTRA_CA_CERTS: certs.ca },
    });
    assert.equal(bench.code, 0, bench.stderr);
    const report = JSON.parse(bench.stdout) as { protocol: string; ops: number; errors: number };
    assert.equal(report.protocol, 'https');
    assert.ok(report.ops > 0 && report.errors === 0, bench.stdout.slice(0, 300));
  });

  it('refuses a peer connection without a certificate its CA signed, or without TLS', async () => {
    const other = makeCertificates(dir, 'stranger');
    const attempt = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({ host, port: base + 101, ...options });
        const done = (outcome: string) => {
          resolve(outcome);
          socket.destroy();
        };
        // The node's first frame is the cluster-secret handshake's challenge.
        socket.on('data', () => done('challenged'));
        socket.on('error', (error) => done(`error: ${error.message}`));
        socket.on('close', () => done('closed'));
        setTimeout(() => done('no answer'), 5_000).unref();
      });
    // Signed by another CA: the node does not take it (and the stranger does not trust the node).
    const stranger = await attempt({ cert: readFileSync(other.cert), key: readFileSync(other.key), ca: readFileSync(certs.ca) });
    assert.match(stranger, /^(error|closed)/, 'a stranger got the handshake challenge');
    // No certificate at all.
    const anonymous = await attempt({ ca: readFileSync(certs.ca) });
    assert.match(anonymous, /^(error|closed)/);
    // A member's certificate is let through to the cluster-secret handshake: its challenge comes.
    const member = await attempt({ cert: readFileSync(certs.cert), key: readFileSync(certs.key), ca: readFileSync(certs.ca) });
    assert.equal(member, 'challenged');
    const refusals = readFileSync(logs[0] as string, 'utf8').split('\n').filter((line) => line.includes('refused a peer connection: TLS handshake failed'));
    assert.ok(refusals.length >= 2, `node 0 logged ${refusals.length} refusals`);
  });

  it('lets a node join through a member over https', async () => {
    startNode(3, ['--join', http(0)]);
    const client = clientFor(0);
    try {
      await waitFor(async () => {
        const cluster = await client.cluster();
        return cluster.members.some((m) => m.id === '3' && m.state === 'alive') && cluster.members.length === 4;
      }, 60_000, { what: 'node 3 to join' });
      // Its HTTP API listens once it has joined and started; its peers may see it alive a moment before.
      const joined = clientFor(3);
      try {
        await waitFor(async () => (await joined.get('greeting'))?.text() === 'over tls', 30_000, { what: 'a read through node 3' });
      } finally {
        await joined.close();
      }
    } finally {
      await client.close();
    }
  });
});
