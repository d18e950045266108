/**
 * The pruning engine's public API, used by the pipeline, the CLI and the
 * benchmark:
 *
 * ```ts
 * const engine = await createEngine({ backend: 'wasm', workers: 2 });
 * engine.backend;             // { name: 'wasm', device: 'wasm (SIMD, 1 thread)' }
 * const results = await engine.solveGroup(group, { method: 'alps', target, onIteration, signal });
 * const result = await engine.solveLayer(W, H, rows, cols, 'blocks.0.mlp.w1', { method, target });
 * await engine.close();
 * ```
 *
 * Every solve runs in a worker thread (pool.ts). Input is validated here
 * before dispatch (validate.ts), so a bad shape, a non-finite value, a target
 * that does not fit or a non-symmetric H rejects at once with
 * InvalidInputError. The O(cols³) positive-semidefinite check runs in the
 * worker and rejects the same way. An aborted signal rejects with CancelledError within about a
 * second. A worker crash rejects with WorkerCrashError and the worker is
 * replaced, so the next solve still runs.
 *
 * Ownership: solveGroup transfers the typed arrays of `group` (H and every
 * W) to the worker, so they are detached (length 0) in the caller once the
 * call returns. Pass copies (`W.slice()`) to keep them. A view into a larger
 * buffer is copied instead.
 */
import { type BackendInfo } from './backend.js';
import { WorkerPool, type WorkerMemory } from './pool.js';
import type { IterationEvent, LayerGroup, LayerResult, Method, SolveOptions, Target } from './types.js';
import { validateSolveRequest } from './validate.js';

export { BACKEND_NAMES, BackendUnavailableError, type BackendInfo, type BackendName } from './backend.js';
export { RemoteError, WorkerCrashError, type WorkerMemory } from './pool.js';
export { CancelledError, InvalidInputError } from './types.js';
export type { IterationEvent, LayerGroup, LayerResult, Method, SolveOptions, Target };

export interface EngineOptions {
  /** `tensorflow-gpu`, `tensorflow`, `wasm` or `cpu`; absent picks the fastest that loads. */
  backend?: string;
  /** Worker threads for wasm and cpu (default: one per core); the native backends always run one. */
  workers?: number;
}

export interface Engine {
  /** The backend every worker runs. */
  readonly backend: BackendInfo;
  /** Number of worker threads; groups beyond it wait in a queue. */
  readonly workers: number;
  /** Prunes a group of layers that share H. Results come in the order of `group.layers`. */
  solveGroup(group: LayerGroup, options: SolveOptions): Promise<LayerResult[]>;
  /** Prunes one layer: W [rows, cols], H [cols, cols]. */
  solveLayer(W: Float32Array, H: Float32Array | Float64Array, rows: number, cols: number, name: string, options: SolveOptions): Promise<LayerResult>;
  /** Times a plain tf.matMul of [m, k] × [k, n] on one worker; returns seconds per product (after a warm-up). */
  measureMatMul(m: number, k: number, n: number, repeats: number): Promise<number>;
  /** Live tfjs tensors and bytes in each worker; call it while no solve runs. */
  memory(): Promise<WorkerMemory[]>;
  /** Cancels pending solves (CancelledError) and stops the workers. */
  close(): Promise<void>;
}

/**
 * Starts the engine's workers and selects the backend. Rejects with
 * BackendUnavailableError when the requested backend cannot load, and with
 * InvalidInputError for an unknown backend name or a bad worker count.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const pool = await WorkerPool.start(options);

  const solveGroup = async (group: LayerGroup, solveOptions: SolveOptions): Promise<LayerResult[]> => {
    validateSolveRequest(group, solveOptions);
    return pool.solve(group, solveOptions);
  };

  return {
    backend: pool.backend,
    workers: pool.size,
    solveGroup,
    solveLayer: async (W, H, rows, cols, name, solveOptions) => {
      const [result] = await solveGroup({ cols, H, layers: [{ name, rows, W }] }, solveOptions);
      return result!;
    },
    measureMatMul: (m, k, n, repeats) => pool.measureMatMul(m, k, n, repeats),
    memory: () => pool.memory(),
    close: () => pool.close(),
  };
}
