/**
 * The run manager with the real pipeline and engine on the bundled
 * stories260K model. Runs use a small calibration set (4 windows of 32
 * tokens) and a short evaluation text so that each takes seconds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEventData, RunStatus, StreamMessage } from '../../shared/ipc.js';
import { openApp, type AppContext } from '../../main/app/context.js';
import { createHandlers, dispatch } from '../../main/app/handlers.js';
import { toPruneSettings } from '../../main/app/run-manager.js';
import { runPrune } from '../../main/pipeline/index.js';
import { openStore } from '../../main/store/index.js';
import { RunSettingsSchema } from '../../shared/ipc.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const modelPath = join(repoRoot, 'resources', 'stories260K', 'stories260K.bin');
const calibrationFile = join(repoRoot, 'resources', 'text', 'tinystories-calibration.txt');

/** stories260K: 5 blocks of 7 linears (wq, wk, wv, wo, w1, w2, w3). */
const LINEARS = 35;

let workDir: string;
let evalFile: string;
const opened: AppContext[] = [];

function open(dataDir: string): AppContext {
  const app = openApp({ dataDir, platform: 'web' });
  opened.push(app);
  return app;
}

function settings(outDir: string, method: string, targets: string[], samples = 4) {
  return {
    modelPath,
    method,
    targets,
    calibration: { file: calibrationFile, samples, seqLen: 32, sampling: 'consecutive', seed: 0 },
    evalFile,
    outDir,
  };
}

/** Collects bus messages and resolves waiters on the first message that matches. */
function watch(app: AppContext) {
  const messages: { at: number; message: StreamMessage }[] = [];
  const waiters: { test: (message: StreamMessage) => boolean; resolve: (message: StreamMessage) => void }[] = [];
  app.bus.subscribe((message) => {
    messages.push({ at: Date.now(), message });
    for (const waiter of [...waiters]) {
      if (waiter.test(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  return {
    messages,
    next(test: (message: StreamMessage) => boolean): Promise<StreamMessage> {
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
    events(runId: string): PipelineEventData[] {
      return messages.flatMap(({ message }) => (message.event === 'run.event' && message.payload.runId === runId ? [message.payload.event] : []));
    },
  };
}

function isStatus(runId: string, status: RunStatus) {
  return (message: StreamMessage) => message.event === 'run.status' && message.payload.runId === runId && message.payload.status === status;
}

function isEvent(runId: string, test: (event: PipelineEventData) => boolean) {
  return (message: StreamMessage) => message.event === 'run.event' && message.payload.runId === runId && test(message.payload.event);
}

async function startRuns(app: AppContext, request: unknown): Promise<string[]> {
  const result = await dispatch(createHandlers(app), 'run.start', request);
  if (!result.ok) throw new Error(result.error.message);
  return (result.value as { runIds: string[] }).runIds;
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'alps-runs-'));
  // About 20 stories: enough for a few evaluation windows of 32 tokens.
  const stories = readFileSync(join(repoRoot, 'resources', 'text', 'tinystories-eval.txt'), 'utf8').split('<|endoftext|>').slice(0, 20);
  evalFile = join(workDir, 'eval-small.txt');
  writeFileSync(evalFile, stories.join('<|endoftext|>'));
});

afterEach(async () => {
  while (opened.length > 0) {
    await opened.pop()!.close();
  }
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('run manager', () => {
  it('runs a sweep one after another', async () => {
    const dataDir = join(workDir, 'sweep');
    const app = open(dataDir);
    const watcher = watch(app);
    const runIds = await startRuns(app, { settings: settings(join(dataDir, 'out'), 'magnitude', ['0.5', '2:4']) });
    expect(runIds).toHaveLength(2);
    await app.manager.waitForEnd(runIds[1]!);

    const [first, second] = runIds.map((runId) => app.store.runs.require(runId));
    expect(first!.status).toBe('finished');
    expect(second!.status).toBe('finished');
    expect(first!.sweepId).not.toBeNull();
    expect(second!.sweepId).toBe(first!.sweepId);
    expect(first!.settings.target).toBe('0.5');
    expect(second!.settings.target).toBe('2:4');

    const firstFinished = watcher.events(runIds[0]!).find((event) => event.type === 'run-finished')!;
    const secondStarted = watcher.events(runIds[1]!).find((event) => event.type === 'run-started')!;
    expect(secondStarted.time).toBeGreaterThanOrEqual(firstFinished.time);

    for (const run of [first!, second!]) {
      expect(app.store.layers.list(run.id)).toHaveLength(LINEARS);
      expect(existsSync(run.outputPath)).toBe(true);
      expect(run.metrics.densePerplexity).toBeGreaterThan(1);
      expect(run.metrics.prunedPerplexity).toBeGreaterThan(run.metrics.densePerplexity!);
      // Magnitude pruning removes at least the requested half of each linear (ties may remove one more).
      expect(run.metrics.overallSparsity).toBeGreaterThanOrEqual(0.5 - 1e-9);
      expect(run.metrics.overallSparsity).toBeLessThan(0.51);
      expect(run.progress.fraction).toBe(1);
    }
    expect(app.store.events.count(runIds[0]!)).toBeGreaterThan(LINEARS * 2);
  });

  it('cancels a run within a second', async () => {
    const dataDir = join(workDir, 'cancel');
    const app = open(dataDir);
    const watcher = watch(app);
    const [runId] = await startRuns(app, { settings: { ...settings(join(dataDir, 'out'), 'alps', ['0.7'], 16), evalFile: null } });
    await watcher.next(isEvent(runId!, (event) => event.type === 'layer-finished'));

    const requestedAt = Date.now();
    const reply = await dispatch(createHandlers(app), 'run.cancel', { runId });
    expect(reply).toEqual({ ok: true, value: { status: 'running' } });
    await watcher.next(isStatus(runId!, 'cancelled'));
    const elapsed = Date.now() - requestedAt;

    console.log(`run.cancel → status cancelled in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(1500);
    const run = app.store.runs.require(runId!);
    expect(run.status).toBe('cancelled');
    expect(run.error).toBeNull();
    expect(existsSync(run.outputPath)).toBe(false);
  });

  it('marks a run interrupted on quit and resumes it', async () => {
    const dataDir = join(workDir, 'quit');
    const first = open(dataDir);
    const watcher = watch(first);
    const [runId] = await startRuns(first, { settings: settings(join(dataDir, 'out'), 'magnitude', ['0.6']) });
    await watcher.next(isEvent(runId!, (event) => event.type === 'block-finished' && event.block === 1));
    await first.close();
    opened.splice(opened.indexOf(first), 1);
    expect(watcher.messages.some(({ message }) => isStatus(runId!, 'interrupted')(message))).toBe(true);

    const second = open(dataDir);
    expect(second.store.runs.require(runId!).status).toBe('interrupted');
    const resumed = watch(second);
    const reply = await dispatch(createHandlers(second), 'run.resume', { runId });
    expect(reply.ok).toBe(true);
    await second.manager.waitForEnd(runId!);

    const started = resumed.events(runId!).find((event) => event.type === 'run-started');
    expect(started?.type).toBe('run-started');
    expect(started?.type === 'run-started' ? started.startBlock : -1).toBeGreaterThanOrEqual(2);
    const run = second.store.runs.require(runId!);
    expect(run.status).toBe('finished');
    expect(second.store.layers.list(runId!)).toHaveLength(LINEARS);
  });

  it('resumes a run whose process was killed', async () => {
    const dataDir = join(workDir, 'killed');
    const runId = 'killed-run';
    const runDir = join(dataDir, 'runs', runId);
    const outputPath = join(dataDir, 'out', 'killed');
    const runSettings = RunSettingsSchema.parse({ ...settings(join(dataDir, 'out'), 'magnitude', []), target: '0.5', evalFile: null });

    // The killed process: its pipeline checkpointed two blocks, and its database row is still `running`.
    const store = openStore(dataDir);
    store.runs.insert({ id: runId, settings: runSettings, sweepId: null, createdAt: Date.now(), outputPath, runDir });
    store.close();
    const controller = new AbortController();
    await runPrune(toPruneSettings(runSettings, outputPath, runDir, false), {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'block-finished' && event.block === 1) controller.abort();
      },
    }).catch((error: Error) => expect(error.name).toBe('CancelledError'));
    expect(existsSync(join(runDir, 'manifest.json'))).toBe(true);

    const app = open(dataDir);
    expect(app.store.interruptedAtOpen).toEqual([runId]);
    expect(app.store.runs.require(runId).status).toBe('interrupted');
    const watcher = watch(app);
    const reply = await dispatch(createHandlers(app), 'run.resume', { runId });
    expect(reply.ok).toBe(true);
    await app.manager.waitForEnd(runId);

    const started = watcher.events(runId).find((event) => event.type === 'run-started');
    expect(started?.type).toBe('run-started');
    expect(started?.type === 'run-started' ? started.startBlock : -1).toBe(2);
    expect(app.store.runs.require(runId).status).toBe('finished');
    expect(existsSync(outputPath)).toBe(true);
  });

  it('deletes a run with its files', async () => {
    const dataDir = join(workDir, 'delete');
    const app = open(dataDir);
    const [runId] = await startRuns(app, { settings: { ...settings(join(dataDir, 'out'), 'magnitude', ['0.5']), evalFile: null } });
    const handlers = createHandlers(app);
    const busy = await dispatch(handlers, 'runs.delete', { runId, deleteFiles: true });
    expect(busy.ok).toBe(false);
    expect(busy.ok ? null : busy.error.code).toBe('CONFLICT');

    await app.manager.waitForEnd(runId!);
    const run = app.store.runs.require(runId!);
    expect(existsSync(run.outputPath)).toBe(true);
    const reply = await dispatch(handlers, 'runs.delete', { runId, deleteFiles: true });
    expect(reply.ok).toBe(true);
    // The pipeline removes its run folder after a finished run, so only the output may be left to delete.
    expect(reply.ok ? (reply.value as { deletedPaths: string[] }).deletedPaths : []).toContain(run.outputPath);
    expect(existsSync(run.outputPath)).toBe(false);
    expect(existsSync(run.runDir)).toBe(false);
    expect(app.store.runs.get(runId!)).toBeNull();
  });
});
