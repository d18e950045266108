/**
 * Every channel between the interface and the main process, declared once.
 * The Electron transport (main/electron, preload) and the web-mode transport
 * (main/server) both serve exactly these channels, validate each request
 * against its schema and return results as data.
 *
 * Result envelope, the same on both transports:
 *   `{ ok: true, value }` or `{ ok: false, error: { name, message, code } }`.
 * A request that fails its schema gets code `INVALID_INPUT` with a message
 * that lists each invalid field. Cancellation has its own code `CANCELLED`.
 *
 * Electron: `window.alps` (see `AlpsApi`) is exposed by the preload.
 *   `invoke(channel, request)` resolves to the envelope; an unknown channel
 *   rejects with an Error naming the channel.
 *
 * Web mode (`alps-studio serve`), on 127.0.0.1 only:
 *   - Every request carries the token printed at start, as the `x-alps-token`
 *     header or the `token` query parameter; missing or wrong → 401.
 *     A Host other than `127.0.0.1:PORT` / `localhost:PORT`, or an Origin
 *     other than `http://127.0.0.1:PORT` / `http://localhost:PORT` → 403.
 *   - `POST /api/invoke/<channel>` with the JSON request as body → 200 and the
 *     envelope (unknown channel → 404 with code NOT_FOUND).
 *   - `GET /api/events?token=TOKEN` → Server-Sent Events; each message is one
 *     line `data: {"event":"run.event"|"run.status","payload":...}`.
 */
import { z } from 'zod';
import {
  ComparisonSchema,
  IpcErrorSchema,
  ModelInfoSchema,
  NewRunSettingsSchema,
  PipelineEventSchema,
  RUN_SORT_FIELDS,
  RUN_STATUSES,
  RunDetailSchema,
  RunSummarySchema,
  MethodSchema,
  type IpcError,
} from './ipc-data.js';

export * from './ipc-data.js';

const runId = z.string().min(1, 'Run id is missing: pass the id of a run from runs.list.');
const runIdRequest = z.object({ runId });

export const DIALOG_KINDS = ['modelFolder', 'modelFile', 'text', 'outputFolder'] as const;
export const EXPORT_FORMATS = ['csv', 'json'] as const;

/** Request and response schema of every channel. */
export const channels = {
  /** Version, backend and where the data lives. */
  'app.info': {
    request: z.object({}),
    response: z.object({
      version: z.string(),
      /** Engine backend name and device, for example "wasm (cpu, 2 workers)". */
      backend: z.string(),
      databasePath: z.string(),
      dataDir: z.string(),
      platform: z.enum(['electron', 'web']),
    }),
  },
  /** Reads a model's header and configuration (no weights) and estimates the memory a run needs. */
  'model.inspect': {
    request: z.object({
      path: z.string().min(1, 'Model path is missing: give a llama2.c .bin file or a Hugging Face model folder.'),
    }),
    response: ModelInfoSchema,
  },
  /** Paths of the bundled model and texts, to prefill the forms. */
  'model.default': {
    request: z.object({}),
    response: z.object({
      modelPath: z.string(),
      tokenizerPath: z.string().nullable(),
      calibrationFile: z.string(),
      evalFile: z.string(),
      /** Suggested parent folder for pruned models. */
      outDir: z.string(),
    }),
  },
  /** Starts one run per target; the runs of a sweep run one after another. */
  'run.start': {
    request: z.object({ settings: NewRunSettingsSchema }),
    response: z.object({ runIds: z.array(z.string()) }),
  },
  /** Cancels a running or queued run; it stops within about a second with status `cancelled`. */
  'run.cancel': {
    request: runIdRequest,
    response: z.object({ status: z.enum(RUN_STATUSES) }),
  },
  /** Continues an interrupted, failed or cancelled run from its last checkpoint. */
  'run.resume': {
    request: runIdRequest,
    response: RunSummarySchema,
  },
  'runs.list': {
    request: z.object({
      sort: z
        .object({ field: z.enum(RUN_SORT_FIELDS), direction: z.enum(['asc', 'desc']).default('desc') })
        .optional(),
      filter: z
        .object({
          status: z.array(z.enum(RUN_STATUSES)).optional(),
          method: z.array(MethodSchema).optional(),
          /** Case-insensitive substring of the name, notes or model path. */
          text: z.string().optional(),
        })
        .optional(),
    }),
    response: z.array(RunSummarySchema),
  },
  /** One run with its per-layer results and its most recent events. */
  'runs.get': {
    request: z.object({ runId, eventLimit: z.number().int().min(0).max(100_000).default(500) }),
    response: RunDetailSchema,
  },
  'runs.rename': {
    request: z.object({ runId, name: z.string().trim().min(1, 'Name is empty: type a name for the run.').max(200) }),
    response: RunSummarySchema,
  },
  'runs.setNotes': {
    request: z.object({ runId, notes: z.string().max(100_000) }),
    response: RunSummarySchema,
  },
  /** Deletes a finished, failed, cancelled or interrupted run; `deleteFiles` also removes its output and run folders. */
  'runs.delete': {
    request: z.object({ runId, deleteFiles: z.boolean() }),
    response: z.object({ deletedPaths: z.array(z.string()) }),
  },
  'runs.compare': {
    request: z.object({ runIds: z.array(runId).min(2, 'Compare needs at least two runs: select two or more.') }),
    response: ComparisonSchema,
  },
  /** Returns the runs as a file's content; the interface saves or downloads it. */
  'runs.export': {
    request: z.object({ runIds: z.array(runId).min(1, 'Export needs at least one run.'), format: z.enum(EXPORT_FORMATS) }),
    response: z.object({ filename: z.string(), mimeType: z.string(), content: z.string() }),
  },
  /** Native file dialog (Electron only; the web mode returns code UNSUPPORTED). `path` is null when dismissed. */
  'dialog.open': {
    request: z.object({ kind: z.enum(DIALOG_KINDS), defaultPath: z.string().optional() }),
    response: z.object({ path: z.string().nullable() }),
  },
  /** Shows a file or folder in the system file manager (Electron only; the web mode returns code UNSUPPORTED). */
  'shell.showInFolder': {
    request: z.object({ path: z.string().min(1) }),
    response: z.object({}),
  },
} as const;

export type Channel = keyof typeof channels;
export const CHANNEL_NAMES = Object.keys(channels) as Channel[];

/** Request as a caller passes it (fields with defaults may be omitted). */
export type RequestOf<C extends Channel> = z.input<(typeof channels)[C]['request']>;
/** Request as a handler receives it after validation (defaults filled in). */
export type ParsedRequestOf<C extends Channel> = z.output<(typeof channels)[C]['request']>;
export type ResponseOf<C extends Channel> = z.output<(typeof channels)[C]['response']>;

/** Events pushed from the main process to every window or browser tab. */
export const events = {
  /** One pipeline event of a run. */
  'run.event': z.object({ runId: z.string(), event: PipelineEventSchema }),
  /** A run's status changed; `error` is set when it failed. */
  'run.status': z.object({ runId: z.string(), status: z.enum(RUN_STATUSES), error: IpcErrorSchema.nullable() }),
} as const;

export type EventName = keyof typeof events;
export const EVENT_NAMES = Object.keys(events) as EventName[];
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

/** One message of the web-mode event stream (the JSON after `data: `). */
export type StreamMessage = { [E in EventName]: { event: E; payload: EventPayload<E> } }[EventName];

export type InvokeResult<T> = { ok: true; value: T } | { ok: false; error: IpcError };

/** The object the preload exposes as `window.alps` in Electron. */
export interface AlpsApi {
  /** Sends a request; resolves to the envelope. Rejects only for a channel not in `channels`. */
  invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<InvokeResult<ResponseOf<C>>>;
  /** Subscribes to an event; returns the function that unsubscribes. Throws for an unknown event name. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  readonly platform: 'electron';
}

export function isChannel(name: string): name is Channel {
  return Object.prototype.hasOwnProperty.call(channels, name);
}

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(events, name);
}

/** Formats schema issues as "field: problem" lines, one per issue. */
export function formatIssues(error: z.ZodError, subject: string): string {
  const lines = error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || 'request';
    return `${field}: ${issue.message}`;
  });
  return `Invalid ${subject}:\n${lines.join('\n')}`;
}

/**
 * Validates `request` against the channel's schema. Returns the parsed value
 * or an INVALID_INPUT error whose message lists each invalid field.
 */
export function parseRequest<C extends Channel>(
  channel: C,
  request: unknown,
): { ok: true; value: ParsedRequestOf<C> } | { ok: false; error: IpcError } {
  const result = channels[channel].request.safeParse(request ?? {});
  if (result.success) {
    return { ok: true, value: result.data as ParsedRequestOf<C> };
  }
  return {
    ok: false,
    error: { name: 'InvalidInputError', code: 'INVALID_INPUT', message: formatIssues(result.error, `request for ${channel}`) },
  };
}

/** Converts any thrown value into an error as data; a known `code` is kept, others become INTERNAL. */
export function toIpcError(error: unknown): IpcError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const known = IpcErrorSchema.shape.code.safeParse(code);
    return { name: error.name, message: error.message, code: known.success ? known.data : 'INTERNAL' };
  }
  return { name: 'Error', message: String(error), code: 'INTERNAL' };
}
