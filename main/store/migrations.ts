/**
 * Schema migrations of the run history, numbered from 1. Migration N takes a
 * database at `user_version` N−1 to N. Append new migrations at the end and
 * never edit a shipped one: databases in the field have already run it.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, per-layer results and events',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        settings_json TEXT NOT NULL,
        sweep_id TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        seconds REAL,
        output_path TEXT NOT NULL,
        run_dir TEXT NOT NULL,
        backend TEXT,
        dense_perplexity REAL,
        pruned_perplexity REAL,
        overall_sparsity REAL,
        progress REAL NOT NULL DEFAULT 0,
        seconds_left REAL,
        blocks_done INTEGER NOT NULL DEFAULT 0,
        blocks INTEGER,
        error_json TEXT
      );
      CREATE TABLE layer_results (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        block INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        relative_error REAL NOT NULL,
        sparsity REAL NOT NULL,
        seconds REAL NOT NULL,
        iterations INTEGER,
        PRIMARY KEY (run_id, name)
      );
      CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        time INTEGER NOT NULL,
        payload_json TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
    `,
  },
  {
    version: 2,
    description: 'display name and notes of runs; index for the history order',
    sql: `
      ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT '';
      ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
      CREATE INDEX runs_by_created_at ON runs (created_at);
      CREATE INDEX runs_by_status ON runs (status);
    `,
  },
];

/** Schema version this code creates and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
