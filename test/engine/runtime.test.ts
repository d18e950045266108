import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../main/engine/backend.js';
import { BackendUnavailableError, CancelledError, createEngine, InvalidInputError, type Engine, type IterationEvent, type LayerGroup } from '../../main/engine/index.js';
import { solveGroup } from '../../main/engine/solve.js';
import { SafetensorsFile } from '../../main/io/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const layersDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'layers');

function readGroup(file: string, name: string): LayerGroup {
  const source = SafetensorsFile.open(path.join(layersDir, file));
  const [rows, cols] = source.info('W').shape as [number, number];
  const group = { cols, H: source.readFloat32('H'), layers: [{ name, rows, W: source.readFloat32('W') }] };
  source.close();
  return group;
}

const ALPS_70 = { method: 'alps', target: { kind: 'fraction', sparsity: 0.7 } } as const;

describe('engine runtime', () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await createEngine({ backend: 'wasm', workers: 2 });
  });

  afterAll(async () => {
    await engine?.close();
  });

  it('reports backend and worker count', () => {
    expect(engine.backend.name).toBe('wasm');
    expect(engine.backend.device).toMatch(/^wasm \((SIMD|no SIMD), 1 thread\)$/);
    expect(engine.workers).toBe(2);
  });

  it('pool solve equals in-process solve', async () => {
    const { tf } = await selectBackend('wasm');
    const local = await solveGroup(tf, readGroup('layer-b0-w2.safetensors', 'w2'), ALPS_70);
    const pooled = await engine.solveGroup(readGroup('layer-b0-w2.safetensors', 'w2'), ALPS_70);

    expect(pooled).toHaveLength(1);
    expect(pooled[0]!.name).toBe('w2');
    expect(pooled[0]!.iterations).toBe(local[0]!.iterations);
    expect(pooled[0]!.relativeError).toBeCloseTo(local[0]!.relativeError, 12);
    expect(pooled[0]!.sparsity).toBe(local[0]!.sparsity);
    expect(pooled[0]!.W.length).toBe(local[0]!.W.length);
    let maxDifference = 0;
    for (let i = 0; i < local[0]!.W.length; i++) maxDifference = Math.max(maxDifference, Math.abs(pooled[0]!.W[i]! - local[0]!.W[i]!));
    expect(maxDifference).toBeLessThanOrEqual(1e-6);
  });

  it('progress events arrive in order', async () => {
    const events: IterationEvent[] = [];
    const [result] = await engine.solveGroup(readGroup('layer-b4-w1.safetensors', 'b4.w1'), { ...ALPS_70, onIteration: (event) => events.push(event) });

    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBe(result!.trace.length);
    expect(events.every((event) => event.layer === 'b4.w1')).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i]!.iteration).toBeGreaterThan(events[i - 1]!.iteration);
    expect(events.at(-1)!.iteration).toBeLessThanOrEqual(result!.iterations!);
  });

  it('solves a group of layers sharing H', async () => {
    const q = readGroup('layer-b0-wq.safetensors', 'wq');
    const k = readGroup('layer-b0-wk.safetensors', 'wk');
    const group: LayerGroup = { cols: q.cols, H: q.H, layers: [q.layers[0]!, k.layers[0]!] };
    const results = await engine.solveGroup(group, { method: 'sparsegpt', target: { kind: 'nm', n: 2, m: 4 } });

    expect(results.map((r) => r.name)).toEqual(['wq', 'wk']);
    for (const result of results) {
      expect(result.sparsity).toBe(0.5);
      expect(Number.isFinite(result.relativeError)).toBe(true);
    }
  });

  it('runs jobs on both workers at once', async () => {
    const jobs = ['w1', 'w3', 'wo', 'wv'].map((name) => engine.solveGroup(readGroup(`layer-b4-${name}.safetensors`, name), ALPS_70));
    const results = await Promise.all(jobs);
    expect(results.map(([r]) => r!.name)).toEqual(['w1', 'w3', 'wo', 'wv']);
  });

  it('leaves the live tensor count unchanged', async () => {
    const before = await engine.memory();
    for (const method of ['alps', 'sparsegpt', 'wanda', 'magnitude'] as const) {
      await engine.solveGroup(readGroup('layer-b0-wq.safetensors', 'wq'), { method, target: { kind: 'fraction', sparsity: 0.5 } });
    }
    const after = await engine.memory();

    expect(after.map((m) => m.numTensors)).toEqual(before.map((m) => m.numTensors));
    expect(after.map((m) => m.numBytes)).toEqual(before.map((m) => m.numBytes));
  });

  it('measureMatMul returns seconds and frees its tensors', async () => {
    const before = await engine.memory();
    const seconds = await engine.measureMatMul(64, 128, 32, 2);
    const after = await engine.memory();

    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(10);
    expect(after.map((m) => m.numTensors)).toEqual(before.map((m) => m.numTensors));
  });

  it('transfers whole buffers and copies views', async () => {
    const owned = readGroup('layer-b0-wq.safetensors', 'wq');
    const ownedW = owned.layers[0]!.W;
    await engine.solveGroup(owned, ALPS_70);
    expect(ownedW.length).toBe(0);

    const viewed = readGroup('layer-b0-wq.safetensors', 'wq');
    const padded = new Float32Array(viewed.layers[0]!.W.length + 8);
    padded.set(viewed.layers[0]!.W, 8);
    const view = padded.subarray(8);
    viewed.layers[0]!.W = view;
    await engine.solveGroup(viewed, ALPS_70);
    expect(view.length).toBe(padded.length - 8);
  });

  it('rejects invalid input before dispatch', async () => {
    const group = readGroup('layer-b0-wq.safetensors', 'wq');
    group.layers[0]!.W[10] = NaN;
    await expect(engine.solveGroup(group, ALPS_70)).rejects.toThrow(/W of layer "wq" contains NaN at index 10/);
  });

  it('rebuilds InvalidInputError from the worker', async () => {
    // Negative eigenvalue invisible to the facade's 2×2 checks: the worker's factorization rejects it.
    const cols = 64;
    const H = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j] = (i === j ? 1 : 0) - 1.01 / cols;
    const group: LayerGroup = { cols, H, layers: [{ name: 'indefinite', rows: 4, W: new Float32Array(4 * cols).fill(0.5) }] };

    const outcome = engine.solveGroup(group, ALPS_70);
    await expect(outcome).rejects.toBeInstanceOf(InvalidInputError);
    await expect(outcome).rejects.toThrow(/H is not positive semidefinite: the float64 Cholesky factorization/);
  });

  it('rejects an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(engine.solveGroup(readGroup('layer-b0-wq.safetensors', 'wq'), { ...ALPS_70, signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('createEngine options', () => {
  it('rejects an unknown backend name', async () => {
    await expect(createEngine({ backend: 'metal' })).rejects.toThrow(/Backend "metal" is unknown: use one of tensorflow-gpu, tensorflow, wasm, cpu/);
  });

  it('rejects an unavailable backend', async () => {
    // The native packages are optional; this checks the error when they are absent.
    let loaded = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      loaded = false;
    }
    if (loaded) return;
    const outcome = createEngine({ backend: 'tensorflow' });
    await expect(outcome).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(outcome).rejects.toThrow(/Backend "tensorflow" is unavailable \(tensorflow: .*\)\. Install its package or choose another backend/);
  });

  it('rejects a bad worker count', async () => {
    await expect(createEngine({ backend: 'cpu', workers: 0 })).rejects.toThrow(/Worker count 0 is invalid/);
  });

  it('close rejects a running solve', async () => {
    const engine = await createEngine({ backend: 'wasm', workers: 1 });
    const running = engine.solveGroup(readGroup('layer-b0-w2.safetensors', 'w2'), ALPS_70);
    // Attach the expectation first: the wasm backend loaded in this process turns an unhandled rejection into a crash.
    const rejected = expect(running).rejects.toBeInstanceOf(CancelledError);
    await engine.close();
    await rejected;
  });
});
