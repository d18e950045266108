/**
 * Entry point of the pruning pipeline for the CLI and the desktop run
 * manager.
 *
 * - `runPrune(settings, hooks)` prunes a model block by block, checkpoints
 *   each block in the run folder, evaluates dense and pruned perplexity and
 *   writes the output folder with `pruning_report.json`.
 * - `evaluateModel(options)` measures one model's perplexity.
 * - `inspectModel(path)` reads a model's summary and estimates the memory a
 *   run needs.
 */
import type { LayerGroup, LayerResult, SolveOptions } from '../engine/types.js';
import type { PipelineEvent } from './events.js';
import { evaluateModelImpl, inspectModelImpl, type EvaluateOptions, type EvaluationResult, type ModelInspection } from './inspect.js';
import { runPruneImpl } from './run.js';
import type { PruneOutcome, PruneSettings } from './settings.js';

export type { PipelineEvent, PipelineEventType, TargetLabels } from './events.js';
export { estimatePruneMemory, type EvaluateOptions, type EvaluationResult, type ModelInspection } from './inspect.js';
export {
  PruneSettingsSchema,
  parsePruneSettings,
  type CalibrationSettings,
  type LayerRecord,
  type PruneOutcome,
  type PruneSettings,
  type Targets,
} from './settings.js';

/**
 * The part of the engine facade (`createEngine` in main/engine) the pipeline
 * uses, declared structurally so that tests can pass any engine that has it.
 */
export interface PipelineEngine {
  readonly backend: { name: string; device: string };
  solveGroup(group: LayerGroup, options: SolveOptions): Promise<LayerResult[]>;
  close(): Promise<void> | void;
}

export interface PruneHooks {
  /** Aborting stops the run within about a second; the output folder is then not created. */
  signal?: AbortSignal;
  onEvent?: (event: PipelineEvent) => void;
  /** An engine to reuse; when absent the run creates one and closes it at the end. */
  engine?: PipelineEngine;
}

/**
 * Prunes a model block by block and writes the output folder. Rejects with
 * InvalidInputError for bad settings or paths before any work, and with
 * CancelledError when `hooks.signal` aborts. A cancelled or killed run
 * continues with `resume: true` and the same settings and run folder.
 */
export async function runPrune(settings: PruneSettings, hooks: PruneHooks = {}): Promise<PruneOutcome> {
  return runPruneImpl(settings, hooks);
}

/** Measures one model's perplexity on a text file (windows of `seqLen`, tail dropped). */
export async function evaluateModel(options: EvaluateOptions): Promise<EvaluationResult> {
  return evaluateModelImpl(options);
}

/** Reads a model's summary and estimates the memory a prune run with `calibration` (default 64 × 256 tokens) needs. */
export async function inspectModel(path: string, calibration?: { samples: number; seqLen: number }): Promise<ModelInspection> {
  return inspectModelImpl(path, calibration);
}
