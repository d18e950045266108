/** Wall-clock seconds per named step, summed over calls, for `LayerResult.timings`. */
export class StepTimer {
  readonly seconds: Record<string, number> = {};

  /** Runs `work` and adds its duration to the step `name`. */
  time<T>(name: string, work: () => T): T {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.add(name, (performance.now() - start) / 1000);
    }
  }

  /** Like `time`, for asynchronous work. */
  async timeAsync<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.add(name, (performance.now() - start) / 1000);
    }
  }

  add(name: string, seconds: number): void {
    this.seconds[name] = (this.seconds[name] ?? 0) + seconds;
  }
}
