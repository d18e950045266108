/**
 * Cholesky factorization and the upper Cholesky factor of an inverse, in
 * float64 with row-major storage.
 */

/**
 * Overwrites the lower triangle of `A` [n, n] with L, where A = L Lᵀ, and
 * zeroes the strict upper triangle. Throws when A is not positive definite.
 */
export function choleskyInPlace(A: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * n;
      let s0 = 0;
      let s1 = 0;
      let k = 0;
      for (; k + 1 < j; k += 2) {
        s0 += A[rowI + k] * A[rowJ + k];
        s1 += A[rowI + k + 1] * A[rowJ + k + 1];
      }
      if (k < j) s0 += A[rowI + k] * A[rowJ + k];
      const value = A[rowI + j] - s0 - s1;
      if (i === j) {
        if (!(value > 0)) {
          throw new RangeError(`Matrix is not positive definite: Cholesky pivot ${value} at row ${i}.`);
        }
        A[rowI + i] = Math.sqrt(value);
      } else {
        A[rowI + j] = value / A[rowJ + j];
      }
    }
    A.fill(0, rowI + i + 1, rowI + n);
  }
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
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) reversed[i * n + j] = A[(n - 1 - i) * n + (n - 1 - j)];
  }
  choleskyInPlace(reversed, n);
  const L = reversed;

  // Row i of X = L⁻¹ solves x L = e_i, that is Lᵀ xᵀ = e_i, by back
  // substitution; each step is an axpy along a row of L.
  const U = new Float64Array(n * n);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x.fill(0, 0, i + 1);
    for (let k = i; k >= 0; k--) {
      const rowK = k * n;
      const value = ((k === i ? 1 : 0) - x[k]) / L[rowK + k];
      x[k] = value;
      for (let m = 0; m < k; m++) x[m] += value * L[rowK + m];
    }
    // U[n-1-i][n-1-m] = X[i][m] for m <= i.
    const rowU = (n - 1 - i) * n;
    for (let m = 0; m <= i; m++) U[rowU + (n - 1 - m)] = x[m];
  }
  return U;
}
