/**
 * The layer reconstruction error used everywhere in the engine: a float64
 * form for small layers and tests, and a form whose O(rows·cols²) product
 * runs as one float32 tfjs matMul for large layers.
 */
import { multiply, toTensor, type Tf } from './tensor.js';

/**
 * Minimum rows·cols² at which {@link relativeErrorWithMatMul} uses the
 * float32 product. Below it the float64 loop takes about 0.2 s or less, an
 * estimate from 4.5e8 multiply-adds that took 0.74 s on one x86 server core.
 */
export const RELATIVE_ERROR_MATMUL_MIN = 1e8;

/**
 * Returns tr((W − Ŵ) H (W − Ŵ)ᵀ) / tr(W H Wᵀ), that is
 * ||X Wᵀ − X Ŵᵀ||² / ||X Wᵀ||² for H = XᵀX. W, Ŵ: [rows, cols]; H:
 * [cols, cols], symmetric (only its lower triangle is read). Returns 0 when
 * tr(W H Wᵀ) is 0 (nothing to reconstruct).
 */
export function relativeError(
  W: Float32Array | Float64Array,
  What: Float32Array | Float64Array,
  H: Float32Array | Float64Array,
  rows: number,
  cols: number,
): number {
  if (W.length !== rows * cols || What.length !== rows * cols || H.length !== cols * cols) {
    throw new RangeError(
      `relativeError: expected W and Ŵ of ${rows}×${cols} and H of ${cols}×${cols}, got ${W.length}, ${What.length} and ${H.length} entries.`,
    );
  }
  const h = H instanceof Float64Array ? H : Float64Array.from(H);

  let errorSum = 0;
  let denseSum = 0;
  // Rows go four at a time, each as its error e = w − ŵ and its weight w, so
  // one load of H serves eight vectors and eight independent sums; then
  // x H xᵀ = Σ_i x_i (H_ii x_i + 2 Σ_{j<i} H_ij x_j).
  const e0 = new Float64Array(cols);
  const e1 = new Float64Array(cols);
  const e2 = new Float64Array(cols);
  const e3 = new Float64Array(cols);
  const w0 = new Float64Array(cols);
  const w1 = new Float64Array(cols);
  const w2 = new Float64Array(cols);
  const w3 = new Float64Array(cols);
  const errors = [e0, e1, e2, e3];
  const weights = [w0, w1, w2, w3];
  for (let r = 0; r < rows; r += 4) {
    for (let q = 0; q < 4; q++) {
      const row = r + q;
      for (let j = 0; j < cols; j++) {
        const w = row < rows ? W[row * cols + j] : 0;
        weights[q][j] = w;
        errors[q][j] = row < rows ? w - What[row * cols + j] : 0;
      }
    }

    for (let i = 0; i < cols; i++) {
      const rowOffset = i * cols;
      let se0 = 0;
      let se1 = 0;
      let se2 = 0;
      let se3 = 0;
      let sw0 = 0;
      let sw1 = 0;
      let sw2 = 0;
      let sw3 = 0;
      for (let j = 0; j < i; j++) {
        const value = h[rowOffset + j];
        se0 += value * e0[j];
        se1 += value * e1[j];
        se2 += value * e2[j];
        se3 += value * e3[j];
        sw0 += value * w0[j];
        sw1 += value * w1[j];
        sw2 += value * w2[j];
        sw3 += value * w3[j];
      }
      const d = h[rowOffset + i];
      errorSum +=
        e0[i] * (2 * se0 + d * e0[i]) + e1[i] * (2 * se1 + d * e1[i]) + e2[i] * (2 * se2 + d * e2[i]) + e3[i] * (2 * se3 + d * e3[i]);
      denseSum +=
        w0[i] * (2 * sw0 + d * w0[i]) + w1[i] * (2 * sw1 + d * w1[i]) + w2[i] * (2 * sw2 + d * w2[i]) + w3[i] * (2 * sw3 + d * w3[i]);
    }
  }
  return denseSum > 0 ? errorSum / denseSum : 0;
}

/**
 * Returns the same ratio as {@link relativeError}. When rows·cols² is at
 * least {@link RELATIVE_ERROR_MATMUL_MIN}, the products D H for D = W − Ŵ
 * and W H are one float32 matMul on `tf` (D rounded to float32, float32
 * accumulation). D itself and the sums Σ D ⊙ (D H) and Σ W ⊙ (W H) are
 * float64. This form reads all of H, not only its lower triangle.
 * On synthetic layers of 768 and 3072 inputs the ratio moved by
 * at most 1.2e-8 relative to the float64 form. Smaller problems run in
 * float64. `minMultiplyAdds` overrides the threshold (tests).
 */
export function relativeErrorWithMatMul(
  tf: Tf,
  W: Float32Array | Float64Array,
  What: Float32Array | Float64Array,
  H: Float32Array | Float64Array,
  rows: number,
  cols: number,
  minMultiplyAdds = RELATIVE_ERROR_MATMUL_MIN,
): number {
  if (rows * cols * cols < minMultiplyAdds) return relativeError(W, What, H, rows, cols);
  if (W.length !== rows * cols || What.length !== rows * cols || H.length !== cols * cols) {
    throw new RangeError(
      `relativeErrorWithMatMul: expected W and Ŵ of ${rows}×${cols} and H of ${cols}×${cols}, got ${W.length}, ${What.length} and ${H.length} entries.`,
    );
  }

  // Rows 0..rows−1 of `left` are D, rows rows..2·rows−1 are W.
  const difference = new Float64Array(rows * cols);
  const left = new Float32Array(2 * rows * cols);
  for (let t = 0; t < rows * cols; t++) {
    difference[t] = W[t] - What[t];
    left[t] = difference[t];
    left[rows * cols + t] = W[t];
  }
  const hTensor = toTensor(tf, H, cols, cols);
  let product: Float32Array;
  try {
    product = multiply(tf, left, 2 * rows, cols, hTensor);
  } finally {
    hTensor.dispose();
  }

  let errorSum = 0;
  let denseSum = 0;
  for (let t = 0; t < rows * cols; t++) {
    errorSum += difference[t] * product[t];
    denseSum += W[t] * product[rows * cols + t];
  }
  return denseSum > 0 ? errorSum / denseSum : 0;
}
