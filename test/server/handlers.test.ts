import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels, type RunSettings } from '../../shared/ipc.js';
import { openApp, type AppContext } from '../../main/app/context.js';
import { createHandlers, dispatch, type Handlers } from '../../main/app/handlers.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');

const base: RunSettings = {
  modelPath: '/models/stories260K.bin',
  tokenizerPath: null,
  method: 'alps',
  target: '0.7',
  attentionTarget: null,
  mlpTarget: null,
  calibration: { file: '/text/cal.txt', samples: 64, seqLen: 256, sampling: 'consecutive', seed: 0 },
  evalFile: '/text/eval.txt',
  outDir: '/out',
};

let dataDir: string;
let app: AppContext;
let handlers: Handlers;

async function call(channel: string, request: unknown): Promise<unknown> {
  const result = await dispatch(handlers, channel, request);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

async function callError(channel: string, request: unknown): Promise<{ code: string; message: string }> {
  const result = await dispatch(handlers, channel, request);
  if (result.ok) throw new Error(`${channel} succeeded, but an error was expected`);
  return result.error;
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'alps-handlers-'));
  app = openApp({ dataDir, platform: 'web' });
  handlers = createHandlers(app);
  const runs = [
    { id: 'run-a', settings: base, createdAt: 1_000 },
    { id: 'run-b', settings: { ...base, method: 'sparsegpt' as const, target: '2:4' }, createdAt: 2_000 },
    { id: 'run-c', settings: { ...base, calibration: { ...base.calibration, samples: 128 } }, createdAt: 3_000 },
  ];
  for (const run of runs) {
    app.store.runs.insert({ ...run, sweepId: null, outputPath: join(dataDir, 'out', run.id), runDir: join(dataDir, 'runs', run.id) });
  }
  app.store.runs.update('run-a', { status: 'finished', densePerplexity: 3.79, prunedPerplexity: 5.5, overallSparsity: 0.7 });
  app.store.runs.update('run-b', { status: 'finished', densePerplexity: 3.79, prunedPerplexity: 7.25, overallSparsity: 0.5 });
  app.store.runs.update('run-c', { status: 'failed', error: { name: 'Error', message: 'calibration too short', code: 'INVALID_INPUT' } });
  for (const [runId, errors] of [['run-a', [0.1, 0.2]], ['run-b', [0.3, 0.4]]] as const) {
    app.store.layers.upsert(runId, { block: 0, name: 'blocks.0.attention.wq', kind: 'attention', target: '0.7', relativeError: errors[0], sparsity: 0.7, seconds: 1, iterations: 30 });
    app.store.layers.upsert(runId, { block: 0, name: 'blocks.0.feed_forward.w1', kind: 'mlp', target: '0.7', relativeError: errors[1], sparsity: 0.7, seconds: 1, iterations: 30 });
  }
});

afterAll(async () => {
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('run history handlers', () => {
  it('lists newest first and filters', async () => {
    const all = channels['runs.list'].response.parse(await call('runs.list', {}));
    expect(all.map((run) => run.id)).toEqual(['run-c', 'run-b', 'run-a']);
    const failed = channels['runs.list'].response.parse(await call('runs.list', { filter: { status: ['failed'] } }));
    expect(failed.map((run) => run.id)).toEqual(['run-c']);
    expect(failed[0]!.error?.message).toBe('calibration too short');
    const byPerplexity = channels['runs.list'].response.parse(await call('runs.list', { sort: { field: 'prunedPerplexity', direction: 'asc' } }));
    expect(byPerplexity.map((run) => run.id)).toEqual(['run-a', 'run-b', 'run-c']);
  });

  it('renames and sets notes', async () => {
    const renamed = channels['runs.rename'].response.parse(await call('runs.rename', { runId: 'run-a', name: '  baseline  ' }));
    expect(renamed.name).toBe('baseline');
    const noted = channels['runs.setNotes'].response.parse(await call('runs.setNotes', { runId: 'run-a', notes: 'rho schedule as in the paper' }));
    expect(noted.notes).toBe('rho schedule as in the paper');
    expect(noted.name).toBe('baseline');
  });

  it('returns a run with layers', async () => {
    const detail = channels['runs.get'].response.parse(await call('runs.get', { runId: 'run-b' }));
    expect(detail.run.settings.target).toBe('2:4');
    expect(detail.layers.map((layer) => layer.relativeError)).toEqual([0.3, 0.4]);
    expect(detail.run.metrics.meanRelativeError).toBeCloseTo(0.35, 12);
  });

  it('compares differing settings and layers', async () => {
    const comparison = channels['runs.compare'].response.parse(await call('runs.compare', { runIds: ['run-a', 'run-b', 'run-c'] }));
    expect(comparison.differingSettings).toEqual([
      { key: 'method', values: ['alps', 'sparsegpt', 'alps'] },
      { key: 'calibration.samples', values: ['64', '64', '128'] },
      { key: 'target', values: ['0.7', '2:4', '0.7'] },
    ]);
    expect(comparison.layers).toEqual([
      { block: 0, name: 'blocks.0.attention.wq', relativeErrors: [0.1, 0.3, null] },
      { block: 0, name: 'blocks.0.feed_forward.w1', relativeErrors: [0.2, 0.4, null] },
    ]);
  });

  it('rejects compare of one run', async () => {
    const error = await callError('runs.compare', { runIds: ['run-a'] });
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('Compare needs at least two runs');
  });

  it('exports CSV with one row per run', async () => {
    const file = channels['runs.export'].response.parse(await call('runs.export', { runIds: ['run-a', 'run-b'], format: 'csv' }));
    expect(file.filename).toMatch(/^alps-runs-\d{8}-\d{6}\.csv$/);
    expect(file.mimeType).toBe('text/csv');
    const lines = file.content.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    const header = lines[0]!.split(',');
    const first = lines[1]!.split(',');
    expect(first[header.indexOf('id')]).toBe('run-a');
    expect(first[header.indexOf('prunedPerplexity')]).toBe('5.5');
    expect(first[header.indexOf('relativeError:blocks.0.attention.wq')]).toBe('0.1');
  });

  it('exports JSON with layers', async () => {
    const file = channels['runs.export'].response.parse(await call('runs.export', { runIds: ['run-b'], format: 'json' }));
    const parsed = JSON.parse(file.content) as { runs: { id: string; layers: unknown[] }[] };
    expect(parsed.runs.map((run) => run.id)).toEqual(['run-b']);
    expect(parsed.runs[0]!.layers).toHaveLength(2);
  });

  it('rejects resume of a finished run', async () => {
    const error = await callError('run.resume', { runId: 'run-b' });
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain('Run run-b is finished');
  });

  it('reports the status of an ended run on cancel', async () => {
    expect(await call('run.cancel', { runId: 'run-c' })).toEqual({ status: 'failed' });
  });

  it('deletes a run without its files', async () => {
    expect(await call('runs.delete', { runId: 'run-c', deleteFiles: false })).toEqual({ deletedPaths: [] });
    expect((await callError('runs.get', { runId: 'run-c' })).code).toBe('NOT_FOUND');
  });
});

describe('model handlers', () => {
  it('inspects the bundled model', async () => {
    const defaults = channels['model.default'].response.parse(await call('model.default', {}));
    expect(defaults.modelPath).toBe(join(repoRoot, 'resources', 'stories260K', 'stories260K.bin'));
    const info = channels['model.inspect'].response.parse(await call('model.inspect', { path: defaults.modelPath }));
    expect(info.architecture).toBeTruthy();
    expect(info.blocks).toBe(5);
    expect(info.hidden).toBe(64);
    expect(info.linears).toHaveLength(7);
    expect(info.estimatedMemoryBytes).toBeGreaterThan(0);
  });

  it('reports a missing model as NOT_FOUND', async () => {
    const error = await callError('model.inspect', { path: join(dataDir, 'nope.bin') });
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe(`Model ${join(dataDir, 'nope.bin')} was not found: choose a llama2.c .bin file or a Hugging Face model folder.`);
  });
});
