/**
 * The handler of every IPC channel, shared by the Electron and web
 * transports, and `dispatch`, which validates a request, calls its handler
 * and returns the result envelope. The Electron shell overrides the two
 * channels that need native UI (`dialog.open`, `shell.showInFolder`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import {
  isChannel,
  parseRequest,
  toIpcError,
  type Channel,
  type InvokeResult,
  type ParsedRequestOf,
  type ResponseOf,
} from '../../shared/ipc.js';
import { moduleLogger } from '../log.js';
import { inspectModel } from '../pipeline/index.js';
import type { AppContext } from './context.js';
import { compareRuns, exportRuns } from './compare.js';
import { AppError, invalidInputError, unsupportedError } from './errors.js';

const log = moduleLogger('app.handlers');

export type Handler<C extends Channel> = (request: ParsedRequestOf<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;
export type Handlers = { [C in Channel]: Handler<C> };

function requireExisting(path: string, subject: string, fix: string): void {
  if (!existsSync(path)) {
    throw invalidInputError(`${subject} ${path} does not exist: ${fix}`);
  }
}

export function createHandlers(app: AppContext, overrides: Partial<Handlers> = {}): Handlers {
  const { store, manager } = app;

  const handlers: Handlers = {
    'app.info': () => ({
      version: app.version,
      backend: app.backendLabel(),
      databasePath: store.path,
      dataDir: app.dataDir,
      platform: app.platform,
    }),

    'model.inspect': async ({ path }) => {
      if (!existsSync(path)) {
        throw new AppError('NOT_FOUND', `Model ${path} was not found: choose a llama2.c .bin file or a Hugging Face model folder.`, 'NotFoundError');
      }
      return inspectModel(path);
    },

    'model.default': () => ({ ...app.bundled, outDir: app.defaultOutDir }),

    'run.start': ({ settings }) => {
      requireExisting(settings.modelPath, 'Model', 'choose a llama2.c .bin file or a Hugging Face model folder.');
      if (settings.tokenizerPath !== null) {
        requireExisting(settings.tokenizerPath, 'Tokenizer', 'choose the tokenizer file, or leave it empty to use the one beside the model.');
      }
      requireExisting(settings.calibration.file, 'Calibration file', 'choose a text or JSONL file.');
      if (settings.evalFile !== null) {
        requireExisting(settings.evalFile, 'Evaluation file', 'choose a text or JSONL file, or turn evaluation off.');
      }
      try {
        mkdirSync(settings.outDir, { recursive: true });
      } catch (error) {
        throw invalidInputError(`Output folder ${settings.outDir} cannot be created (${(error as Error).message}): choose a folder you can write to.`);
      }
      return { runIds: manager.start(settings) };
    },

    'run.cancel': ({ runId }) => ({ status: manager.cancel(runId) }),

    'run.resume': ({ runId }) => manager.resume(runId),

    'runs.list': ({ sort, filter }) => store.runs.list({ ...(sort ? { sort } : {}), ...(filter ? { filter } : {}) }),

    'runs.get': ({ runId, eventLimit }) => ({
      run: store.runs.require(runId),
      layers: store.layers.list(runId),
      events: store.events.recent(runId, eventLimit),
    }),

    'runs.rename': ({ runId, name }) => {
      store.runs.require(runId);
      store.runs.update(runId, { name });
      return store.runs.require(runId);
    },

    'runs.setNotes': ({ runId, notes }) => {
      store.runs.require(runId);
      store.runs.update(runId, { notes });
      return store.runs.require(runId);
    },

    'runs.delete': async ({ runId, deleteFiles }) => ({ deletedPaths: await manager.delete(runId, deleteFiles) }),

    'runs.compare': ({ runIds }) =>
      compareRuns(runIds.map((runId) => ({ run: store.runs.require(runId), layers: store.layers.list(runId), events: [] }))),

    'runs.export': ({ runIds, format }) =>
      exportRuns(
        runIds.map((runId) => ({ run: store.runs.require(runId), layers: store.layers.list(runId), events: [] })),
        format,
      ),

    'dialog.open': () => {
      throw unsupportedError('File dialogs need the desktop app: type the path into the field instead.');
    },

    'shell.showInFolder': () => {
      throw unsupportedError('Showing files in the file manager needs the desktop app: open the folder yourself.');
    },
  };

  return { ...handlers, ...overrides };
}

/**
 * Validates `request` for `channel`, runs its handler and returns the result
 * envelope. Never throws: every failure becomes an error as data, and every
 * caught error is logged with the channel and run ids.
 */
export async function dispatch(handlers: Handlers, channel: string, request: unknown): Promise<InvokeResult<unknown>> {
  if (!isChannel(channel)) {
    log.warn({ channel }, 'request for an unknown channel');
    return {
      ok: false,
      error: { name: 'NotFoundError', code: 'NOT_FOUND', message: `Channel "${channel}" does not exist: use one of the channels in shared/ipc.ts.` },
    };
  }
  const parsed = parseRequest(channel, request);
  if (!parsed.ok) {
    log.warn({ channel, message: parsed.error.message }, 'invalid request');
    return parsed;
  }
  try {
    const handler = handlers[channel] as Handler<Channel>;
    return { ok: true, value: await handler(parsed.value as never) };
  } catch (error) {
    const data = toIpcError(error);
    const value = parsed.value as { runId?: string; runIds?: string[] };
    const ids = { runId: value.runId, runIds: value.runIds };
    if (data.code === 'CANCELLED' || data.code === 'UNSUPPORTED') {
      log.info({ channel, ...ids, code: data.code }, data.message);
    } else {
      log.error({ err: error, channel, ...ids, code: data.code }, 'request failed');
    }
    return { ok: false, error: data };
  }
}
