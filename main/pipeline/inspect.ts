/**
 * Standalone evaluation and inspection of a model, for the `eval` command and
 * the desktop app's model picker.
 */
import { readDocuments, tokenStream } from '../data/text.js';
import { loadModel } from '../model/load.js';
import type { ModelSummary } from '../model/types.js';
import { measurePerplexity, type PerplexityResult } from './evaluate.js';
import { modelBackend } from './run.js';

export interface EvaluateOptions {
  /** llama2.c .bin file or Hugging Face folder. */
  model: string;
  tokenizer?: string;
  /** Text file (plain, or JSONL with `text`). */
  file: string;
  /** Tokens per evaluation window. */
  seqLen: number;
  /** `wasm` (default) or `cpu`, for the forward passes. */
  backend?: string;
  signal?: AbortSignal;
}

export type EvaluationResult = PerplexityResult;

/** Measures a model's perplexity on a text file with the protocol of measurePerplexity. */
export async function evaluateModelImpl(options: EvaluateOptions): Promise<EvaluationResult> {
  const { tf } = await modelBackend(options.backend);
  const { model, tokenizer } = await loadModel(options.model, { tf, tokenizerPath: options.tokenizer });
  try {
    const stream = tokenStream(await readDocuments(options.file), tokenizer);
    return await measurePerplexity(model, stream, options.file, { seqLen: options.seqLen, signal: options.signal });
  } finally {
    model.dispose();
  }
}

export type ModelInspection = ModelSummary & {
  /** Estimate of the memory a prune run needs, in bytes (see estimatePruneMemory). */
  estimatedMemoryBytes: number;
};

/**
 * Estimates the memory of a prune run, in bytes. It adds the resident
 * embedding and classifier, one block's linears in float32 twice (the engine
 * gets copies), the calibration activations entering and leaving a block, the
 * largest captured input, and one float64 H per input group.
 * NOTE: an estimate of the large buffers only; tfjs intermediates of a
 * forward chunk and the solvers' workspaces come on top.
 */
export function estimatePruneMemory(summary: ModelSummary, calibration: { samples: number; seqLen: number }): number {
  const tokens = calibration.samples * calibration.seqLen;
  const float = 4;
  const blockWeights = summary.linears.reduce((sum, linear) => sum + linear.rows * linear.cols, 0) * float;
  const resident = 2 * summary.vocabSize * summary.hidden * float;
  const activations = 2 * tokens * summary.hidden * float;
  const widestInput = Math.max(...summary.linears.map((linear) => linear.cols));
  const captured = tokens * widestInput * float;
  const groups = new Map(summary.linears.map((linear) => [linear.inputGroup, linear.cols]));
  const hessians = [...groups.values()].reduce((sum, cols) => sum + cols * cols * 8, 0);
  return resident + 2 * blockWeights + activations + captured + hessians;
}

/** Reads a model's summary and estimates the memory of pruning it with `calibration` (default 64 × 256 tokens). */
export async function inspectModelImpl(path: string, calibration = { samples: 64, seqLen: 256 }): Promise<ModelInspection> {
  const { tf } = await modelBackend(undefined);
  const { model } = await loadModel(path, { tf });
  try {
    return { ...model.summary, estimatedMemoryBytes: estimatePruneMemory(model.summary, calibration) };
  } finally {
    model.dispose();
  }
}
