/**
 * Contracts of the pruning engine, used by the solvers, the worker pool, the
 * pipeline and the CLI. Matrices are row-major typed arrays.
 *
 * Symbols: W is a layer's weight [rows = out, cols = in]; H = XᵀX [in, in] is
 * summed over calibration tokens X [tokens, in]; Ŵ is the pruned weight.
 */
import type { Method, Target } from '../../shared/targets.js';

export type { Method, Target };

/** One linear layer to prune. */
export interface LayerWeights {
  /** Layer name, for example `blocks.0.attention.wq`. */
  name: string;
  /** Output features (rows of W). */
  rows: number;
  /** W [rows, cols], row-major float32. */
  W: Float32Array;
}

/** Layers that share one input, and so one H, solved together (q/k/v; gate/up). */
export interface LayerGroup {
  /** Input features; H is [cols, cols]. */
  cols: number;
  /** H = XᵀX [cols, cols], summed over calibration tokens (not averaged). */
  H: Float32Array | Float64Array;
  layers: LayerWeights[];
}

/** Emitted by iterative solvers (ALPS) at each support check. */
export interface IterationEvent {
  layer: string;
  iteration: number;
  rho: number;
  /** Support positions that changed since the previous check, as a fraction of the kept count. */
  supportChange: number;
  /** Relative reconstruction error of the current iterate projected on the target. */
  objective: number;
}

export interface SolveOptions {
  method: Method;
  target: Target;
  onIteration?: (event: IterationEvent) => void;
  signal?: AbortSignal;
}

export interface LayerResult {
  name: string;
  /** Pruned Ŵ [rows, cols]. */
  W: Float32Array;
  /** tr((W−Ŵ) H (W−Ŵ)ᵀ) / tr(W H Wᵀ), accumulated in float64 with the undamped H. */
  relativeError: number;
  /** Fraction of Ŵ's entries that are exactly zero. */
  sparsity: number;
  /** ADMM iterations (ALPS); null for one-pass methods. */
  iterations: number | null;
  seconds: number;
  /** Seconds spent in each named step, for the benchmark report. */
  timings: Record<string, number>;
  trace: IterationEvent[];
}

/** Raised when a solve is cancelled through its AbortSignal; never shown as a failure. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  readonly code = 'CANCELLED';
  constructor(message = 'The solve was cancelled.') {
    super(message);
  }
}

/** Raised for invalid input; the message names the value and the fix. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  readonly code = 'INVALID_INPUT';
}
