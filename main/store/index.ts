/**
 * Run history in SQLite: `openStore(dataDir)` opens `<dataDir>/history.sqlite`
 * and marks runs that an earlier process left `running` as `interrupted`.
 */
import { join } from 'node:path';
import { moduleLogger } from '../log.js';
import { openDatabase, type SqliteDatabase } from './database.js';
import { EventsTable, EventWriter } from './events.js';
import { LayerResultsTable } from './layer-results.js';
import { RunsTable } from './runs.js';

export { SchemaTooNewError, migrate, openDatabase, readUserVersion } from './database.js';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
export { EVENT_WRITER_DEFAULTS, EventWriter, EventsTable } from './events.js';
export { LayerResultsTable } from './layer-results.js';
export { RunsTable, defaultRunName, type ListOptions, type NewRun, type RunPatch } from './runs.js';

const log = moduleLogger('store');

export const DATABASE_FILE = 'history.sqlite';

export interface Store {
  readonly path: string;
  readonly db: SqliteDatabase;
  readonly runs: RunsTable;
  readonly layers: LayerResultsTable;
  readonly events: EventsTable;
  readonly eventWriter: EventWriter;
  /** Ids of the runs found `running` at open and marked `interrupted`. */
  readonly interruptedAtOpen: string[];
  /** Writes queued events and closes the database. */
  close(): void;
}

export function openStore(dataDir: string): Store {
  const path = join(dataDir, DATABASE_FILE);
  const db = openDatabase(path);
  const runs = new RunsTable(db);
  const events = new EventsTable(db);
  const eventWriter = new EventWriter(events);
  const interruptedAtOpen = runs.markInterrupted(Date.now());
  if (interruptedAtOpen.length > 0) {
    log.warn({ runIds: interruptedAtOpen }, 'marked runs left running by an earlier process as interrupted');
  }
  return {
    path,
    db,
    runs,
    layers: new LayerResultsTable(db),
    events,
    eventWriter,
    interruptedAtOpen,
    close() {
      eventWriter.flush();
      db.close();
    },
  };
}
