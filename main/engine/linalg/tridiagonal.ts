/**
 * Householder tridiagonalization of a symmetric matrix, A = Q T Qᵀ, in
 * float64, and the LDLᵀ solve of the shifted tridiagonal system (T + σI).
 *
 * Symbols: A [n, n] symmetric, row-major; T tridiagonal with `diagonal` [n]
 * and `offDiagonal` [n - 1] (T[k + 1][k]); Q = H_0 H_1 ⋯ H_{n-3} with
 * H_k = I − τ_k v_k v_kᵀ, where v_k is zero before index k + 1 and
 * v_k[k + 1] = 1 (the layout of LAPACK's dsytrd with the lower triangle).
 */

import { runToEnd } from './steps.js';

export interface Tridiagonalization {
  n: number;
  diagonal: Float64Array;
  offDiagonal: Float64Array;
  /** τ_k of each reflector; zero when column k needed no reflection. */
  tau: Float64Array;
  /** [n, n] row-major: row k holds v_k at columns k + 1 .. n − 1 (other entries are scratch). */
  reflectors: Float64Array;
}

/**
 * Reduces the symmetric matrix `A` [n, n] to tridiagonal form. Reads only the
 * lower triangle, and overwrites `A`, which becomes the `reflectors` storage.
 *
 * Each step makes one pass over the trailing lower triangle that both applies
 * the previous rank-2 update A −= v wᵀ + w vᵀ and accumulates the next
 * product A v, so the O(n³) work streams the matrix once per step, along rows.
 */
export function tridiagonalize(A: Float64Array, n: number): Tridiagonalization {
  return runToEnd(tridiagonalizeSteps(A, n));
}

/** Step-wise form of {@link tridiagonalize}: yields after each reflector so a caller can check for cancellation. */
export function* tridiagonalizeSteps(A: Float64Array, n: number): Generator<void, Tridiagonalization> {
  if (A.length !== n * n) {
    throw new RangeError(`Matrix has ${A.length} entries, expected ${n}×${n}.`);
  }
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(Math.max(n - 1, 0));
  const tau = new Float64Array(n);
  if (n <= 2) {
    for (let i = 0; i < n; i++) diagonal[i] = A[i * n + i];
    if (n === 2) {
      offDiagonal[0] = A[n];
      A[1] = 1;
    }
    return { n, diagonal, offDiagonal, tau, reflectors: A };
  }

  const p = new Float64Array(n);
  const w = new Float64Array(n);
  makeReflector(A, n, 0, tau, offDiagonal);
  multiplyLowerTriangle(A, n, 1, p);

  for (let k = 0; k <= n - 3; k++) {
    const vOffset = k * n;
    const start = k + 1;

    // w = τ A v − (τ² / 2)(vᵀ A v) v, so that H A H = A − v wᵀ − w vᵀ.
    const t = tau[k];
    if (t !== 0) {
      let pv = 0;
      for (let i = start; i < n; i++) {
        p[i] *= t;
        pv += p[i] * A[vOffset + i];
      }
      const alpha = -0.5 * t * pv;
      for (let i = start; i < n; i++) w[i] = p[i] + alpha * A[vOffset + i];
    } else {
      w.fill(0, start, n);
    }

    // Column k + 1 (diagonal included) first, because the next reflector is built from it.
    const vNext = A[vOffset + start];
    const wNext = w[start];
    for (let i = start; i < n; i++) {
      A[i * n + start] -= A[vOffset + i] * wNext + w[i] * vNext;
    }

    if (k + 1 <= n - 3) {
      makeReflector(A, n, k + 1, tau, offDiagonal);
      updateAndMultiply(A, n, k, w, p);
    } else {
      updateAndMultiply(A, n, k, w, null);
    }
    yield;
  }

  for (let i = 0; i < n; i++) diagonal[i] = A[i * n + i];
  offDiagonal[n - 2] = A[(n - 1) * n + (n - 2)];
  // The last reflector slot is the identity; mark it so formQ can read rows uniformly.
  A[(n - 2) * n + (n - 1)] = 1;
  return { n, diagonal, offDiagonal, tau, reflectors: A };
}

/**
 * Builds reflector k from column k below the diagonal, stores v_k in row k
 * (columns k + 1 ..), τ_k in `tau` and β (the new T[k + 1][k]) in `offDiagonal`.
 */
function makeReflector(A: Float64Array, n: number, k: number, tau: Float64Array, offDiagonal: Float64Array): void {
  const row = k * n;
  const alpha = A[(k + 1) * n + k];
  let tailSquared = 0;
  for (let i = k + 2; i < n; i++) {
    const x = A[i * n + k];
    tailSquared += x * x;
  }
  A[row + k + 1] = 1;
  if (tailSquared === 0) {
    tau[k] = 0;
    offDiagonal[k] = alpha;
    for (let i = k + 2; i < n; i++) A[row + i] = 0;
    return;
  }
  const norm = Math.sqrt(alpha * alpha + tailSquared);
  const beta = alpha >= 0 ? -norm : norm;
  tau[k] = (beta - alpha) / beta;
  offDiagonal[k] = beta;
  const scale = 1 / (alpha - beta);
  for (let i = k + 2; i < n; i++) A[row + i] = A[i * n + k] * scale;
}

/** p = A[start:, start:] v_{start−1}, reading the lower triangle only. */
function multiplyLowerTriangle(A: Float64Array, n: number, start: number, p: Float64Array): void {
  const vOffset = (start - 1) * n;
  p.fill(0, start, n);
  for (let i = start; i < n; i++) {
    const rowOffset = i * n;
    const vi = A[vOffset + i];
    let sum = 0;
    for (let j = start; j < i; j++) {
      const a = A[rowOffset + j];
      sum += a * A[vOffset + j];
      p[j] += a * vi;
    }
    p[i] += sum + A[rowOffset + i] * vi;
  }
}

/**
 * Applies A −= v_k wᵀ + w v_kᵀ to the lower triangle of rows and columns
 * k + 2 .., and, when `p` is given, sets p = A_new v_{k+1} over the same range.
 */
function updateAndMultiply(A: Float64Array, n: number, k: number, w: Float64Array, p: Float64Array | null): void {
  const start = k + 2;
  const v = k * n;
  if (p === null) {
    for (let i = start; i < n; i++) {
      const rowOffset = i * n;
      const vi = A[v + i];
      const wi = w[i];
      for (let j = start; j <= i; j++) A[rowOffset + j] -= vi * w[j] + wi * A[v + j];
    }
    return;
  }

  const vNext = (k + 1) * n;
  p.fill(0, start, n);
  for (let i = start; i < n; i++) {
    const rowOffset = i * n;
    const vi = A[v + i];
    const wi = w[i];
    const uNexti = A[vNext + i];
    let sum = 0;
    for (let j = start; j < i; j++) {
      const a = A[rowOffset + j] - vi * w[j] - wi * A[v + j];
      A[rowOffset + j] = a;
      sum += a * A[vNext + j];
      p[j] += a * uNexti;
    }
    const diagonal = A[rowOffset + i] - 2 * vi * wi;
    A[rowOffset + i] = diagonal;
    p[i] += sum + diagonal * uNexti;
  }
}

/**
 * Forms Q [n, n] (row-major float64) from the reflectors by backward
 * accumulation: Q = H_0 (H_1 (⋯ H_{n-3})), each step touching only the
 * trailing block that the reflector acts on.
 */
export function formQ(factor: Tridiagonalization): Float64Array {
  return runToEnd(formQSteps(factor));
}

/** Step-wise form of {@link formQ}: yields after each reflector. */
export function* formQSteps(factor: Tridiagonalization): Generator<void, Float64Array> {
  const { n, tau, reflectors } = factor;
  const Q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  const w = new Float64Array(n);

  for (let k = n - 3; k >= 0; k--) {
    const t = tau[k];
    if (t === 0) continue;
    const start = k + 1;
    const v = k * n;

    // w = τ Q_subᵀ v, accumulated row by row so both loops run along rows.
    w.fill(0, start, n);
    for (let i = start; i < n; i++) {
      const vi = reflectors[v + i];
      if (vi === 0) continue;
      const rowOffset = i * n;
      for (let j = start; j < n; j++) w[j] += vi * Q[rowOffset + j];
    }
    for (let j = start; j < n; j++) w[j] *= t;

    for (let i = start; i < n; i++) {
      const vi = reflectors[v + i];
      if (vi === 0) continue;
      const rowOffset = i * n;
      for (let j = start; j < n; j++) Q[rowOffset + j] -= vi * w[j];
    }
    yield;
  }
  return Q;
}

/** LDLᵀ factors of the shifted tridiagonal matrix T + σI, which must be positive definite. */
export interface ShiftedTridiagonalFactor {
  n: number;
  /** D of LDLᵀ [n]. */
  pivots: Float64Array;
  /** Sub-diagonal of the unit lower bidiagonal L [n - 1]. */
  lower: Float64Array;
}

/** Factors T + σI = L D Lᵀ in O(n). Throws when a pivot is not positive. */
export function factorShiftedTridiagonal(factor: Tridiagonalization, shift: number): ShiftedTridiagonalFactor {
  const { n, diagonal, offDiagonal } = factor;
  const pivots = new Float64Array(n);
  const lower = new Float64Array(Math.max(n - 1, 0));
  let pivot = diagonal[0] + shift;
  for (let i = 0; i < n; i++) {
    if (!(pivot > 0)) {
      throw new RangeError(`T + ${shift}·I is not positive definite (pivot ${pivot} at row ${i}).`);
    }
    pivots[i] = pivot;
    if (i < n - 1) {
      const l = offDiagonal[i] / pivot;
      lower[i] = l;
      pivot = diagonal[i + 1] + shift - l * offDiagonal[i];
    }
  }
  return { n, pivots, lower };
}

/**
 * Replaces each of the `rows` rows x of `X` [rows, n] (row-major) by
 * (T + σI)⁻¹ x. Arithmetic is float64 whatever the storage type of `X`.
 */
export function solveShiftedTridiagonalRows(
  factor: ShiftedTridiagonalFactor,
  X: Float32Array | Float64Array,
  rows: number,
): void {
  const { n, pivots, lower } = factor;
  const y = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const offset = r * n;
    // Forward: L y = x.
    let previous = X[offset];
    y[0] = previous;
    for (let i = 1; i < n; i++) {
      previous = X[offset + i] - lower[i - 1] * previous;
      y[i] = previous;
    }
    // Backward: Lᵀ x = D⁻¹ y.
    let next = y[n - 1] / pivots[n - 1];
    X[offset + n - 1] = next;
    for (let i = n - 2; i >= 0; i--) {
      next = y[i] / pivots[i] - lower[i] * next;
      X[offset + i] = next;
    }
  }
}
