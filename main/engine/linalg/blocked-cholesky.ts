/**
 * Blocked forms of the factorizations in cholesky.ts for large matrices. The
 * O(n³) products (panels, trailing updates, off-diagonal blocks of L⁻¹) run
 * as float32 tfjs matMuls. The diagonal blocks are factored and inverted in
 * float64, and all results are stored row-major in float64.
 *
 * Each float32 product adds a rounding error of about 6e-8 times the product
 * of its operands' magnitudes, the order of a float32 LAPACK factorization.
 */
import { upperCholeskyOfInverseSteps } from './cholesky.js';
import type { Tf } from './tensor.js';

/** Columns per block; below twice this size the float64 code runs unchanged. */
export const CHOLESKY_BLOCK_SIZE = 256;

/**
 * Multiply-adds per product slice between yields: about 0.1 to 0.15 s at the
 * 7e9 to 1e10 multiply-adds per second that the tfjs 4.22 wasm backend
 * reached on one x86 server core (an estimate for other machines).
 */
const SLICE_MULTIPLY_ADDS = 1e9;

/**
 * Returns U [n, n], upper triangular with a positive diagonal, such that
 * A⁻¹ = Uᵀ U, like {@link upperCholeskyOfInverseSteps} (same index reversal,
 * so U = J L⁻¹ J for J A J = L Lᵀ), with the Cholesky panels and trailing
 * updates and the off-diagonal blocks of L⁻¹ computed as tfjs float32
 * products. `A` is not modified. Yields after each block and each product
 * slice. Throws RangeError when A is not positive definite.
 */
export function* blockedUpperCholeskyOfInverseSteps(
  tf: Tf,
  A: Float64Array,
  n: number,
  blockSize = CHOLESKY_BLOCK_SIZE,
): Generator<void, Float64Array> {
  if (n < 2 * blockSize) return yield* upperCholeskyOfInverseSteps(A, n);

  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) L[i * n + j] = A[(n - 1 - i) * n + (n - 1 - j)];
  }
  yield* blockedCholeskySteps(tf, L, n, blockSize);

  const X = new Float64Array(n * n);
  yield* invertLowerSteps(tf, L, X, n, 0, n, blockSize);

  // U[n-1-i][n-1-j] = X[i][j], stored over L, which is no longer needed.
  const U = L;
  U.fill(0);
  for (let i = 0; i < n; i++) {
    const rowX = i * n;
    const rowU = (n - 1 - i) * n + (n - 1);
    for (let j = 0; j <= i; j++) U[rowU - j] = X[rowX + j];
  }
  return U;
}

/**
 * Right-looking blocked Cholesky: overwrites the lower triangle of `A`
 * [n, n] with L (A = L Lᵀ) and zeroes the strict upper triangle. For each
 * block of columns k..e−1, the diagonal block is factored and inverted in
 * float64. Then float32 matMuls give the panel P = L[e:, k:e] =
 * A[e:, k:e] · L[k:e, k:e]⁻ᵀ and the lower triangle of the trailing update
 * A[e:, e:] −= P Pᵀ, with both transposes stored explicitly.
 */
export function* blockedCholeskySteps(
  tf: Tf,
  A: Float64Array,
  n: number,
  blockSize = CHOLESKY_BLOCK_SIZE,
): Generator<void, void> {
  const diagonal = new Float64Array(blockSize * blockSize);
  const inverse = new Float64Array(blockSize * blockSize);
  for (let k = 0; k < n; k += blockSize) {
    const e = Math.min(k + blockSize, n);
    const width = e - k;

    // Diagonal block (already updated by the earlier blocks).
    for (let i = 0; i < width; i++) {
      for (let j = 0; j <= i; j++) diagonal[i * width + j] = A[(k + i) * n + k + j];
    }
    choleskyBlock(diagonal, width, k);
    for (let i = 0; i < width; i++) {
      for (let j = 0; j <= i; j++) A[(k + i) * n + k + j] = diagonal[i * width + j];
    }
    yield;

    const rest = n - e;
    if (rest === 0) break;
    invertLowerBlock(diagonal, inverse, width);
    // inverseT = (L[k:e, k:e]⁻¹)ᵀ, upper triangular.
    const inverseT = new Float32Array(width * width);
    for (let i = 0; i < width; i++) {
      for (let j = 0; j <= i; j++) inverseT[j * width + i] = inverse[i * width + j];
    }
    const below = extract(A, n, e, k, rest, width);
    const panel = multiply(tf, below, rest, width, inverseT, width);
    const panelT = new Float32Array(width * rest);
    for (let i = 0; i < rest; i++) {
      const rowA = (e + i) * n + k;
      for (let t = 0; t < width; t++) {
        const value = panel[i * width + t];
        A[rowA + t] = value;
        panelT[t * rest + i] = value;
      }
    }

    // Only the lower triangle of the trailing matrix is read later, so each
    // slice of rows r0..r1−1 (two blocks) needs columns 0..r1−1 of P Pᵀ.
    // No tensor outlives a yield, so an abandoned generator leaks none.
    for (let r0 = 0; r0 < rest; r0 += 2 * blockSize) {
      const r1 = Math.min(r0 + 2 * blockSize, rest);
      const product = tf.tidy(() =>
        tf.matMul(
          tf.tensor2d(panel.subarray(r0 * width, r1 * width), [r1 - r0, width], 'float32'),
          tf.slice(tf.tensor2d(panelT, [width, rest], 'float32'), [0, 0], [width, r1]),
        ),
      );
      try {
        // Read before dispose, because some backends hand out their buffer.
        const update = product.dataSync() as Float32Array;
        for (let i = r0; i < r1; i++) {
          const rowA = (e + i) * n + e;
          const rowUpdate = (i - r0) * r1;
          for (let j = 0; j <= i; j++) A[rowA + j] -= update[rowUpdate + j];
        }
      } finally {
        product.dispose();
      }
      yield;
    }
  }
  for (let i = 0; i < n; i++) A.fill(0, i * n + i + 1, (i + 1) * n);
}

/**
 * Overwrites the lower triangle of the dense block `B` [size, size] with its
 * Cholesky factor, in float64. `offset` is the block's first row in the whole
 * matrix, for the error message.
 */
function choleskyBlock(B: Float64Array, size: number, offset: number): void {
  for (let i = 0; i < size; i++) {
    const rowI = i * size;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * size;
      let sum = B[rowI + j];
      for (let t = 0; t < j; t++) sum -= B[rowI + t] * B[rowJ + t];
      if (j < i) {
        B[rowI + j] = sum / B[rowJ + j];
      } else if (sum > 0) {
        B[rowI + i] = Math.sqrt(sum);
      } else {
        throw new RangeError(`Matrix is not positive definite: Cholesky pivot ${sum} at row ${offset + i}.`);
      }
    }
  }
}

/**
 * Writes the inverse of the lower triangular block `B` [size, size] into the
 * lower triangle of `X` by forward substitution, in float64: column j of X
 * solves B x = e_j.
 */
function invertLowerBlock(B: Float64Array, X: Float64Array, size: number): void {
  for (let j = 0; j < size; j++) {
    X[j * size + j] = 1 / B[j * size + j];
    for (let i = j + 1; i < size; i++) {
      const rowI = i * size;
      let sum = 0;
      for (let t = j; t < i; t++) sum += B[rowI + t] * X[t * size + j];
      X[rowI + j] = -sum / B[rowI + i];
    }
  }
}

/**
 * Writes X[s:e, s:e] = L[s:e, s:e]⁻¹ for lower triangular `L` [n, n], by
 * halves: with L = [L₁₁ 0; L₂₁ L₂₂], the inverse is
 * [X₁₁ 0; −X₂₂ L₂₁ X₁₁  X₂₂]. Blocks of at most `blockSize` rows are
 * inverted in float64 by forward substitution; the two products per split
 * are float32 matMuls.
 */
function* invertLowerSteps(
  tf: Tf,
  L: Float64Array,
  X: Float64Array,
  n: number,
  s: number,
  e: number,
  blockSize: number,
): Generator<void, void> {
  const size = e - s;
  if (size <= blockSize) {
    // Column j of X solves L x = e_j; entries above j are zero.
    for (let j = s; j < e; j++) {
      X[j * n + j] = 1 / L[j * n + j];
      for (let i = j + 1; i < e; i++) {
        const rowI = i * n;
        let sum = 0;
        for (let t = j; t < i; t++) sum += L[rowI + t] * X[t * n + j];
        X[rowI + j] = -sum / L[rowI + i];
      }
    }
    yield;
    return;
  }

  const mid = s + Math.ceil(size / 2 / blockSize) * blockSize;
  yield* invertLowerSteps(tf, L, X, n, s, mid, blockSize);
  yield* invertLowerSteps(tf, L, X, n, mid, e, blockSize);

  // X₂₁ = −X₂₂ T with T = L₂₁ X₁₁, both products in row slices.
  const first = mid - s;
  const second = e - mid;
  const x11 = extract(X, n, s, s, first, first);
  const t = yield* multiplySteps(tf, extract(L, n, mid, s, second, first), second, first, x11, first);
  const x21 = yield* multiplySteps(tf, extract(X, n, mid, mid, second, second), second, second, t, first);
  for (let i = 0; i < second; i++) {
    const rowX = (mid + i) * n + s;
    for (let j = 0; j < first; j++) X[rowX + j] = -x21[i * first + j];
  }
}

/**
 * Returns left [rows, inner] · right [inner, cols] as float32, in slices of
 * rows of about {@link SLICE_MULTIPLY_ADDS} each, yielding after each slice
 * so that a cancellation can take effect during a large product. No tensor
 * outlives a yield, so an abandoned generator leaks none.
 */
function* multiplySteps(
  tf: Tf,
  left: Float32Array,
  rows: number,
  inner: number,
  right: Float32Array,
  cols: number,
): Generator<void, Float32Array> {
  const sliceRows = Math.max(1, Math.floor(SLICE_MULTIPLY_ADDS / (inner * cols)));
  const result = new Float32Array(rows * cols);
  for (let start = 0; start < rows; start += sliceRows) {
    const end = Math.min(rows, start + sliceRows);
    result.set(multiply(tf, left.subarray(start * inner, end * inner), end - start, inner, right, cols), start * cols);
    yield;
  }
  return result;
}

/** Returns left [rows, inner] · right [inner, cols] as a new Float32Array. */
function multiply(tf: Tf, left: Float32Array, rows: number, inner: number, right: Float32Array, cols: number): Float32Array {
  const product = tf.tidy(() =>
    tf.matMul(tf.tensor2d(left, [rows, inner], 'float32'), tf.tensor2d(right, [inner, cols], 'float32')),
  );
  try {
    return (product.dataSync() as Float32Array).slice();
  } finally {
    product.dispose();
  }
}

/** Returns the block M[row0 : row0 + rows, col0 : col0 + cols] as float32, row-major. */
function extract(M: Float64Array, n: number, row0: number, col0: number, rows: number, cols: number): Float32Array {
  const block = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const source = (row0 + i) * n + col0;
    for (let j = 0; j < cols; j++) block[i * cols + j] = M[source + j];
  }
  return block;
}
