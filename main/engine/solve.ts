/**
 * Entry point of the layer solvers: prunes every layer of a group (layers
 * that share one input and so one H) with one method and target.
 *
 * Inputs are assumed valid (finite values, matching shapes, H symmetric
 * positive semi-definite); the engine runtime checks them at the edge.
 */
import { moduleLogger } from '../log.js';
import { ALPS_DEFAULTS, SPARSEGPT_DEFAULTS } from './defaults.js';
import { relativeError, relativeErrorWithMatMul } from './linalg/relative-error.js';
import { checkCancelled } from './linalg/steps.js';
import type { Tf } from './linalg/tensor.js';
import { prepareAlps, solveAlpsLayer, type AlpsPreparation } from './solvers/alps.js';
import { pruneMagnitude } from './solvers/magnitude.js';
import { prepareSparseGpt, pruneSparseGpt, type SparseGptPreparation } from './solvers/sparsegpt.js';
import { StepTimer } from './solvers/timer.js';
import { pruneWanda } from './solvers/wanda.js';
import { InvalidInputError, type IterationEvent, type LayerGroup, type LayerResult, type SolveOptions } from './types.js';

export { relativeError };

const log = moduleLogger('solve');

/**
 * Prunes each layer of `group` and returns one result per layer, in order.
 * The H preparation (damping, normalization, factorization) runs once per
 * group; its seconds are counted in the first layer's `seconds` and `timings`.
 * Throws CancelledError once `options.signal` is aborted (checked between
 * ADMM iterations and within long factorizations).
 */
export async function solveGroup(tf: Tf, group: LayerGroup, options: SolveOptions): Promise<LayerResult[]> {
  const { cols, H } = group;
  const { method, target } = options;
  if (target.kind === 'nm' && cols % target.m !== 0) {
    throw new InvalidInputError(
      `Pattern ${target.n}:${target.m} needs the input size to be a multiple of ${target.m}, but it is ${cols}: use a fraction target for this layer.`,
    );
  }

  const groupTimer = new StepTimer();
  const groupStart = performance.now();
  let alps: AlpsPreparation | null = null;
  let sparseGpt: SparseGptPreparation | null = null;
  if (method === 'alps') {
    alps = await prepareAlps(tf, H, cols, { ...ALPS_DEFAULTS }, options.signal, groupTimer);
  } else if (method === 'sparsegpt') {
    sparseGpt = await groupTimer.timeAsync('factorize', () =>
      prepareSparseGpt(tf, H, cols, { ...SPARSEGPT_DEFAULTS }, options.signal),
    );
  }
  let sharedSeconds = (performance.now() - groupStart) / 1000;
  let sharedTimings: Record<string, number> = groupTimer.seconds;

  const results: LayerResult[] = [];
  try {
    for (const layer of group.layers) {
      await checkCancelled(options.signal);
      const timer = new StepTimer();
      const start = performance.now();
      let W: Float32Array;
      let iterations: number | null = null;
      let trace: IterationEvent[] = [];

      switch (method) {
        case 'magnitude':
          W = timer.time('prune', () => pruneMagnitude(layer.W, layer.rows, cols, target));
          break;
        case 'wanda':
          W = timer.time('prune', () => pruneWanda(layer.W, layer.rows, cols, H, target));
          break;
        case 'sparsegpt':
          W = await timer.timeAsync('prune', () =>
            pruneSparseGpt(tf, sparseGpt!, layer.W, layer.rows, target, { ...SPARSEGPT_DEFAULTS }, options.signal),
          );
          break;
        case 'alps': {
          const output = await solveAlpsLayer(
            tf, alps!, layer, target, { ...ALPS_DEFAULTS }, options.onIteration, options.signal, timer,
          );
          W = output.W;
          iterations = output.iterations;
          trace = output.trace;
          break;
        }
        default:
          throw new InvalidInputError(`Method "${String(method)}" is unknown: use alps, sparsegpt, wanda or magnitude.`);
      }
      const solveSeconds = (performance.now() - start) / 1000;
      const error = timer.time('relative error', () => relativeErrorWithMatMul(tf, layer.W, W, H, layer.rows, cols));

      let zeros = 0;
      for (let t = 0; t < W.length; t++) if (W[t] === 0) zeros++;
      const timings = { ...timer.seconds };
      for (const [name, seconds] of Object.entries(sharedTimings)) timings[name] = (timings[name] ?? 0) + seconds;

      const result: LayerResult = {
        name: layer.name,
        W,
        relativeError: error,
        sparsity: zeros / W.length,
        iterations,
        seconds: solveSeconds + sharedSeconds,
        timings,
        trace,
      };
      sharedSeconds = 0;
      sharedTimings = {};
      log.debug({ layer: layer.name, method, seconds: result.seconds, relativeError: error, iterations }, 'layer solved');
      results.push(result);
    }
  } finally {
    alps?.dispose();
  }
  return results;
}
