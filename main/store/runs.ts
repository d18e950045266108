/**
 * The `runs` table: one row per run, written as the run progresses.
 * Settings are stored as JSON; metrics and progress as columns so that the
 * history can sort and filter on them.
 */
import { basename } from 'node:path';
import {
  IpcErrorSchema,
  RUN_STATUSES,
  RunSettingsSchema,
  type IpcError,
  type RunSettings,
  type RunStatus,
  type RunSummary,
} from '../../shared/ipc.js';
import type { SqliteDatabase } from './database.js';

/** A row as stored, plus the mean relative error aggregated from `layer_results`. */
export interface RunRow {
  id: string;
  name: string;
  notes: string;
  status: string;
  settings_json: string;
  sweep_id: string | null;
  created_at: number;
  finished_at: number | null;
  seconds: number | null;
  output_path: string;
  run_dir: string;
  backend: string | null;
  dense_perplexity: number | null;
  pruned_perplexity: number | null;
  overall_sparsity: number | null;
  progress: number;
  seconds_left: number | null;
  blocks_done: number;
  blocks: number | null;
  error_json: string | null;
  mean_relative_error: number | null;
}

export interface NewRun {
  id: string;
  settings: RunSettings;
  sweepId: string | null;
  createdAt: number;
  outputPath: string;
  runDir: string;
}

/** Columns a run's progress and outcome may change, by field name. */
const UPDATABLE_COLUMNS = {
  status: 'status',
  finishedAt: 'finished_at',
  seconds: 'seconds',
  backend: 'backend',
  densePerplexity: 'dense_perplexity',
  prunedPerplexity: 'pruned_perplexity',
  overallSparsity: 'overall_sparsity',
  progress: 'progress',
  secondsLeft: 'seconds_left',
  blocksDone: 'blocks_done',
  blocks: 'blocks',
  error: 'error_json',
  name: 'name',
  notes: 'notes',
} as const;

export type RunPatch = Partial<{
  status: RunStatus;
  finishedAt: number | null;
  seconds: number | null;
  backend: string | null;
  densePerplexity: number | null;
  prunedPerplexity: number | null;
  overallSparsity: number | null;
  progress: number;
  secondsLeft: number | null;
  blocksDone: number;
  blocks: number | null;
  error: IpcError | null;
  name: string;
  notes: string;
}>;

/** SQL expressions the history may sort by, by the field names of `runs.list`. */
const SORT_EXPRESSIONS = {
  createdAt: 'runs.created_at',
  name: 'lower(runs.name)',
  status: 'runs.status',
  method: "json_extract(runs.settings_json, '$.method')",
  prunedPerplexity: 'runs.pruned_perplexity',
  overallSparsity: 'runs.overall_sparsity',
} as const;

export interface ListOptions {
  sort?: { field: keyof typeof SORT_EXPRESSIONS; direction: 'asc' | 'desc' };
  filter?: { status?: RunStatus[]; method?: string[]; text?: string };
}

const SELECT_RUNS = `
  SELECT runs.*,
    (SELECT avg(relative_error) FROM layer_results WHERE layer_results.run_id = runs.id) AS mean_relative_error
  FROM runs`;

/** Name shown for a run that was never renamed, such as "alps 0.7 · stories260K.bin". */
export function defaultRunName(settings: RunSettings): string {
  const overrides = [
    settings.attentionTarget === null ? null : `attention ${settings.attentionTarget}`,
    settings.mlpTarget === null ? null : `mlp ${settings.mlpTarget}`,
  ].filter((part) => part !== null);
  const target = overrides.length > 0 ? `${settings.target} (${overrides.join(', ')})` : settings.target;
  return `${settings.method} ${target} · ${basename(settings.modelPath)}`;
}

function parseStatus(value: string, id: string): RunStatus {
  if ((RUN_STATUSES as readonly string[]).includes(value)) {
    return value as RunStatus;
  }
  throw new Error(`Run ${id} has the unknown status "${value}" in the database: it may have been written by another version.`);
}

export function rowToRun(row: RunRow): RunSummary {
  const settings = RunSettingsSchema.parse(JSON.parse(row.settings_json));
  return {
    id: row.id,
    name: row.name === '' ? defaultRunName(settings) : row.name,
    notes: row.notes,
    status: parseStatus(row.status, row.id),
    settings,
    sweepId: row.sweep_id,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    seconds: row.seconds,
    outputPath: row.output_path,
    runDir: row.run_dir,
    backend: row.backend,
    metrics: {
      densePerplexity: row.dense_perplexity,
      prunedPerplexity: row.pruned_perplexity,
      overallSparsity: row.overall_sparsity,
      meanRelativeError: row.mean_relative_error,
    },
    progress: {
      fraction: row.progress,
      secondsLeft: row.seconds_left,
      blocksDone: row.blocks_done,
      blocks: row.blocks,
    },
    error: row.error_json === null ? null : IpcErrorSchema.parse(JSON.parse(row.error_json)),
  };
}

export class RunsTable {
  constructor(private readonly db: SqliteDatabase) {}

  insert(run: NewRun): RunSummary {
    this.db
      .prepare(
        `INSERT INTO runs (id, status, settings_json, sweep_id, created_at, output_path, run_dir)
         VALUES (@id, 'running', @settings, @sweepId, @createdAt, @outputPath, @runDir)`,
      )
      .run({
        id: run.id,
        settings: JSON.stringify(run.settings),
        sweepId: run.sweepId,
        createdAt: run.createdAt,
        outputPath: run.outputPath,
        runDir: run.runDir,
      });
    return this.require(run.id);
  }

  get(id: string): RunSummary | null {
    const row = this.db.prepare(`${SELECT_RUNS} WHERE runs.id = ?`).get(id) as RunRow | undefined;
    return row === undefined ? null : rowToRun(row);
  }

  /** Returns the run or throws an error with code NOT_FOUND naming the id. */
  require(id: string): RunSummary {
    const run = this.get(id);
    if (run === null) {
      throw Object.assign(new Error(`Run ${id} was not found: it may have been deleted. Reload the history.`), {
        name: 'NotFoundError',
        code: 'NOT_FOUND',
      });
    }
    return run;
  }

  list(options: ListOptions = {}): RunSummary[] {
    const where: string[] = [];
    const values: unknown[] = [];
    const { status, method, text } = options.filter ?? {};
    if (status && status.length > 0) {
      where.push(`runs.status IN (${status.map(() => '?').join(', ')})`);
      values.push(...status);
    }
    if (method && method.length > 0) {
      where.push(`json_extract(runs.settings_json, '$.method') IN (${method.map(() => '?').join(', ')})`);
      values.push(...method);
    }
    if (text && text.trim() !== '') {
      // instr() rather than LIKE, so that % and _ in the text match themselves.
      where.push(
        `(instr(lower(runs.name), lower(?)) > 0 OR instr(lower(runs.notes), lower(?)) > 0
          OR instr(lower(json_extract(runs.settings_json, '$.modelPath')), lower(?)) > 0)`,
      );
      const needle = text.trim();
      values.push(needle, needle, needle);
    }
    const sort = options.sort ?? { field: 'createdAt', direction: 'desc' };
    const direction = sort.direction === 'asc' ? 'ASC' : 'DESC';
    const sql =
      `${SELECT_RUNS}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` ORDER BY ${SORT_EXPRESSIONS[sort.field]} IS NULL, ${SORT_EXPRESSIONS[sort.field]} ${direction}, runs.created_at DESC, runs.id`;
    const rows = this.db.prepare(sql).all(...values) as RunRow[];
    return rows.map(rowToRun);
  }

  /** Writes the given fields; column names come from a fixed list and values are bound. */
  update(id: string, patch: RunPatch): void {
    const assignments: string[] = [];
    const values: Record<string, unknown> = { id };
    for (const [field, column] of Object.entries(UPDATABLE_COLUMNS)) {
      if (!(field in patch)) {
        continue;
      }
      let value = patch[field as keyof RunPatch];
      if (field === 'error' && value !== null) {
        value = JSON.stringify(value);
      }
      assignments.push(`${column} = @${field}`);
      values[field] = value;
    }
    if (assignments.length === 0) {
      return;
    }
    this.db.prepare(`UPDATE runs SET ${assignments.join(', ')} WHERE id = @id`).run(values);
  }

  /** Deletes the run with its layer results and events; returns false when no such run exists. */
  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
  }

  /** Marks every run left `running` by an earlier process as `interrupted`; returns their ids. */
  markInterrupted(now: number): string[] {
    const ids = (this.db.prepare("SELECT id FROM runs WHERE status = 'running'").all() as { id: string }[]).map((row) => row.id);
    if (ids.length > 0) {
      this.db.prepare("UPDATE runs SET status = 'interrupted', finished_at = ?, seconds_left = NULL WHERE status = 'running'").run(now);
    }
    return ids;
  }
}
