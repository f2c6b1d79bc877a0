// Goal: a RESP connection stops reading while its unwritten commands hold more than 64 MiB, so a
// client that pipelines large writes behind a slow one cannot fill the node's memory; and it reads
// the rest, answering every command, once they drain. Two of three nodes are stopped (SIGSTOP), so
// the first quorum SET waits out its long timeout and every later SET of that key waits behind it.

import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { host, startRespCluster, type RespCluster } from './resp-harness.js';

let cluster: RespCluster;

before(async () => {
  cluster = await startRespCluster({ nodes: 3, rf: 3, settings: ['requestTimeoutMs=8000'] });
}, { timeout: 120_000 });

after(async () => {
  await cluster?.stop();
}, { timeout: 30_000 });

function setCommand(key: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n`), value, Buffer.from('\r\n')]);
}

test('reading pauses while pipelined commands hold over 64 MiB, and resumes when they are answered', { timeout: 90_000 }, async () => {
  const stopped = ['1', '2'].map((id) => cluster.started.supervisor.pid(id) as number);
  const value = Buffer.alloc(1000 * 1000, 'v');
  const commands = 100; // 100 MB: 1.5 times the limit, and far fewer than the 10,000-command limit
  const socket = net.connect(cluster.respPorts[0] as number, host);
  let received = '';
  socket.setEncoding('latin1').on('data', (text: string) => (received += text));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  for (const pid of stopped) process.kill(pid, 'SIGSTOP');
  try {
    for (let i = 0; i < commands; i++) socket.write(setCommand('flow', value));
    await delay(3000);
    // Loopback socket buffers hold a few MB; the node stopped reading after about 64 of the 100.
    assert.ok(socket.writableLength > 16 * 1024 * 1024, `the node read on: ${socket.writableLength} bytes left to send`);
    assert.equal(received, '', 'nothing is answered while the first write waits');
  } finally {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
  }
  const deadline = Date.now() + 60_000;
  while ((received.match(/\r\n/g) ?? []).length < commands && Date.now() < deadline) await delay(100);
  const answers = received.split('\r\n').filter((line) => line !== '');
  assert.equal(answers.length, commands, `every command is answered: ${received.slice(0, 200)}`);
  assert.equal(socket.writableLength, 0);
  socket.destroy();
});
