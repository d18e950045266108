/**
 * Settings of a pruning run and the outcome it returns, as zod schemas: the
 * CLI and the run manager validate what users give with `parsePruneSettings`,
 * and the pipeline then trusts the types.
 */
import { z } from 'zod';
import { METHODS, parseTarget, type Method, type Target } from '../../shared/targets.js';

/** A target as users write it: a sparsity fraction ("0.7") or an N:M pattern ("2:4"). */
const targetText = z.string().superRefine((text, context) => {
  try {
    parseTarget(text);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const TargetsSchema = z.object({
  /** Target of every linear whose kind has no target of its own. */
  default: targetText,
  /** Target of the attention projections (q, k, v, o). */
  attention: targetText.optional(),
  /** Target of the feed-forward linears (gate, up, down). */
  mlp: targetText.optional(),
});
export type Targets = z.infer<typeof TargetsSchema>;

export const SAMPLING = ['consecutive', 'random'] as const;
export type Sampling = (typeof SAMPLING)[number];

export const CalibrationSettingsSchema = z.object({
  /** Plain text, or JSONL with a `text` field per line. */
  file: z.string().min(1),
  /** Number of windows. */
  samples: z.number().int().min(1).max(100_000),
  /** Tokens per window. */
  seqLen: z.number().int().min(2).max(1_000_000),
  /** `consecutive`: the first samples·seqLen tokens; `random`: windows at seeded random offsets. */
  sampling: z.enum(SAMPLING),
  /** Seed of the `random` sampling; recorded but unused for `consecutive`. */
  seed: z.number().int().min(0).max(0xffffffff),
});
export type CalibrationSettings = z.infer<typeof CalibrationSettingsSchema>;

export const PruneSettingsSchema = z.object({
  /** llama2.c checkpoint file or Hugging Face model folder. */
  model: z.string().min(1),
  /** Tokenizer file, when it is not found beside the model. */
  tokenizer: z.string().min(1).optional(),
  method: z.enum(METHODS),
  targets: TargetsSchema,
  calibration: CalibrationSettingsSchema,
  /** Text file for perplexity before and after pruning; null skips evaluation. */
  eval: z.string().min(1).nullable(),
  /** Measure the dense model's perplexity as well (default true); false skips it when the caller knows it already. */
  evalDense: z.boolean().default(true),
  /** Windows of the evaluation, in tokens; defaults to the calibration's seqLen. */
  evalSeqLen: z.number().int().min(2).optional(),
  /** Output folder; it must not exist unless `overwrite` is set. */
  out: z.string().min(1),
  overwrite: z.boolean().default(false),
  /** Folder for checkpoints; defaults to `<out>.run` beside the output. */
  runDir: z.string().min(1).optional(),
  /** Continue the run in `runDir` from its last finished block. */
  resume: z.boolean().default(false),
  /** Engine backend name (for example `wasm`, `cpu`, `tensorflow`); the engine picks when absent. */
  backend: z.string().min(1).optional(),
  /** Engine worker threads; the engine picks when absent. */
  workers: z.number().int().min(1).optional(),
});
export type PruneSettings = z.input<typeof PruneSettingsSchema>;
export type ResolvedPruneSettings = z.output<typeof PruneSettingsSchema>;

/** Validates settings; throws an Error listing each invalid field and why. */
export function parsePruneSettings(input: unknown): ResolvedPruneSettings {
  const result = PruneSettingsSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${issue.path.join('.') || 'settings'}: ${issue.message}`);
    throw new Error(`Invalid prune settings:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** The parsed target each linear kind gets. */
export function resolveTargets(targets: Targets): { attention: Target; mlp: Target } {
  const fallback = parseTarget(targets.default);
  return {
    attention: targets.attention === undefined ? fallback : parseTarget(targets.attention),
    mlp: targets.mlp === undefined ? fallback : parseTarget(targets.mlp),
  };
}

/** One pruned linear, as recorded in the report and the `--json` output. */
export interface LayerRecord {
  name: string;
  kind: 'attention' | 'mlp';
  block: number;
  /** Target as written ("0.7", "2:4"). */
  target: string;
  /** tr((W−Ŵ) H (W−Ŵ)ᵀ) / tr(W H Wᵀ) on this run's calibration inputs. */
  relativeError: number;
  /** Fraction of the pruned weight's entries that are zero. */
  sparsity: number;
  seconds: number;
  /** ADMM iterations (ALPS); null for one-pass methods. */
  iterations: number | null;
}

/** Outcome of `runPrune`, which `prune --json` prints as it is. */
export interface PruneOutcome {
  method: Method;
  targets: Targets;
  /** Perplexity of the dense and the pruned model; null when evaluation was skipped. */
  perplexity: { dense: number | null; pruned: number | null };
  layers: LayerRecord[];
  /** Zeros over all entries of the pruned linears. */
  overallSparsity: number;
  /** Wall-clock seconds of the whole run, including evaluation and saving. */
  seconds: number;
  /** Output folder with the pruned model and `pruning_report.json`. */
  out: string;
  runDir: string;
  backend: string;
  engineVersion: string;
}
