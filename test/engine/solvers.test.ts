import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALPS_DEFAULTS } from '../../main/engine/defaults.js';
import { solveGroup } from '../../main/engine/solve.js';
import { TargetProjector, keptCount } from '../../main/engine/solvers/projection.js';
import { CancelledError, InvalidInputError, type IterationEvent, type LayerGroup, type Method, type Target } from '../../main/engine/types.js';

const METHODS: Method[] = ['alps', 'sparsegpt', 'wanda', 'magnitude'];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Builds a layer problem with correlated inputs: each token of X [tokens, cols]
 * adds one shared factor to independent noise, and H = XᵀX. Inputs listed in
 * `deadInputs` are always zero.
 */
function makeProblem(rows: number, cols: number, seed: number, deadInputs: number[] = []): LayerGroup {
  const next = random(seed);
  const tokens = 4 * cols;
  const X = new Float64Array(tokens * cols);
  for (let t = 0; t < tokens; t++) {
    const shared = next() - 0.5;
    for (let j = 0; j < cols; j++) X[t * cols + j] = deadInputs.includes(j) ? 0 : next() - 0.5 + 0.8 * shared;
  }
  const H = new Float32Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let t = 0; t < tokens; t++) sum += X[t * cols + i] * X[t * cols + j];
      H[i * cols + j] = sum;
    }
  }
  const W = Float32Array.from({ length: rows * cols }, () => 2 * next() - 1);
  return { cols, H, layers: [{ name: 'test.layer', rows, W }] };
}

function countZeros(values: Float32Array): number {
  let zeros = 0;
  for (const value of values) if (value === 0) zeros++;
  return zeros;
}

/** Largest non-zero count found in any group of m consecutive inputs of a row. */
function maxNonZerosPerGroup(W: Float32Array, rows: number, cols: number, m: number): number {
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      let nonZeros = 0;
      for (let t = 0; t < m; t++) if (W[r * cols + g + t] !== 0) nonZeros++;
      worst = Math.max(worst, nonZeros);
    }
  }
  return worst;
}

describe('solveGroup', () => {
  for (const method of METHODS) {
    it(`${method}: sparsity 0 changes nothing`, async () => {
      const group = makeProblem(6, 16, 1);
      const [result] = await solveGroup(tf, group, { method, target: { kind: 'fraction', sparsity: 0 } });
      expect(Array.from(result.W)).toEqual(Array.from(group.layers[0].W));
      expect(result.relativeError).toBe(0);
      expect(result.sparsity).toBe(0);
    });

    it(`${method}: sparsity 0.99 keeps about 1%`, async () => {
      const group = makeProblem(10, 40, 2);
      const [result] = await solveGroup(tf, group, { method, target: { kind: 'fraction', sparsity: 0.99 } });
      const nonZeros = result.W.length - countZeros(result.W);
      // 400 weights: ALPS keeps round(0.01·400) = 4, SparseGPT and magnitude
      // remove at least 99%, Wanda keeps 40 − floor(0.99·40) = 1 per row.
      expect(nonZeros).toBeGreaterThan(0);
      expect(nonZeros).toBeLessThanOrEqual(10);
      expect(Number.isFinite(result.relativeError)).toBe(true);
      expect(result.relativeError).toBeLessThanOrEqual(1.0 + 1e-6);
    });

    for (const [n, m] of [[1, 4], [2, 4], [4, 8]]) {
      it(`${method}: ${n}:${m} leaves at most ${n} per group`, async () => {
        const rows = 6;
        const cols = 32;
        const group = makeProblem(rows, cols, 3 + m);
        const [result] = await solveGroup(tf, group, { method, target: { kind: 'nm', n, m } });
        expect(maxNonZerosPerGroup(result.W, rows, cols, m)).toBeLessThanOrEqual(n);
        expect(countZeros(result.W)).toBe((rows * cols * (m - n)) / m);
        expect(result.relativeError).toBeGreaterThan(0);
        expect(result.relativeError).toBeLessThan(1);
      });
    }

    it(`${method}: dead inputs give finite results`, async () => {
      const rows = 8;
      const cols = 24;
      const group = makeProblem(rows, cols, 4, [0, 5, 23]);
      const [result] = await solveGroup(tf, group, { method, target: { kind: 'fraction', sparsity: 0.5 } });
      expect(result.W.every((value) => Number.isFinite(value))).toBe(true);
      expect(Number.isFinite(result.relativeError)).toBe(true);
      expect(result.relativeError).toBeLessThan(1);
      expect(result.sparsity).toBeGreaterThanOrEqual(0.49);
    });

    it(`${method}: leaves no live tensors`, async () => {
      const group = makeProblem(8, 16, 5);
      const before = tf.memory().numTensors;
      await solveGroup(tf, group, { method, target: { kind: 'fraction', sparsity: 0.6 } });
      await solveGroup(tf, group, { method, target: { kind: 'nm', n: 2, m: 4 } });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('alps: keeps exactly k when magnitudes tie', async () => {
    const rows = 8;
    const cols = 16;
    const group = makeProblem(rows, cols, 6);
    const W = group.layers[0].W;
    for (let t = 0; t < W.length; t++) W[t] = t % 2 === 0 ? 1 : -1;
    // An identity H keeps every ADMM iterate equal in magnitude.
    group.H = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) group.H[i * cols + i] = 1;
    const [result] = await solveGroup(tf, group, { method: 'alps', target: { kind: 'fraction', sparsity: 0.7 } });
    expect(result.W.length - countZeros(result.W)).toBe(Math.round(0.3 * rows * cols));
  });

  it('wanda: keeps exactly the per-row count when scores tie', async () => {
    const rows = 4;
    const cols = 10;
    const group = makeProblem(rows, cols, 7);
    group.layers[0].W.fill(0.5);
    group.H = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) group.H[i * cols + i] = 2;
    const [result] = await solveGroup(tf, group, { method: 'wanda', target: { kind: 'fraction', sparsity: 0.5 } });
    for (let r = 0; r < rows; r++) {
      expect(countZeros(result.W.subarray(r * cols, (r + 1) * cols))).toBe(5);
    }
  });

  it('alps: reports iterations, trace and timings', async () => {
    const group = makeProblem(12, 32, 8);
    const events: IterationEvent[] = [];
    const [result] = await solveGroup(tf, group, {
      method: 'alps',
      target: { kind: 'fraction', sparsity: 0.5 },
      onIteration: (event) => events.push(event),
    });
    expect(result.iterations).toBeGreaterThanOrEqual(ALPS_DEFAULTS.checkEvery);
    expect(result.iterations).toBeLessThanOrEqual(ALPS_DEFAULTS.maxIterations);
    expect(events.length).toBeGreaterThan(0);
    expect(result.trace).toEqual(events);
    for (const event of events) {
      expect(event.layer).toBe('test.layer');
      expect(event.iteration % ALPS_DEFAULTS.checkEvery).toBe(0);
      expect(event.rho).toBeGreaterThan(0);
      expect(event.objective).toBeGreaterThanOrEqual(0);
    }
    expect(Object.keys(result.timings)).toEqual(expect.arrayContaining(['tridiagonalize', 'admm matmul', 'projection', 'pcg']));
    expect(result.seconds).toBeGreaterThan(0);
  });

  it('alps: beats magnitude on a correlated problem', async () => {
    const group = makeProblem(16, 32, 9);
    const target: Target = { kind: 'fraction', sparsity: 0.6 };
    const [alps] = await solveGroup(tf, group, { method: 'alps', target });
    const [magnitude] = await solveGroup(tf, group, { method: 'magnitude', target });
    expect(alps.relativeError).toBeLessThan(magnitude.relativeError);
  });

  it('solves every layer of a group against the shared H', async () => {
    const first = makeProblem(6, 16, 10);
    const second = makeProblem(9, 16, 11);
    const group: LayerGroup = { cols: 16, H: first.H, layers: [first.layers[0], { ...second.layers[0], name: 'second' }] };
    const target: Target = { kind: 'fraction', sparsity: 0.5 };
    for (const method of METHODS) {
      const together = await solveGroup(tf, group, { method, target });
      const alone = await solveGroup(tf, { ...group, layers: [group.layers[1]] }, { method, target });
      expect(together.map((result) => result.name)).toEqual(['test.layer', 'second']);
      expect(together[1].relativeError).toBeCloseTo(alone[0].relativeError, 6);
    }
  });

  it('alps: stops with CancelledError when aborted', async () => {
    const group = makeProblem(8, 16, 12);
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const solving = solveGroup(tf, group, {
      method: 'alps',
      target: { kind: 'fraction', sparsity: 0.5 },
      onIteration: () => controller.abort(),
      signal: controller.signal,
    });
    await expect(solving).rejects.toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const method of ['alps', 'sparsegpt'] as const) {
    it(`${method}: an aborted signal stops the solve`, async () => {
      const group = makeProblem(8, 16, 14);
      const controller = new AbortController();
      controller.abort();
      const before = tf.memory().numTensors;
      await expect(
        solveGroup(tf, group, { method, target: { kind: 'fraction', sparsity: 0.5 }, signal: controller.signal }),
      ).rejects.toBeInstanceOf(CancelledError);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('rejects N:M when the input size is not a multiple of M', async () => {
    const group = makeProblem(4, 10, 13);
    await expect(solveGroup(tf, group, { method: 'magnitude', target: { kind: 'nm', n: 2, m: 4 } })).rejects.toThrow(
      InvalidInputError,
    );
  });
});

describe('keptCount', () => {
  it('rounds half to even like numpy', () => {
    expect(keptCount({ kind: 'fraction', sparsity: 0.5 }, 1, 5)).toBe(2);
    expect(keptCount({ kind: 'fraction', sparsity: 0.5 }, 1, 7)).toBe(4);
    expect(keptCount({ kind: 'fraction', sparsity: 0.7 }, 64, 64)).toBe(1229);
  });

  it('counts N per group for N:M', () => {
    expect(keptCount({ kind: 'nm', n: 2, m: 4 }, 3, 8)).toBe(12);
  });
});

describe('TargetProjector', () => {
  it('keeps exactly k of all-equal magnitudes', () => {
    const rows = 7;
    const cols = 9;
    const target: Target = { kind: 'fraction', sparsity: 0.4 };
    const projector = new TargetProjector(target, rows, cols);
    const Z = new Float32Array(rows * cols).fill(-2);
    const D = new Float32Array(rows * cols);
    const support = new Uint8Array(rows * cols);
    projector.project(Z, D, support);
    expect(projector.keptCount).toBe(keptCount(target, rows, cols));
    expect(support.reduce((sum, value) => sum + value, 0)).toBe(Math.round(0.6 * rows * cols));
    expect(rows * cols - countZeros(D)).toBe(projector.keptCount);
  });

  for (const [name, levels] of [['distinct', 1e9], ['tied', 50]] as const) {
    it(`matches a stable sort on ${name} large input`, () => {
      const rows = 300;
      const cols = 200;
      const next = random(15);
      const Z = Float32Array.from({ length: rows * cols }, () => (Math.round(next() * levels) / levels) * (next() < 0.5 ? -1 : 1));
      const target: Target = { kind: 'fraction', sparsity: 0.7 };
      const projector = new TargetProjector(target, rows, cols);
      const D = new Float32Array(Z.length);
      const support = new Uint8Array(Z.length);
      projector.project(Z, D, support);

      // Prune the smallest magnitudes first, lower index first among ties.
      const order = Array.from(Z.keys()).sort((a, b) => Math.abs(Z[a]) - Math.abs(Z[b]) || a - b);
      const expected = new Uint8Array(Z.length).fill(1);
      for (const index of order.slice(0, Z.length - projector.keptCount)) expected[index] = 0;
      expect(Array.from(support)).toEqual(Array.from(expected));
      expect(D.every((value, t) => (support[t] ? value === Z[t] : value === 0))).toBe(true);
    });
  }

  it('keeps the N largest magnitudes of each group', () => {
    const projector = new TargetProjector({ kind: 'nm', n: 2, m: 4 }, 1, 8);
    const D = new Float32Array(8);
    const support = new Uint8Array(8);
    projector.project(new Float32Array([0.1, -5, 3, 0.2, 1, 1, 1, 1]), D, support);
    expect(Array.from(D)).toEqual([0, -5, 3, 0, 0, 0, 1, 1]);
    expect(Array.from(support)).toEqual([0, 1, 1, 0, 0, 0, 1, 1]);
  });
});
