/** The `layer_results` table: one row per pruned linear of a run. */
import type { LayerResultRecord } from '../../shared/ipc.js';
import type { SqliteDatabase } from './database.js';

export interface LayerResultRow {
  run_id: string;
  block: number;
  name: string;
  kind: string;
  target: string;
  relative_error: number;
  sparsity: number;
  seconds: number;
  iterations: number | null;
}

export function rowToLayerResult(row: LayerResultRow): LayerResultRecord {
  return {
    block: row.block,
    name: row.name,
    kind: row.kind === 'mlp' ? 'mlp' : 'attention',
    target: row.target,
    relativeError: row.relative_error,
    sparsity: row.sparsity,
    seconds: row.seconds,
    iterations: row.iterations,
  };
}

export class LayerResultsTable {
  constructor(private readonly db: SqliteDatabase) {}

  /** Inserts a layer's result, replacing the row of the same layer (a resumed run solves its block again). */
  upsert(runId: string, result: LayerResultRecord): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO layer_results (run_id, block, name, kind, target, relative_error, sparsity, seconds, iterations)
         VALUES (@runId, @block, @name, @kind, @target, @relativeError, @sparsity, @seconds, @iterations)`,
      )
      .run({ runId, ...result });
  }

  /** Removes the results of blocks at or after `fromBlock`, which a resume solves again. */
  deleteFromBlock(runId: string, fromBlock: number): void {
    this.db.prepare('DELETE FROM layer_results WHERE run_id = ? AND block >= ?').run(runId, fromBlock);
  }

  /** Returns the run's layers in block order, then in the order they were stored. */
  list(runId: string): LayerResultRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM layer_results WHERE run_id = ? ORDER BY block, rowid')
      .all(runId) as LayerResultRow[];
    return rows.map(rowToLayerResult);
  }
}
