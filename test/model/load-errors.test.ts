import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { SafetensorsFile } from '../../main/io/safetensors.js';
import { openHuggingFaceModel } from '../../main/model/huggingface/load.js';
import { loadModel } from '../../main/model/load.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixturesDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'hf');
const workDir = mkdtempSync(path.join(tmpdir(), 'alps-hf-errors-'));

/** Copies a fixture folder (without its reference/ outputs) to a fresh temp folder. */
function copyFixture(name: string): string {
  const target = mkdtempSync(path.join(workDir, `${name}-`));
  cpSync(path.join(fixturesDir, name), target, { recursive: true });
  rmSync(path.join(target, 'reference'), { recursive: true });
  return target;
}

/** Writes a safetensors file with a hand-made header and `dataBytes` zero bytes of data. */
function writeRawSafetensors(file: string, header: Record<string, unknown>, dataBytes: number): void {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
}

function editConfig(folder: string, edit: (config: Record<string, unknown>) => void): void {
  const file = path.join(folder, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(file, JSON.stringify(config, null, 2));
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('Hugging Face load errors', () => {
  it('rejects a missing model path', async () => {
    await expect(loadModel(path.join(workDir, 'no-such-model'), { tf })).rejects.toThrow(/no-such-model was not found: pass a llama2\.c \.bin file or a folder/);
  });

  it('rejects a missing tokenizer', async () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    await expect(loadModel(folder, { tf })).rejects.toThrow(
      new RegExp(`looked for ${folder}/tokenizer\\.json\\. Pass the tokenizer with --tokenizer FILE`),
    );
  });

  it('rejects an unsupported architecture', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    editConfig(folder, (config) => {
      config.architectures = ['GPT2LMHeadModel'];
    });
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(
      /architecture "GPT2LMHeadModel" is not supported\. Supported architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, OPTForCausalLM/,
    );
  });

  it('rejects an unsupported rope_scaling type', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    editConfig(folder, (config) => {
      config.rope_scaling = { type: 'yarn', factor: 4 };
    });
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/rope_scaling type "yarn" is not supported/);
  });

  it('names a tensor whose shape disagrees with the config', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    editConfig(folder, (config) => {
      config.intermediate_size = 200;
    });
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(
      /Tensor model\.layers\.0\.mlp\.gate_proj\.weight in .*model\.safetensors has shape \[176, 64\] but the config implies \[200, 64\]/,
    );
  });

  it('rejects a header length past the end', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    truncateSync(path.join(folder, 'model.safetensors'), 100);
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/model\.safetensors: header length \d+ runs past the end of the 100-byte file/);
  });

  it('rejects tensor offsets past the end', () => {
    const folder = copyFixture('llama3_gqa_bf16_sharded');
    const shard = path.join(folder, 'model-00002-of-00002.safetensors');
    const size = readFileSync(shard).length;
    truncateSync(shard, size - 1000);
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/model-00002-of-00002\.safetensors: tensor ".*" ends at byte \d+, past the end of the \d+-byte file: the file is truncated/);
  });

  it('rejects overlapping tensors', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    writeRawSafetensors(
      path.join(folder, 'model.safetensors'),
      {
        'model.norm.weight': { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        'model.embed_tokens.weight': { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      },
      24,
    );
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/tensors "model\.norm\.weight" and "model\.embed_tokens\.weight" overlap/);
  });

  it('rejects an unknown dtype', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    writeRawSafetensors(path.join(folder, 'model.safetensors'), { 'model.norm.weight': { dtype: 'Q4', shape: [4], data_offsets: [0, 2] } }, 2);
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/tensor "model\.norm\.weight" has unknown dtype "Q4"/);
  });

  it('rejects a tensor missing from the weights', () => {
    const folder = copyFixture('mistral_swa16_f32');
    editConfig(folder, (config) => {
      config.num_hidden_layers = 3;
    });
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/Tensor model\.layers\.2\.input_layernorm\.weight is missing from the weights/);
  });

  it('names a tensor holding NaN', async () => {
    const folder = copyFixture('mistral_swa16_f32');
    const file = path.join(folder, 'model.safetensors');
    const reader = SafetensorsFile.open(file);
    const target = reader.info('model.layers.1.self_attn.k_proj.weight');
    reader.close();
    const bytes = readFileSync(file);
    bytes.writeFloatLE(NaN, target.begin + 4 * 7);
    writeFileSync(file, bytes);
    const { model } = openHuggingFaceModel(folder, tf);
    await model.loadBlock(0);
    await expect(model.loadBlock(1)).rejects.toThrow(/Tensor model\.layers\.1\.self_attn\.k_proj\.weight in .*model\.safetensors contains NaN at flat index 7/);
    model.dispose();
  });

  it('names a tensor holding Infinity', () => {
    const folder = copyFixture('mistral_swa16_f32');
    const file = path.join(folder, 'model.safetensors');
    const reader = SafetensorsFile.open(file);
    const target = reader.info('model.embed_tokens.weight');
    reader.close();
    const bytes = readFileSync(file);
    bytes.writeFloatLE(-Infinity, target.begin);
    writeFileSync(file, bytes);
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/Tensor model\.embed_tokens\.weight in .*contains -Infinity at flat index 0/);
  });

  it('rejects untied config without lm_head', () => {
    const folder = copyFixture('llama2_mha_f16_tied');
    editConfig(folder, (config) => {
      config.tie_word_embeddings = false;
    });
    expect(() => openHuggingFaceModel(folder, tf)).toThrow(/tie_word_embeddings false but the weights have no lm_head\.weight/);
  });
});
