import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { SafetensorsFile } from '../../main/io/safetensors.js';
import { openHuggingFaceModel, readConfig } from '../../main/model/huggingface/load.js';
import { ropeInverseFrequencies } from '../../main/model/rope.js';
import type { TransformerModel } from '../../main/model/transformer.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixturesDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'hf');
const fixtures = readdirSync(fixturesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

interface Expected {
  sequences: { input_ids: number[]; argmax: number[]; logits_key: string; mean_nll: number }[];
  rope_inv_freq_f32?: number[];
}

/** Reference logits are float32 PyTorch results within 1.3e-5 of exact math; 1e-4 leaves room for op order. */
const LOGIT_TOLERANCE = 1e-4;

async function forward(model: TransformerModel, ids: Int32Array): Promise<Float32Array> {
  let x = await model.embed(ids, ids.length);
  for (let b = 0; b < model.summary.blocks; b++) {
    await model.loadBlock(b);
    x = await model.forwardBlock(b, x, ids.length);
  }
  return model.head(x, ids.length);
}

function meanNll(logits: Float32Array, ids: number[], vocab: number): number {
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += max + Math.log(sum) - row[ids[t + 1]!]!;
  }
  return total / (ids.length - 1);
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('Hugging Face fixtures', () => {
  it('finds all six fixture folders', () => {
    expect(fixtures.sort()).toEqual([
      'llama2_mha_f16_tied',
      'llama3_gqa_bf16_sharded',
      'mistral_swa16_f32',
      'opt_f16',
      'opt_proj_f16',
      'qwen2_bias_bf16_tied',
    ]);
  });

  for (const name of fixtures) {
    it(`${name} reproduces reference logits`, async () => {
      const folder = path.join(fixturesDir, name);
      const expected = JSON.parse(readFileSync(path.join(folder, 'reference', 'expected.json'), 'utf8')) as Expected;
      const reference = SafetensorsFile.open(path.join(folder, 'reference', 'logits.safetensors'));
      const { model } = openHuggingFaceModel(folder, tf);
      const vocab = model.summary.vocabSize;
      for (const sequence of expected.sequences) {
        const logits = await forward(model, Int32Array.from(sequence.input_ids));
        const want = reference.readFloat32(sequence.logits_key);
        expect(logits.length).toBe(want.length);
        let maxDiff = 0;
        for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - want[i]!));
        expect(maxDiff, `${sequence.logits_key} max abs diff`).toBeLessThan(LOGIT_TOLERANCE);
        const argmax = Array.from({ length: sequence.input_ids.length }, (_, t) => {
          let best = 0;
          for (let i = 1; i < vocab; i++) if (logits[t * vocab + i]! > logits[t * vocab + best]!) best = i;
          return best;
        });
        expect(argmax).toEqual(sequence.argmax);
        expect(Math.abs(meanNll(logits, sequence.input_ids, vocab) - sequence.mean_nll)).toBeLessThan(1e-5);
      }
      reference.close();
      model.dispose();
    });
  }

  it('computes the reference RoPE frequencies', () => {
    for (const name of fixtures.filter((n) => !n.startsWith('opt'))) {
      const folder = path.join(fixturesDir, name);
      const expected = JSON.parse(readFileSync(path.join(folder, 'reference', 'expected.json'), 'utf8')) as Expected;
      const config = readConfig(folder);
      if (config.architecture === 'OPTForCausalLM') continue;
      const actual = ropeInverseFrequencies(config.headDim, config.ropeTheta, config.ropeScaling);
      expect(Array.from(actual), name).toEqual(expected.rope_inv_freq_f32);
    }
  });

  it('names Llama linears and input groups', () => {
    const { model } = openHuggingFaceModel(path.join(fixturesDir, 'llama3_gqa_bf16_sharded'), tf);
    expect(model.summary).toMatchObject({ format: 'huggingface', architecture: 'LlamaForCausalLM', hidden: 128, blocks: 2, vocabSize: 512, dtype: 'BF16' });
    expect(model.linears(1).map((l) => `${l.name}:${l.kind}:${l.rows}x${l.cols}:${l.inputGroup}`)).toEqual([
      'model.layers.1.self_attn.q_proj.weight:attention:128x128:attention_input',
      'model.layers.1.self_attn.k_proj.weight:attention:64x128:attention_input',
      'model.layers.1.self_attn.v_proj.weight:attention:64x128:attention_input',
      'model.layers.1.self_attn.o_proj.weight:attention:128x128:attention_output',
      'model.layers.1.mlp.gate_proj.weight:mlp:384x128:mlp_input',
      'model.layers.1.mlp.up_proj.weight:mlp:384x128:mlp_input',
      'model.layers.1.mlp.down_proj.weight:mlp:128x384:mlp_hidden',
    ]);
    model.dispose();
  });

  it('names OPT linears and input groups', () => {
    const { model } = openHuggingFaceModel(path.join(fixturesDir, 'opt_proj_f16'), tf);
    expect(model.linears(0).map((l) => `${l.name}:${l.kind}:${l.inputGroup}`)).toEqual([
      'model.decoder.layers.0.self_attn.q_proj.weight:attention:attention_input',
      'model.decoder.layers.0.self_attn.k_proj.weight:attention:attention_input',
      'model.decoder.layers.0.self_attn.v_proj.weight:attention:attention_input',
      'model.decoder.layers.0.self_attn.out_proj.weight:attention:attention_output',
      'model.decoder.layers.0.fc1.weight:mlp:mlp_input',
      'model.decoder.layers.0.fc2.weight:mlp:mlp_hidden',
    ]);
    model.dispose();
  });

  it('counts parameters once when tied', () => {
    const { model } = openHuggingFaceModel(path.join(fixturesDir, 'llama2_mha_f16_tied'), tf);
    // Embedding 320x64, per layer 2 norms + 4 attention 64x64 + 3 MLP 64x176, and the final norm.
    const perLayer = 2 * 64 + 4 * 64 * 64 + 3 * 64 * 176;
    expect(model.summary.parameters).toBe(320 * 64 + 2 * perLayer + 64);
    model.dispose();
  });

  it('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const { model } = openHuggingFaceModel(path.join(fixturesDir, 'qwen2_bias_bf16_tied'), tf);
    await forward(model, Int32Array.from([1, 5, 9, 13]));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
