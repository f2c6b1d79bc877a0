// Goal: `quorumkv node`'s TLS flags are all three or none, and a file TLS cannot use is named in the
// error, before the node starts anything.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadNodeTls } from '../../src/runtime/tls.js';

describe('loadNodeTls', () => {
  it('is off without the flags, and wants all three together', () => {
    assert.equal(loadNodeTls({}), undefined);
    assert.throws(() => loadNodeTls({ tlsCert: 'a.pem', tlsCa: 'ca.pem' }), /TLS needs --tls-cert, --tls-key and --tls-ca together: --tls-key missing/);
    assert.throws(() => loadNodeTls({ tlsKey: 'a.key' }), /--tls-cert and --tls-ca missing/);
  });

  it('names the file it cannot read, and PEM that TLS cannot use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorumkv-tls-files-'));
    try {
      const junk = join(dir, 'junk.pem');
      writeFileSync(junk, 'not a certificate\n');
      assert.throws(() => loadNodeTls({ tlsCert: join(dir, 'missing.pem'), tlsKey: junk, tlsCa: junk }), /--tls-cert .*missing\.pem: ENOENT/);
      assert.throws(() => loadNodeTls({ tlsCert: junk, tlsKey: junk, tlsCa: junk }), /--tls-cert .*junk\.pem, --tls-key .*junk\.pem, --tls-ca .*junk\.pem: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
