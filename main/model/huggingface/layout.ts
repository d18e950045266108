/**
 * Tensor names, shapes and block math of the supported Hugging Face
 * architectures, as transformers (4.46) names and computes them.
 */
import type { BlockSpec } from '../forward.js';
import { ropeInverseFrequencies } from '../rope.js';
import type { AffineRef, BlockLayout, ModelLayout, TensorRef } from '../transformer.js';
import type { HuggingFaceConfig, LlamaFamilyConfig, OptConfig } from './config.js';

/** Tensor lookups a layout needs: whether a tensor exists and its stored dtype. */
export interface StoredTensors {
  has(name: string): boolean;
  info(name: string): { dtype: string };
}

const OPT_POSITION_OFFSET = 2;
const OPT_LAYER_NORM_EPS = 1e-5;

function ref(name: string, shape: number[]): TensorRef {
  return { name, shape };
}

function affine(prefix: string, out: number, input: number | null, bias: boolean): AffineRef {
  const weightShape = input === null ? [out] : [out, input];
  return { weight: ref(`${prefix}.weight`, weightShape), bias: bias ? ref(`${prefix}.bias`, [out]) : null };
}

/**
 * Chooses the classifier. tie_word_embeddings true selects the embedding and
 * false selects `lm_head.weight`. When the field is absent, `lm_head.weight`
 * is used if stored and the embedding otherwise, because PretrainedConfig
 * defaults to tied and tied checkpoints store no lm_head.
 */
function classifierRef(config: HuggingFaceConfig, stored: StoredTensors, embedding: TensorRef, folder: string): TensorRef {
  const lmHead = ref('lm_head.weight', embedding.shape);
  if (config.tieWordEmbeddings === true) return embedding;
  if (config.tieWordEmbeddings === false) {
    if (!stored.has(lmHead.name)) {
      throw new Error(`${folder}: config.json sets tie_word_embeddings false but the weights have no lm_head.weight.`);
    }
    return lmHead;
  }
  return stored.has(lmHead.name) ? lmHead : embedding;
}

function parameterCount(layout: Omit<ModelLayout, 'summary'>, blocks: number): number {
  const seen = new Set<string>();
  let total = 0;
  const add = (tensor: TensorRef | null | undefined): void => {
    if (!tensor || seen.has(tensor.name)) return;
    seen.add(tensor.name);
    total += tensor.shape.reduce((a, b) => a * b, 1);
  };
  const addAffine = (a: AffineRef | null): void => {
    if (!a) return;
    add(a.weight);
    add(a.bias);
  };
  add(layout.embedding);
  add(layout.projectIn);
  add(layout.positions?.table);
  addAffine(layout.finalNorm);
  add(layout.projectOut);
  add(layout.classifier);
  for (let i = 0; i < blocks; i++) {
    const block = layout.block(i);
    for (const part of [block.attentionNorm, block.q, block.k, block.v, block.o, block.mlpNorm, block.gate, block.up, block.down]) addAffine(part);
  }
  return total;
}

/** Lists every tensor a layout reads, for up-front shape checks. */
/** Adds the model summary, which is built the same way for every architecture. */
function withSummary(
  rest: Omit<ModelLayout, 'summary'>,
  folder: string,
  config: HuggingFaceConfig,
  hidden: number,
  dtype: string,
): ModelLayout {
  return {
    ...rest,
    summary: {
      format: 'huggingface',
      architecture: config.architecture,
      path: folder,
      hidden,
      blocks: config.layers,
      vocabSize: config.vocabSize,
      dtype,
      parameters: parameterCount(rest, config.layers),
      maxSequenceLength: config.maxPositions,
      bosTokenId: config.bosTokenId,
    },
  };
}

export function layoutTensors(layout: ModelLayout): TensorRef[] {
  const out: TensorRef[] = [];
  const addAffine = (a: AffineRef | null): void => {
    if (!a) return;
    out.push(a.weight);
    if (a.bias) out.push(a.bias);
  };
  out.push(layout.embedding);
  if (layout.projectIn) out.push(layout.projectIn);
  if (layout.positions) out.push(layout.positions.table);
  addAffine(layout.finalNorm);
  if (layout.projectOut) out.push(layout.projectOut);
  if (layout.classifier.name !== layout.embedding.name) out.push(layout.classifier);
  for (let i = 0; i < layout.summary.blocks; i++) {
    const block = layout.block(i);
    for (const part of [block.attentionNorm, block.q, block.k, block.v, block.o, block.mlpNorm, block.gate, block.up, block.down]) addAffine(part);
  }
  return out;
}

function llamaFamilyLayout(folder: string, config: LlamaFamilyConfig, stored: StoredTensors): ModelLayout {
  const { hidden, intermediate, heads, kvHeads, headDim } = config;
  const invFreq = ropeInverseFrequencies(headDim, config.ropeTheta, config.ropeScaling);
  const spec = (index: number): BlockSpec => ({
    hidden,
    heads,
    kvHeads,
    headDim,
    norm: 'rms',
    normEps: config.rmsEps,
    normPlacement: 'pre',
    rope: { layout: 'half', invFreq },
    slidingWindow: config.slidingWindow(index),
    mlp: 'swiglu',
  });
  const block = (i: number): BlockLayout => {
    const p = `model.layers.${i}`;
    return {
      attentionNorm: affine(`${p}.input_layernorm`, hidden, null, false),
      q: affine(`${p}.self_attn.q_proj`, heads * headDim, hidden, config.qkvBias),
      k: affine(`${p}.self_attn.k_proj`, kvHeads * headDim, hidden, config.qkvBias),
      v: affine(`${p}.self_attn.v_proj`, kvHeads * headDim, hidden, config.qkvBias),
      o: affine(`${p}.self_attn.o_proj`, hidden, heads * headDim, config.outputBias),
      mlpNorm: affine(`${p}.post_attention_layernorm`, hidden, null, false),
      gate: affine(`${p}.mlp.gate_proj`, intermediate, hidden, config.mlpBias),
      up: affine(`${p}.mlp.up_proj`, intermediate, hidden, config.mlpBias),
      down: affine(`${p}.mlp.down_proj`, hidden, intermediate, config.mlpBias),
    };
  };
  const embedding = ref('model.embed_tokens.weight', [config.vocabSize, hidden]);
  const rest = {
    spec,
    block,
    embedding,
    projectIn: null,
    positions: null,
    finalNorm: affine('model.norm', hidden, null, false),
    projectOut: null,
    classifier: classifierRef(config, stored, embedding, folder),
  };
  return withSummary(rest, folder, config, hidden, stored.info(embedding.name).dtype);
}

function optLayout(folder: string, config: OptConfig, stored: StoredTensors): ModelLayout {
  const { hidden, ffn, heads, embedDim, bias } = config;
  const headDim = hidden / heads;
  const blockSpec: BlockSpec = {
    hidden,
    heads,
    kvHeads: heads,
    headDim,
    norm: 'layer',
    normEps: OPT_LAYER_NORM_EPS,
    normPlacement: config.preNorm ? 'pre' : 'post',
    rope: null,
    slidingWindow: null,
    mlp: 'relu',
  };
  const block = (i: number): BlockLayout => {
    const p = `model.decoder.layers.${i}`;
    return {
      attentionNorm: affine(`${p}.self_attn_layer_norm`, hidden, null, true),
      q: affine(`${p}.self_attn.q_proj`, hidden, hidden, bias),
      k: affine(`${p}.self_attn.k_proj`, hidden, hidden, bias),
      v: affine(`${p}.self_attn.v_proj`, hidden, hidden, bias),
      o: affine(`${p}.self_attn.out_proj`, hidden, hidden, bias),
      mlpNorm: affine(`${p}.final_layer_norm`, hidden, null, true),
      gate: null,
      up: affine(`${p}.fc1`, ffn, hidden, bias),
      down: affine(`${p}.fc2`, hidden, ffn, bias),
    };
  };
  const embedding = ref('model.decoder.embed_tokens.weight', [config.vocabSize, embedDim]);
  const projected = embedDim !== hidden;
  const rest = {
    spec: () => blockSpec,
    block,
    embedding,
    projectIn: projected ? ref('model.decoder.project_in.weight', [hidden, embedDim]) : null,
    positions: {
      table: ref('model.decoder.embed_positions.weight', [config.maxPositions + OPT_POSITION_OFFSET, hidden]),
      offset: OPT_POSITION_OFFSET,
    },
    finalNorm: config.finalNorm ? affine('model.decoder.final_layer_norm', hidden, null, true) : null,
    projectOut: projected ? ref('model.decoder.project_out.weight', [embedDim, hidden]) : null,
    classifier: classifierRef(config, stored, embedding, folder),
  };
  return withSummary(rest, folder, config, hidden, stored.info(embedding.name).dtype);
}

/** Builds the layout of a Hugging Face model from its config and stored tensor names. */
export function huggingFaceLayout(folder: string, config: HuggingFaceConfig, stored: StoredTensors): ModelLayout {
  return config.architecture === 'OPTForCausalLM' ? optLayout(folder, config, stored) : llamaFamilyLayout(folder, config, stored);
}
