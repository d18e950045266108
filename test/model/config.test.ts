import { describe, expect, it } from 'vitest';

import { parseConfig, type LlamaFamilyConfig, type OptConfig } from '../../main/model/huggingface/config.js';
import { ropeInverseFrequencies } from '../../main/model/rope.js';

const llama = {
  architectures: ['LlamaForCausalLM'],
  vocab_size: 100,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 4,
  num_attention_heads: 4,
};

function parseLlama(extra: Record<string, unknown>): LlamaFamilyConfig {
  return parseConfig({ ...llama, ...extra }, 'config.json') as LlamaFamilyConfig;
}

describe('Hugging Face config parsing', () => {
  it('applies Llama defaults', () => {
    const config = parseLlama({});
    expect(config.kvHeads).toBe(4);
    expect(config.headDim).toBe(16);
    expect(config.rmsEps).toBe(1e-6);
    expect(config.ropeTheta).toBe(10000);
    expect(config.ropeScaling).toEqual({ kind: 'none' });
    expect(config.tieWordEmbeddings).toBeNull();
    expect(config.qkvBias).toBe(false);
  });

  it('reads rope_scaling under type or rope_type', () => {
    const fields = { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    const expected = { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 };
    expect(parseLlama({ rope_scaling: { ...fields, type: 'llama3' } }).ropeScaling).toEqual(expected);
    expect(parseLlama({ rope_scaling: { ...fields, rope_type: 'llama3' } }).ropeScaling).toEqual(expected);
  });

  it('divides frequencies for linear scaling', () => {
    const config = parseLlama({ rope_scaling: { type: 'linear', factor: 4 } });
    const plain = ropeInverseFrequencies(16, 10000);
    const scaled = ropeInverseFrequencies(16, 10000, config.ropeScaling);
    for (let i = 0; i < plain.length; i++) expect(scaled[i]).toBe(Math.fround(plain[i]! / 4));
  });

  it('windows Mistral layers always', () => {
    const config = parseConfig({ ...llama, architectures: ['MistralForCausalLM'], sliding_window: 16 }, 'config.json') as LlamaFamilyConfig;
    expect([0, 3].map((i) => config.slidingWindow(i))).toEqual([16, 16]);
  });

  it('windows Qwen2 layers from max_window_layers', () => {
    const qwen = { ...llama, architectures: ['Qwen2ForCausalLM'], sliding_window: 32, max_window_layers: 2 };
    const off = parseConfig({ ...qwen, use_sliding_window: false }, 'config.json') as LlamaFamilyConfig;
    expect([0, 1, 2, 3].map((i) => off.slidingWindow(i))).toEqual([null, null, null, null]);
    const on = parseConfig({ ...qwen, use_sliding_window: true }, 'config.json') as LlamaFamilyConfig;
    expect([0, 1, 2, 3].map((i) => on.slidingWindow(i))).toEqual([null, null, 32, 32]);
    expect(on.qkvBias).toBe(true);
    expect(on.outputBias).toBe(false);
  });

  it('drops the OPT final norm for post-LN', () => {
    const opt = {
      architectures: ['OPTForCausalLM'],
      vocab_size: 50,
      hidden_size: 32,
      ffn_dim: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      max_position_embeddings: 64,
    };
    expect((parseConfig(opt, 'config.json') as OptConfig).finalNorm).toBe(true);
    expect((parseConfig({ ...opt, do_layer_norm_before: false }, 'config.json') as OptConfig).finalNorm).toBe(false);
    expect((parseConfig({ ...opt, _remove_final_layer_norm: true }, 'config.json') as OptConfig).finalNorm).toBe(false);
  });

  it('names invalid fields', () => {
    expect(() => parseLlama({ hidden_size: -1 })).toThrow(/config\.json is not a valid config: hidden_size: /);
  });

  it('rejects heads not dividing kv heads', () => {
    expect(() => parseLlama({ num_key_value_heads: 3 })).toThrow(/num_attention_heads 4 is not a multiple of num_key_value_heads 3/);
  });

  it('rejects a non-SiLU activation', () => {
    expect(() => parseLlama({ hidden_act: 'gelu' })).toThrow(/hidden_act "gelu" is not supported/);
  });

  it('rejects a missing architectures field', () => {
    expect(() => parseConfig({ model_type: 'llama' }, 'config.json')).toThrow(/architecture null is not supported\. Supported architectures: /);
  });
});
