/**
 * Data shapes that cross the process boundary: run settings, run records,
 * per-layer results, pipeline events and errors. Each is a zod schema with
 * its TypeScript type derived from it; shared/ipc.ts builds the channels from
 * these. Times are milliseconds since the Unix epoch; sparsity is the
 * fraction of weights set to zero.
 */
import { z } from 'zod';
import { METHODS, parseTarget } from './targets.js';

// ---------------------------------------------------------------- errors

/**
 * Error codes. `CANCELLED` is a user's choice, never a failure: the UI shows
 * it as a status, not as an error.
 */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'UNSUPPORTED',
  'CANCELLED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error as data: `name` is the class name, `message` names the value and the fix. */
export const IpcErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  code: z.enum(ERROR_CODES),
});
export type IpcError = z.infer<typeof IpcErrorSchema>;

// ---------------------------------------------------------------- targets and settings

/** A target as users write it: a sparsity fraction ("0.7") or an N:M pattern ("2:4"). */
export const TargetTextSchema = z.string().superRefine((text, context) => {
  try {
    parseTarget(text);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const MethodSchema = z.enum(METHODS);

export const SAMPLING_MODES = ['consecutive', 'random'] as const;

export const CalibrationSchema = z.object({
  /** Plain text, or JSONL with a `text` field per line. */
  file: z.string().min(1, 'Calibration file is missing: choose a text file (the bundled TinyStories file works).'),
  /** Number of token windows. */
  samples: z.number().int().min(1).max(100_000),
  /** Tokens per window. */
  seqLen: z.number().int().min(2).max(1_000_000),
  /** `consecutive`: the first samples·seqLen tokens; `random`: windows at seeded random offsets. */
  sampling: z.enum(SAMPLING_MODES),
  /** Seed of the `random` sampling; stored but unused for `consecutive`. */
  seed: z.number().int().min(0).max(0xffffffff),
});
export type Calibration = z.infer<typeof CalibrationSchema>;

/** Settings shared by every run that one `run.start` request creates. */
const runSettingsBase = {
  /** llama2.c checkpoint file or Hugging Face model folder. */
  modelPath: z.string().min(1, 'Model path is missing: choose a model file or folder.'),
  /** Tokenizer file, when it is not beside the model; null lets the loader find it. */
  tokenizerPath: z.string().min(1).nullable().default(null),
  method: MethodSchema,
  /** Target of the attention projections, overriding the run's default target. */
  attentionTarget: TargetTextSchema.nullable().default(null),
  /** Target of the feed-forward linears, overriding the run's default target. */
  mlpTarget: TargetTextSchema.nullable().default(null),
  calibration: CalibrationSchema,
  /** Text file for perplexity before and after pruning; null skips evaluation. */
  evalFile: z.string().min(1).nullable(),
  /**
   * Parent folder of the outputs: each run writes its pruned model to a new
   * subfolder named after the model, method and target.
   */
  outDir: z.string().min(1, 'Output folder is missing: choose a folder for the pruned models.'),
};

/** Settings of `run.start`. More than one entry in `targets` is a sweep: one run per target, one after another. */
export const NewRunSettingsSchema = z.object({
  ...runSettingsBase,
  targets: z
    .array(TargetTextSchema)
    .min(1, 'No target given: add a sparsity such as 0.7 or a pattern such as 2:4.')
    .max(64, 'A sweep takes at most 64 targets: split it into several sweeps.'),
});
export type NewRunSettings = z.input<typeof NewRunSettingsSchema>;

/** Settings of one stored run: one default target. */
export const RunSettingsSchema = z.object({
  ...runSettingsBase,
  target: TargetTextSchema,
});
export type RunSettings = z.output<typeof RunSettingsSchema>;

// ---------------------------------------------------------------- models

export const LinearSchema = z.object({
  name: z.string(),
  kind: z.enum(['attention', 'mlp']),
  rows: z.number(),
  cols: z.number(),
  /** Linears with the same input group share an input (and H). */
  inputGroup: z.string(),
});

export const ModelInfoSchema = z.object({
  format: z.enum(['llama2c', 'huggingface']),
  architecture: z.string(),
  path: z.string(),
  hidden: z.number(),
  blocks: z.number(),
  vocabSize: z.number(),
  /** Storage dtype on disk: F32, F16 or BF16. */
  dtype: z.string(),
  parameters: z.number(),
  /** Linears of one block, in forward order; the same for every block. */
  linears: z.array(LinearSchema),
  maxSequenceLength: z.number(),
  /** Estimate of the memory a prune run needs, in bytes. */
  estimatedMemoryBytes: z.number(),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

// ---------------------------------------------------------------- pipeline events

const kindSchema = z.enum(['attention', 'mlp']);

/**
 * Events of one run, as the pipeline emits them (main/pipeline/events.ts
 * declares the same union; a type test keeps the two equal).
 * `progress` is the fraction of pruning work done, weighted by layer size;
 * `secondsLeft` is an estimate, null until one layer has finished.
 */
export const PipelineEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('run-started'),
    time: z.number(),
    model: z.string(),
    method: MethodSchema,
    targets: z.object({ default: z.string(), attention: z.string().optional(), mlp: z.string().optional() }),
    blocks: z.number(),
    layers: z.number(),
    /** First block this process prunes: 0, or the block after the last checkpoint on resume. */
    startBlock: z.number(),
    runDir: z.string(),
  }),
  z.object({ type: z.literal('block-started'), time: z.number(), block: z.number(), blocks: z.number() }),
  z.object({
    type: z.literal('layer-started'),
    time: z.number(),
    block: z.number(),
    name: z.string(),
    kind: kindSchema,
    target: z.string(),
  }),
  z.object({
    type: z.literal('iteration'),
    time: z.number(),
    block: z.number(),
    layer: z.string(),
    iteration: z.number(),
    rho: z.number(),
    supportChange: z.number(),
    objective: z.number(),
  }),
  z.object({
    type: z.literal('layer-finished'),
    time: z.number(),
    block: z.number(),
    name: z.string(),
    kind: kindSchema,
    target: z.string(),
    relativeError: z.number(),
    sparsity: z.number(),
    seconds: z.number(),
    iterations: z.number().nullable(),
    progress: z.number(),
    secondsLeft: z.number().nullable(),
  }),
  z.object({
    type: z.literal('block-finished'),
    time: z.number(),
    block: z.number(),
    blocks: z.number(),
    seconds: z.number(),
    progress: z.number(),
    secondsLeft: z.number().nullable(),
  }),
  z.object({
    type: z.literal('evaluation-started'),
    time: z.number(),
    model: z.enum(['dense', 'pruned']),
    windows: z.number(),
  }),
  z.object({
    type: z.literal('evaluation-finished'),
    time: z.number(),
    model: z.enum(['dense', 'pruned']),
    perplexity: z.number(),
    seconds: z.number(),
  }),
  z.object({ type: z.literal('saving-started'), time: z.number(), out: z.string() }),
  z.object({
    type: z.literal('run-finished'),
    time: z.number(),
    seconds: z.number(),
    out: z.string(),
    overallSparsity: z.number(),
  }),
  z.object({ type: z.literal('run-cancelled'), time: z.number(), seconds: z.number() }),
  z.object({
    type: z.literal('run-failed'),
    time: z.number(),
    seconds: z.number(),
    error: z.object({ name: z.string(), message: z.string(), code: z.string().nullable() }),
  }),
]);
export type PipelineEventData = z.infer<typeof PipelineEventSchema>;

// ---------------------------------------------------------------- runs

export const RUN_STATUSES = ['running', 'finished', 'failed', 'cancelled', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RunMetricsSchema = z.object({
  densePerplexity: z.number().nullable(),
  prunedPerplexity: z.number().nullable(),
  /** Zeros over all entries of the pruned linears. */
  overallSparsity: z.number().nullable(),
  /** Mean of the layers' relative errors. */
  meanRelativeError: z.number().nullable(),
});
export type RunMetrics = z.infer<typeof RunMetricsSchema>;

export const RunProgressSchema = z.object({
  /** Fraction of the pruning work done, in [0, 1]. */
  fraction: z.number(),
  secondsLeft: z.number().nullable(),
  /** Blocks finished so far. */
  blocksDone: z.number(),
  blocks: z.number().nullable(),
});

export const RunSummarySchema = z.object({
  id: z.string(),
  /** Display name; users can rename it. */
  name: z.string(),
  notes: z.string(),
  status: z.enum(RUN_STATUSES),
  settings: RunSettingsSchema,
  /** Id shared by the runs of one sweep; null for a single run. */
  sweepId: z.string().nullable(),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
  /** Wall-clock seconds of the last attempt; null while running. */
  seconds: z.number().nullable(),
  /** Folder of the pruned model (it exists once the run finished). */
  outputPath: z.string(),
  /** Folder of the run's checkpoints, used to resume. */
  runDir: z.string(),
  backend: z.string().nullable(),
  metrics: RunMetricsSchema,
  progress: RunProgressSchema,
  /** Error that ended the run; null unless the status is `failed`. */
  error: IpcErrorSchema.nullable(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

export const LayerResultSchema = z.object({
  block: z.number(),
  name: z.string(),
  kind: kindSchema,
  target: z.string(),
  relativeError: z.number(),
  sparsity: z.number(),
  seconds: z.number(),
  iterations: z.number().nullable(),
});
export type LayerResultRecord = z.infer<typeof LayerResultSchema>;

export const StoredEventSchema = z.object({
  /** Order of the event within its run, from 1. */
  seq: z.number(),
  event: PipelineEventSchema,
});
export type StoredEvent = z.infer<typeof StoredEventSchema>;

export const RunDetailSchema = z.object({
  run: RunSummarySchema,
  layers: z.array(LayerResultSchema),
  /** The most recent stored events, oldest first. */
  events: z.array(StoredEventSchema),
});
export type RunDetail = z.infer<typeof RunDetailSchema>;

export const RUN_SORT_FIELDS = ['createdAt', 'name', 'status', 'method', 'prunedPerplexity', 'overallSparsity'] as const;

export const ComparisonSchema = z.object({
  runs: z.array(RunSummarySchema),
  /** Settings whose values are not all equal; `values` is in the order of `runs`. */
  differingSettings: z.array(z.object({ key: z.string(), values: z.array(z.string().nullable()) })),
  /** Each linear of any run with its relative error per run (null where a run lacks it). */
  layers: z.array(
    z.object({ block: z.number(), name: z.string(), relativeErrors: z.array(z.number().nullable()) }),
  ),
});
export type Comparison = z.infer<typeof ComparisonSchema>;
