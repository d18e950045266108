/**
 * Worker-thread entry of the run host: receives `start` and `cancel`
 * messages (run-host-protocol.ts), runs the pipeline and posts its events and
 * outcome back. The host starts one engine (and its solver worker threads)
 * at its first run and reuses it for every later run.
 */
import { parentPort } from 'node:worker_threads';
import { toIpcError } from '../../shared/ipc.js';
import { createEngine, type Engine } from '../engine/index.js';
import { moduleLogger } from '../log.js';
import { runPrune } from '../pipeline/index.js';
import type { HostMessage, HostRequest } from './run-host-protocol.js';

const log = moduleLogger('app.run-host');

if (parentPort === null) {
  throw new Error('run-host.ts is a worker-thread entry: start it with new Worker(), not as a script.');
}
const port = parentPort;
const controllers = new Map<string, AbortController>();
let engine: Promise<Engine> | null = null;

function startEngine(): Promise<Engine> {
  if (engine === null) {
    engine = createEngine().then((started) => {
      post({ type: 'engine', label: `${started.backend.device}, ${started.workers} worker${started.workers === 1 ? '' : 's'}` });
      return started;
    });
    // A failed start is reported by the run that awaited it; the next run tries again.
    engine.catch(() => {
      engine = null;
    });
  }
  return engine;
}

function post(message: HostMessage): void {
  port.postMessage(message);
}

async function start(runId: string, request: Extract<HostRequest, { type: 'start' }>): Promise<void> {
  const controller = new AbortController();
  controllers.set(runId, controller);
  try {
    const outcome = await runPrune(request.settings, {
      engine: await startEngine(),
      signal: controller.signal,
      onEvent: (event) => post({ type: 'event', runId, event }),
    });
    post({ type: 'finished', runId, outcome });
  } catch (error) {
    const data = controller.signal.aborted
      ? { name: 'CancelledError', message: `Run ${runId} was cancelled.`, code: 'CANCELLED' as const }
      : toIpcError(error);
    if (data.code !== 'CANCELLED') {
      log.error({ err: error, runId }, 'run failed');
    }
    post({ type: 'failed', runId, error: data });
  } finally {
    controllers.delete(runId);
  }
}

port.on('message', (request: HostRequest) => {
  if (request.type === 'start') {
    void start(request.runId, request);
  } else if (request.type === 'cancel') {
    controllers.get(request.runId)?.abort();
  }
});
