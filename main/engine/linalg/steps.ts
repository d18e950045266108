/**
 * Long float64 loops are written as generators that yield between steps, so
 * the same code runs to completion synchronously (tests, small problems) or
 * in slices that let the event loop deliver a cancellation.
 */
import { CancelledError } from '../types.js';

/** Runs a step generator to completion and returns its result. */
export function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * Runs a step generator, yielding to the event loop at least every
 * `sliceMilliseconds` and throwing CancelledError once `signal` is aborted.
 */
export async function runCancellable<T>(
  steps: Generator<void, T>,
  signal: AbortSignal | undefined,
  sliceMilliseconds = 100,
): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (performance.now() - sliceStart >= sliceMilliseconds) {
      await checkCancelled(signal);
      sliceStart = performance.now();
    }
  }
}

/** Lets pending events run, then throws CancelledError if `signal` is aborted. */
export async function checkCancelled(signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (signal?.aborted) throw new CancelledError();
}
