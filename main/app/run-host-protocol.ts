/**
 * Messages between the run manager and the run host worker thread. The host
 * runs one pipeline run at a time, so that pruning never blocks the thread
 * that serves the window or the HTTP server.
 */
import type { IpcError, PipelineEventData } from '../../shared/ipc.js';
import type { PruneOutcome, PruneSettings } from '../pipeline/index.js';

export type HostRequest =
  | { type: 'start'; runId: string; settings: PruneSettings }
  | { type: 'cancel'; runId: string };

export type HostMessage =
  /** The host's engine started (before its first run); `label` is shown in Settings. */
  | { type: 'engine'; label: string }
  | { type: 'event'; runId: string; event: PipelineEventData }
  | { type: 'finished'; runId: string; outcome: PruneOutcome }
  | { type: 'failed'; runId: string; error: IpcError };
