/** Checks shared by the weight sources. */
import type { TensorRef } from './transformer.js';

/** Throws when `values` contains NaN or ±Infinity, naming the tensor and the first bad index. */
export function assertFinite(values: Float32Array, name: string, file: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new Error(
        `Tensor ${name} in ${file} contains ${values[i]} at flat index ${i}: the weights are corrupt or overflowed. Re-export or re-download the model.`,
      );
    }
  }
}

/** Throws when a stored shape differs from the one the config implies. */
export function assertShape(stored: readonly number[], ref: TensorRef, file: string, hint: string): void {
  const same = stored.length === ref.shape.length && stored.every((d, i) => d === ref.shape[i]);
  if (!same) {
    throw new Error(
      `Tensor ${ref.name} in ${file} has shape [${stored.join(', ')}] but the config implies [${ref.shape.join(', ')}]: ${hint}`,
    );
  }
}
