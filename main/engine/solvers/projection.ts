/**
 * Projection of a weight matrix onto a sparsity target, as ALPS uses it:
 * keep exactly the allowed count of largest-magnitude entries.
 *
 * Layout: Z, D [rows = out, cols = in], row-major, so an N:M group is M
 * consecutive entries of one row.
 */
import type { Target } from '../types.js';
import { markSmallestInGroup, selectWithRank } from '../linalg/select.js';

/**
 * Returns the number of weights a target keeps: (1 − s)·rows·cols rounded
 * half to even (as numpy's round in the reference) for a fraction, and
 * rows·cols·N/M for N:M.
 */
export function keptCount(target: Target, rows: number, cols: number): number {
  const total = rows * cols;
  if (target.kind === 'nm') return (total / target.m) * target.n;
  const exact = (1 - target.sparsity) * total;
  const floor = Math.floor(exact);
  const fraction = exact - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export class TargetProjector {
  /** Number of entries that every projection keeps. */
  readonly keptCount: number;
  private readonly magnitudes: Float32Array;
  private readonly scratch: Float32Array;
  private readonly pruned: Uint8Array;

  constructor(
    private readonly target: Target,
    private readonly rows: number,
    private readonly cols: number,
  ) {
    if (target.kind === 'nm' && cols % target.m !== 0) {
      throw new RangeError(`Pattern ${target.n}:${target.m} needs the input size ${cols} to be a multiple of ${target.m}.`);
    }
    this.keptCount = keptCount(target, rows, cols);
    const total = rows * cols;
    this.magnitudes = new Float32Array(total);
    this.scratch = new Float32Array(target.kind === 'fraction' ? total : 0);
    this.pruned = new Uint8Array(target.kind === 'nm' ? total : 0);
  }

  /**
   * Writes into `D` the entries of `Z` that the target keeps (others 0) and
   * into `support` 1 for kept and 0 for pruned positions.
   */
  project(Z: Float32Array, D: Float32Array, support: Uint8Array): void {
    const { rows, cols, target, magnitudes, pruned } = this;
    const total = rows * cols;
    for (let t = 0; t < total; t++) magnitudes[t] = Math.abs(Z[t]);

    if (target.kind === 'fraction') {
      this.projectFraction(Z, D, support);
      return;
    }

    pruned.fill(0);
    const removed = target.m - target.n;
    for (let offset = 0; offset < total; offset += target.m) {
      markSmallestInGroup(magnitudes, offset, target.m, removed, pruned);
    }
    for (let t = 0; t < total; t++) {
      const keep = 1 - pruned[t];
      support[t] = keep;
      D[t] = Z[t] * keep;
    }
  }

  /**
   * Global top-k by a threshold: prunes every magnitude below the selected
   * one and, among magnitudes equal to it, the lowest indices until exactly
   * `total − keptCount` are pruned. The comparisons feed arithmetic rather
   * than branches, because on random data branches mispredict about half the time.
   */
  private projectFraction(Z: Float32Array, D: Float32Array, support: Uint8Array): void {
    const { magnitudes } = this;
    const total = Z.length;
    const prunedCount = total - this.keptCount;
    if (prunedCount <= 0) {
      support.fill(1);
      D.set(Z);
      return;
    }
    const { value: threshold, below } = selectWithRank(magnitudes, prunedCount - 1, this.scratch);
    let tiesToPrune = prunedCount - below;

    for (let t = 0; t < total; t++) {
      const magnitude = magnitudes[t];
      let keep = magnitude > threshold ? 1 : 0;
      if (magnitude === threshold) {
        if (tiesToPrune > 0) tiesToPrune--;
        else keep = 1;
      }
      support[t] = keep;
      D[t] = Z[t] * keep;
    }
  }
}
