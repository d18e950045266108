/**
 * SparseGPT (Frantar and Alistarh, 2023), following IST-DASLab/sparsegpt
 * `fasterprune`. Columns are pruned left to right in blocks. Each pruned
 * weight's error is spread over the remaining columns of its row through the
 * upper Cholesky factor U of H⁻¹ (the OBS update). Later blocks receive the
 * block's errors in one product (the lazy batch update).
 *
 * Symbols: W [rows = out, cols = in] row-major; H [cols, cols]; U [cols, cols]
 * upper triangular with H_damped⁻¹ = Uᵀ U.
 */
import type { SparseGptSettings } from '../defaults.js';
import type { Target } from '../types.js';
import { blockedUpperCholeskyOfInverseSteps } from '../linalg/blocked-cholesky.js';
import { checkCancelled, runCancellable } from '../linalg/steps.js';
import { markSmallestInGroup, selectInPlace } from '../linalg/select.js';
import { multiply, toTensor, type Tf } from '../linalg/tensor.js';

/** The part of SparseGPT that depends on H only, shared by the layers of a group. */
export interface SparseGptPreparation {
  cols: number;
  /** 1 for inputs with H_jj = 0; their weights are set to zero. */
  dead: Uint8Array;
  /** Upper Cholesky factor of the damped H⁻¹ [cols, cols]. */
  U: Float64Array;
}

/**
 * Damps H as the reference does (dead inputs get H_jj = 1, then
 * damping × mean(diag H) is added to the diagonal) and factors its inverse.
 * The factorization is float64 below 512 inputs. From 512 inputs on, its
 * O(cols³) products are float32 tfjs matMuls (see blocked-cholesky.ts), and
 * the reference computes all of it in float32.
 */
export async function prepareSparseGpt(
  tf: Tf,
  H: Float32Array | Float64Array,
  cols: number,
  settings: SparseGptSettings,
  signal?: AbortSignal,
): Promise<SparseGptPreparation> {
  const damped = Float64Array.from(H);
  const dead = new Uint8Array(cols);
  let diagonalSum = 0;
  for (let j = 0; j < cols; j++) {
    const index = j * cols + j;
    if (damped[index] === 0) {
      dead[j] = 1;
      damped[index] = 1;
    }
    diagonalSum += damped[index];
  }
  const damp = (settings.damping * diagonalSum) / cols;
  for (let j = 0; j < cols; j++) damped[j * cols + j] += damp;
  return { cols, dead, U: await runCancellable(blockedUpperCholeskyOfInverseSteps(tf, damped, cols), signal) };
}

/**
 * Returns the pruned copy of `W` [rows, cols]. Sparsity 0 returns an
 * unchanged copy. Checks `signal` between blocks.
 */
export async function pruneSparseGpt(
  tf: Tf,
  prepared: SparseGptPreparation,
  W: Float32Array,
  rows: number,
  target: Target,
  settings: SparseGptSettings,
  signal?: AbortSignal,
): Promise<Float32Array> {
  if (target.kind === 'fraction' && target.sparsity === 0) return W.slice();
  const { cols, dead, U } = prepared;
  const work = Float64Array.from(W);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) if (dead[j]) work[r * cols + j] = 0;
  }

  for (let blockStart = 0; blockStart < cols; blockStart += settings.blockSize) {
    await checkCancelled(signal);
    const blockEnd = Math.min(blockStart + settings.blockSize, cols);
    const count = blockEnd - blockStart;
    const mask = target.kind === 'fraction'
      ? blockMaskForFraction(work, rows, cols, U, blockStart, count, target.sparsity)
      : new Uint8Array(rows * count);
    const errors = new Float32Array(rows * count);
    const groupScores = target.kind === 'nm' ? new Float64Array(target.m) : null;

    for (let c = 0; c < count; c++) {
      const i = blockStart + c;
      // N:M: at the start of each group, choose the M − N weights to remove
      // per row from the current (already updated) weights.
      if (target.kind === 'nm' && groupScores && c % target.m === 0) {
        const width = Math.min(target.m, count - c);
        const removed = target.m - target.n;
        const groupMask = new Uint8Array(width);
        for (let r = 0; r < rows; r++) {
          for (let t = 0; t < width; t++) {
            const w = work[r * cols + i + t];
            const d = U[(i + t) * cols + i + t];
            groupScores[t] = (w * w) / (d * d);
          }
          groupMask.fill(0);
          markSmallestInGroup(groupScores, 0, width, Math.min(removed, width), groupMask);
          for (let t = 0; t < width; t++) if (groupMask[t]) mask[r * count + c + t] = 1;
        }
      }

      // OBS step: zero the masked weights of column i and move their error
      // onto columns i + 1 .. blockEnd − 1 of the same row.
      const uRow = i * cols;
      const d = U[uRow + i];
      for (let r = 0; r < rows; r++) {
        if (!mask[r * count + c]) continue;
        const rowOffset = r * cols;
        const error = work[rowOffset + i] / d;
        errors[r * count + c] = error;
        for (let j = i + 1; j < blockEnd; j++) work[rowOffset + j] -= error * U[uRow + j];
        work[rowOffset + i] = 0;
      }
    }

    // Lazy batch update: W[:, blockEnd:] −= errors · U[blockStart:blockEnd, blockEnd:].
    if (blockEnd < cols) {
      const rest = cols - blockEnd;
      const uBlock = new Float32Array(count * rest);
      for (let c = 0; c < count; c++) {
        const source = (blockStart + c) * cols + blockEnd;
        for (let j = 0; j < rest; j++) uBlock[c * rest + j] = U[source + j];
      }
      const uTensor = toTensor(tf, uBlock, count, rest);
      let update: Float32Array;
      try {
        update = multiply(tf, errors, rows, count, uTensor);
      } finally {
        uTensor.dispose();
      }
      for (let r = 0; r < rows; r++) {
        const rowOffset = r * cols + blockEnd;
        for (let j = 0; j < rest; j++) work[rowOffset + j] -= update[r * rest + j];
      }
    }
  }
  return Float32Array.from(work);
}

/**
 * Mask of one block for a fraction target, with the reference's rule:
 * scores W²/diag(U)², threshold at index floor(s·numel) of the sorted block
 * scores, and every score <= threshold removed.
 */
function blockMaskForFraction(
  work: Float64Array,
  rows: number,
  cols: number,
  U: Float64Array,
  blockStart: number,
  count: number,
  sparsity: number,
): Uint8Array {
  const scores = new Float64Array(rows * count);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < count; c++) {
      const j = blockStart + c;
      const w = work[r * cols + j];
      const d = U[j * cols + j];
      scores[r * count + c] = (w * w) / (d * d);
    }
  }
  const threshold = selectInPlace(scores.slice(), Math.floor(scores.length * sparsity));
  const mask = new Uint8Array(rows * count);
  for (let t = 0; t < scores.length; t++) mask[t] = scores[t] <= threshold ? 1 : 0;
  return mask;
}
