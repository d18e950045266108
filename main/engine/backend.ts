/**
 * TensorFlow.js backend selection for one engine thread.
 *
 * Backend names, in the order `selectBackend()` tries them when none is
 * requested:
 *
 * | name             | package                        | device                          |
 * |------------------|--------------------------------|---------------------------------|
 * | `tensorflow-gpu` | `@tensorflow/tfjs-node-gpu`    | CUDA GPU through libtensorflow  |
 * | `tensorflow`     | `@tensorflow/tfjs-node`        | CPU through libtensorflow       |
 * | `wasm`           | `@tensorflow/tfjs-backend-wasm`| WebAssembly, SIMD when present  |
 * | `cpu`            | `@tensorflow/tfjs-backend-cpu` | plain JavaScript                |
 *
 * The two native packages are optional dependencies whose install downloads
 * libtensorflow, so they are often missing: they are imported dynamically and
 * a failed import falls through to the next backend with a logged reason. A
 * requested backend that cannot load raises BackendUnavailableError.
 *
 * Threads: the wasm build runs one thread in Node (its threaded variant needs
 * browser workers), so the engine runs one wasm engine per worker thread and
 * one worker per core. In Node the wasm backend loads its .wasm files from
 * its own package folder, so setWasmPaths is not needed (checked with
 * tfjs-backend-wasm 4.22). tfjs-node 4.x fails to load in a second thread of the
 * same process, so with the native backends the engine runs exactly one
 * worker and no other thread may load them.
 */
import type * as tfCore from '@tensorflow/tfjs-core';
import { availableParallelism } from 'node:os';
import { moduleLogger } from '../log.js';
import { InvalidInputError } from './types.js';

const log = moduleLogger('engine.backend');

export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The backend an engine thread runs on, as shown to users. */
export interface BackendInfo {
  name: BackendName;
  /** Human-readable device, for example `wasm (SIMD, 1 thread)` or `CUDA GPU`. */
  device: string;
}

/** Raised when a requested backend cannot be loaded; the message names the backend, the cause and the alternatives. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
  readonly code = 'BACKEND_UNAVAILABLE';
}

/** Parses a `--backend` value; throws InvalidInputError listing the valid names. */
export function parseBackendName(text: string): BackendName {
  const name = text.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new InvalidInputError(
    `Backend "${text}" is unknown: use one of ${BACKEND_NAMES.join(', ')} (or omit it to pick the fastest available).`,
  );
}

/** True for the libtensorflow backends, which allow one engine thread per process. */
export function isNativeBackend(name: BackendName): boolean {
  return name === 'tensorflow-gpu' || name === 'tensorflow';
}

/**
 * Returns the number of engine workers for `backend`: one per core for wasm
 * and cpu (or `requested` when given), exactly one for the native backends.
 */
export function workerCountFor(backend: BackendName, requested?: number): number {
  checkWorkerCount(requested);
  if (isNativeBackend(backend)) {
    if (requested !== undefined && requested > 1) {
      log.warn({ backend, requested }, 'native TensorFlow backends allow one engine thread per process; using 1 worker');
    }
    return 1;
  }
  return requested ?? availableParallelism();
}

/** Throws InvalidInputError unless `requested` is undefined or a whole number of at least 1. */
export function checkWorkerCount(requested: number | undefined): void {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) {
    throw new InvalidInputError(`Worker count ${requested} is invalid: use a whole number of at least 1.`);
  }
}

interface Candidate {
  name: BackendName;
  load: () => Promise<string>;
}

// A variable specifier keeps TypeScript from resolving packages that are optional and usually absent.
async function importOptional(specifier: string): Promise<void> {
  await import(specifier);
}

/** The tfjs-core module. It is imported on first use, so threads that only parse backend names never load it. */
type Tf = typeof tfCore;

async function activate(tfName: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`tf.setBackend('${tfName}') returned false`);
  await tf.ready();
}

const CANDIDATES: Candidate[] = [
  {
    name: 'tensorflow-gpu',
    load: async () => {
      await importOptional('@tensorflow/tfjs-node-gpu');
      await activate('tensorflow');
      // NOTE: libtensorflow's GPU build falls back to the CPU when no CUDA device is
      // usable; this label is not checked against the device TensorFlow picked.
      return 'CUDA GPU (libtensorflow)';
    },
  },
  {
    name: 'tensorflow',
    load: async () => {
      await importOptional('@tensorflow/tfjs-node');
      await activate('tensorflow');
      return 'CPU (libtensorflow)';
    },
  },
  {
    name: 'wasm',
    load: async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      await activate('wasm');
      const tf = await import('@tensorflow/tfjs-core');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const threads = wasm.getThreadsCount();
      return `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`;
    },
  },
  {
    name: 'cpu',
    load: async () => {
      await import('@tensorflow/tfjs-backend-cpu');
      await activate('cpu');
      return 'cpu (plain JavaScript, 1 thread)';
    },
  },
];

/**
 * Loads and activates a backend in the calling thread and returns the tfjs
 * module with its description. With `requested` only that backend is tried
 * (BackendUnavailableError if it fails); without it, the candidates are tried
 * fastest first. Call it once per thread, and never on a thread other than the
 * engine worker when a native backend may be chosen.
 */
export async function selectBackend(requested?: BackendName): Promise<{ tf: Tf; info: BackendInfo }> {
  const candidates = requested ? CANDIDATES.filter((c) => c.name === requested) : CANDIDATES;
  const reasons: string[] = [];
  for (const candidate of candidates) {
    const started = performance.now();
    try {
      const device = await candidate.load();
      const info: BackendInfo = { name: candidate.name, device };
      log.info({ backend: info.name, device, ms: Math.round(performance.now() - started) }, 'backend ready');
      return { tf: await import('@tensorflow/tfjs-core'), info };
    } catch (error) {
      const reason = describeLoadFailure(error);
      reasons.push(`${candidate.name}: ${reason}`);
      if (requested) break;
      log.info({ backend: candidate.name, reason }, 'backend unavailable, trying the next one');
    }
  }
  if (requested) {
    const others = BACKEND_NAMES.filter((name) => name !== requested).join(', ');
    throw new BackendUnavailableError(
      `Backend "${requested}" is unavailable (${reasons.join('; ')}). Install its package or choose another backend: ${others}.`,
    );
  }
  throw new BackendUnavailableError(`No TensorFlow.js backend could be loaded (${reasons.join('; ')}).`);
}

function describeLoadFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
