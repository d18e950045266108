/**
 * Engine worker thread: loads one TensorFlow.js backend, then runs the
 * requests of WorkerPool (pool.ts) one at a time: solve a LayerGroup, report
 * tf.memory(), or time a plain tf.matMul.
 *
 * Before a solve it runs the O(cols³) positive-semidefinite check on H (the
 * facade has already run the cheaper checks), so that cost stays off the
 * caller's thread. Its seconds are added to the first layer's timings as
 * `checkDefinite`.
 *
 * Test hook: when the environment variable ALPS_TEST_CRASH_LAYER equals the
 * name of a layer in a solve request, the worker misbehaves on purpose instead
 * of solving. ALPS_TEST_CRASH_MODE picks how: `throw` (default) throws an
 * uncaught exception, `exit` calls process.exit(70), and `hang` spins without
 * ever reading the cancel flag. The runtime tests use it to check crash
 * recovery and the cancel deadline.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { moduleLogger } from '../log.js';
import { selectBackend } from './backend.js';
import { toErrorData, type WorkerReply, type WorkerRequest, type WorkerStartData } from './pool.js';
import { solveGroup } from './solve.js';
import { CancelledError, type LayerGroup, type LayerResult } from './types.js';
import { checkPositiveSemidefinite } from './validate.js';

const log = moduleLogger('engine.worker');

if (!parentPort) throw new Error('main/engine/worker.ts runs only as a worker thread started by WorkerPool.');
const port = parentPort;
const { backend: requested, cancelFlag } = workerData as WorkerStartData;

/** The controller of the solve in progress, aborted by a 'cancel' message. */
let current: { id: number; controller: AbortController } | null = null;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * Returns a signal whose `aborted` (and `throwIfAborted()`) also reads the
 * shared cancel flag. A solver that checks it between iterations then stops
 * at the next check, even while this thread's message loop is blocked.
 */
function cancellableSignal(controller: AbortController): AbortSignal {
  const signal = controller.signal;
  const nativeAborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
  const syncWithFlag = () => {
    if (!nativeAborted.call(signal) && Atomics.load(cancelFlag, 0) === 1) controller.abort(new CancelledError());
  };
  Object.defineProperty(signal, 'aborted', {
    get: () => {
      syncWithFlag();
      return nativeAborted.call(signal) as boolean;
    },
  });
  const nativeThrowIfAborted = signal.throwIfAborted.bind(signal);
  Object.defineProperty(signal, 'throwIfAborted', {
    value: () => {
      syncWithFlag();
      nativeThrowIfAborted();
    },
  });
  return signal;
}

function crashIfRequestedByTest(group: LayerGroup): void {
  const layer = process.env.ALPS_TEST_CRASH_LAYER;
  if (!layer || !group.layers.some((l) => l.name === layer)) return;
  const mode = process.env.ALPS_TEST_CRASH_MODE ?? 'throw';
  if (mode === 'exit') process.exit(70);
  if (mode === 'hang') {
    for (;;) {
      // Busy until the pool terminates this worker.
    }
  }
  setImmediate(() => {
    throw new Error(`crash requested by ALPS_TEST_CRASH_LAYER for layer "${layer}"`);
  });
}

async function solve(request: Extract<WorkerRequest, { type: 'solve' }>, tf: Awaited<ReturnType<typeof selectBackend>>['tf']): Promise<void> {
  const { id, group, method, target } = request;
  const controller = new AbortController();
  current = { id, controller };
  const signal = cancellableSignal(controller);
  try {
    crashIfRequestedByTest(group);
    const checkStarted = performance.now();
    checkPositiveSemidefinite(group.H, group.cols);
    const checkSeconds = (performance.now() - checkStarted) / 1000;
    if (signal.aborted) throw new CancelledError();

    const results: LayerResult[] = await solveGroup(tf, group, {
      method,
      target,
      signal,
      onIteration: (event) => reply({ type: 'iteration', id, event }),
    });
    if (results[0]) results[0].timings.checkDefinite = checkSeconds;
    const buffers = new Set(results.map((result) => result.W.buffer).filter((buffer) => buffer instanceof ArrayBuffer));
    reply({ type: 'done', id, value: results }, [...buffers]);
  } catch (error) {
    const cancelled = error instanceof CancelledError || Atomics.load(cancelFlag, 0) === 1;
    if (!cancelled) log.error({ err: error, layers: group.layers.map((l) => l.name) }, 'solve failed');
    reply({ type: 'failed', id, error: cancelled ? toErrorData(new CancelledError()) : toErrorData(error) });
  } finally {
    current = null;
  }
}

function measureMatMul(request: Extract<WorkerRequest, { type: 'matmul' }>, tf: Awaited<ReturnType<typeof selectBackend>>['tf']): void {
  const { id, m, k, n, repeats } = request;
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  // Each product is disposed by hand: reading it with dataSync() inside tf.tidy
  // ran about 15 times slower on the wasm backend (tfjs 4.22, 768×768).
  const multiplyOnce = () => {
    const product = tf.matMul(a, b);
    product.dataSync();
    product.dispose();
  };
  try {
    multiplyOnce();
    const started = performance.now();
    for (let i = 0; i < repeats; i++) multiplyOnce();
    reply({ type: 'done', id, value: (performance.now() - started) / 1000 / repeats });
  } catch (error) {
    reply({ type: 'failed', id, error: toErrorData(error) });
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function main(): Promise<void> {
  let tf: Awaited<ReturnType<typeof selectBackend>>['tf'];
  try {
    const selected = await selectBackend(requested);
    tf = selected.tf;
    reply({ type: 'ready', backend: selected.info });
  } catch (error) {
    reply({ type: 'start-failed', error: toErrorData(error) });
    return;
  }

  // Solves run one at a time: the pool sends the next only after a reply.
  port.on('message', (request: WorkerRequest) => {
    switch (request.type) {
      case 'solve':
        void solve(request, tf);
        break;
      case 'cancel':
        if (current?.id === request.id) current.controller.abort(new CancelledError());
        break;
      case 'memory': {
        const { numTensors, numBytes } = tf.memory();
        reply({ type: 'done', id: request.id, value: { numTensors, numBytes } });
        break;
      }
      case 'matmul':
        measureMatMul(request, tf);
        break;
    }
  });
}

await main();
