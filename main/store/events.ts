/**
 * The `events` table: the pipeline events of each run, numbered per run.
 * `EventWriter` queues events and writes them in one transaction at most
 * every `flushIntervalMs`, so a solver that reports hundreds of iterations a
 * second costs one write per interval.
 */
import { PipelineEventSchema, type PipelineEventData, type StoredEvent } from '../../shared/ipc.js';
import { moduleLogger } from '../log.js';
import type { SqliteDatabase } from './database.js';

const log = moduleLogger('store.events');

export interface EventRow {
  run_id: string;
  seq: number;
  type: string;
  time: number;
  payload_json: string;
}

export function rowToStoredEvent(row: EventRow): StoredEvent {
  return { seq: row.seq, event: PipelineEventSchema.parse(JSON.parse(row.payload_json)) };
}

export const EVENT_WRITER_DEFAULTS = {
  /** Maximum time an event waits in the queue before it is written. */
  flushIntervalMs: 250,
  /** Iteration events stored per layer and run; later ones are forwarded to viewers but not stored. */
  maxIterationEventsPerLayer: 400,
};

export class EventsTable {
  constructor(private readonly db: SqliteDatabase) {}

  /** Highest sequence number stored for the run, 0 when it has none. */
  lastSeq(runId: string): number {
    const row = this.db.prepare('SELECT max(seq) AS seq FROM events WHERE run_id = ?').get(runId) as { seq: number | null };
    return row.seq ?? 0;
  }

  insertMany(rows: EventRow[]): void {
    const insert = this.db.prepare(
      'INSERT INTO events (run_id, seq, type, time, payload_json) VALUES (@run_id, @seq, @type, @time, @payload_json)',
    );
    const insertAll = this.db.transaction((batch: EventRow[]) => {
      for (const row of batch) {
        insert.run(row);
      }
    });
    insertAll(rows);
  }

  /** Returns the `limit` most recent events of the run, oldest first. */
  recent(runId: string, limit: number): StoredEvent[] {
    const rows = this.db
      .prepare('SELECT * FROM (SELECT * FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq')
      .all(runId, limit) as EventRow[];
    return rows.map(rowToStoredEvent);
  }

  count(runId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events WHERE run_id = ?').get(runId) as { n: number }).n;
  }
}

/** Queues events of any run and writes them in batches. */
export class EventWriter {
  private queue: EventRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly nextSeq = new Map<string, number>();
  private readonly iterationCounts = new Map<string, number>();

  constructor(
    private readonly table: EventsTable,
    private readonly options = EVENT_WRITER_DEFAULTS,
  ) {}

  /** Queues one event; returns false when it was dropped by the per-layer limit on iteration events. */
  append(runId: string, event: PipelineEventData): boolean {
    if (event.type === 'iteration') {
      const key = `${runId}\u0000${event.layer}`;
      const count = (this.iterationCounts.get(key) ?? 0) + 1;
      this.iterationCounts.set(key, count);
      if (count > this.options.maxIterationEventsPerLayer) {
        return false;
      }
    }
    const seq = (this.nextSeq.get(runId) ?? this.table.lastSeq(runId)) + 1;
    this.nextSeq.set(runId, seq);
    this.queue.push({ run_id: runId, seq, type: event.type, time: event.time, payload_json: JSON.stringify(event) });
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.options.flushIntervalMs);
    }
    return true;
  }

  /** Writes every queued event now. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queue.length === 0) {
      return;
    }
    const batch = this.queue;
    this.queue = [];
    try {
      this.table.insertMany(batch);
    } catch (error) {
      log.error({ err: error, events: batch.length, runIds: [...new Set(batch.map((row) => row.run_id))] }, 'failed to store events');
    }
  }

  /** Forgets the run's counters once it has ended, after writing what is queued. */
  endRun(runId: string): void {
    this.flush();
    this.nextSeq.delete(runId);
    for (const key of this.iterationCounts.keys()) {
      if (key.startsWith(`${runId}\u0000`)) {
        this.iterationCounts.delete(key);
      }
    }
  }
}
