import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunSettings } from '../../shared/ipc.js';
import { DATABASE_FILE, MIGRATIONS, SCHEMA_VERSION, migrate, openStore, readUserVersion } from '../../main/store/index.js';

const settings: RunSettings = {
  modelPath: '/models/stories260K.bin',
  tokenizerPath: null,
  method: 'alps',
  target: '0.7',
  attentionTarget: null,
  mlpTarget: '0.5',
  calibration: { file: '/text/cal.txt', samples: 16, seqLen: 128, sampling: 'consecutive', seed: 0 },
  evalFile: null,
  outDir: '/out',
};

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'alps-store-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function tableColumns(db: Database.Database, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name);
}

describe('store migrations', () => {
  it('ships numbered migrations from 1', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
  });

  it('creates the schema on an empty file', () => {
    const store = openStore(dataDir);
    expect(readUserVersion(store.db)).toBe(SCHEMA_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(tableColumns(store.db, 'runs')).toContain('notes');
    expect(tableColumns(store.db, 'layer_results')).toContain('relative_error');
    expect(tableColumns(store.db, 'events')).toContain('payload_json');
    store.close();
  });

  for (let from = 1; from < SCHEMA_VERSION; from += 1) {
    it(`upgrades version ${from} keeping runs`, () => {
      const path = join(dataDir, DATABASE_FILE);
      const old = new Database(path);
      expect(migrate(old, from)).toBe(from);
      old
        .prepare(
          `INSERT INTO runs (id, status, settings_json, created_at, output_path, run_dir)
           VALUES ('old-run', 'finished', ?, 1000, '/out/a', '/runs/a')`,
        )
        .run(JSON.stringify(settings));
      old.close();

      const store = openStore(dataDir);
      expect(readUserVersion(store.db)).toBe(SCHEMA_VERSION);
      const run = store.runs.require('old-run');
      expect(run.status).toBe('finished');
      expect(run.notes).toBe('');
      expect(run.name).toBe('alps 0.7 (mlp 0.5) · stories260K.bin');
      store.close();
    });
  }

  it('rejects a newer database untouched', () => {
    const path = join(dataDir, DATABASE_FILE);
    const future = new Database(path);
    future.exec('CREATE TABLE future (x INTEGER)');
    future.pragma(`user_version = ${SCHEMA_VERSION + 7}`);
    future.close();
    const before = readFileSync(path);

    expect(() => openStore(dataDir)).toThrow(
      `Database ${path} has schema version ${SCHEMA_VERSION + 7}, but this ALPS Studio reads versions up to ${SCHEMA_VERSION}.`,
    );
    expect(readFileSync(path).equals(before)).toBe(true);
    const reopened = new Database(path, { readonly: true });
    expect(reopened.pragma('journal_mode', { simple: true })).toBe('delete');
    reopened.close();
  });

  it('rolls back a failing migration', () => {
    const path = join(dataDir, DATABASE_FILE);
    const db = new Database(path);
    const broken = [...MIGRATIONS.slice(0, 1), { version: 2, description: 'broken', sql: 'ALTER TABLE runs ADD COLUMN x TEXT; SELECT * FROM missing_table;' }];
    expect(() => migrate(db, 2, broken)).toThrow(/missing_table/);
    expect(readUserVersion(db)).toBe(1);
    expect(tableColumns(db, 'runs')).not.toContain('x');
    db.close();
  });
});

describe('store runs', () => {
  it('marks a run left running as interrupted', () => {
    const first = openStore(dataDir);
    first.runs.insert({ id: 'r1', settings, sweepId: null, createdAt: 5, outputPath: '/out/r1', runDir: '/runs/r1' });
    first.runs.update('r1', { progress: 0.4, blocksDone: 2, blocks: 5 });
    first.close();

    const second = openStore(dataDir);
    expect(second.interruptedAtOpen).toEqual(['r1']);
    const run = second.runs.require('r1');
    expect(run.status).toBe('interrupted');
    expect(run.progress.blocksDone).toBe(2);
    expect(run.finishedAt).not.toBeNull();
    second.close();
  });

  it('lists with sort and filter', () => {
    const store = openStore(dataDir);
    store.runs.insert({ id: 'a', settings, sweepId: null, createdAt: 1, outputPath: '/o/a', runDir: '/r/a' });
    store.runs.insert({ id: 'b', settings: { ...settings, method: 'wanda' }, sweepId: null, createdAt: 2, outputPath: '/o/b', runDir: '/r/b' });
    store.runs.insert({ id: 'c', settings, sweepId: null, createdAt: 3, outputPath: '/o/c', runDir: '/r/c' });
    store.runs.update('a', { status: 'finished', prunedPerplexity: 9 });
    store.runs.update('c', { status: 'finished', prunedPerplexity: 4 });
    store.runs.update('b', { name: 'wanda 50%_x' });

    expect(store.runs.list().map((run) => run.id)).toEqual(['c', 'b', 'a']);
    expect(store.runs.list({ sort: { field: 'prunedPerplexity', direction: 'asc' } }).map((run) => run.id)).toEqual(['c', 'a', 'b']);
    expect(store.runs.list({ filter: { method: ['wanda'] } }).map((run) => run.id)).toEqual(['b']);
    expect(store.runs.list({ filter: { status: ['finished'] } }).map((run) => run.id)).toEqual(['c', 'a']);
    expect(store.runs.list({ filter: { text: '50%_X' } }).map((run) => run.id)).toEqual(['b']);
    expect(store.runs.list({ filter: { text: '%' } }).map((run) => run.id)).toEqual(['b']);
    store.close();
  });

  it('stores errors, layers and mean error', () => {
    const store = openStore(dataDir);
    store.runs.insert({ id: 'r', settings, sweepId: 's', createdAt: 1, outputPath: '/o', runDir: '/r' });
    store.layers.upsert('r', { block: 0, name: 'b0.wq', kind: 'attention', target: '0.7', relativeError: 0.1, sparsity: 0.7, seconds: 1, iterations: 30 });
    store.layers.upsert('r', { block: 1, name: 'b1.w1', kind: 'mlp', target: '0.5', relativeError: 0.3, sparsity: 0.5, seconds: 2, iterations: null });
    store.layers.upsert('r', { block: 1, name: 'b1.w1', kind: 'mlp', target: '0.5', relativeError: 0.2, sparsity: 0.5, seconds: 2, iterations: null });
    store.runs.update('r', { status: 'failed', error: { name: 'Error', message: 'disk full', code: 'INTERNAL' } });

    const run = store.runs.require('r');
    expect(run.error).toEqual({ name: 'Error', message: 'disk full', code: 'INTERNAL' });
    expect(run.metrics.meanRelativeError).toBeCloseTo(0.15, 12);
    expect(store.layers.list('r').map((layer) => layer.name)).toEqual(['b0.wq', 'b1.w1']);
    store.layers.deleteFromBlock('r', 1);
    expect(store.layers.list('r').map((layer) => layer.name)).toEqual(['b0.wq']);
    expect(store.runs.delete('r')).toBe(true);
    expect(store.layers.list('r')).toEqual([]);
    expect(() => store.runs.require('r')).toThrow('Run r was not found');
    store.close();
  });
});

describe('store event writer', () => {
  it('batches and limits iteration events', async () => {
    const store = openStore(dataDir);
    store.runs.insert({ id: 'r', settings, sweepId: null, createdAt: 1, outputPath: '/o', runDir: '/r' });
    const limit = 400;
    for (let iteration = 1; iteration <= limit + 50; iteration += 1) {
      store.eventWriter.append('r', { type: 'iteration', time: iteration, block: 0, layer: 'b0.wq', iteration, rho: 0.1, supportChange: 0, objective: 0.2 });
    }
    store.eventWriter.append('r', { type: 'block-started', time: 1, block: 1, blocks: 5 });
    expect(store.events.count('r')).toBe(0);

    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(store.events.count('r')).toBe(limit + 1);
    const recent = store.events.recent('r', 2);
    expect(recent.map((event) => event.seq)).toEqual([limit, limit + 1]);
    expect(recent[1]!.event.type).toBe('block-started');
    store.close();
  });
});
