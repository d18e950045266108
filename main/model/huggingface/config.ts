/**
 * Parsing and validation of a Hugging Face `config.json` for the supported
 * causal-LM architectures. Defaults follow the transformers config classes
 * (4.46): a field absent from the file takes the value that transformers
 * would use when loading it.
 */
import { z } from 'zod';

import type { RopeScaling } from '../rope.js';

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'OPTForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

const positiveInt = z.number().int().positive();

const ropeScalingSchema = z
  .looseObject({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().optional(),
    high_freq_factor: z.number().optional(),
    original_max_position_embeddings: positiveInt.optional(),
  })
  .nullable()
  .optional();

const llamaFamilySchema = z.looseObject({
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullable().optional(),
  head_dim: positiveInt.nullable().optional(),
  hidden_act: z.string().optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: ropeScalingSchema,
  max_position_embeddings: positiveInt.optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  sliding_window: positiveInt.nullable().optional(),
  use_sliding_window: z.boolean().optional(),
  max_window_layers: z.number().int().nonnegative().optional(),
  tie_word_embeddings: z.boolean().optional(),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  torch_dtype: z.string().nullable().optional(),
});

const optSchema = z.looseObject({
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  ffn_dim: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  max_position_embeddings: positiveInt,
  word_embed_proj_dim: positiveInt.optional(),
  do_layer_norm_before: z.boolean().optional(),
  _remove_final_layer_norm: z.boolean().optional(),
  enable_bias: z.boolean().optional(),
  layer_norm_elementwise_affine: z.boolean().optional(),
  activation_function: z.string().optional(),
  tie_word_embeddings: z.boolean().optional(),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
});

/** A Llama, Mistral or Qwen2 config with every default resolved. */
export interface LlamaFamilyConfig {
  architecture: 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM';
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositions: number;
  /** Biases on q, k and v (Llama attention_bias, always on in Qwen2). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama attention_bias only). */
  outputBias: boolean;
  mlpBias: boolean;
  /** Sliding window of block `index`, or null for full causal attention. */
  slidingWindow(index: number): number | null;
  /** tie_word_embeddings, or null when the config omits it. */
  tieWordEmbeddings: boolean | null;
  bosTokenId: number | null;
}

/** An OPT config with every default resolved. */
export interface OptConfig {
  architecture: 'OPTForCausalLM';
  vocabSize: number;
  hidden: number;
  ffn: number;
  layers: number;
  heads: number;
  maxPositions: number;
  /** Width of the token embedding; differs from `hidden` when project_in/out exist. */
  embedDim: number;
  preNorm: boolean;
  finalNorm: boolean;
  bias: boolean;
  tieWordEmbeddings: boolean | null;
  bosTokenId: number | null;
}

export type HuggingFaceConfig = LlamaFamilyConfig | OptConfig;

/** Validates a parsed config.json; `file` names it in errors. */
export function parseConfig(raw: unknown, file: string): HuggingFaceConfig {
  const architectures = (raw as { architectures?: unknown } | null)?.architectures;
  const architecture = Array.isArray(architectures) ? architectures[0] : undefined;
  if (typeof architecture !== 'string' || !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new Error(
      `${file}: architecture ${JSON.stringify(architecture ?? null)} is not supported. Supported architectures: ${SUPPORTED_ARCHITECTURES.join(', ')}.`,
    );
  }
  if (architecture === 'OPTForCausalLM') return parseOpt(validate(optSchema, raw, file));
  return parseLlamaFamily(architecture as LlamaFamilyConfig['architecture'], validate(llamaFamilySchema, raw, file), file);
}

function validate<T extends z.ZodType>(schema: T, raw: unknown, file: string): z.infer<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new Error(`${file} is not a valid config: ${issues}.`);
  }
  return result.data;
}

function parseLlamaFamily(architecture: LlamaFamilyConfig['architecture'], c: z.infer<typeof llamaFamilySchema>, file: string): LlamaFamilyConfig {
  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads ?? heads;
  const headDim = c.head_dim ?? c.hidden_size / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new Error(`${file}: head size ${headDim} (hidden_size ${c.hidden_size} / num_attention_heads ${heads}) must be an even integer; set head_dim.`);
  }
  if (heads % kvHeads !== 0) {
    throw new Error(`${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}.`);
  }
  const activation = c.hidden_act ?? 'silu';
  if (activation !== 'silu') {
    throw new Error(`${file}: hidden_act "${activation}" is not supported for ${architecture}; only silu (SwiGLU) is.`);
  }

  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const window = c.sliding_window ?? null;
  let slidingWindow: (index: number) => number | null = () => null;
  if (architecture === 'MistralForCausalLM') {
    slidingWindow = () => window;
  } else if (isQwen2 && c.use_sliding_window === true && window !== null) {
    // transformers 4.46 Qwen2 windows only the layers from max_window_layers on.
    const firstWindowed = c.max_window_layers ?? 28;
    slidingWindow = (index) => (index >= firstWindowed ? window : null);
  }

  return {
    architecture,
    vocabSize: c.vocab_size,
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads,
    headDim,
    rmsEps: c.rms_norm_eps ?? 1e-6,
    ropeTheta: c.rope_theta ?? 10_000,
    ropeScaling: parseRopeScaling(c.rope_scaling ?? null, file),
    maxPositions: c.max_position_embeddings ?? 2048,
    qkvBias: isQwen2 || (c.attention_bias ?? false),
    outputBias: !isQwen2 && (c.attention_bias ?? false),
    mlpBias: c.mlp_bias ?? false,
    slidingWindow,
    tieWordEmbeddings: c.tie_word_embeddings ?? null,
    bosTokenId: c.bos_token_id ?? null,
  };
}

function parseRopeScaling(scaling: z.infer<typeof ropeScalingSchema> | null, file: string): RopeScaling {
  if (!scaling) return { kind: 'none' };
  // Older configs name the type `type`; transformers 4.43 and later write `rope_type`.
  const type = scaling.rope_type ?? scaling.type ?? 'default';
  if (type === 'default') return { kind: 'none' };
  const factor = scaling.factor;
  if (factor === undefined) throw new Error(`${file}: rope_scaling of type ${type} has no factor.`);
  if (type === 'linear') return { kind: 'linear', factor };
  if (type === 'llama3') {
    const { low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: original } = scaling;
    if (low === undefined || high === undefined || original === undefined) {
      throw new Error(`${file}: llama3 rope_scaling needs low_freq_factor, high_freq_factor and original_max_position_embeddings.`);
    }
    return { kind: 'llama3', factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: original };
  }
  throw new Error(`${file}: rope_scaling type "${type}" is not supported; supported types are default, linear and llama3.`);
}

function parseOpt(c: z.infer<typeof optSchema>): OptConfig {
  const activation = c.activation_function ?? 'relu';
  if (activation !== 'relu') throw new Error(`OPT activation_function "${activation}" is not supported; only relu is.`);
  if (c.layer_norm_elementwise_affine === false) {
    throw new Error('OPT configs with layer_norm_elementwise_affine false are not supported: the LayerNorms need weights and biases.');
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new Error(`OPT hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}.`);
  }
  const preNorm = c.do_layer_norm_before ?? true;
  return {
    architecture: 'OPTForCausalLM',
    vocabSize: c.vocab_size,
    hidden: c.hidden_size,
    ffn: c.ffn_dim,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    maxPositions: c.max_position_embeddings,
    embedDim: c.word_embed_proj_dim ?? c.hidden_size,
    preNorm,
    // transformers creates the decoder's final LayerNorm only for pre-LN models without _remove_final_layer_norm.
    finalNorm: preNorm && !(c._remove_final_layer_norm ?? false),
    bias: c.enable_bias ?? true,
    tieWordEmbeddings: c.tie_word_embeddings ?? null,
    bosTokenId: c.bos_token_id ?? null,
  };
}
