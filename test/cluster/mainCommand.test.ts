// Which script the supervisor starts node processes from: the bundle when it is fresh, the compiled
// main.js when the bundle is missing or older (a `tsc` run without the bundling step), nothing
// without a build. And how many V8 background threads each node gets: its share of the cores.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { builtScript, mainCommand, v8ThreadsPerNode } from '../../src/cluster/supervisor.js';

describe('the script node processes run', () => {
  const dist = mkdtempSync(join(tmpdir(), 'quorumkv-dist-'));
  after(() => rmSync(dist, { recursive: true, force: true }));
  const compiled = join(dist, 'src', 'main.js');
  const bundled = join(dist, 'bundle', 'main.js');
  const touch = (path: string, seconds: number) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '');
    utimesSync(path, seconds, seconds);
  };

  it('is none without a build', () => {
    assert.equal(builtScript(dist), undefined);
  });

  it('is the compiled main.js without a bundle', () => {
    touch(compiled, 1_000);
    assert.equal(builtScript(dist), compiled);
  });

  it('is the bundle when it was built after the compiled tree', () => {
    touch(bundled, 2_000);
    assert.equal(builtScript(dist), bundled);
  });

  it('is the compiled main.js again once it is newer than the bundle', () => {
    touch(compiled, 3_000);
    assert.equal(builtScript(dist), compiled);
  });

  it('is the bundle of this checkout after `npm run build`', () => {
    const [script] = mainCommand();
    assert.match(script ?? '', /dist[/\\]bundle[/\\]main\.js$/, 'npm test builds the bundle first');
  });
});

describe('V8 background threads per node process', () => {
  it("is each node's share of the cores", () => {
    assert.equal(v8ThreadsPerNode(3, 8), 2);
    assert.equal(v8ThreadsPerNode(2, 8), 4);
    assert.equal(v8ThreadsPerNode(5, 12), 2);
  });

  it('is at least 1 when the nodes outnumber the cores', () => {
    assert.equal(v8ThreadsPerNode(3, 2), 1);
    assert.equal(v8ThreadsPerNode(9, 1), 1);
  });

  it("is at most Node's default of 4", () => {
    assert.equal(v8ThreadsPerNode(1, 64), 4);
    assert.equal(v8ThreadsPerNode(3, 32), 4);
  });
});
