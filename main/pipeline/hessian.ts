/**
 * Accumulation of H = XᵀX [cols, cols] over calibration tokens, in float64.
 *
 * X arrives in chunks [tokens, cols] (row-major float32) from the block
 * forward. Each chunk adds its outer products to the upper triangle; `finish`
 * mirrors it to the lower one. The sum runs over tokens in the order the
 * chunks arrive, so the same inputs in the same order give the same bits.
 */
import { CancelledError } from '../engine/types.js';
import { PIPELINE_DEFAULTS } from './defaults.js';

export class HessianAccumulator {
  /** H [cols, cols], row-major; only the upper triangle is valid before `finish`. */
  readonly H: Float64Array;
  tokens = 0;

  constructor(readonly cols: number) {
    this.H = new Float64Array(cols * cols);
  }

  /** Adds XᵀX of `x` [tokens, cols]; throws CancelledError soon after `signal` aborts. */
  add(x: Float32Array, tokens: number, signal?: AbortSignal): void {
    const { cols, H } = this;
    if (x.length !== tokens * cols) {
      throw new Error(`Input of ${x.length} values does not match ${tokens} tokens × ${cols} features.`);
    }
    const row = new Float64Array(cols);
    for (let t = 0; t < tokens; t++) {
      if (t % PIPELINE_DEFAULTS.cancellationCheckTokens === 0 && signal?.aborted) throw new CancelledError('The run was cancelled.');
      for (let j = 0; j < cols; j++) row[j] = x[t * cols + j]!;
      for (let i = 0; i < cols; i++) {
        const xi = row[i]!;
        if (xi === 0) continue;
        const base = i * cols;
        for (let j = i; j < cols; j++) H[base + j] += xi * row[j]!;
      }
    }
    this.tokens += tokens;
  }

  /** Copies the upper triangle to the lower one and returns H. */
  finish(): Float64Array {
    const { cols, H } = this;
    for (let i = 0; i < cols; i++) {
      for (let j = i + 1; j < cols; j++) H[j * cols + i] = H[i * cols + j]!;
    }
    return H;
  }
}
