import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { readDocuments, tokenStream } from '../../main/data/text.js';
import { loadModel, type LoadedModel } from '../../main/model/load.js';
import { writeHuggingFaceFromLlama2c } from '../helpers/hf-from-llama2c.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const storiesDir = path.join(repoRoot, 'resources', 'stories260K');

let original: LoadedModel;
let converted: LoadedModel;
let evalDocuments: string[];

async function logitsOf(loaded: LoadedModel, tokens: Int32Array, seqLen: number): Promise<Float32Array> {
  const { model } = loaded;
  let x = await model.embed(tokens, seqLen);
  for (let b = 0; b < model.summary.blocks; b++) {
    await model.loadBlock(b);
    x = await model.forwardBlock(b, x, seqLen);
  }
  return model.head(x, seqLen);
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  const folder = mkdtempSync(path.join(tmpdir(), 'alps-hf-stories-'));
  await writeHuggingFaceFromLlama2c(path.join(storiesDir, 'stories260K.bin'), path.join(storiesDir, 'tok512.bin'), folder);
  original = await loadModel(path.join(storiesDir, 'stories260K.bin'), { tf });
  converted = await loadModel(folder, { tf });
  evalDocuments = await readDocuments(path.join(shared, 'assets', 'text', 'tinystories-eval.txt'));
});

describe('stories260K as a Hugging Face folder', () => {
  it('loads as a tied Llama', () => {
    expect(converted.model.summary).toMatchObject({ format: 'huggingface', architecture: 'LlamaForCausalLM', blocks: 5, vocabSize: 512 });
    expect(converted.model.summary.parameters).toBe(original.model.summary.parameters);
  });

  it('gives the llama2.c logits', async () => {
    const stream = tokenStream(evalDocuments.slice(0, 8), original.tokenizer);
    const seqLen = 64;
    const tokens = stream.slice(0, 2 * seqLen);
    const expected = await logitsOf(original, tokens, seqLen);
    const actual = await logitsOf(converted, tokens, seqLen);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    // Same weights and math up to a permutation of q/k rows; only float32 summation order differs.
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('tokenizes the evaluation text identically', () => {
    const expected = tokenStream(evalDocuments, original.tokenizer);
    const actual = tokenStream(evalDocuments, converted.tokenizer);
    expect(actual.length).toBe(expected.length);
    expect(Buffer.from(actual.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it('reads BOS and EOS from tokenizer_config.json', () => {
    expect(converted.tokenizer.bosId).toBe(1);
    expect(converted.tokenizer.eosId).toBe(2);
    expect(converted.tokenizer.vocabSize).toBe(512);
  });

  it('decodes without the dummy prefix', () => {
    const text = 'Once upon a time, Lily saw 東京.';
    expect(converted.tokenizer.decode([1, ...converted.tokenizer.encode(text)])).toBe(text);
  });
});

describe('Hugging Face tokenizer override', () => {
  it('accepts a tokenizer for a padded vocabulary', async () => {
    const loaded = await loadModel(path.join(shared, 'fixtures', 'hf', 'qwen2_bias_bf16_tied'), { tf, tokenizerPath: converted.source.tokenizer });
    expect(loaded.source.tokenizer).toBe(converted.source.tokenizer);
    expect(loaded.tokenizer.vocabSize).toBe(512);
    expect(loaded.model.summary.vocabSize).toBe(600);
    loaded.model.dispose();
  });

  it('reports shard files and index', async () => {
    const folder = path.join(shared, 'fixtures', 'hf', 'llama3_gqa_bf16_sharded');
    const loaded = await loadModel(folder, { tf, tokenizerPath: converted.source.tokenizer });
    expect(loaded.source).toEqual({
      format: 'huggingface',
      folder,
      tokenizer: converted.source.tokenizer,
      weightFiles: [path.join(folder, 'model-00001-of-00002.safetensors'), path.join(folder, 'model-00002-of-00002.safetensors')],
      index: path.join(folder, 'model.safetensors.index.json'),
    });
    loaded.model.dispose();
  });

  it('rejects a tokenizer larger than the vocabulary', async () => {
    await expect(
      loadModel(path.join(shared, 'fixtures', 'hf', 'llama2_mha_f16_tied'), { tf, tokenizerPath: converted.source.tokenizer }),
    ).rejects.toThrow(/has 512 tokens but the model's vocab_size is 320: pass the tokenizer trained with this model \(--tokenizer FILE\)/);
  });

  it('rejects a tokenizer file that is not JSON', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'alps-bad-tok-')), 'tokenizer.json');
    writeFileSync(file, 'not json');
    await expect(loadModel(path.join(shared, 'fixtures', 'hf', 'qwen2_bias_bf16_tied'), { tf, tokenizerPath: file })).rejects.toThrow(
      /Tokenizer file .*tokenizer\.json is not valid JSON/,
    );
  });
});
