/**
 * Magnitude pruning with the mask rule of locuslab/wanda `prune_magnitude`:
 * for a fraction s, threshold = sorted(|W|)[floor(s·numel)] and every weight
 * with |W| <= threshold is removed (ties at the threshold are all removed, so
 * at least one more than s·numel goes). For N:M, the M − N smallest |W| of
 * each group are removed.
 *
 * W: [rows = out, cols = in], row-major.
 */
import type { Target } from '../types.js';
import { markSmallestInGroup, selectInPlace } from '../linalg/select.js';

/** Returns a pruned copy of `W`. Sparsity 0 returns an unchanged copy. */
export function pruneMagnitude(W: Float32Array, rows: number, cols: number, target: Target): Float32Array {
  const total = rows * cols;
  const pruned = W.slice();
  const magnitudes = new Float32Array(total);
  for (let t = 0; t < total; t++) magnitudes[t] = Math.abs(W[t]);

  if (target.kind === 'fraction') {
    // NOTE: the reference removes the smallest weight even at sparsity 0
    // (index 0 of the sorted list); here sparsity 0 removes nothing.
    if (target.sparsity === 0) return pruned;
    const threshold = selectInPlace(magnitudes.slice(), Math.floor(total * target.sparsity));
    for (let t = 0; t < total; t++) {
      if (magnitudes[t] <= threshold) pruned[t] = 0;
    }
    return pruned;
  }

  const removed = new Uint8Array(total);
  for (let offset = 0; offset < total; offset += target.m) {
    markSmallestInGroup(magnitudes, offset, target.m, target.m - target.n, removed);
  }
  for (let t = 0; t < total; t++) {
    if (removed[t]) pruned[t] = 0;
  }
  return pruned;
}
