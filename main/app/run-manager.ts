/**
 * Run manager: queues runs, runs them one at a time in the run host worker
 * thread, records their events in the store and forwards them to the bus.
 *
 * Lifecycle of a run: `running` from the moment `start` returns (a queued
 * run of a sweep is `running` with no progress), then `finished`, `failed`,
 * `cancelled` or, when the app quits or a process dies mid-run,
 * `interrupted`. Interrupted, failed and cancelled runs can be resumed from
 * their run folder.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { IpcError, ParsedRequestOf, RunSettings, RunStatus, RunSummary } from '../../shared/ipc.js';
import { moduleLogger } from '../log.js';
import type { PruneSettings } from '../pipeline/index.js';
import type { Store } from '../store/index.js';
import { conflictError } from './errors.js';
import type { EventBus } from './event-bus.js';
import { safeFileName } from './paths.js';
import { startRunHost, type RunHost, type RunHostListeners } from './run-host-client.js';
import type { HostMessage } from './run-host-protocol.js';
import { recordEvent } from './run-recorder.js';

const log = moduleLogger('app.runs');

export const RUN_MANAGER_DEFAULTS = {
  /** Time a cancelled run gets to stop by itself before its thread is terminated, in ms. */
  cancelGraceMs: 1000,
  /** Time the run in progress gets to stop when the app quits, in ms. */
  shutdownGraceMs: 2000,
};

export interface RunManagerOptions {
  store: Store;
  bus: EventBus;
  /** Run folders (checkpoints) go to `<dataDir>/runs/<runId>`. */
  dataDir: string;
  limits?: Partial<typeof RUN_MANAGER_DEFAULTS>;
  /** Starts the run host; tests may pass a host that runs a different pipeline entry. */
  startHost?: (listeners: RunHostListeners) => RunHost;
}

interface QueuedRun {
  runId: string;
  settings: PruneSettings;
}

interface ActiveRun extends QueuedRun {
  startedAt: number;
  /** Set when a stop was requested: `cancelled` by the user, `interrupted` by quitting. */
  stopAs: 'cancelled' | 'interrupted' | null;
  graceTimer: NodeJS.Timeout | null;
  /** Resolves once the run has ended, whatever the outcome. */
  ended: Promise<void>;
  resolveEnded: () => void;
}

/** Settings the pipeline receives for one stored run. */
export function toPruneSettings(settings: RunSettings, outputPath: string, runDir: string, resume: boolean): PruneSettings {
  return {
    model: settings.modelPath,
    ...(settings.tokenizerPath === null ? {} : { tokenizer: settings.tokenizerPath }),
    method: settings.method,
    targets: {
      default: settings.target,
      ...(settings.attentionTarget === null ? {} : { attention: settings.attentionTarget }),
      ...(settings.mlpTarget === null ? {} : { mlp: settings.mlpTarget }),
    },
    calibration: settings.calibration,
    eval: settings.evalFile,
    out: outputPath,
    overwrite: false,
    runDir,
    resume,
  };
}

/** Output folder name such as `stories260K-alps-0.7-3f2a9c1e` (the id suffix keeps sweeps apart). */
function outputFolderName(settings: RunSettings, runId: string): string {
  const model = basename(settings.modelPath, extname(settings.modelPath));
  const parts = [model, settings.method, settings.target.replace(':', 'of')];
  if (settings.attentionTarget !== null) parts.push(`attn${settings.attentionTarget.replace(':', 'of')}`);
  if (settings.mlpTarget !== null) parts.push(`mlp${settings.mlpTarget.replace(':', 'of')}`);
  parts.push(runId.slice(0, 8));
  return safeFileName(parts.join('-'));
}

export class RunManager {
  private readonly store: Store;
  private readonly bus: EventBus;
  private readonly dataDir: string;
  private readonly limits: typeof RUN_MANAGER_DEFAULTS;
  private readonly startHost: (listeners: RunHostListeners) => RunHost;
  private host: RunHost | null = null;
  private queue: QueuedRun[] = [];
  private active: ActiveRun | null = null;
  private closed = false;
  private engineLabel: string | null = null;

  constructor(options: RunManagerOptions) {
    this.store = options.store;
    this.bus = options.bus;
    this.dataDir = options.dataDir;
    this.limits = { ...RUN_MANAGER_DEFAULTS, ...options.limits };
    this.startHost = options.startHost ?? startRunHost;
  }

  /** Stores one run per target and queues them in order; returns their ids. */
  start(settings: ParsedRequestOf<'run.start'>['settings']): string[] {
    this.assertOpen();
    const { targets, ...common } = settings;
    const sweepId = targets.length > 1 ? randomUUID() : null;
    const createdAt = Date.now();
    const runIds: string[] = [];

    const insertAll = this.store.db.transaction(() => {
      targets.forEach((target, index) => {
        const runId = randomUUID();
        const runSettings: RunSettings = { ...common, target };
        const outputPath = join(settings.outDir, outputFolderName(runSettings, runId));
        const runDir = join(this.dataDir, 'runs', runId);
        // Consecutive createdAt values keep a sweep in its order in the history.
        this.store.runs.insert({ id: runId, settings: runSettings, sweepId, createdAt: createdAt + index, outputPath, runDir });
        runIds.push(runId);
        this.queue.push({ runId, settings: toPruneSettings(runSettings, outputPath, runDir, false) });
      });
    });
    insertAll();

    log.info({ runIds, sweepId, method: settings.method, targets }, 'queued runs');
    for (const runId of runIds) {
      this.bus.emit('run.status', { runId, status: 'running', error: null });
    }
    this.startNext();
    return runIds;
  }

  /** Cancels a queued or running run; returns the run's status after the request. */
  cancel(runId: string): RunStatus {
    const run = this.store.runs.require(runId);
    const queued = this.queue.findIndex((entry) => entry.runId === runId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.finish(runId, 'cancelled', null, 0);
      return 'cancelled';
    }
    if (this.active?.runId !== runId) {
      // Not ours to stop: it has already ended, so report its status unchanged.
      return run.status;
    }
    this.requestStop(this.active, 'cancelled', this.limits.cancelGraceMs);
    return 'running';
  }

  /** Waits until the given run is no longer in progress (tests and shutdown use it). */
  async waitForEnd(runId: string): Promise<void> {
    while (this.active?.runId === runId || this.queue.some((entry) => entry.runId === runId)) {
      await (this.active?.ended ?? Promise.resolve());
    }
  }

  /** Queues an interrupted, failed or cancelled run again; it continues from its last checkpoint. */
  resume(runId: string): RunSummary {
    this.assertOpen();
    const run = this.store.runs.require(runId);
    if (run.status === 'running' || run.status === 'finished') {
      throw conflictError(`Run ${runId} is ${run.status}, so there is nothing to resume: only interrupted, failed or cancelled runs can be resumed.`);
    }
    const resumable = existsSync(join(run.runDir, 'manifest.json'));
    this.store.runs.update(runId, { status: 'running', error: null, finishedAt: null, seconds: null, secondsLeft: null });
    this.queue.push({ runId, settings: toPruneSettings(run.settings, run.outputPath, run.runDir, resumable) });
    log.info({ runId, fromCheckpoint: resumable }, 'resuming run');
    this.bus.emit('run.status', { runId, status: 'running', error: null });
    this.startNext();
    return this.store.runs.require(runId);
  }

  /** Deletes a run that is not in progress; with `deleteFiles`, also its output and run folders. */
  async delete(runId: string, deleteFiles: boolean): Promise<string[]> {
    const run = this.store.runs.require(runId);
    if (this.isInProgress(runId)) {
      throw conflictError(`Run ${runId} is still running: cancel it first, then delete it.`);
    }
    const deletedPaths: string[] = [];
    if (deleteFiles) {
      for (const path of [run.outputPath, run.runDir]) {
        if (existsSync(path)) {
          await rm(path, { recursive: true, force: true });
          deletedPaths.push(path);
        }
      }
    }
    this.store.runs.delete(runId);
    log.info({ runId, deletedPaths }, 'deleted run');
    return deletedPaths;
  }

  /** Backend and workers of the run host's engine; null until the first run has started it. */
  get backend(): string | null {
    return this.engineLabel;
  }

  isInProgress(runId: string): boolean {
    return this.active?.runId === runId || this.queue.some((entry) => entry.runId === runId);
  }

  /**
   * Stops for quitting: the run in progress is cancelled and marked
   * `interrupted` (resumable), queued runs are marked `interrupted`, and the
   * host thread is stopped. Queued events are written before it returns.
   */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    const queued = this.queue;
    this.queue = [];
    for (const entry of queued) {
      this.finish(entry.runId, 'interrupted', null, 0);
    }
    const active = this.active;
    if (active !== null) {
      this.requestStop(active, 'interrupted', this.limits.shutdownGraceMs);
      await active.ended;
    }
    await this.host?.terminate();
    this.host = null;
    this.store.eventWriter.flush();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw conflictError('The app is shutting down, so no new run can start: reopen ALPS Studio and try again.');
    }
  }

  private requestStop(active: ActiveRun, stopAs: 'cancelled' | 'interrupted', graceMs: number): void {
    if (active.stopAs === 'interrupted') {
      return;
    }
    // A run the user already cancelled stays cancelled when the app then quits.
    active.stopAs = active.stopAs ?? stopAs;
    this.host?.send({ type: 'cancel', runId: active.runId });
    if (active.graceTimer !== null) {
      clearTimeout(active.graceTimer);
    }
    active.graceTimer = setTimeout(() => {
      if (this.active !== active) {
        return;
      }
      // The pipeline did not stop in time: stop its thread; the next run starts a new one.
      log.warn({ runId: active.runId, graceMs }, 'run did not stop in time; terminating the run host');
      const host = this.host;
      this.host = null;
      void host?.terminate();
      this.endActive(active.stopAs ?? 'cancelled', null);
    }, graceMs);
  }

  private ensureHost(): RunHost {
    if (this.host === null) {
      const host = this.startHost({
        onMessage: (message) => this.onHostMessage(message),
        onExit: (error) => {
          if (this.host !== host) {
            return;
          }
          this.host = null;
          if (this.active !== null) {
            const stopAs = this.active.stopAs;
            this.endActive(stopAs ?? 'failed', stopAs === null ? { name: 'RunHostError', message: error.message, code: 'INTERNAL' } : null);
          }
        },
      });
      this.host = host;
    }
    return this.host;
  }

  private startNext(): void {
    if (this.active !== null || this.closed) {
      return;
    }
    const next = this.queue.shift();
    if (next === undefined) {
      return;
    }
    let resolveEnded: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      resolveEnded = resolve;
    });
    this.active = { ...next, startedAt: Date.now(), stopAs: null, graceTimer: null, ended, resolveEnded };
    log.info({ runId: next.runId, resume: next.settings.resume }, 'starting run');
    this.ensureHost().send({ type: 'start', runId: next.runId, settings: next.settings });
  }

  private onHostMessage(message: HostMessage): void {
    if (message.type === 'engine') {
      this.engineLabel = message.label;
      return;
    }
    const active = this.active;
    if (active === null || active.runId !== message.runId) {
      // A late message of a run that was already ended (its thread was terminated).
      return;
    }
    switch (message.type) {
      case 'event':
        try {
          recordEvent(this.store, this.bus, message.runId, message.event);
        } catch (error) {
          log.error({ err: error, runId: message.runId, event: message.event.type }, 'failed to record event');
        }
        break;
      case 'finished':
        this.store.runs.update(message.runId, {
          densePerplexity: message.outcome.perplexity.dense,
          prunedPerplexity: message.outcome.perplexity.pruned,
          overallSparsity: message.outcome.overallSparsity,
          backend: message.outcome.backend,
          progress: 1,
          secondsLeft: 0,
        });
        this.endActive('finished', null, message.outcome.seconds);
        break;
      case 'failed':
        if (message.error.code === 'CANCELLED' || active.stopAs !== null) {
          this.endActive(active.stopAs ?? 'cancelled', null);
        } else {
          this.endActive('failed', message.error);
        }
        break;
    }
  }

  private endActive(status: RunStatus, error: IpcError | null, seconds?: number): void {
    const active = this.active;
    if (active === null) {
      return;
    }
    if (active.graceTimer !== null) {
      clearTimeout(active.graceTimer);
    }
    this.active = null;
    this.finish(active.runId, status, error, seconds ?? (Date.now() - active.startedAt) / 1000);
    active.resolveEnded();
    this.startNext();
  }

  private finish(runId: string, status: RunStatus, error: IpcError | null, seconds: number): void {
    this.store.eventWriter.endRun(runId);
    this.store.runs.update(runId, { status, error, finishedAt: Date.now(), seconds, secondsLeft: null });
    if (status === 'failed') {
      log.error({ runId, error }, 'run failed');
    } else {
      log.info({ runId, status, seconds }, 'run ended');
    }
    this.bus.emit('run.status', { runId, status, error });
  }
}
