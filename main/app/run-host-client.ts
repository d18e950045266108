/**
 * Starts the run host worker thread. From the TypeScript sources (a checkout
 * or the tests), the worker loads run-host.ts through tsx. From the compiled
 * build (`dist/` or the packaged app), it loads run-host.js directly.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/**
 * Returns how to start the worker: run-host.js beside this file in dist/, or,
 * from the TypeScript sources, an evaluated bootstrap that registers tsx in
 * the new thread and then imports run-host.ts. (Node 20 rejects a .ts worker
 * entry given with `execArgv: ['--import', 'tsx']` before the hooks apply.)
 */
function workerEntry(): { entry: URL | string; eval: boolean; file: string } {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './run-host.ts' : './run-host.js', import.meta.url);
  if (!fromSource) {
    return { entry: url, eval: false, file: fileURLToPath(url) };
  }
  const bootstrap = `import(${JSON.stringify(tsxEsmApiUrl())}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
  return { entry: bootstrap, eval: true, file: fileURLToPath(url) };
}

/** File URL of tsx's ESM `register` API (the `import` condition of its `./esm/api` export). */
function tsxEsmApiUrl(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('tsx/package.json');
  const manifest = require(manifestPath) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(manifestPath), manifest.exports['./esm/api']!.import.default)).href;
}

export function startRunHost(listeners: RunHostListeners): RunHost {
  const { entry, eval: isEval, file } = workerEntry();
  const worker = new Worker(entry, { eval: isEval });
  let terminating = false;
  log.info({ entry: file, threadId: worker.threadId }, 'run host started');

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
