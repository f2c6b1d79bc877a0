// Goal: `quorumkv sim`'s options say what they do: --trace needs the one run of --seed, and --history
// with many seeds says when it wrote nothing (all passed), where it looked ignored (a README walk).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../cli/runCli.js';

describe('quorumkv sim options', () => {
  it('refuses --trace without --seed, and says when --history with many seeds wrote nothing', async () => {
    const trace = await runCli(['sim', '--seeds', '2', '--trace']);
    assert.equal(trace.code, 2);
    assert.equal(trace.stderr, 'quorumkv sim: --trace prints one run: give it with --seed S\n');

    const dir = mkdtempSync(join(tmpdir(), 'quorumkv-sim-history-'));
    try {
      const file = join(dir, 'history.json');
      const many = await runCli(['sim', '--seeds', '1', '--history', file]);
      assert.equal(many.code, 0, many.stderr);
      assert.match(many.stdout, /no history written to .*history\.json: with many seeds it is the failing one's/);
      assert.equal(existsSync(file), false);
      const one = await runCli(['sim', '--seed', '1', '--history', file]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(existsSync(file), true, 'one run: its history');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
