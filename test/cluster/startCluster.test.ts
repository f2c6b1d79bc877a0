// The start banner's replication line: a cluster restarted in the middle of a change said only the
// settings it was leaving (a topology probe), as if no change were under way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replicationLine } from '../../src/cluster/startCluster.js';

test('the start banner says where a change under way leads', () => {
  const members = [{ state: 'alive', role: 'active' }];
  assert.equal(replicationLine({ strategy: 'consistent', rf: 2, pending: null, members }), 'consistent, replication factor 2');
  assert.equal(replicationLine({ strategy: 'full', rf: 3, pending: null, members }), 'full');
  assert.equal(
    replicationLine({ strategy: 'consistent', rf: 2, pending: { strategy: 'consistent', rf: 3 }, members }),
    'consistent, replication factor 2 -> consistent, replication factor 3 (a change is under way: quorumkv topology)',
  );
  assert.equal(
    replicationLine({ strategy: 'consistent', rf: 3, pending: { strategy: 'full', rf: 3 }, members }),
    'consistent, replication factor 3 -> full (a change is under way: quorumkv topology)',
  );
  assert.equal(
    replicationLine({ strategy: 'consistent', rf: 2, pending: null, members: [...members, { state: 'alive', role: 'joining' }] }),
    'consistent, replication factor 2 (a topology change is under way: quorumkv topology)',
  );
  // Without a node's view (none answered in time), the cluster file's settings.
  assert.equal(replicationLine({ strategy: 'consistent', rf: 3 }), 'consistent, replication factor 3');
});
