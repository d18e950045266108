/** Opens Hugging Face model folders (config.json plus safetensors weights). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { HuggingFaceTokenizer } from '../../tokenizer/huggingface.js';
import type { LoadedModel, LoadOptions } from '../load.js';
import type { TF } from '../tf.js';
import { TransformerModel } from '../transformer.js';
import { parseConfig, type HuggingFaceConfig } from './config.js';
import { huggingFaceLayout, layoutTensors } from './layout.js';
import { HuggingFaceWeights } from './weights.js';

/** Reads and validates `folder`/config.json. */
export function readConfig(folder: string): HuggingFaceConfig {
  const file = join(folder, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code ? `cannot be read (${code})` : `is not valid JSON (${(error as Error).message})`;
    throw new Error(`${file} ${reason}.`);
  }
  return parseConfig(raw, file);
}

/**
 * Opens the model in `folder` without a tokenizer: parses config.json, opens
 * the weight files and checks every expected tensor's shape up front.
 */
export function openHuggingFaceModel(folder: string, tf: TF): { model: TransformerModel; weights: HuggingFaceWeights; config: HuggingFaceConfig } {
  const config = readConfig(folder);
  const weights = HuggingFaceWeights.open(folder);
  try {
    const layout = huggingFaceLayout(folder, config, weights);
    for (const tensor of layoutTensors(layout)) weights.checkShape(tensor);
    return { model: new TransformerModel(tf, layout, weights), weights, config };
  } catch (error) {
    weights.close();
    throw error;
  }
}

/** Opens a Hugging Face model folder and its tokenizer.json (or `options.tokenizerPath`). */
export async function loadHuggingFace(folder: string, options: LoadOptions): Promise<LoadedModel> {
  const tokenizerPath = options.tokenizerPath ?? join(folder, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) {
    throw new Error(`No tokenizer found for the Hugging Face model: looked for ${tokenizerPath}. Pass the tokenizer with --tokenizer FILE.`);
  }
  const { model, weights, config } = openHuggingFaceModel(folder, options.tf);
  try {
    const eos = readEosTokenId(folder);
    const tokenizer = HuggingFaceTokenizer.fromFile(tokenizerPath, { bosTokenId: config.bosTokenId, eosTokenId: eos });
    // A model's vocabulary may be padded beyond the tokenizer's, but ids past the embedding cannot be embedded.
    if (tokenizer.vocabSize > model.summary.vocabSize) {
      throw new Error(
        `Tokenizer ${tokenizerPath} has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.summary.vocabSize}: pass the tokenizer trained with this model (--tokenizer FILE).`,
      );
    }
    return {
      model,
      tokenizer,
      source: {
        format: 'huggingface',
        folder,
        tokenizer: tokenizerPath,
        weightFiles: weights.files.map((file) => file.path),
        index: weights.index,
      },
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function readEosTokenId(folder: string): number | null {
  const raw = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as { eos_token_id?: unknown };
  const eos = Array.isArray(raw.eos_token_id) ? raw.eos_token_id[0] : raw.eos_token_id;
  return typeof eos === 'number' ? eos : null;
}
