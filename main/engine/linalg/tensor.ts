/**
 * Float32 matrix products on whichever TensorFlow.js backend is active. The
 * solvers keep their state in typed arrays and call tfjs only for products,
 * so every temporary tensor is created and disposed here.
 */
import type * as tfCore from '@tensorflow/tfjs-core';

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
    // Copy, because some backends hand out their internal buffer.
    return (product.dataSync() as Float32Array).slice();
  } finally {
    product.dispose();
  }
}
