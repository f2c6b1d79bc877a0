// The SQLite store's schema: the tables and indexes of each version, and the migrations that take an
// older database file to the version this code reads and writes (`PRAGMA user_version` holds the
// file's). A file newer than this code is refused rather than misread.

import type Database from 'better-sqlite3';
import { assert } from '../core/assert.js';

/** The schema this code reads and writes; `PRAGMA user_version` holds the file's. */
export const schemaVersion = 7;

/** migrations[i] takes a database from schema version i to i + 1. */
export const migrations: readonly string[] = [
  `
  CREATE TABLE entries (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    version TEXT NOT NULL,
    value BLOB,
    h1 INTEGER NOT NULL,
    h2 INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX entries_by_position ON entries (position, key);
  CREATE INDEX entries_tombstones ON entries (key) WHERE value IS NULL;

  CREATE TABLE leaves (
    leaf INTEGER PRIMARY KEY,
    h1 INTEGER NOT NULL,
    h2 INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    value BLOB,
    created_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX hints_by_target ON hints (target, id);
  CREATE INDEX hints_by_created ON hints (created_ms);

  CREATE TABLE purge_floors (
    key TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    purged_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX purge_floors_by_time ON purge_floors (purged_ms);

  CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // 1 -> 2: values may expire (key expiry, Redis's EX/PX); NULL means never.
  `
  ALTER TABLE entries ADD COLUMN expires_ms INTEGER;
  CREATE INDEX entries_expiring ON entries (key, expires_ms) WHERE expires_ms IS NOT NULL;
  ALTER TABLE hints ADD COLUMN expires_ms INTEGER;
  `,
  // 2 -> 3: the anti-entropy leaves live in memory (leafTable.ts); the table cost a page per write.
  `
  DROP TABLE leaves;
  `,
  // 3 -> 4: ranges of ring positions are read through the leaves' keys in memory (leafTable.ts); the
  // index put a random page in the log for every write.
  `
  DROP INDEX entries_by_position;
  `,
  // 4 -> 5: what each replica promised and accepted in a key's consensus rounds (keyPaxos.ts). A row
  // with a NULL ballot holds a promise only; an accepted tombstone has a ballot and a NULL value.
  `
  CREATE TABLE paxos (
    key TEXT PRIMARY KEY,
    promised TEXT NOT NULL,
    committed TEXT,
    ballot TEXT,
    version TEXT,
    value BLOB,
    expires_ms INTEGER
  ) STRICT, WITHOUT ROWID;
  `,
  // 5 -> 6: a key's consensus state is forgotten once its highest ballot, the promised one, is older
  // than the grace period (paxosAcceptor.ts): found through this index, without reading the table.
  `
  CREATE INDEX paxos_by_promised ON paxos (promised);
  `,
  // 6 -> 7: the sweep walks the table in key order instead (sqlite.ts, expirePaxosStates): the index
  // cost every write of a key's consensus state a second B-tree change.
  `
  DROP INDEX IF EXISTS paxos_by_promised;
  `,
];

/** Brings the database to `schemaVersion`, in one transaction; refuses a newer file. */
export function migrate(db: Database.Database): void {
  const fileVersion = db.pragma('user_version', { simple: true }) as number;
  assert(
    fileVersion <= schemaVersion,
    `database schema version ${fileVersion} is newer than this quorumkv's (${schemaVersion})`,
  );
  if (fileVersion === schemaVersion) return;
  db.transaction(() => {
    for (let version = fileVersion; version < schemaVersion; version++) {
      db.exec(migrations[version] as string);
    }
    db.pragma(`user_version = ${schemaVersion}`);
  }).immediate();
}
