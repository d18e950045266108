/**
 * Starts the run host worker thread. From the TypeScript sources (a checkout,
 * the tests) the worker loads run-host.ts through tsx; from the compiled
 * build (`dist/`, the packaged app) it loads run-host.js directly.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { moduleLogger } from '../log.js';
import type { HostMessage, HostRequest } from './run-host-protocol.js';

const log = moduleLogger('app.run-host');

export interface RunHost {
  send(request: HostRequest): void;
  /** Stops the worker at once, abandoning a run in progress. */
  terminate(): Promise<void>;
}

export interface RunHostListeners {
  onMessage(message: HostMessage): void;
  /** The worker stopped without being terminated (an uncaught error, out of memory). */
  onExit(error: Error): void;
}

function workerEntry(): { url: URL; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './run-host.ts' : './run-host.js', import.meta.url);
  if (!fromSource) {
    return { url, execArgv: [] };
  }
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { url, execArgv: ['--import', tsxLoader] };
}

export function startRunHost(listeners: RunHostListeners): RunHost {
  const { url, execArgv } = workerEntry();
  const worker = new Worker(url, { execArgv, env: process.env });
  let terminating = false;
  log.info({ entry: fileURLToPath(url), threadId: worker.threadId }, 'run host started');

  worker.on('message', (message: HostMessage) => listeners.onMessage(message));
  worker.on('error', (error) => {
    log.error({ err: error, threadId: worker.threadId }, 'run host failed');
  });
  worker.on('exit', (code) => {
    if (!terminating) {
      log.error({ code, threadId: worker.threadId }, 'run host stopped unexpectedly');
      listeners.onExit(new Error(`The run host thread stopped with exit code ${code}: see the log for the error, then resume the run.`));
    }
  });

  return {
    send(request) {
      worker.postMessage(request);
    },
    async terminate() {
      terminating = true;
      await worker.terminate();
    },
  };
}
