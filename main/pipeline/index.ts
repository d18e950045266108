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
import type { ModelSummary } from '../model/types.js';
import type { PipelineEvent } from './events.js';
import type { PruneOutcome, PruneSettings } from './settings.js';

export type { PipelineEvent, PipelineEventType, TargetLabels } from './events.js';
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

export interface EvaluateOptions {
  model: string;
  tokenizer?: string;
  /** Text file (plain or JSONL with `text`). */
  file: string;
  seqLen: number;
  signal?: AbortSignal;
}

export interface EvaluationResult {
  perplexity: number;
  /** Mean negative log-likelihood per predicted token, in nats. */
  nll: number;
  windows: number;
  predictedTokens: number;
  seconds: number;
}

export type ModelInspection = ModelSummary & {
  /** Estimate of the memory a prune run needs: one block's weights in float32, calibration activations and H matrices. */
  estimatedMemoryBytes: number;
};

export async function runPrune(settings: PruneSettings, hooks: PruneHooks = {}): Promise<PruneOutcome> {
  void settings;
  void hooks;
  throw new Error('runPrune is not implemented yet.');
}

export async function evaluateModel(options: EvaluateOptions): Promise<EvaluationResult> {
  void options;
  throw new Error('evaluateModel is not implemented yet.');
}

export async function inspectModel(path: string): Promise<ModelInspection> {
  void path;
  throw new Error('inspectModel is not implemented yet.');
}
