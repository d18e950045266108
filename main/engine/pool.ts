/**
 * Pool of engine worker threads. Solves never run on the calling thread: each
 * LayerGroup job goes to an idle worker with its typed arrays' buffers
 * transferred, iteration events stream back, and the result comes back the
 * same way.
 *
 * Cancellation: aborting a job's signal sets a SharedArrayBuffer flag that the
 * worker's solver reads through `signal.aborted` between iterations, so it
 * stops without waiting for the worker's message loop. A worker that has not
 * replied CANCEL_TIMEOUT_MS after the abort is terminated and replaced. The
 * job rejects with CancelledError either way.
 *
 * Crashes: a worker that throws uncaught, exits or runs out of memory fails
 * its job with WorkerCrashError naming the layers, and is replaced.
 *
 * Idle workers are unref'd, so an open pool does not keep Node alive; still
 * call `close()` when done.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { moduleLogger } from '../log.js';
import { BackendUnavailableError, checkWorkerCount, parseBackendName, workerCountFor, type BackendInfo, type BackendName } from './backend.js';
import { CancelledError, InvalidInputError, type IterationEvent, type LayerGroup, type LayerResult, type Method, type Target } from './types.js';

const log = moduleLogger('engine.pool');

/** Time a worker gets to stop after a cancel before it is terminated and replaced. */
export const CANCEL_TIMEOUT_MS = 1000;

/** An error as it crosses the thread boundary. */
export interface ErrorData {
  name: string;
  message: string;
  code?: string;
}

/** Data every worker starts with (`workerData`). */
export interface WorkerStartData {
  /** Backend to load; undefined picks the fastest available. */
  backend: BackendName | undefined;
  /** Int32Array over a SharedArrayBuffer: element 0 is 1 while the current job is cancelled. */
  cancelFlag: Int32Array;
}

export type WorkerRequest =
  | { type: 'solve'; id: number; group: LayerGroup; method: Method; target: Target }
  | { type: 'cancel'; id: number }
  | { type: 'memory'; id: number }
  | { type: 'matmul'; id: number; m: number; k: number; n: number; repeats: number };

export type WorkerReply =
  | { type: 'ready'; backend: BackendInfo }
  | { type: 'start-failed'; error: ErrorData }
  | { type: 'iteration'; id: number; event: IterationEvent }
  | { type: 'done'; id: number; value: unknown }
  | { type: 'failed'; id: number; error: ErrorData };

/** Live tfjs memory of one worker, from tf.memory(). */
export interface WorkerMemory {
  worker: number;
  numTensors: number;
  numBytes: number;
}

/** Raised when a worker dies during a job; the message names the layers and the cause. */
export class WorkerCrashError extends Error {
  override name = 'WorkerCrashError';
  readonly code = 'WORKER_CRASHED';
}

/** An error rebuilt from ErrorData whose class is not one the engine defines. */
export class RemoteError extends Error {
  constructor(name: string, message: string, readonly code?: string) {
    super(message);
    this.name = name;
  }
}

export function toErrorData(error: unknown): ErrorData {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

/** Rebuilds an error received from a worker, keeping the engine's own error classes. */
export function fromErrorData(data: ErrorData): Error {
  switch (data.name) {
    case 'CancelledError':
      return new CancelledError(data.message);
    case 'InvalidInputError':
      return new InvalidInputError(data.message);
    case 'BackendUnavailableError':
      return new BackendUnavailableError(data.message);
    case 'WorkerCrashError':
      return new WorkerCrashError(data.message);
    default:
      return new RemoteError(data.name, data.message, data.code);
  }
}

export interface PoolOptions {
  /** A backend name (see backend.ts); undefined picks the fastest available. */
  backend?: string;
  /** Worker count for wasm and cpu; default one per core. Native backends always use one. */
  workers?: number;
}

export interface JobOptions {
  method: Method;
  target: Target;
  onIteration?: (event: IterationEvent) => void;
  signal?: AbortSignal;
}

interface Job {
  id: number;
  /** Layer names, for messages. */
  label: string;
  request: WorkerRequest;
  transfer: ArrayBuffer[];
  onIteration?: (event: IterationEvent) => void;
  signal?: AbortSignal;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  cancelRequested: boolean;
  cancelTimer?: NodeJS.Timeout;
  removeAbortListener?: () => void;
}

interface Slot {
  index: number;
  worker: Worker;
  cancelFlag: Int32Array;
  job: Job | null;
  /** Replies awaited for queries (memory) that bypass the job queue. */
  queries: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
  /** Set when the pool ends this worker on purpose, so its exit is not a crash. */
  retiring: boolean;
  lastError: Error | null;
}

/**
 * Returns how to start a worker: the compiled worker.js beside this file in
 * dist/, or, when running from the TypeScript sources, a small evaluated
 * bootstrap that registers tsx in the new thread and then imports worker.ts.
 * (`execArgv: ['--import', 'tsx']` does not work here: Node 20 rejects the
 * .ts entry before the loader hooks apply.)
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return { entry: new URL('./worker.js', import.meta.url), eval: false };
  const tsxApi = tsxEsmApiUrl();
  const source = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(source)}); });`;
  return { entry: bootstrap, eval: true };
}

/**
 * Returns the file URL of tsx's ESM `register` API, read from the `import`
 * condition of its package exports (require.resolve would pick the CommonJS
 * build, which fails to load from an evaluated worker).
 */
function tsxEsmApiUrl(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('tsx/package.json');
  const manifest = require(manifestPath) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(manifestPath), manifest.exports['./esm/api']!.import.default)).href;
}

export class WorkerPool {
  private slots: Slot[] = [];
  private queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  /** Replacement workers still starting. */
  private starting = 0;

  private constructor(
    readonly backend: BackendInfo,
    private readonly targetSize: number,
  ) {}

  /**
   * Starts the pool. The first worker selects the backend and the others
   * start with that backend by name: one worker per core for wasm and cpu,
   * and no second worker for the native backends, because they allow one
   * thread per process.
   */
  static async start(options: PoolOptions = {}): Promise<WorkerPool> {
    const requested = options.backend === undefined ? undefined : parseBackendName(options.backend);
    checkWorkerCount(options.workers);
    const started = performance.now();
    const first = await spawnReady(0, requested);
    const size = workerCountFor(first.backend.name, options.workers);
    const pool = new WorkerPool(first.backend, size);
    pool.adopt(first.slot);
    try {
      const others = await Promise.all(Array.from({ length: size - 1 }, (_, i) => spawnReady(i + 1, first.backend.name)));
      for (const other of others) pool.adopt(other.slot);
    } catch (error) {
      await pool.close();
      throw error;
    }
    log.info({ backend: first.backend.name, device: first.backend.device, workers: size, ms: Math.round(performance.now() - started) }, 'engine workers started');
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.targetSize;
  }

  /**
   * Solves `group` on the next idle worker. The group's typed arrays are
   * transferred (detached in the caller) when each owns its whole buffer and
   * copied otherwise. Rejects with CancelledError after `signal` aborts.
   */
  solve(group: LayerGroup, options: JobOptions): Promise<LayerResult[]> {
    const { message, transfer } = packGroup(group);
    const label = group.layers.map((layer) => layer.name).join(', ');
    return this.enqueue(
      { type: 'solve', id: 0, group: message, method: options.method, target: options.target },
      transfer,
      label,
      options.onIteration,
      options.signal,
    ) as Promise<LayerResult[]>;
  }

  /**
   * Times `repeats` products of random [m, k] × [k, n] float32 matrices with
   * tf.matMul on one worker, after one warm-up product. Returns seconds per product.
   */
  measureMatMul(m: number, k: number, n: number, repeats: number): Promise<number> {
    return this.enqueue({ type: 'matmul', id: 0, m, k, n, repeats }, [], `matMul ${m}x${k}x${n}`) as Promise<number>;
  }

  /** Returns each worker's live tfjs tensors and bytes. Call it while no job runs: a solve's temporaries count too. */
  async memory(): Promise<WorkerMemory[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        const value = (await this.query(slot, { type: 'memory', id: 0 })) as { numTensors: number; numBytes: number };
        return { worker: slot.index, numTensors: value.numTensors, numBytes: value.numBytes };
      }),
    );
  }

  /** Rejects queued and running jobs with CancelledError and terminates every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new CancelledError('The engine was closed before this solve started.'));
    const exits = this.slots.map(async (slot) => {
      slot.retiring = true;
      if (slot.job) this.settle(slot.job, new CancelledError('The engine was closed during this solve.'));
      for (const query of slot.queries.values()) query.reject(new CancelledError('The engine was closed.'));
      await slot.worker.terminate();
    });
    this.slots = [];
    await Promise.all(exits);
    log.info({ backend: this.backend.name }, 'engine workers stopped');
  }

  private enqueue(request: WorkerRequest, transfer: ArrayBuffer[], label: string, onIteration?: (event: IterationEvent) => void, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new CancelledError('The engine is closed: create a new engine to solve.'));
    if (signal?.aborted) return Promise.reject(new CancelledError());
    if (this.slots.length === 0 && this.starting === 0) {
      return Promise.reject(new WorkerCrashError('No engine worker is running: every worker crashed and none could be restarted. Create a new engine.'));
    }
    const id = this.nextId++;
    request.id = id;
    return new Promise((resolve, reject) => {
      const job: Job = { id, label, request, transfer, onIteration, signal, resolve, reject, cancelRequested: false };
      if (signal) {
        const onAbort = () => this.cancel(job);
        signal.addEventListener('abort', onAbort, { once: true });
        job.removeAbortListener = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job || slot.retiring) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      Atomics.store(slot.cancelFlag, 0, 0);
      slot.worker.ref();
      slot.worker.postMessage(job.request, job.transfer);
      // The transferred buffers now belong to the worker; drop the references.
      job.transfer = [];
    }
  }

  private cancel(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, new CancelledError());
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    if (!slot || job.cancelRequested) return;
    job.cancelRequested = true;
    Atomics.store(slot.cancelFlag, 0, 1);
    slot.worker.postMessage({ type: 'cancel', id: job.id } satisfies WorkerRequest);
    job.cancelTimer = setTimeout(() => {
      if (slot.job !== job) return;
      log.warn({ worker: slot.index, layers: job.label, ms: CANCEL_TIMEOUT_MS }, 'worker did not stop after cancel; restarting it');
      this.settle(job, new CancelledError(`The solve was cancelled; its worker did not stop within ${CANCEL_TIMEOUT_MS} ms and was restarted.`));
      slot.job = null;
      this.retire(slot);
    }, CANCEL_TIMEOUT_MS);
  }

  /** Resolves or rejects a job and releases its timer and listener. Later calls for the same job do nothing. */
  private settle(job: Job, error: Error | null, value?: unknown): void {
    if (job.cancelTimer) clearTimeout(job.cancelTimer);
    job.removeAbortListener?.();
    job.removeAbortListener = undefined;
    const settledBy = job.resolve;
    job.resolve = () => {};
    const rejectBy = job.reject;
    job.reject = () => {};
    if (error) rejectBy(error);
    else settledBy(value);
  }

  private adopt(slot: Slot): void {
    slot.worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    slot.worker.on('error', (error) => {
      slot.lastError = error;
    });
    slot.worker.on('exit', (code) => this.onExit(slot, code));
    slot.worker.unref();
    this.slots.push(slot);
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.type === 'ready' || reply.type === 'start-failed') return;
    const query = slot.queries.get(reply.id);
    if (query) {
      slot.queries.delete(reply.id);
      if (reply.type === 'done') query.resolve(reply.value);
      else if (reply.type === 'failed') query.reject(fromErrorData(reply.error));
      this.updateRef(slot);
      return;
    }
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    if (reply.type === 'iteration') {
      try {
        job.onIteration?.(reply.event);
      } catch (error) {
        log.error({ err: error, layer: reply.event.layer }, 'onIteration callback threw; the solve continues');
      }
      return;
    }
    slot.job = null;
    if (job.cancelRequested) this.settle(job, new CancelledError());
    else if (reply.type === 'done') this.settle(job, null, reply.value);
    else this.settle(job, fromErrorData(reply.error));
    this.updateRef(slot);
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    const job = slot.job;
    slot.job = null;
    if (!slot.retiring) {
      const cause = slot.lastError ? slot.lastError.message : `the worker exited with code ${code}`;
      log.error({ worker: slot.index, layers: job?.label, code, err: slot.lastError }, 'engine worker crashed; replacing it');
      if (job) {
        this.settle(
          job,
          job.cancelRequested
            ? new CancelledError()
            : new WorkerCrashError(`The engine worker crashed while solving ${job.label} (${cause}). The worker was replaced; retry the solve, and if it crashes again, check memory use (a larger layer needs more).`),
        );
      }
    }
    for (const query of slot.queries.values()) query.reject(new WorkerCrashError(`Engine worker ${slot.index} exited before it replied.`));
    this.slots.splice(index, 1);
    if (!this.closed) void this.replace(slot.index);
  }

  /** Terminates a worker on purpose (cancel timeout); its exit handler starts a replacement. */
  private retire(slot: Slot): void {
    slot.retiring = true;
    void slot.worker.terminate();
  }

  private async replace(index: number): Promise<void> {
    this.starting++;
    try {
      const { slot } = await spawnReady(index, this.backend.name);
      if (this.closed) {
        slot.retiring = true;
        await slot.worker.terminate();
        return;
      }
      this.adopt(slot);
      log.info({ worker: index }, 'engine worker replaced');
      this.dispatch();
    } catch (error) {
      log.error({ worker: index, err: error }, 'replacement engine worker failed to start');
      if (this.slots.length === 0 && this.starting === 1) {
        for (const job of this.queue.splice(0)) this.settle(job, error instanceof Error ? error : new Error(String(error)));
      }
    } finally {
      this.starting--;
    }
  }

  private query(slot: Slot, request: WorkerRequest): Promise<unknown> {
    const id = this.nextId++;
    request.id = id;
    return new Promise((resolve, reject) => {
      slot.queries.set(id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(request);
    });
  }

  private updateRef(slot: Slot): void {
    if (!slot.job && slot.queries.size === 0) slot.worker.unref();
  }
}

/** Starts one worker and waits for its backend; rejects with the worker's start error. */
function spawnReady(index: number, backend: BackendName | undefined): Promise<{ slot: Slot; backend: BackendInfo }> {
  const { entry, eval: isEval } = workerEntry();
  const cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  const workerData: WorkerStartData = { backend, cancelFlag };
  const worker = new Worker(entry, { workerData, eval: isEval });
  const slot: Slot = { index, worker, cancelFlag, job: null, queries: new Map(), retiring: false, lastError: null };
  return new Promise((resolve, reject) => {
    const onMessage = (reply: WorkerReply) => {
      if (reply.type === 'ready') {
        cleanup();
        resolve({ slot, backend: reply.backend });
      } else if (reply.type === 'start-failed') {
        cleanup();
        slot.retiring = true;
        void worker.terminate();
        reject(fromErrorData(reply.error));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new WorkerCrashError(`Engine worker ${index} failed to start: ${error.message}`));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new WorkerCrashError(`Engine worker ${index} exited with code ${code} before it was ready.`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Prepares a group for postMessage. An array that owns its whole ArrayBuffer
 * is transferred. A view into a larger buffer is copied first, because
 * cloning a view clones its entire buffer.
 */
function packGroup(group: LayerGroup): { message: LayerGroup; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const own = <T extends Float32Array | Float64Array>(array: T): T => {
    const buffer = array.buffer;
    const whole = buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === buffer.byteLength;
    const owned = whole ? array : (array.slice() as T);
    transfer.add(owned.buffer as ArrayBuffer);
    return owned;
  };
  const message: LayerGroup = {
    cols: group.cols,
    H: own(group.H),
    layers: group.layers.map((layer) => ({ name: layer.name, rows: layer.rows, W: own(layer.W) })),
  };
  return { message, transfer: [...transfer] };
}
