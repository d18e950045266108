/**
 * Test helper: converts a llama2.c checkpoint and tokenizer into a Hugging
 * Face Llama folder (config.json, model.safetensors in F32, tokenizer.json),
 * so one trained model can check the Hugging Face path against llama2.c.
 *
 * Weights: llama2.c rotates interleaved pairs (2i, 2i+1) of each head, and
 * Hugging Face rotates (i, i + d/2). Permuting the rows of wq and wk within
 * each head (row 2i + j moves to j * d/2 + i) makes the two agree, as
 * transformers' convert_llama_weights_to_hf.py does.
 *
 * Tokenizer: a BPE model with byte fallback whose vocabulary is the llama2.c
 * pieces (spaces written as '▁') and whose merges are every split a + b of
 * every piece, ranked by the merged piece's score. A normalizer prepends '▁'
 * (the dummy prefix) and maps spaces to '▁'.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { writeSafetensors, type TensorToWrite } from '../../main/io/safetensors.js';
import { Llama2cWeights } from '../../main/model/llama2c.js';
import { Llama2cTokenizer } from '../../main/tokenizer/llama2c.js';

const SPACE_MARK = '▁';
const SPECIAL_PIECES = ['<unk>', '<s>', '</s>'];

/** Reorders the rows of each head from interleaved pairs to the half-split layout: [heads * d, cols]. */
export function permuteForHalfSplitRope(weight: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(weight.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = h * headDim + 2 * i + j;
        const to = h * headDim + j * half + i;
        out.set(weight.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/** Builds a tokenizer.json object equivalent to a llama2.c tokenizer. */
export function tokenizerJsonFromLlama2c(tokenizer: Llama2cTokenizer): object {
  const pieces: string[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    pieces.push(id < SPECIAL_PIECES.length ? SPECIAL_PIECES[id]! : tokenizer.piece(id).replaceAll(' ', SPACE_MARK));
  }
  const vocab: Record<string, number> = {};
  pieces.forEach((piece, id) => {
    if (!(piece in vocab)) vocab[piece] = id;
  });

  // Merges: every split of every non-byte piece into two pieces, highest merged score first.
  const merges: { pair: [string, string]; score: number; id: number }[] = [];
  for (let id = 3 + 256; id < pieces.length; id++) {
    const chars = Array.from(pieces[id]!);
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      if (left in vocab && right in vocab) merges.push({ pair: [left, right], score: tokenizer.score(id), id });
    }
  }
  merges.sort((a, b) => b.score - a.score || a.id - b.id);

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_PIECES.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE_MARK },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE_MARK },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE_MARK }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((merge) => merge.pair),
    },
  };
}

/** Writes a Hugging Face Llama folder equivalent to the llama2.c `checkpoint` and `tokenizerPath` into `folder`. */
export async function writeHuggingFaceFromLlama2c(checkpoint: string, tokenizerPath: string, folder: string): Promise<void> {
  const weights = Llama2cWeights.open(checkpoint);
  const { header } = weights.layout;
  const headDim = header.dim / header.heads;
  const read = (name: string): Float32Array => weights.read(weights.layout.tensors.get(name)!);
  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], data: Float32Array): void => {
    tensors.push({ name, dtype: 'F32', shape, data });
  };

  add('model.embed_tokens.weight', [header.vocabSize, header.dim], read('tok_embeddings'));
  for (let i = 0; i < header.layers; i++) {
    const p = `model.layers.${i}`;
    const kvDim = header.kvHeads * headDim;
    add(`${p}.input_layernorm.weight`, [header.dim], read(`blocks.${i}.attention_norm`));
    add(`${p}.self_attn.q_proj.weight`, [header.dim, header.dim], permuteForHalfSplitRope(read(`blocks.${i}.attention.wq`), header.heads, headDim, header.dim));
    add(`${p}.self_attn.k_proj.weight`, [kvDim, header.dim], permuteForHalfSplitRope(read(`blocks.${i}.attention.wk`), header.kvHeads, headDim, header.dim));
    add(`${p}.self_attn.v_proj.weight`, [kvDim, header.dim], read(`blocks.${i}.attention.wv`));
    add(`${p}.self_attn.o_proj.weight`, [header.dim, header.dim], read(`blocks.${i}.attention.wo`));
    add(`${p}.post_attention_layernorm.weight`, [header.dim], read(`blocks.${i}.ffn_norm`));
    add(`${p}.mlp.gate_proj.weight`, [header.hiddenDim, header.dim], read(`blocks.${i}.feed_forward.w1`));
    add(`${p}.mlp.up_proj.weight`, [header.hiddenDim, header.dim], read(`blocks.${i}.feed_forward.w3`));
    add(`${p}.mlp.down_proj.weight`, [header.dim, header.hiddenDim], read(`blocks.${i}.feed_forward.w2`));
  }
  add('model.norm.weight', [header.dim], read('norm'));
  if (!header.sharedClassifier) add('lm_head.weight', [header.vocabSize, header.dim], read('output'));
  weights.close();

  const config = {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    head_dim: headDim,
    hidden_act: 'silu',
    hidden_size: header.dim,
    intermediate_size: header.hiddenDim,
    max_position_embeddings: header.seqLen,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: header.heads,
    num_hidden_layers: header.layers,
    num_key_value_heads: header.kvHeads,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: header.sharedClassifier,
    torch_dtype: 'float32',
    vocab_size: header.vocabSize,
  };
  const tokenizer = Llama2cTokenizer.fromFile(tokenizerPath, header.vocabSize);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }, null, 2));
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tokenizerJsonFromLlama2c(tokenizer)));
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }, null, 2));
  await writeSafetensors(join(folder, 'model.safetensors'), tensors);
}
