/**
 * Worker-thread entry of the run host: receives `start` and `cancel`
 * messages (run-host-protocol.ts), runs the pipeline and posts its events and
 * outcome back. The pipeline's own engine workers start from this thread.
 */
import { parentPort } from 'node:worker_threads';
import { toIpcError } from '../../shared/ipc.js';
import { moduleLogger } from '../log.js';
import { runPrune } from '../pipeline/index.js';
import type { HostMessage, HostRequest } from './run-host-protocol.js';

const log = moduleLogger('app.run-host');

if (parentPort === null) {
  throw new Error('run-host.ts is a worker-thread entry: start it with new Worker(), not as a script.');
}
const port = parentPort;
const controllers = new Map<string, AbortController>();

function post(message: HostMessage): void {
  port.postMessage(message);
}

async function start(runId: string, request: Extract<HostRequest, { type: 'start' }>): Promise<void> {
  const controller = new AbortController();
  controllers.set(runId, controller);
  try {
    // TODO: create the engine once per host with createEngine() when main/engine/index.ts lands,
    // and pass it as hooks.engine; until then each run creates and closes its own.
    const outcome = await runPrune(request.settings, {
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
