/**
 * Float32 matrix products on whichever TensorFlow.js backend is active. The
 * solvers keep their state in typed arrays and call tfjs only for products,
 * so every temporary tensor is created and disposed here.
 */
import type * as tfCore from '@tensorflow/tfjs-core';
import { checkCancelled } from './steps.js';

export type Tf = typeof tfCore;
export type Tensor2D = tfCore.Tensor2D;

/** Uploads `values` [rows, cols] as a float32 tensor that the caller must dispose. */
export function toTensor(tf: Tf, values: Float32Array | Float64Array, rows: number, cols: number): Tensor2D {
  const data = values instanceof Float32Array ? values : new Float32Array(values);
  return tf.tensor2d(data, [rows, cols], 'float32');
}

/**
 * Returns left · right as a new Float32Array, for `left` [rows, inner] given
 * as a typed array. There is deliberately no transpose flag: on the wasm
 * backend (tfjs 4.22) a product with a transposed operand ran about 14 times
 * slower than the plain one, so callers keep transposed copies instead.
 */
export function multiply(
  tf: Tf,
  left: Float32Array,
  rows: number,
  inner: number,
  right: Tensor2D,
): Float32Array {
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(left, [rows, inner], 'float32'), right));
  try {
    return readOwned(tf, product);
  } finally {
    product.dispose();
  }
}

/**
 * Backends whose readSync returns a fresh copy, which the caller may keep:
 * wasm (tfjs 4.22) copies out of its heap, while cpu returns its own buffer.
 */
const COPYING_BACKENDS = new Set(['wasm']);

function readOwned(tf: Tf, tensor: tfCore.Tensor): Float32Array {
  const values = tensor.dataSync() as Float32Array;
  return COPYING_BACKENDS.has(tf.getBackend()) ? values : values.slice();
}

/**
 * Multiply-adds per slice in {@link multiplyInSlices}, the work between two
 * cancellation checks: an estimate of 0.4 s at 15 GFLOP/s and 0.75 s at
 * 8 GFLOP/s, the wasm rates on one 2.4 GHz EPYC core when idle and when shared.
 * Slices serve cancellation only, because the wasm matMul ran slices of 106
 * and 768 rows of a [768, 3072] product at the same rate.
 */
export const SLICE_MULTIPLY_ADDS = 3e9;

/**
 * Returns left · right like {@link multiply}, computed in slices of rows with
 * a cancellation check between slices, so an abort takes effect during a
 * large product. `transformSlice`, when given, post-processes each slice's
 * result rows in place before they are stored (rows are independent).
 */
export async function multiplyInSlices(
  tf: Tf,
  left: Float32Array,
  rows: number,
  inner: number,
  right: Tensor2D,
  signal: AbortSignal | undefined,
  transformSlice?: (slice: Float32Array, sliceRows: number) => Float32Array,
  sliceMultiplyAdds = SLICE_MULTIPLY_ADDS,
): Promise<Float32Array> {
  const cols = right.shape[1];
  const sliceRows = Math.max(1, Math.floor(sliceMultiplyAdds / (inner * cols)));
  if (sliceRows >= rows) {
    const product = multiply(tf, left, rows, inner, right);
    return transformSlice ? transformSlice(product, rows) : product;
  }
  const result = new Float32Array(rows * cols);
  for (let start = 0; start < rows; start += sliceRows) {
    await checkCancelled(signal);
    const end = Math.min(rows, start + sliceRows);
    const slice = left.subarray(start * inner, end * inner);
    if (transformSlice) {
      result.set(transformSlice(multiply(tf, slice, end - start, inner, right), end - start), start * cols);
    } else {
      // Copy the product straight into the result, with no intermediate copy on any backend.
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(slice, [end - start, inner], 'float32'), right));
      try {
        result.set(product.dataSync() as Float32Array, start * cols);
      } finally {
        product.dispose();
      }
    }
  }
  return result;
}
