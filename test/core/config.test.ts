// Settings: `--set` pairs parsed against the known names, and what a real node refuses on top of
// what the core accepts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDeploymentConfig, parseSettings, resolveConfig } from '../../src/core/config.js';

describe('settings', () => {
  it('parses name=value pairs, as numbers where the setting is a number', () => {
    assert.deepEqual(parseSettings(['hintWindowMs=1000', 'probeIntervalMs=200']), { hintWindowMs: 1000, probeIntervalMs: 200 });
    assert.deepEqual(parseSettings([]), {});
  });

  it('refuses unknown names and pairs without a name', () => {
    assert.throws(() => parseSettings(['hintWindow=1']), /unknown setting "hintWindow"; known: .*hintWindowMs/);
    assert.throws(() => parseSettings(['=5']), /"=5" is not name=value/);
    assert.throws(() => parseSettings(['hintWindowMs']), /"hintWindowMs" is not name=value/);
  });

  it('refuses a number setting whose value is not a whole number in digits', () => {
    // 1.5 passed, then stopped every node with a message about an internal option; 0x10 and 1e3 were
    // read as 16 and 1000.
    for (const raw of ['abc', '', ' ', '10ms', 'Infinity', '1.5', '0x10', '1e3', '+5', '99999999999999999']) {
      assert.throws(() => parseSettings([`restampMax=${raw}`]), new RegExp(`setting restampMax must be a whole number \\(digits only\\), got "${raw.replace('+', '\\+')}"`));
    }
    assert.throws(() => resolveConfig({ requestTimeoutMs: 1.5 }), /setting requestTimeoutMs must be a whole number, got 1.5/);
    assert.deepEqual(parseSettings(['restampMax=0', 'defaultConsistency=all']), { restampMax: 0, defaultConsistency: 'all' });
  });

  it('refuses a default consistency level that does not exist', () => {
    assert.throws(() => resolveConfig(parseSettings(['defaultConsistency=most'])), /defaultConsistency must be one of one, quorum, all, got most/);
  });

  it('takes a read cache of 0 bytes or more, in whole bytes', () => {
    assert.equal(resolveConfig(parseSettings(['readCacheBytes=0'])).readCacheBytes, 0);
    assert.equal(resolveConfig().readCacheBytes, 8 * 1024 * 1024);
    assert.throws(() => resolveConfig(parseSettings(['readCacheBytes=-1'])), /readCacheBytes must be a whole number of bytes, 0 or more/);
  });

  it('a node refuses tombstones that may be purged before older hints expire', () => {
    assert.doesNotThrow(() => checkDeploymentConfig(resolveConfig()), 'the defaults: 10 days against 3 hours');
    assert.doesNotThrow(() => checkDeploymentConfig(resolveConfig({ tombstoneGraceMs: 500, hintWindowMs: 1 })));
    for (const tombstoneGraceMs of [0, 60_000, 3 * 3_600_000]) {
      const config = resolveConfig({ tombstoneGraceMs });
      assert.throws(() => checkDeploymentConfig(config), /tombstoneGraceMs \(\d+ ms\) must be longer than hintWindowMs \(10800000 ms\)/);
    }
  });
});
