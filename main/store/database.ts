/**
 * Opens the run-history database (better-sqlite3): checks its schema
 * version, turns on WAL and foreign keys, and applies pending migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { moduleLogger } from '../log.js';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';

const log = moduleLogger('store');

export type SqliteDatabase = Database.Database;

/** Raised for a database written by a newer ALPS Studio; the file is left untouched. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
  readonly code = 'CONFLICT';
}

export function readUserVersion(db: SqliteDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies the migrations above the database's `user_version`, up to
 * `targetVersion`. Each migration runs in its own transaction together with
 * the `user_version` update, so a failed migration leaves the previous
 * version intact.
 */
export function migrate(db: SqliteDatabase, targetVersion: number = SCHEMA_VERSION, migrations: readonly Migration[] = MIGRATIONS): number {
  let version = readUserVersion(db);
  for (const migration of migrations) {
    if (migration.version <= version || migration.version > targetVersion) {
      continue;
    }
    const apply = db.transaction(() => {
      db.exec(migration.sql);
      // PRAGMA takes no bound parameters; the version is an integer from the list above.
      db.pragma(`user_version = ${Math.trunc(migration.version)}`);
    });
    apply();
    log.info({ version: migration.version, description: migration.description }, 'migrated run history');
    version = migration.version;
  }
  return version;
}

/**
 * Opens (or creates) the database at `path`. Throws SchemaTooNewError,
 * before writing anything, when the file's schema is newer than this code.
 */
export function openDatabase(path: string): SqliteDatabase {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  const found = readUserVersion(db);
  if (found > SCHEMA_VERSION) {
    db.close();
    throw new SchemaTooNewError(
      `Database ${path} has schema version ${found}, but this ALPS Studio reads versions up to ${SCHEMA_VERSION}. ` +
        'Update ALPS Studio, or choose another data folder (--data-dir) to start a new history.',
    );
  }
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}
