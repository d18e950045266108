/**
 * Wanda (locuslab/wanda `prune_wanda`): score |W_ij|·||X_j||₂ with
 * ||X_j||₂² = H_jj, compared within each output row. For a fraction s, the
 * floor(s·cols) lowest scores of each row are removed, lower columns first
 * among ties as a stable sort orders them. For N:M, the M − N lowest scores
 * of each group are removed.
 *
 * W: [rows = out, cols = in]; H: [cols, cols], only its diagonal is read.
 */
import type { Target } from '../types.js';
import { markSmallest, markSmallestInGroup } from '../linalg/select.js';

/** Returns a pruned copy of `W`. */
export function pruneWanda(
  W: Float32Array,
  rows: number,
  cols: number,
  H: Float32Array | Float64Array,
  target: Target,
): Float32Array {
  const total = rows * cols;
  const inputNorms = new Float64Array(cols);
  for (let j = 0; j < cols; j++) inputNorms[j] = Math.sqrt(Math.max(H[j * cols + j], 0));

  const scores = new Float64Array(total);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) scores[r * cols + j] = Math.abs(W[r * cols + j]) * inputNorms[j];
  }

  const removed = new Uint8Array(total);
  if (target.kind === 'fraction') {
    const perRow = Math.floor(target.sparsity * cols);
    const scratch = new Float64Array(cols);
    for (let r = 0; r < rows; r++) markSmallest(scores, r * cols, cols, perRow, removed, scratch);
  } else {
    for (let offset = 0; offset < total; offset += target.m) {
      markSmallestInGroup(scores, offset, target.m, target.m - target.n, removed);
    }
  }

  const pruned = W.slice();
  for (let t = 0; t < total; t++) {
    if (removed[t]) pruned[t] = 0;
  }
  return pruned;
}
