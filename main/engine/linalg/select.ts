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
  const work = scratch.subarray(0, length);
  work.set(scores.subarray(offset, offset + length));
  const threshold = selectInPlace(work, count - 1);

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
