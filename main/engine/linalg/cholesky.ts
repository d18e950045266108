/**
 * Cholesky factorization and the upper Cholesky factor of an inverse, in
 * float64 with row-major storage.
 */
import { runToEnd } from './steps.js';

/**
 * Overwrites the lower triangle of `A` [n, n] with L, where A = L Lᵀ, and
 * zeroes the strict upper triangle. Throws when A is not positive definite.
 * Rows are computed in pairs, so each row L_j read for the dot products
 * serves two rows.
 */
export function choleskyInPlace(A: Float64Array, n: number): void {
  runToEnd(choleskySteps(A, n));
}

/** Step-wise form of {@link choleskyInPlace}: yields after each pair of rows. */
export function* choleskySteps(A: Float64Array, n: number): Generator<void, void> {
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const row0 = i * n;
    const row1 = row0 + n;
    for (let j = 0; j < i; j++) {
      const rowJ = j * n;
      let sum0 = 0;
      let sum1 = 0;
      for (let k = 0; k < j; k++) {
        const l = A[rowJ + k];
        sum0 += A[row0 + k] * l;
        sum1 += A[row1 + k] * l;
      }
      const pivot = A[rowJ + j];
      A[row0 + j] = (A[row0 + j] - sum0) / pivot;
      A[row1 + j] = (A[row1 + j] - sum1) / pivot;
    }
    const diagonal0 = Math.sqrt(checkedPivot(A[row0 + i] - dot(A, row0, row0, i), i));
    A[row0 + i] = diagonal0;
    A[row1 + i] = (A[row1 + i] - dot(A, row1, row0, i)) / diagonal0;
    A[row1 + i + 1] = Math.sqrt(checkedPivot(A[row1 + i + 1] - dot(A, row1, row1, i + 1), i + 1));
    A.fill(0, row0 + i + 1, row0 + n);
    A.fill(0, row1 + i + 2, row1 + n);
    yield;
  }
  if (i < n) {
    const row = i * n;
    for (let j = 0; j < i; j++) A[row + j] = (A[row + j] - dot(A, row, j * n, j)) / A[j * n + j];
    A[row + i] = Math.sqrt(checkedPivot(A[row + i] - dot(A, row, row, i), i));
  }
}

/** Σ_{k<length} A[a + k]·A[b + k]. */
function dot(A: Float64Array, a: number, b: number, length: number): number {
  let sum = 0;
  for (let k = 0; k < length; k++) sum += A[a + k] * A[b + k];
  return sum;
}

function checkedPivot(value: number, row: number): number {
  if (!(value > 0)) {
    throw new RangeError(`Matrix is not positive definite: Cholesky pivot ${value} at row ${row}.`);
  }
  return value;
}

/**
 * Returns U [n, n], upper triangular with a positive diagonal, such that
 * A⁻¹ = Uᵀ U, for a symmetric positive definite `A` (not modified).
 *
 * With J the index reversal, J A J = L Lᵀ gives A⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J),
 * and J L⁻¹ J is upper triangular, so one Cholesky factorization and one
 * triangular inverse suffice (no explicit A⁻¹).
 */
export function upperCholeskyOfInverse(A: Float64Array, n: number): Float64Array {
  return runToEnd(upperCholeskyOfInverseSteps(A, n));
}

/** Step-wise form of {@link upperCholeskyOfInverse}: yields after each row. */
export function* upperCholeskyOfInverseSteps(A: Float64Array, n: number): Generator<void, Float64Array> {
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) reversed[i * n + j] = A[(n - 1 - i) * n + (n - 1 - j)];
  }
  yield* choleskySteps(reversed, n);
  const L = reversed;

  // Row i of X = L⁻¹ solves x L = e_i, that is Lᵀ xᵀ = e_i, by back
  // substitution in which each step is an axpy along a row of L. Rows i and
  // i + 1 run together so each row of L read serves both.
  const U = new Float64Array(n * n);
  const x0 = new Float64Array(n);
  const x1 = new Float64Array(n);
  const storeRow = (x: Float64Array, i: number): void => {
    // U[n-1-i][n-1-m] = X[i][m] for m <= i.
    const rowU = (n - 1 - i) * n;
    for (let m = 0; m <= i; m++) U[rowU + (n - 1 - m)] = x[m];
  };

  let i = 0;
  for (; i + 1 < n; i += 2) {
    x0.fill(0, 0, i + 1);
    x1.fill(0, 0, i + 2);
    const rowLast = (i + 1) * n;
    const last = 1 / L[rowLast + i + 1];
    x1[i + 1] = last;
    for (let m = 0; m <= i; m++) x1[m] += last * L[rowLast + m];

    for (let k = i; k >= 0; k--) {
      const rowK = k * n;
      const pivot = L[rowK + k];
      const value0 = ((k === i ? 1 : 0) - x0[k]) / pivot;
      const value1 = -x1[k] / pivot;
      x0[k] = value0;
      x1[k] = value1;
      for (let m = 0; m < k; m++) {
        const l = L[rowK + m];
        x0[m] += value0 * l;
        x1[m] += value1 * l;
      }
    }
    storeRow(x0, i);
    storeRow(x1, i + 1);
    yield;
  }
  if (i < n) {
    x0.fill(0, 0, i + 1);
    for (let k = i; k >= 0; k--) {
      const rowK = k * n;
      const value = ((k === i ? 1 : 0) - x0[k]) / L[rowK + k];
      x0[k] = value;
      for (let m = 0; m < k; m++) x0[m] += value * L[rowK + m];
    }
    storeRow(x0, i);
  }
  return U;
}
