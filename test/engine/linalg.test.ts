import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockedCholeskySteps, blockedUpperCholeskyOfInverseSteps } from '../../main/engine/linalg/blocked-cholesky.js';
import { upperCholeskyOfInverse } from '../../main/engine/linalg/cholesky.js';
import { relativeError, relativeErrorWithMatMul } from '../../main/engine/linalg/relative-error.js';
import { markSmallest, markSmallestInGroup, selectBySampling, selectInPlace, selectWithRank } from '../../main/engine/linalg/select.js';
import { runToEnd } from '../../main/engine/linalg/steps.js';
import { multiply, multiplyInSlices, toTensor } from '../../main/engine/linalg/tensor.js';
import { CancelledError } from '../../main/engine/types.js';
import {
  factorShiftedTridiagonal,
  formQ,
  formQBlockedSteps,
  solveShiftedTridiagonalRows,
  tridiagonalize,
} from '../../main/engine/linalg/tridiagonal.js';

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

/** Builds A = XᵀX + shift·I for a random X [2n, n]. */
function randomSpd(n: number, seed: number, shift = 0.1): Float64Array {
  const next = random(seed);
  const tokens = 2 * n;
  const X = Float64Array.from({ length: tokens * n }, () => next() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let t = 0; t < tokens; t++) sum += X[t * n + i] * X[t * n + j];
      A[i * n + j] = sum + (i === j ? shift : 0);
    }
  }
  return A;
}

/** Solves the dense system A x = b by Gaussian elimination with partial pivoting, in float64. */
function solveDense(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = A.slice();
  const x = b.slice();
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r * n + col]) > Math.abs(M[pivot * n + col])) pivot = r;
    for (let c = 0; c < n; c++) [M[col * n + c], M[pivot * n + c]] = [M[pivot * n + c], M[col * n + c]];
    [x[col], x[pivot]] = [x[pivot], x[col]];
    for (let r = col + 1; r < n; r++) {
      const factor = M[r * n + col] / M[col * n + col];
      for (let c = col; c < n; c++) M[r * n + c] -= factor * M[col * n + c];
      x[r] -= factor * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let sum = x[r];
    for (let c = r + 1; c < n; c++) sum -= M[r * n + c] * x[c];
    x[r] = sum / M[r * n + r];
  }
  return x;
}

describe('selectInPlace', () => {
  it('matches a sorted copy at every index', () => {
    const next = random(1);
    const values = Float64Array.from({ length: 101 }, () => Math.floor(next() * 20));
    const sorted = values.slice().sort();
    for (let k = 0; k < values.length; k++) {
      expect(selectInPlace(values.slice(), k)).toBe(sorted[k]);
    }
  });

  it('counts the values below on a small array', () => {
    const values = new Float32Array([3, 1, 2, 1]);
    expect(selectWithRank(values, 2, new Float32Array(4))).toEqual({ value: 2, below: 2 });
    expect(selectWithRank(values, 1, new Float32Array(4))).toEqual({ value: 1, below: 0 });
    expect(Array.from(values)).toEqual([3, 1, 2, 1]);
  });

  it('handles constant input', () => {
    expect(selectInPlace(new Float32Array(1000).fill(3), 517)).toBe(3);
  });

  it('rejects an index out of range', () => {
    expect(() => selectInPlace(new Float32Array(3), 3)).toThrow(/out of range/);
  });
});

describe('selectBySampling', () => {
  it('matches a sorted copy on a large array with ties', () => {
    const next = random(2);
    const values = Float32Array.from({ length: 100_003 }, () => Math.floor(next() * 5000) / 7);
    const sorted = values.slice().sort();
    const scratch = new Float32Array(values.length);
    for (const k of [0, 1, 777, 50_000, 69_999, 99_999, 100_002]) {
      expect(selectBySampling(values, k, scratch)).toBe(sorted[k]);
      expect(selectWithRank(values, k, scratch).below).toBe(sorted.findIndex((value) => value === sorted[k]));
    }
  });

  it('handles a sorted array whose sample sits on one value', () => {
    // 90% zeros, then increasing values: the bracket around index 95 000 is narrow.
    const values = Float64Array.from({ length: 100_000 }, (_, t) => (t < 90_000 ? 0 : t));
    const scratch = new Float64Array(values.length);
    expect(selectBySampling(values, 89_999, scratch)).toBe(0);
    expect(selectBySampling(values, 90_000, scratch)).toBe(90_000);
    expect(selectBySampling(values, 95_123, scratch)).toBe(95_123);
    expect(selectWithRank(values, 89_999, scratch).below).toBe(0);
    expect(selectWithRank(values, 95_123, scratch).below).toBe(95_123);
  });
});

describe('markSmallest', () => {
  it('marks exactly count entries when many tie', () => {
    const scores = new Float32Array([2, 1, 1, 1, 1, 0, 5, 1]);
    const mask = new Uint8Array(scores.length);
    markSmallest(scores, 0, scores.length, 3, mask, new Float32Array(scores.length));
    // 0 first, then the two lowest-index ones among the tied 1s.
    expect(Array.from(mask)).toEqual([0, 1, 1, 0, 0, 1, 0, 0]);
  });

  it('respects offset and length', () => {
    const scores = new Float64Array([9, 9, 3, 1, 2, 9]);
    const mask = new Uint8Array(scores.length);
    markSmallest(scores, 2, 3, 2, mask, new Float64Array(3));
    expect(Array.from(mask)).toEqual([0, 0, 0, 1, 1, 0]);
  });

  it('marks by group with ties broken by index', () => {
    const scores = new Float32Array([1, 1, 1, 1, 4, 3, 2, 1]);
    const mask = new Uint8Array(scores.length);
    markSmallestInGroup(scores, 0, 4, 2, mask);
    markSmallestInGroup(scores, 4, 4, 2, mask);
    expect(Array.from(mask)).toEqual([1, 1, 0, 0, 0, 0, 1, 1]);
  });
});

describe('tridiagonalize', () => {
  for (const n of [1, 2, 3, 5, 40]) {
    it(`reconstructs A = Q T Qᵀ for n = ${n}`, () => {
      const A = randomSpd(n, 10 + n);
      const original = A.slice();
      const factor = tridiagonalize(A, n);
      const Q = formQ(factor);

      let maxError = 0;
      let maxOrthogonality = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let reconstructed = 0;
          let gram = 0;
          for (let k = 0; k < n; k++) {
            let qt = Q[i * n + k] * factor.diagonal[k];
            if (k > 0) qt += Q[i * n + k - 1] * factor.offDiagonal[k - 1];
            if (k < n - 1) qt += Q[i * n + k + 1] * factor.offDiagonal[k];
            reconstructed += qt * Q[j * n + k];
            gram += Q[i * n + k] * Q[j * n + k];
          }
          maxError = Math.max(maxError, Math.abs(reconstructed - original[i * n + j]));
          maxOrthogonality = Math.max(maxOrthogonality, Math.abs(gram - (i === j ? 1 : 0)));
        }
      }
      expect(maxError).toBeLessThan(1e-11);
      expect(maxOrthogonality).toBeLessThan(1e-13);
    });
  }

  for (const [n, blockSize] of [[3, 4], [9, 2], [40, 3], [40, 64]]) {
    it(`forms the same Q blocked, n = ${n}, block ${blockSize}`, () => {
      const factor = tridiagonalize(randomSpd(n, 20 + n), n);
      const expected = formQ(factor);
      const before = tf.memory().numTensors;
      const blocked = runToEnd(formQBlockedSteps(tf, factor, blockSize));
      expect(tf.memory().numTensors).toBe(before);
      let maxDifference = 0;
      for (let t = 0; t < expected.length; t++) maxDifference = Math.max(maxDifference, Math.abs(blocked[t] - expected[t]));
      expect(maxDifference).toBeLessThan(1e-5);
    });
  }

  it('keeps a matrix that is already diagonal', () => {
    const n = 4;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) A[i * n + i] = i + 1;
    const factor = tridiagonalize(A, n);
    expect(Array.from(factor.diagonal)).toEqual([1, 2, 3, 4]);
    expect(Array.from(factor.offDiagonal)).toEqual([0, 0, 0]);
  });
});

describe('solveShiftedTridiagonalRows', () => {
  it('matches a dense float64 solve of (T + σI) x = b', () => {
    const n = 30;
    const factor = tridiagonalize(randomSpd(n, 7), n);
    const shift = 0.37;
    const dense = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      dense[i * n + i] = factor.diagonal[i] + shift;
      if (i < n - 1) {
        dense[i * n + i + 1] = factor.offDiagonal[i];
        dense[(i + 1) * n + i] = factor.offDiagonal[i];
      }
    }
    const next = random(8);
    const rows = 3;
    const right = Float64Array.from({ length: rows * n }, () => next() - 0.5);
    const solved = right.slice();
    solveShiftedTridiagonalRows(factorShiftedTridiagonal(factor, shift), solved, rows);

    for (let r = 0; r < rows; r++) {
      const expected = solveDense(dense, right.subarray(r * n, (r + 1) * n), n);
      for (let i = 0; i < n; i++) expect(solved[r * n + i]).toBeCloseTo(expected[i], 10);
    }
  });

  it('rejects a shift that leaves T indefinite', () => {
    const factor = tridiagonalize(new Float64Array([1, 0, 0, 1]), 2);
    expect(() => factorShiftedTridiagonal(factor, -2)).toThrow(/not positive definite/);
  });
});

describe('upperCholeskyOfInverse', () => {
  for (const n of [1, 24, 25]) {
    it(`gives an upper U with Uᵀ U A = I, n = ${n}`, () => {
      const A = randomSpd(n, 3);
      const U = upperCholeskyOfInverse(A, n);
      for (let i = 0; i < n; i++) {
        expect(U[i * n + i]).toBeGreaterThan(0);
        for (let j = 0; j < i; j++) expect(U[i * n + j]).toBe(0);
      }
      let maxError = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let k = 0; k < n; k++) {
            let inverse = 0;
            for (let m = 0; m < n; m++) inverse += U[m * n + i] * U[m * n + k];
            sum += inverse * A[k * n + j];
          }
          maxError = Math.max(maxError, Math.abs(sum - (i === j ? 1 : 0)));
        }
      }
      expect(maxError).toBeLessThan(1e-9);
    });
  }

  it('rejects a matrix that is not positive definite', () => {
    expect(() => upperCholeskyOfInverse(new Float64Array([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });
});

describe('blocked Cholesky', () => {
  // Float32 products: entries agree with the float64 factors to about
  // 1e-7 × the condition number of these matrices (below 1e3).
  const tolerance = 1e-4;

  for (const [n, blockSize] of [[40, 8], [45, 8], [37, 16]] as const) {
    it(`matches the float64 U, n = ${n}, block ${blockSize}`, () => {
      const A = randomSpd(n, 11);
      const copy = A.slice();
      const expected = upperCholeskyOfInverse(A, n);
      const before = tf.memory().numTensors;
      const U = runToEnd(blockedUpperCholeskyOfInverseSteps(tf, A, n, blockSize));
      expect(tf.memory().numTensors).toBe(before);
      expect(A).toEqual(copy);

      let scale = 0;
      for (const value of expected) scale = Math.max(scale, Math.abs(value));
      let maxDifference = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < i; j++) expect(U[i * n + j]).toBe(0);
        for (let j = i; j < n; j++) maxDifference = Math.max(maxDifference, Math.abs(U[i * n + j] - expected[i * n + j]));
      }
      expect(maxDifference / scale).toBeLessThan(tolerance);
    });
  }

  it('factors A = L Lᵀ with a zero upper triangle', () => {
    const n = 50;
    const A = randomSpd(n, 12);
    const L = A.slice();
    runToEnd(blockedCholeskySteps(tf, L, n, 16));
    let scale = 0;
    let maxError = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (j > i) expect(L[i * n + j]).toBe(0);
        let sum = 0;
        for (let k = 0; k <= Math.min(i, j); k++) sum += L[i * n + k] * L[j * n + k];
        scale = Math.max(scale, Math.abs(A[i * n + j]));
        maxError = Math.max(maxError, Math.abs(sum - A[i * n + j]));
      }
    }
    expect(maxError / scale).toBeLessThan(tolerance);
  });

  it('runs the float64 code below two blocks', () => {
    const n = 15;
    const A = randomSpd(n, 13);
    expect(runToEnd(blockedUpperCholeskyOfInverseSteps(tf, A, n, 8))).toEqual(upperCholeskyOfInverse(A, n));
  });

  it('leaks no tensor when abandoned', () => {
    const n = 60;
    const A = randomSpd(n, 15);
    const before = tf.memory().numTensors;
    for (const stop of [3, 12, 25]) {
      const steps = blockedUpperCholeskyOfInverseSteps(tf, A, n, 8);
      for (let step = 0; step < stop; step++) expect(steps.next().done).toBe(false);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('rejects an indefinite matrix in a later block', () => {
    const n = 40;
    const A = randomSpd(n, 14);
    A[35 * n + 35] = -1;
    const before = tf.memory().numTensors;
    expect(() => runToEnd(blockedUpperCholeskyOfInverseSteps(tf, A, n, 8))).toThrow(/not positive definite.*row 4\b/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('relativeError', () => {
  it('matches the direct trace formula', () => {
    const rows = 5;
    const cols = 7;
    const H = randomSpd(cols, 4);
    const next = random(5);
    const W = Float32Array.from({ length: rows * cols }, () => next() - 0.5);
    const What = W.map((value, t) => (t % 3 === 0 ? 0 : value * 0.9));

    let error = 0;
    let dense = 0;
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < cols; i++) {
        for (let j = 0; j < cols; j++) {
          const h = H[i * cols + j];
          error += (W[r * cols + i] - What[r * cols + i]) * h * (W[r * cols + j] - What[r * cols + j]);
          dense += W[r * cols + i] * h * W[r * cols + j];
        }
      }
    }
    expect(relativeError(W, What, H, rows, cols)).toBeCloseTo(error / dense, 12);
  });

  it('is 0 for an unchanged matrix', () => {
    const H = randomSpd(4, 6);
    const W = new Float32Array([1, -2, 3, 0.5, 0.25, 1, -1, 2]);
    expect(relativeError(W, W, H, 2, 4)).toBe(0);
  });

  it('rejects mismatched sizes', () => {
    expect(() => relativeError(new Float32Array(6), new Float32Array(6), new Float32Array(4), 2, 3)).toThrow(/expected W/);
  });
});

describe('relativeErrorWithMatMul', () => {
  const rows = 6;
  const cols = 20;
  const H = randomSpd(cols, 21);
  const next = random(22);
  const W = Float32Array.from({ length: rows * cols }, () => next() - 0.5);
  const What = W.map((value, t) => (t % 3 === 0 ? 0 : value));

  it('matches the float64 form', () => {
    const before = tf.memory().numTensors;
    const error = relativeErrorWithMatMul(tf, W, What, H, rows, cols, 0);
    expect(tf.memory().numTensors).toBe(before);
    const expected = relativeError(W, What, H, rows, cols);
    expect(Math.abs(error - expected) / expected).toBeLessThan(1e-5);
  });

  it('runs float64 below the threshold', () => {
    expect(relativeErrorWithMatMul(tf, W, What, H, rows, cols)).toBe(relativeError(W, What, H, rows, cols));
  });

  it('is 0 for an unchanged matrix', () => {
    expect(relativeErrorWithMatMul(tf, W, W, H, rows, cols, 0)).toBe(0);
  });

  it('rejects mismatched sizes', () => {
    expect(() => relativeErrorWithMatMul(tf, W, What, new Float32Array(4), rows, cols, 0)).toThrow(/expected W/);
  });
});

describe('multiplyInSlices', () => {
  it('matches one product when sliced', async () => {
    const next = random(9);
    const left = Float32Array.from({ length: 7 * 5 }, () => next() - 0.5);
    const right = toTensor(tf, Float32Array.from({ length: 5 * 3 }, () => next() - 0.5), 5, 3);
    const whole = multiply(tf, left, 7, 5, right);
    // 15 multiply-adds per row and 40 per slice: slices of 2 rows.
    const sliced = await multiplyInSlices(tf, left, 7, 5, right, undefined, undefined, 40);
    const doubled = await multiplyInSlices(tf, left, 7, 5, right, undefined, (slice) => slice.map((value) => 2 * value), 40);
    right.dispose();
    expect(Array.from(sliced)).toEqual(Array.from(whole));
    expect(Array.from(doubled)).toEqual(Array.from(whole).map((value) => 2 * value));
  });

  it('throws CancelledError between slices once aborted', async () => {
    const right = toTensor(tf, new Float32Array(4).fill(1), 2, 2);
    const controller = new AbortController();
    controller.abort();
    const before = tf.memory().numTensors;
    await expect(multiplyInSlices(tf, new Float32Array(8), 4, 2, right, controller.signal, undefined, 4)).rejects.toBeInstanceOf(
      CancelledError,
    );
    expect(tf.memory().numTensors).toBe(before);
    right.dispose();
  });
});
