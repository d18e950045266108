import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { readDocuments, tokenStream } from '../../main/data/text.js';
import { loadModel } from '../../main/model/load.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const reference = JSON.parse(readFileSync(path.join(shared, 'fixtures', 'pipeline', 'stories260K.json'), 'utf8')) as {
  evaluation: { seqLen: number; windows: number; predictedTokens: number };
};

/** Dense perplexity of stories260K on the evaluation text, as the pruning reference measured it. */
const DENSE_PERPLEXITY = 3.7915;

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('stories260K dense perplexity', () => {
  it('matches the reference on all windows', async () => {
    const { model, tokenizer } = await loadModel(path.join(repoRoot, 'resources', 'stories260K', 'stories260K.bin'), { tf });
    const documents = await readDocuments(path.join(shared, 'assets', 'text', 'tinystories-eval.txt'));
    const stream = tokenStream(documents, tokenizer);
    const { seqLen } = reference.evaluation;
    const windows = Math.floor(stream.length / seqLen);
    expect(windows).toBe(reference.evaluation.windows);

    const vocab = model.summary.vocabSize;
    const batch = 8;
    let nll = 0;
    let predicted = 0;
    for (let b = 0; b < model.summary.blocks; b++) await model.loadBlock(b);
    for (let first = 0; first < windows; first += batch) {
      const count = Math.min(batch, windows - first);
      const tokens = stream.slice(first * seqLen, (first + count) * seqLen);
      let x = await model.embed(tokens, seqLen);
      for (let b = 0; b < model.summary.blocks; b++) x = await model.forwardBlock(b, x, seqLen);
      const logits = await model.head(x, seqLen);
      for (let w = 0; w < count; w++) {
        for (let t = 0; t + 1 < seqLen; t++) {
          const row = logits.subarray((w * seqLen + t) * vocab, (w * seqLen + t + 1) * vocab);
          let max = -Infinity;
          for (const v of row) max = Math.max(max, v);
          let sum = 0;
          for (const v of row) sum += Math.exp(v - max);
          nll += max + Math.log(sum) - row[tokens[w * seqLen + t + 1]!]!;
          predicted++;
        }
      }
    }
    model.dispose();
    expect(predicted).toBe(reference.evaluation.predictedTokens);
    // The reference figure is rounded to 4 decimals.
    expect(Math.abs(Math.exp(nll / predicted) - DENSE_PERPLEXITY)).toBeLessThan(1e-4);
  });
});
