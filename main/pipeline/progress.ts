/**
 * Progress and time-left estimate of a pruning run. Work is measured in
 * weights (rows × cols of each linear), so a 172×64 layer counts 2.7 times a
 * 64×64 one. The estimate extrapolates the seconds per weight observed in
 * this process; blocks restored from a checkpoint count as done but not as
 * time spent.
 */
export class ProgressEstimator {
  private done = 0;
  private doneHere = 0;
  private readonly startedAt = performance.now();

  constructor(private readonly total: number) {}

  /** Marks work restored from a checkpoint as done. */
  restore(weights: number): void {
    this.done += weights;
  }

  /** Marks a finished layer of `weights` entries. */
  complete(weights: number): void {
    this.done += weights;
    this.doneHere += weights;
  }

  /** Fraction of the work done, in [0, 1]. */
  get progress(): number {
    return this.total === 0 ? 1 : Math.min(1, this.done / this.total);
  }

  /** Estimated seconds until every layer is pruned; null before any layer finished in this process. */
  get secondsLeft(): number | null {
    if (this.doneHere === 0) return null;
    const elapsed = (performance.now() - this.startedAt) / 1000;
    return (elapsed / this.doneHere) * Math.max(0, this.total - this.done);
  }
}
