import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { SafetensorsFile } from '../../main/io/safetensors.js';
import { openHuggingFaceModel } from '../../main/model/huggingface/load.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'hf', 'opt_f16');
const ids = [2, 83, 396, 78, 291, 156, 209, 44, 473, 8, 73, 464];

/**
 * Computes OPT logits in plain float64 loops, following transformers'
 * modeling_opt.py and sharing no code with the tfjs blocks. Dimensions are
 * those of opt_f16: vocab 500, hidden 64, 4 heads, ffn 256, 2 layers, tied.
 */
function referenceOpt(weights: SafetensorsFile, tokens: number[], preNorm: boolean): Float64Array {
  const D = 64;
  const heads = 4;
  const headDim = D / heads;
  const T = tokens.length;
  const get = (name: string): Float32Array => weights.readFloat32(name);
  const linear = (x: Float64Array, rows: number, inDim: number, outDim: number, prefix: string): Float64Array => {
    const W = get(`${prefix}.weight`);
    const b = get(`${prefix}.bias`);
    const y = new Float64Array(rows * outDim);
    for (let t = 0; t < rows; t++) {
      for (let o = 0; o < outDim; o++) {
        let sum = b[o]!;
        for (let i = 0; i < inDim; i++) sum += x[t * inDim + i]! * W[o * inDim + i]!;
        y[t * outDim + o] = sum;
      }
    }
    return y;
  };
  const layerNorm = (x: Float64Array, prefix: string): Float64Array => {
    const w = get(`${prefix}.weight`);
    const b = get(`${prefix}.bias`);
    const y = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      const row = x.subarray(t * D, (t + 1) * D);
      const mean = row.reduce((a, v) => a + v, 0) / D;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
      for (let i = 0; i < D; i++) y[t * D + i] = ((row[i]! - mean) / Math.sqrt(variance + 1e-5)) * w[i]! + b[i]!;
    }
    return y;
  };

  const embedding = get('model.decoder.embed_tokens.weight');
  const positions = get('model.decoder.embed_positions.weight');
  let x: Float64Array = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D; i++) x[t * D + i] = embedding[tokens[t]! * D + i]! + positions[(t + 2) * D + i]!;
  }

  for (let layer = 0; layer < 2; layer++) {
    const p = `model.decoder.layers.${layer}`;
    const h = preNorm ? layerNorm(x, `${p}.self_attn_layer_norm`) : x;
    const q = linear(h, T, D, D, `${p}.self_attn.q_proj`);
    const k = linear(h, T, D, D, `${p}.self_attn.k_proj`);
    const v = linear(h, T, D, D, `${p}.self_attn.v_proj`);
    const context = new Float64Array(T * D);
    for (let head = 0; head < heads; head++) {
      for (let i = 0; i < T; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let c = 0; c < headDim; c++) dot += q[i * D + head * headDim + c]! * k[j * D + head * headDim + c]!;
          scores.push(dot / Math.sqrt(headDim));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, e) => a + e, 0);
        for (let j = 0; j <= i; j++) {
          for (let c = 0; c < headDim; c++) context[i * D + head * headDim + c]! += (exps[j]! / total) * v[j * D + head * headDim + c]!;
        }
      }
    }
    const attention = linear(context, T, D, D, `${p}.self_attn.out_proj`);
    x = x.map((value, i) => value + attention[i]!);
    if (!preNorm) x = layerNorm(x, `${p}.self_attn_layer_norm`);

    const m = preNorm ? layerNorm(x, `${p}.final_layer_norm`) : x;
    const hidden = linear(m, T, D, 256, `${p}.fc1`).map((value) => Math.max(0, value));
    const ffn = linear(hidden, T, 256, D, `${p}.fc2`);
    x = x.map((value, i) => value + ffn[i]!);
    if (!preNorm) x = layerNorm(x, `${p}.final_layer_norm`);
  }
  if (preNorm) x = layerNorm(x, 'model.decoder.final_layer_norm');

  const logits = new Float64Array(T * 500);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < 500; o++) {
      let sum = 0;
      for (let i = 0; i < D; i++) sum += x[t * D + i]! * embedding[o * D + i]!;
      logits[t * 500 + o] = sum;
    }
  }
  return logits;
}

async function modelLogits(folder: string): Promise<Float32Array> {
  const { model } = openHuggingFaceModel(folder, tf);
  let x = await model.embed(Int32Array.from(ids), ids.length);
  for (let b = 0; b < model.summary.blocks; b++) {
    await model.loadBlock(b);
    x = await model.forwardBlock(b, x, ids.length);
  }
  const logits = await model.head(x, ids.length);
  model.dispose();
  return logits;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('OPT LayerNorm placement', () => {
  it('reference matches pre-LN logits', () => {
    const weights = SafetensorsFile.open(path.join(fixture, 'model.safetensors'));
    const reference = SafetensorsFile.open(path.join(fixture, 'reference', 'logits.safetensors'));
    // The first 12 ids of the first reference sequence, so its first 12 logit rows apply.
    const expected = reference.readFloat32('logits_0').subarray(0, ids.length * 500);
    expect(maxAbsDiff(referenceOpt(weights, ids, true), expected)).toBeLessThan(1e-4);
    weights.close();
    reference.close();
  });

  it('post-LN model matches the reference', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'alps-opt-post-'));
    cpSync(fixture, folder, { recursive: true });
    const configFile = path.join(folder, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    config.do_layer_norm_before = false;
    writeFileSync(configFile, JSON.stringify(config));

    const weights = SafetensorsFile.open(path.join(folder, 'model.safetensors'));
    const expected = referenceOpt(weights, ids, false);
    weights.close();
    const actual = await modelLogits(folder);
    expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-4);
    // Guard against a vacuous pass: post-LN must differ clearly from pre-LN.
    expect(maxAbsDiff(actual, await modelLogits(fixture))).toBeGreaterThan(0.1);
  });
});
