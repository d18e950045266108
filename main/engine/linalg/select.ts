/**
 * Selection without sorting: the k-th smallest value of an array in expected
 * linear time (quickselect), and exact "mark the k smallest" with ties broken
 * by index, so a projection keeps exactly the requested count.
 */

type Numbers = Float32Array | Float64Array;

/**
 * Returns the value at index `k` (0-based) of `values` sorted ascending.
 * Reorders `values` in place, so pass a copy when the order matters.
 */
export function selectInPlace(values: Numbers, k: number): number {
  if (k < 0 || k >= values.length) {
    throw new RangeError(`Selection index ${k} is out of range for ${values.length} values.`);
  }
  let left = 0;
  let right = values.length - 1;
  while (right > left) {
    // Median of three as the pivot keeps sorted and constant inputs linear.
    const middle = (left + right) >>> 1;
    let a = values[left];
    let b = values[middle];
    let c = values[right];
    if (a > b) [a, b] = [b, a];
    if (b > c) [b, c] = [c, b];
    if (a > b) [a, b] = [b, a];
    const pivot = b;

    // Hoare partition: both scans stop on values equal to the pivot, which
    // splits runs of equal values evenly.
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const swap = values[i];
        values[i] = values[j];
        values[j] = swap;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return values[k];
  }
  return values[k];
}

/** Sample size for {@link selectBySampling}. The candidate band then contains about 6/sqrt(SAMPLE) of the values. */
const SAMPLE = 8192;

/**
 * Returns the value at index `k` of `values` sorted ascending, leaving
 * `values` unchanged. For large arrays a sorted sample brackets the k-th
 * value (as in Floyd–Rivest selection), so one pass counts the values below
 * the bracket and copies those inside it to `scratch`, and the selection runs
 * on that band only. If the bracket misses, a full quickselect runs instead.
 */
export function selectBySampling(values: Numbers, k: number, scratch: Numbers): number {
  return selectWithRank(values, k, scratch).value;
}

/**
 * Like {@link selectBySampling}, and also returns `below`, the number of
 * entries of `values` strictly smaller than the selected value.
 */
export function selectWithRank(values: Numbers, k: number, scratch: Numbers): { value: number; below: number } {
  const length = values.length;
  if (length > 4 * SAMPLE) {
    const sample = new Float64Array(SAMPLE);
    for (let s = 0; s < SAMPLE; s++) sample[s] = values[Math.floor(((s + 0.5) * length) / SAMPLE)];
    sample.sort();
    const position = (k / length) * SAMPLE;
    const margin = 3 * Math.sqrt(SAMPLE);
    const low = sample[Math.max(0, Math.floor(position - margin))];
    const high = sample[Math.min(SAMPLE - 1, Math.ceil(position + margin))];

    let belowLow = 0;
    let band = 0;
    for (let t = 0; t < length; t++) {
      const value = values[t];
      if (value < low) belowLow++;
      else if (value <= high) scratch[band++] = value;
    }
    if (k >= belowLow && k < belowLow + band) {
      const bandValues = scratch.subarray(0, band);
      const value = selectInPlace(bandValues, k - belowLow);
      // Every band value below the selected one is also below it overall.
      let below = belowLow;
      for (let t = 0; t < band; t++) if (bandValues[t] < value) below++;
      return { value, below };
    }
  }

  const work = scratch.subarray(0, length);
  work.set(values);
  const value = selectInPlace(work, k);
  let below = 0;
  for (let t = 0; t < length; t++) if (values[t] < value) below++;
  return { value, below };
}

/**
 * Sets `mask[offset + t] = 1` for exactly `count` of the smallest
 * `scores[offset + t]`, t in [0, length), leaving the other mask entries
 * untouched. Among equal scores at the threshold, lower indices are marked
 * first (the order a stable ascending sort would give). `scratch` needs at
 * least `length` entries.
 */
export function markSmallest(
  scores: Numbers,
  offset: number,
  length: number,
  count: number,
  mask: Uint8Array,
  scratch: Numbers,
): void {
  if (count <= 0) return;
  if (count >= length) {
    mask.fill(1, offset, offset + length);
    return;
  }
  const threshold = selectBySampling(scores.subarray(offset, offset + length), count - 1, scratch);

  let marked = 0;
  for (let t = 0; t < length; t++) {
    if (scores[offset + t] < threshold) {
      mask[offset + t] = 1;
      marked++;
    }
  }
  for (let t = 0; t < length && marked < count; t++) {
    if (scores[offset + t] === threshold) {
      mask[offset + t] = 1;
      marked++;
    }
  }
}

/**
 * Sets `mask[offset + t] = 1` for the `count` smallest of `group` consecutive
 * scores, ties broken by lower index first. Meant for small N:M groups, where
 * ranking by comparison (group² steps) beats a selection.
 */
export function markSmallestInGroup(
  scores: Numbers,
  offset: number,
  group: number,
  count: number,
  mask: Uint8Array,
): void {
  for (let a = 0; a < group; a++) {
    const score = scores[offset + a];
    // Rank of element a in a stable ascending order.
    let rank = 0;
    for (let b = 0; b < group; b++) {
      const other = scores[offset + b];
      if (other < score || (other === score && b < a)) rank++;
    }
    if (rank < count) mask[offset + a] = 1;
  }
}
