/**
 * Projection of a weight matrix onto a sparsity target, as ALPS uses it:
 * keep exactly the allowed count of largest-magnitude entries.
 *
 * Layout: Z, D [rows = out, cols = in], row-major, so an N:M group is M
 * consecutive entries of one row.
 */
import type { Target } from '../types.js';
import { markSmallestInGroup, selectInPlace, selectWithRank } from '../linalg/select.js';

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
  /** The same memory as `magnitudes`, read as int32 bit patterns. */
  private readonly magnitudeBits: Int32Array;
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
    this.magnitudeBits = new Int32Array(this.magnitudes.buffer);
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
   * `total − keptCount` are pruned.
   *
   * Comparisons use the float32 bit patterns, which order like the values
   * for non-negative floats, so `(a − b) >>> 31` is 1 exactly when a < b.
   * That keeps the passes free of data-dependent branches, which on random
   * magnitudes mispredict about half the time and made them several times slower.
   */
  private projectFraction(Z: Float32Array, D: Float32Array, support: Uint8Array): void {
    const { magnitudeBits } = this;
    const total = Z.length;
    const prunedCount = total - this.keptCount;
    if (prunedCount <= 0) {
      support.fill(1);
      D.set(Z);
      return;
    }
    const { thresholdBits, below } = this.selectThreshold(prunedCount - 1);
    let tiesToPrune = prunedCount - below;

    for (let t = 0; t < total; t++) {
      const bits = magnitudeBits[t];
      let keep = (thresholdBits - bits) >>> 31;
      if (bits === thresholdBits) {
        if (tiesToPrune > 0) tiesToPrune--;
        else keep = 1;
      }
      support[t] = keep;
      D[t] = Z[t] * keep;
    }
  }

  /**
   * Returns the bit pattern of the k-th smallest magnitude and the count of
   * magnitudes below it. A sorted sample brackets the k-th value, one
   * branch-free pass counts the values below the bracket and copies those
   * inside it, and the selection runs on that band. If the bracket misses,
   * the general selection runs on all values.
   */
  private selectThreshold(k: number): { thresholdBits: number; below: number } {
    const { magnitudes, magnitudeBits, scratch } = this;
    const total = magnitudes.length;
    const sampleSize = 8192;
    if (total > 4 * sampleSize) {
      const sample = new Float32Array(sampleSize);
      for (let s = 0; s < sampleSize; s++) sample[s] = magnitudes[Math.floor(((s + 0.5) * total) / sampleSize)];
      sample.sort();
      const position = (k / total) * sampleSize;
      const margin = 3 * Math.sqrt(sampleSize);
      const sampleBits = new Int32Array(sample.buffer);
      const lowBits = sampleBits[Math.max(0, Math.floor(position - margin))];
      const highBits = sampleBits[Math.min(sampleSize - 1, Math.ceil(position + margin))];

      let belowLow = 0;
      let band = 0;
      for (let t = 0; t < total; t++) {
        const bits = magnitudeBits[t];
        belowLow += (bits - lowBits) >>> 31;
        scratch[band] = magnitudes[t];
        // In the band when lowBits <= bits <= highBits.
        band += ((lowBits - 1 - bits) >>> 31) & ((bits - highBits - 1) >>> 31);
      }
      if (k >= belowLow && k < belowLow + band) {
        const bandValues = scratch.subarray(0, band);
        const threshold = selectInPlace(bandValues, k - belowLow);
        let below = belowLow;
        for (let t = 0; t < band; t++) if (bandValues[t] < threshold) below++;
        return { thresholdBits: toBits(threshold), below };
      }
    }
    const { value, below } = selectWithRank(magnitudes, k, scratch);
    return { thresholdBits: toBits(value), below };
  }
}

const bitsView = new Int32Array(1);
const floatView = new Float32Array(bitsView.buffer);

/** Returns the bit pattern of `value` as a float32. */
function toBits(value: number): number {
  floatView[0] = value;
  return bitsView[0];
}
