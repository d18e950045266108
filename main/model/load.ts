/**
 * Entry point for opening a model and its tokenizer.
 *
 * `loadModel(path, { tf })` accepts:
 * - a llama2.c legacy checkpoint (`*.bin`), or a folder with exactly one
 *   checkpoint `.bin` beside its tokenizer (`tokenizer.bin` or `tok{vocab}.bin`);
 * - a Hugging Face folder with `config.json` and `model.safetensors` (or
 *   shards listed in `model.safetensors.index.json`) and `tokenizer.json`.
 * `tokenizerPath` overrides the tokenizer search in both cases.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { Llama2cTokenizer } from '../tokenizer/llama2c.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { moduleLogger } from '../log.js';
import { loadHuggingFace } from './huggingface/load.js';
import { llama2cModelLayout, Llama2cWeights } from './llama2c.js';
import type { TF } from './tf.js';
import { TransformerModel } from './transformer.js';

const log = moduleLogger('model');

export interface LoadOptions {
  /** The TensorFlow.js instance, with its backend already set. */
  tf: TF;
  /** Tokenizer file that overrides the one found beside the model. */
  tokenizerPath?: string;
}

/** Files a model was read from; the writer reproduces this layout. */
export type ModelSource =
  | { format: 'llama2c'; checkpoint: string; tokenizer: string }
  | {
      format: 'huggingface';
      folder: string;
      tokenizer: string;
      /** Weight files sorted by name (one file when unsharded). */
      weightFiles: string[];
      /** The shard index file, or null for a single model.safetensors. */
      index: string | null;
    };

export interface LoadedModel {
  model: TransformerModel;
  tokenizer: Tokenizer;
  source: ModelSource;
}

/** Opens the model at `path` (file or folder) and its tokenizer; reads the embedding and head, but no block yet. */
export async function loadModel(path: string, options: LoadOptions): Promise<LoadedModel> {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new Error(`Model path ${path} was not found: pass a llama2.c .bin file or a folder with config.json or a .bin checkpoint.`);
  }
  const started = Date.now();
  let loaded: LoadedModel;
  if (stats.isDirectory() && existsSync(join(path, 'config.json'))) {
    loaded = await loadHuggingFace(path, options);
  } else {
    const checkpoint = stats.isDirectory() ? findLlama2cCheckpoint(path) : path;
    loaded = loadLlama2c(checkpoint, options);
  }
  const { summary } = loaded.model;
  log.info(
    { path, format: summary.format, architecture: summary.architecture, blocks: summary.blocks, parameters: summary.parameters, ms: Date.now() - started },
    'model opened',
  );
  return loaded;
}

function loadLlama2c(checkpoint: string, options: LoadOptions): LoadedModel {
  const weights = Llama2cWeights.open(checkpoint);
  try {
    const { vocabSize } = weights.layout.header;
    const tokenizerPath = options.tokenizerPath ?? findLlama2cTokenizer(dirname(checkpoint), vocabSize);
    const tokenizer = Llama2cTokenizer.fromFile(tokenizerPath, vocabSize);
    const model = new TransformerModel(options.tf, llama2cModelLayout(checkpoint, weights.layout), weights);
    return { model, tokenizer, source: { format: 'llama2c', checkpoint, tokenizer: tokenizerPath } };
  } catch (error) {
    weights.close();
    throw error;
  }
}

function isLlama2cTokenizerName(name: string): boolean {
  return name === 'tokenizer.bin' || /^tok\d+\.bin$/.test(name);
}

function findLlama2cCheckpoint(folder: string): string {
  const candidates = readdirSync(folder).filter((name) => name.endsWith('.bin') && !isLlama2cTokenizerName(name));
  if (candidates.length !== 1) {
    const found = candidates.length === 0 ? 'none' : candidates.join(', ');
    throw new Error(
      `Folder ${folder} has no config.json and ${candidates.length} llama2.c checkpoint candidates (${found}): pass the .bin file itself, or a Hugging Face folder with config.json.`,
    );
  }
  return join(folder, candidates[0]!);
}

function findLlama2cTokenizer(folder: string, vocabSize: number): string {
  const names = ['tokenizer.bin', `tok${vocabSize}.bin`];
  for (const name of names) {
    const candidate = join(folder, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `No tokenizer found for the llama2.c checkpoint: looked for ${names.map((name) => join(folder, name)).join(' and ')}. Pass the tokenizer with --tokenizer FILE.`,
  );
}

