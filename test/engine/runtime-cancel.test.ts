import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, createEngine, WorkerCrashError, type Engine, type LayerGroup } from '../../main/engine/index.js';
import { CANCEL_TIMEOUT_MS } from '../../main/engine/pool.js';
import { SafetensorsFile } from '../../main/io/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.resolve(repoRoot, '..', 'shared', 'fixtures');

function readGroup(file: string, name: string): LayerGroup {
  const source = SafetensorsFile.open(path.join(fixtures, file));
  const [rows, cols] = source.info('W').shape as [number, number];
  const group = { cols, H: source.readFloat32('H'), layers: [{ name, rows, W: source.readFloat32('W') }] };
  source.close();
  return group;
}

const ALPS_70 = { method: 'alps', target: { kind: 'fraction', sparsity: 0.7 } } as const;
/** Scheduling slack on top of the pool's cancel deadline, for a loaded 2-core machine. */
const SLACK_MS = 150;

/** Aborts `controller` and returns the milliseconds until `outcome` rejects, with the error. */
async function timeCancel(controller: AbortController, outcome: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  controller.abort();
  try {
    await outcome;
    return { ms: performance.now() - started, error: null };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describe('engine cancellation', () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await createEngine({ backend: 'wasm', workers: 1 });
  });

  afterAll(async () => {
    await engine?.close();
  });

  it('cancels ALPS iterations on 768x768 within 1 s', async () => {
    const controller = new AbortController();
    let firstIteration!: () => void;
    const iterating = new Promise<void>((resolve) => (firstIteration = resolve));
    const outcome = engine.solveGroup(readGroup('timing/in768_out768.safetensors', 'in768_out768'), {
      ...ALPS_70,
      signal: controller.signal,
      onIteration: () => firstIteration(),
    });
    outcome.catch(() => {});
    await iterating;

    const { ms, error } = await timeCancel(controller, outcome);
    console.log(`cancel during ADMM iterations: rejected after ${ms.toFixed(0)} ms`);
    expect(error).toBeInstanceOf(CancelledError);
    expect(ms).toBeLessThan(CANCEL_TIMEOUT_MS + SLACK_MS);
  });

  it('cancels ALPS preparation on 768x768 within 1 s', async () => {
    const controller = new AbortController();
    const outcome = engine.solveGroup(readGroup('timing/in768_out768.safetensors', 'in768_out768'), { ...ALPS_70, signal: controller.signal });
    outcome.catch(() => {});
    // The float64 tridiagonalization of H runs for the first few hundred milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 200));

    const { ms, error } = await timeCancel(controller, outcome);
    console.log(`cancel during preparation: rejected after ${ms.toFixed(0)} ms`);
    expect(error).toBeInstanceOf(CancelledError);
    expect(ms).toBeLessThan(CANCEL_TIMEOUT_MS + SLACK_MS);
  });

  it('solves again after a cancel', async () => {
    const [result] = await engine.solveGroup(readGroup('layers/layer-b0-wq.safetensors', 'wq'), ALPS_70);
    expect(result!.sparsity).toBeCloseTo(0.7, 3);
  });

  it('removes a queued job on cancel', async () => {
    const controller = new AbortController();
    const running = engine.solveGroup(readGroup('layers/layer-b0-w2.safetensors', 'w2'), ALPS_70);
    const queued = engine.solveGroup(readGroup('layers/layer-b0-wq.safetensors', 'wq'), { ...ALPS_70, signal: controller.signal });
    queued.catch(() => {});

    const { ms, error } = await timeCancel(controller, queued);
    expect(error).toBeInstanceOf(CancelledError);
    expect(ms).toBeLessThan(50);
    await expect(running).resolves.toHaveLength(1);
  });
});

describe('engine worker crash', () => {
  const saved = { layer: process.env.ALPS_TEST_CRASH_LAYER, mode: process.env.ALPS_TEST_CRASH_MODE };
  let engine: Engine | undefined;

  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    for (const [key, value] of [['ALPS_TEST_CRASH_LAYER', saved.layer], ['ALPS_TEST_CRASH_MODE', saved.mode]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('restarts a worker that ignores a cancel', async () => {
    process.env.ALPS_TEST_CRASH_LAYER = 'hang-me';
    process.env.ALPS_TEST_CRASH_MODE = 'hang';
    engine = await createEngine({ backend: 'wasm', workers: 1 });
    const controller = new AbortController();
    const hanging = engine.solveGroup(readGroup('layers/layer-b0-wq.safetensors', 'hang-me'), { ...ALPS_70, signal: controller.signal });
    hanging.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));

    const { ms, error } = await timeCancel(controller, hanging);
    console.log(`cancel of a hung worker: rejected after ${ms.toFixed(0)} ms`);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as Error).message).toMatch(/did not stop within 1000 ms and was restarted/);
    expect(ms).toBeGreaterThanOrEqual(CANCEL_TIMEOUT_MS - 5);
    expect(ms).toBeLessThan(CANCEL_TIMEOUT_MS + SLACK_MS);

    const [next] = await engine.solveGroup(readGroup('layers/layer-b0-wq.safetensors', 'wq'), ALPS_70);
    expect(next!.name).toBe('wq');
  });

  for (const mode of ['throw', 'exit'] as const) {
    it(`fails the job and recovers (${mode})`, async () => {
      // Workers copy the environment when they start, so set it before createEngine.
      process.env.ALPS_TEST_CRASH_LAYER = 'crash-me';
      process.env.ALPS_TEST_CRASH_MODE = mode;
      engine = await createEngine({ backend: 'wasm', workers: 1 });

      const crashed = engine.solveGroup(readGroup('layers/layer-b0-wq.safetensors', 'crash-me'), ALPS_70);
      await expect(crashed).rejects.toBeInstanceOf(WorkerCrashError);
      await expect(crashed).rejects.toThrow(/The engine worker crashed while solving crash-me/);
      if (mode === 'exit') await expect(crashed).rejects.toThrow(/exited with code 70/);
      else await expect(crashed).rejects.toThrow(/crash requested by ALPS_TEST_CRASH_LAYER/);

      const [next] = await engine.solveGroup(readGroup('layers/layer-b0-wq.safetensors', 'wq'), ALPS_70);
      expect(next!.name).toBe('wq');
      expect(next!.sparsity).toBeCloseTo(0.7, 3);
    });
  }
});
