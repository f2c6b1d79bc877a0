// Goal: the Redis protocol on the wire, byte for byte, against a real 3-node cluster that requires a
// client token and caps values at 64 KiB: authentication answers like Redis; pipelines (one write or
// split at every byte, RESP and inline) are answered in request order; malformed and oversized
// frames get `-ERR Protocol error: ...` and close only their own connection; RESP3 replies after
// HELLO 3; and the real programs (redis-cli one-shot and interactive, redis-cli --scan,
// redis-benchmark with and without -P 16) work unchanged.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import { exchange, hasProgram, host, resp, startRespCluster, type RespCluster } from './resp-harness.js';

const token = 'wire-test-token';
const valueBytesMax = 64 * 1024;
let cluster: RespCluster;
let port: number;
const auth = () => resp('AUTH', token);

before(async () => {
  cluster = await startRespCluster({ nodes: 3, rf: 3, token, settings: [`valueBytesMax=${valueBytesMax}`] });
  port = cluster.respPorts[0] as number;
}, { timeout: 120_000 });

after(async () => {
  await cluster?.stop();
}, { timeout: 30_000 });

/** Answers until `count` complete top-level replies arrived (simple lines and bulk strings only). */
function replies(count: number): (text: string) => boolean {
  return (text) => splitReplies(text).length >= count;
}

/** Splits a stream of simple replies (+ - : $ and _) into whole replies. */
function splitReplies(text: string): string[] {
  const out: string[] = [];
  let index = 0;
  while (index < text.length) {
    const lineEnd = text.indexOf('\r\n', index);
    if (lineEnd < 0) break;
    if (text[index] === '$' && text[index + 1] !== '-') {
      const length = Number(text.slice(index + 1, lineEnd));
      const end = lineEnd + 2 + length + 2;
      if (end > text.length) break;
      out.push(text.slice(index, end));
      index = end;
    } else {
      out.push(text.slice(index, lineEnd + 2));
      index = lineEnd + 2;
    }
  }
  return out;
}

describe('authentication', { timeout: 30_000 }, () => {
  test('NOAUTH before AUTH (PING too), WRONGPASS for a wrong token, then OK', async () => {
    const { text } = await exchange(
      port,
      [resp('PING'), resp('GET', 'k'), resp('FOO'), resp('AUTH', 'nope'), resp('AUTH', 'someone', token), auth(), resp('PING'), resp('AUTH', 'default', token)],
      { until: replies(8) },
    );
    assert.deepEqual(splitReplies(text), [
      '-NOAUTH Authentication required.\r\n',
      '-NOAUTH Authentication required.\r\n',
      "-ERR unknown command 'FOO', with args beginning with: \r\n",
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
      '+OK\r\n',
      '+PONG\r\n',
      '+OK\r\n',
    ]);
  });

  test('HELLO 3 needs AUTH in it or before it; with it, answers a RESP3 map', async () => {
    const { text } = await exchange(port, [resp('HELLO', '3'), resp('HELLO', '3', 'AUTH', 'default', token, 'SETNAME', 'wire'), resp('GET', 'missing'), resp('CLIENT', 'GETNAME')], {
      until: (t) => t.includes('$4\r\nwire\r\n'),
    });
    assert.match(text, /^-NOAUTH HELLO must be called with the client already authenticated/);
    assert.match(text, /%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$5\r\n7\.2\.0\r\n\$5\r\nproto\r\n:3\r\n\$2\r\nid\r\n:\d+\r\n/);
    assert.ok(text.endsWith('_\r\n$4\r\nwire\r\n'), 'RESP3 null, then the name');
  });

  test('before AUTH only small commands: 10 arguments of 16 KiB at most, as in Redis; after it, the full limits', async () => {
    const many = await exchange(port, [resp('MSET', ...Array.from({ length: 10 }, (_, i) => `k${i}`))]);
    assert.equal(many.text, '-ERR Protocol error: unauthenticated multibulk length\r\n');
    assert.ok(many.closed);
    // Refused from its header on: the node does not wait for (or hold) the megabyte announced.
    const big = await exchange(port, [Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${1024 * 1024}\r\n`)]);
    assert.equal(big.text, '-ERR Protocol error: unauthenticated bulk length\r\n');
    assert.ok(big.closed);
    const small = await exchange(port, [resp('ECHO', 'x'.repeat(16 * 1024))], { until: replies(1) });
    assert.equal(small.text, '-NOAUTH Authentication required.\r\n', 'within the limits: an ordinary NOAUTH');
    // In the same write as AUTH, what follows it gets the full limits.
    const value = 'v'.repeat(20 * 1024);
    const after = await exchange(port, [Buffer.concat([auth(), resp('MSET', ...Array.from({ length: 12 }, (_, i) => (i % 2 ? value : `big${i}`))), resp('STRLEN', 'big0')])], {
      until: replies(3),
    });
    assert.equal(after.text, `+OK\r\n+OK\r\n:${value.length}\r\n`);
  });

  test('QUIT is answered before AUTH and closes the connection', async () => {
    const result = await exchange(port, [resp('QUIT'), resp('PING')]);
    assert.equal(result.text, '+OK\r\n');
    assert.ok(result.closed);
  });
});

describe('pipelining', { timeout: 60_000 }, () => {
  test('200 mixed commands in one write are answered in order; reads see earlier writes of their key', async () => {
    const commands: Buffer[] = [auth()];
    const expected: string[] = ['+OK\r\n'];
    for (let i = 0; i < 40; i++) {
      const key = `pipe:${i % 4}`;
      commands.push(resp('SET', key, `v${i}`), resp('GET', key), resp('INCR', `pipe:n${i % 3}`), resp('ECHO', `e${i}`), resp('PING'));
      expected.push('+OK\r\n', `$${`v${i}`.length}\r\nv${i}\r\n`, `:${Math.floor(i / 3) + 1}\r\n`, `$${`e${i}`.length}\r\ne${i}\r\n`, '+PONG\r\n');
    }
    const { text } = await exchange(port, [Buffer.concat(commands)], { until: replies(expected.length), waitMs: 20_000 });
    assert.deepEqual(splitReplies(text), expected);
  });

  test('a stream split at every byte, RESP and inline mixed, decodes the same', async () => {
    const stream = Buffer.concat([auth(), Buffer.from('SET split "a b"\r\n'), resp('GET', 'split'), Buffer.from('PING\r\n'), resp('MGET', 'split', 'nothing')]);
    const chunks = [...stream].map((byte) => Buffer.from([byte]));
    const { text } = await exchange(port, chunks, { until: (t) => t.endsWith('$-1\r\n'), waitMs: 20_000 });
    assert.equal(text, '+OK\r\n+OK\r\n$3\r\na b\r\n+PONG\r\n*2\r\n$3\r\na b\r\n$-1\r\n');
  });

  test('a client that shuts down its side after sending still gets every answer, then the node closes', async () => {
    const socket = net.connect(port, host);
    let text = '';
    socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    // `printf 'SET ...' | nc -N host port`: the commands, then a FIN at once.
    socket.end(Buffer.concat([auth(), resp('SET', 'half', 'v1'), resp('INCR', 'half:n'), resp('GET', 'half'), Buffer.from('PING\r\n')]));
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    assert.equal(socket.destroyed || socket.readableEnded, true, 'the node closed its side');
    assert.match(text, /^\+OK\r\n\+OK\r\n:\d+\r\n\$2\r\nv1\r\n\+PONG\r\n$/);
    socket.destroy();
  });

  test('QUIT in the middle of a pipeline answers what came before it, then closes', async () => {
    const result = await exchange(port, [Buffer.concat([auth(), resp('SET', 'q', '1'), resp('QUIT'), resp('SET', 'q', '2')])]);
    assert.equal(result.text, '+OK\r\n+OK\r\n+OK\r\n');
    assert.ok(result.closed);
    const check = await exchange(port, [Buffer.concat([auth(), resp('GET', 'q')])], { until: replies(2) });
    assert.equal(check.text, '+OK\r\n$1\r\n1\r\n', 'nothing after QUIT ran');
  });
});

describe('malformed and oversized frames close only their connection', { timeout: 60_000 }, () => {
  const cases: [string, Buffer, string][] = [
    ['a non-bulk element', Buffer.from('*2\r\n$3\r\nGET\r\n:1\r\n'), "expected '$', got ':'"],
    ['a nested array', Buffer.from('*2\r\n$3\r\nGET\r\n*1\r\n$1\r\na\r\n'), "expected '$', got '*'"],
    ['letters in the count', Buffer.from('*x\r\n'), 'invalid multibulk length'],
    ['more than 1M arguments', Buffer.from('*1048577\r\n'), 'invalid multibulk length'],
    [
      'a bulk longer than valueBytesMax',
      Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${valueBytesMax + 1}\r\nabc`),
      `invalid bulk length: ${valueBytesMax + 1} bytes, the limit is ${valueBytesMax}`,
    ],
    ['an inline request over 64 KiB', Buffer.alloc(70 * 1024, 0x61), 'too big inline request'],
    ['unbalanced quotes', Buffer.from('SET k "v\r\n'), 'unbalanced quotes in request'],
  ];
  for (const [name, bytes, message] of cases) {
    test(`${name}: "-ERR Protocol error: ${message}", then closed`, async () => {
      const bystander = net.connect(port, host);
      await new Promise((resolve) => bystander.once('connect', resolve));
      try {
        const result = await exchange(port, [Buffer.concat([auth(), resp('PING')]), bytes]);
        assert.equal(result.text, `+OK\r\n+PONG\r\n-ERR Protocol error: ${message}\r\n`);
        assert.ok(result.closed, 'the offending connection is closed');
        const answer = await new Promise<string>((resolve) => {
          let text = '';
          bystander.on('data', (data: Buffer) => {
            text += data.toString('latin1');
            if (text.includes('+PONG\r\n')) resolve(text);
          });
          bystander.write(Buffer.concat([auth(), resp('PING')]));
        });
        assert.equal(answer, '+OK\r\n+PONG\r\n', 'another connection still works');
      } finally {
        bystander.destroy();
      }
    });
  }

  test('a value of exactly valueBytesMax is accepted', async () => {
    const value = Buffer.alloc(valueBytesMax, 0x78);
    const { text } = await exchange(port, [Buffer.concat([auth(), resp('SET', 'big', value), resp('STRLEN', 'big')])], { until: replies(3) });
    assert.equal(text, `+OK\r\n+OK\r\n:${valueBytesMax}\r\n`);
  });
});

describe('standard error replies and server commands', { timeout: 30_000 }, () => {
  test('arity, integers, syntax, subcommands, databases, empty keys', async () => {
    const commands = [
      resp('GET'),
      resp('GET', 'a', 'b'),
      resp('INCRBY', 'n', '1.5'),
      resp('SET', 'k', 'v', 'PX', '0'),
      resp('SET', 'k', 'v', 'EX'),
      resp('CLIENT', 'NOPE'),
      resp('CLIENT', 'SETNAME', 'has space'),
      resp('SELECT', '0'),
      resp('SELECT', '2'),
      resp('MSET', 'a', '1', 'b'),
      resp('GET', ''),
      resp('SCAN', '0', 'COUNT', '0'),
      resp('ECHO', Buffer.from([0, 1, 2])),
    ];
    const { text } = await exchange(port, [Buffer.concat([auth(), ...commands])], { until: replies(commands.length + 1) });
    assert.deepEqual(splitReplies(text).slice(1), [
      "-ERR wrong number of arguments for 'get' command\r\n",
      "-ERR wrong number of arguments for 'get' command\r\n",
      '-ERR value is not an integer or out of range\r\n',
      "-ERR invalid expire time in 'set' command\r\n",
      '-ERR syntax error\r\n',
      "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n",
      '-ERR Client names cannot contain spaces, newlines or special characters.\r\n',
      '+OK\r\n',
      '-ERR DB index is out of range\r\n',
      "-ERR wrong number of arguments for 'mset' command\r\n",
      '-ERR key must not be empty\r\n',
      '-ERR syntax error\r\n',
      '$3\r\n\x00\x01\x02\r\n',
    ]);
  });

  test('COMMAND COUNT, INFO, DOCS and GETKEYS describe the table', async () => {
    const { text } = await exchange(
      port,
      [Buffer.concat([auth(), resp('COMMAND', 'COUNT'), resp('COMMAND', 'INFO', 'get'), resp('COMMAND', 'DOCS', 'set'), resp('COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2')])],
      { until: (t) => t.endsWith('$1\r\na\r\n$1\r\nb\r\n') },
    );
    assert.match(text, /^\+OK\r\n:(\d+)\r\n/);
    assert.ok(Number(/^\+OK\r\n:(\d+)/.exec(text)?.[1]) >= 30);
    assert.ok(text.includes('*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n'));
    assert.ok(text.includes('$7\r\nsummary\r\n'));
    assert.ok(text.includes('$5\r\ngroup\r\n$6\r\nstring\r\n'));
  });
});

// ---- the real programs ------------------------------------------------------------------------------

const haveCli = hasProgram('redis-cli');
const haveBenchmark = hasProgram('redis-benchmark');
const missing = (name: string) => `${name} is not installed (apt-get install redis-tools)`;

function run(program: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    // A one-shot redis-cli may exit before reading its stdin: that EPIPE is not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

const cliArgs = () => ['-h', host, '-p', String(port), '-a', token, '--no-auth-warning'];

describe('redis-cli', { timeout: 60_000 }, () => {
  test('one-shot commands', { skip: haveCli ? false : missing('redis-cli') }, async () => {
    assert.equal((await run('redis-cli', [...cliArgs(), 'SET', 'cli:k', 'hello world'])).stdout, 'OK\n');
    assert.equal((await run('redis-cli', [...cliArgs(), 'GET', 'cli:k'])).stdout, 'hello world\n');
    assert.equal((await run('redis-cli', [...cliArgs(), 'INCRBY', 'cli:n', '7'])).stdout, '7\n');
    assert.equal((await run('redis-cli', [...cliArgs(), 'GET', 'cli:none'])).stdout, '\n');
    assert.match((await run('redis-cli', [...cliArgs(), 'NOSUCH', 'x'])).stdout, /^ERR unknown command 'NOSUCH', with args beginning with: 'x'/);
    assert.match((await run('redis-cli', ['-h', host, '-p', String(port), 'GET', 'cli:k'])).stdout, /NOAUTH Authentication required/);
    assert.match((await run('redis-cli', [...cliArgs(), '-3', 'HELLO'])).stdout, /server\s+redis/);
  });

  test('interactive, commands piped on stdin', { skip: haveCli ? false : missing('redis-cli') }, async () => {
    const input = ['SET cli:i "one two"', 'GET cli:i', 'APPEND cli:i !', 'GET cli:i', 'QUORUMKV CONSISTENCY all', 'GET cli:i', 'DEL cli:i', 'EXISTS cli:i', 'help get'].join('\n') + '\n';
    const { stdout, code } = await run('redis-cli', cliArgs(), input);
    assert.equal(code, 0);
    assert.ok(stdout.startsWith('OK\none two\n8\none two!\nOK\none two!\n1\n0\n'), stdout);
    assert.match(stdout, /GET key|Returns the string value of a key/);
  });

  test('--scan --pattern walks the cluster with SCAN', { skip: haveCli ? false : missing('redis-cli') }, async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `cliscan:${i}`);
    await run('redis-cli', [...cliArgs(), 'MSET', ...keys.flatMap((k) => [k, 'v'])]);
    const { stdout } = await run('redis-cli', [...cliArgs(), '--scan', '--pattern', 'cliscan:*']);
    assert.deepEqual(stdout.trim().split('\n').sort(), [...keys].sort());
  });
});

describe('redis-benchmark', { timeout: 240_000 }, () => {
  async function benchmark(t: TestContext, extra: string[]): Promise<void> {
    const args = ['-h', host, '-p', String(port), '-a', token, '-t', 'set,get', '-n', '2000', '-q', ...extra];
    const { stdout, stderr, code } = await run('redis-benchmark', args);
    assert.equal(code, 0, stderr);
    const rates = Object.fromEntries(
      [...stdout.replace(/\r/g, '\n').matchAll(/^(SET|GET): ([\d.]+) requests per second/gm)].map((m) => [m[1], Number(m[2])]),
    );
    t.diagnostic(`redis-benchmark ${extra.join(' ') || '(no pipelining)'}: SET ${rates.SET} ops/s, GET ${rates.GET} ops/s`);
    assert.ok((rates.SET ?? 0) > 0 && (rates.GET ?? 0) > 0, stdout);
    assert.doesNotMatch(stdout + stderr, /error|ERR/i);
  }

  test('-t set,get -n 2000', { skip: haveBenchmark ? false : missing('redis-benchmark') }, (t) => benchmark(t, []));
  test('-t set,get -n 2000 -P 16', { skip: haveBenchmark ? false : missing('redis-benchmark') }, (t) => benchmark(t, ['-P', '16']));
});
