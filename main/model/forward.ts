/**
 * The decoder-block math shared by every supported architecture, in
 * TensorFlow.js float32 ops.
 *
 * Symbols: N = batch * T tokens (sequences of T tokens concatenated), D =
 * hidden size, H query heads, K key/value heads, d = head size. Activations
 * are [N, D]. Attention is causal within each sequence and never crosses a
 * sequence boundary.
 */
import type { InputCapture } from './types.js';
import type { TF, Tensor } from './tf.js';
import { ropeAngles } from './rope.js';

/** Architecture of one decoder block. */
export interface BlockSpec {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  norm: 'rms' | 'layer';
  normEps: number;
  /** `pre`: x + f(norm(x)) (Llama, OPT default). `post`: norm(x + f(x)) (OPT with do_layer_norm_before false). */
  normPlacement: 'pre' | 'post';
  /** Rotary embedding; `interleaved` rotates pairs (2i, 2i+1) (llama2.c, Meta), `half` rotates (i, i + d/2) (Hugging Face). */
  rope: { layout: 'interleaved' | 'half'; invFreq: Float32Array } | null;
  /** Query i attends key j only if i − window < j ≤ i; null means plain causal attention. */
  slidingWindow: number | null;
  /** SwiGLU: down(silu(gate x) * up x). ReLU: fc2(relu(fc1 x)), with fc1 as `up` and fc2 as `down`. */
  mlp: 'swiglu' | 'relu';
}

/** A weight and its optional bias, as tensors. Linear weights are stored transposed, Wᵀ [in, out]. */
export interface Affine {
  weight: Tensor;
  bias: Tensor | null;
}

/** One block's weights, by role. */
export interface BlockTensors {
  attentionNorm: Affine;
  q: Affine;
  k: Affine;
  v: Affine;
  o: Affine;
  mlpNorm: Affine;
  /** SwiGLU gate (w1, gate_proj); absent for ReLU blocks. */
  gate: Affine | null;
  /** SwiGLU up (w3, up_proj) or ReLU fc1. */
  up: Affine;
  /** SwiGLU down (w2, down_proj) or ReLU fc2. */
  down: Affine;
}

/**
 * Input groups: linears that read the same activations. Captures report
 * these names, and LinearInfo.inputGroup uses them.
 */
export const INPUT_GROUPS = {
  attentionInput: 'attention_input',
  attentionOutput: 'attention_output',
  mlpInput: 'mlp_input',
  mlpHidden: 'mlp_hidden',
} as const;

/** Large negative score for masked keys; exp underflows to exactly 0 in float32. */
const MASKED_SCORE = -1e9;

/** Applies a norm: RMSNorm w * x / sqrt(mean(x²) + eps), or LayerNorm with weight and bias. */
export function applyNorm(tf: TF, x: Tensor, norm: Affine, kind: 'rms' | 'layer', eps: number): Tensor {
  if (kind === 'rms') {
    const meanSquare = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), norm.weight);
  }
  const { mean, variance } = tf.moments(x, -1, true);
  const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  const scaled = tf.mul(normalized, norm.weight);
  return norm.bias ? tf.add(scaled, norm.bias) : scaled;
}

/** x [N, in] times Wᵀ [in, out] (as stored), plus the bias. */
export function applyLinear(tf: TF, x: Tensor, linear: Affine): Tensor {
  const y = tf.matMul(x, linear.weight);
  return linear.bias ? tf.add(y, linear.bias) : y;
}

/** Additive attention mask [T, T]: 0 where query i may attend key j, MASKED_SCORE elsewhere. */
export function attentionMask(seqLen: number, slidingWindow: number | null): Float32Array {
  const mask = new Float32Array(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++) {
    for (let j = 0; j < seqLen; j++) {
      const allowed = j <= i && (slidingWindow === null || j > i - slidingWindow);
      mask[i * seqLen + j] = allowed ? 0 : MASKED_SCORE;
    }
  }
  return mask;
}

/**
 * Number of query blocks per sequence in causal attention. Block b contains
 * the queries at positions [start, end) and reads only keys [0, end), so with
 * 2 blocks the score, softmax and context work is 3/4 of the full T × T.
 */
const QUERY_BLOCKS = 2;

/** A range [start, end) of query positions, whose queries read keys [0, end). */
interface QueryBlock {
  start: number;
  end: number;
  /** Additive mask [(end − start) * G, end], rows in (position, group member) order. */
  mask: Float32Array;
}

/** RoPE in host form: rotate(x)[t, a] = x[a] * cos[t, a] + sign[a] * x[partner[a]] * sin[t, a]. */
interface RopeTable {
  cos: Float32Array;
  sin: Float32Array;
  partner: Int32Array;
  sign: Float32Array;
}

/** Tables that depend only on the block spec and seqLen, built once per key. A model has few distinct keys. */
const queryBlockCache = new Map<string, QueryBlock[]>();
const ropeCache = new Map<string, RopeTable>();
const CACHE_LIMIT = 64;

function remember<V>(cache: Map<string, V>, key: string, build: () => V): V {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    value = build();
    cache.set(key, value);
  }
  return value;
}

/** Splits [0, seqLen) into up to QUERY_BLOCKS query blocks, each with its mask for `group` query heads per kv head. */
function queryBlocks(seqLen: number, group: number, slidingWindow: number | null): QueryBlock[] {
  return remember(queryBlockCache, `${seqLen}/${group}/${slidingWindow}`, () => {
    const count = Math.max(1, Math.min(QUERY_BLOCKS, Math.floor(seqLen / 64)));
    const blocks: QueryBlock[] = [];
    for (let b = 0; b < count; b++) {
      const start = Math.round((b * seqLen) / count);
      const end = Math.round(((b + 1) * seqLen) / count);
      const mask = new Float32Array((end - start) * group * end);
      for (let t = start; t < end; t++) {
        for (let j = 0; j < end; j++) {
          const allowed = j <= t && (slidingWindow === null || j > t - slidingWindow);
          if (allowed) continue;
          for (let g = 0; g < group; g++) mask[((t - start) * group + g) * end + j] = MASKED_SCORE;
        }
      }
      blocks.push({ start, end, mask });
    }
    return blocks;
  });
}

/** Builds the host RoPE table for `spec` at positions 0..seqLen−1. */
function ropeTable(spec: BlockSpec, seqLen: number): RopeTable {
  const rope = spec.rope!;
  // invFreq enters the key by value, because a spec may be rebuilt per call and arrays compare by identity.
  const key = `${rope.layout}/${seqLen}/${Array.from(rope.invFreq).join(',')}`;
  return remember(ropeCache, key, () => {
    const d = spec.headDim;
    const half = d / 2;
    const { cos: pairCos, sin: pairSin } = ropeAngles(rope.invFreq, seqLen);
    const cos = new Float32Array(seqLen * d);
    const sin = new Float32Array(seqLen * d);
    const partner = new Int32Array(d);
    const sign = new Float32Array(d);
    for (let i = 0; i < half; i++) {
      // Pair i occupies positions (2i, 2i+1) when interleaved and (i, i + d/2) when half-split; it rotates (a, b) to (−b, a).
      const [a, b] = rope.layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + half];
      partner[a] = b;
      sign[a] = -1;
      partner[b] = a;
      sign[b] = 1;
      for (let t = 0; t < seqLen; t++) {
        cos[t * d + a] = cos[t * d + b] = pairCos[t * half + i]!;
        sin[t * d + a] = sin[t * d + b] = pairSin[t * half + i]!;
      }
    }
    return { cos, sin, partner, sign };
  });
}

const f32 = Math.fround;

/**
 * Copies head `head` of token `token` from `source` [N, heads * d] into
 * `target` at `offset`, rotated by RoPE at `position` when `rope` is set and
 * then multiplied by `scale`. Each step is rounded to float32, as the
 * equivalent tfjs ops (mul, add, mul) round it.
 */
function copyHead(
  source: Float32Array,
  token: number,
  heads: number,
  head: number,
  d: number,
  rope: RopeTable | null,
  position: number,
  scale: number,
  target: Float32Array,
  offset: number,
): void {
  const base = (token * heads + head) * d;
  if (!rope) {
    for (let c = 0; c < d; c++) target[offset + c] = scale === 1 ? source[base + c]! : f32(source[base + c]! * scale);
    return;
  }
  const row = position * d;
  for (let c = 0; c < d; c++) {
    const rotated = f32(f32(source[base + c]! * rope.cos[row + c]!) + f32(rope.sign[c]! * source[base + rope.partner[c]!]! * rope.sin[row + c]!));
    target[offset + c] = scale === 1 ? rotated : f32(rotated * scale);
  }
}

/**
 * Causal multi-head attention on host copies of q [N, H * d], k and v
 * [N, K * d]; returns the context [N, H * d].
 *
 * Each (sequence, kv head, query block) is a pair of 2-D matmuls, because
 * with tfjs-backend-wasm 4.22 batched (3-D) and transposed matmuls measured
 * 10–20 times slower than plain 2-D ones at these shapes (on a 2-core x86
 * Linux machine). The slices are
 * gathered on the host, which also applies RoPE and the d^-0.5 scale. The
 * query is scaled before the product, as OPT does (Llama scales the scores
 * instead). Query head h reads kv head floor(h / G), G = H / K, so the G
 * query heads of one kv head share one matmul, rows ordered (position,
 * group member).
 */
function attend(tf: TF, spec: BlockSpec, q: Float32Array, k: Float32Array, v: Float32Array, batch: number, seqLen: number): Float32Array {
  const { heads, kvHeads, headDim: d } = spec;
  const group = heads / kvHeads;
  const scale = f32(1 / Math.sqrt(d));
  const rope = spec.rope ? ropeTable(spec, seqLen) : null;
  const blocks = queryBlocks(seqLen, group, spec.slidingWindow);
  const masks = blocks.map((block) => tf.tensor2d(block.mask, [(block.end - block.start) * group, block.end]));
  const context = new Float32Array(batch * seqLen * heads * d);
  const keys = new Float32Array(seqLen * d);
  const keysT = new Float32Array(d * seqLen);
  const blockKeysT = new Float32Array(d * seqLen);
  const values = new Float32Array(seqLen * d);
  const queries = new Float32Array(seqLen * group * d);

  try {
    for (let b = 0; b < batch; b++) {
      for (let kvHead = 0; kvHead < kvHeads; kvHead++) {
        // Kᵀ [d, T], so that the score matmul needs no transposeB, V [T, d], and the queries [T * G, d].
        for (let j = 0; j < seqLen; j++) {
          copyHead(k, b * seqLen + j, kvHeads, kvHead, d, rope, j, 1, keys, j * d);
          const row = ((b * seqLen + j) * kvHeads + kvHead) * d;
          values.set(v.subarray(row, row + d), j * d);
          for (let g = 0; g < group; g++) copyHead(q, b * seqLen + j, heads, kvHead * group + g, d, rope, j, scale, queries, (j * group + g) * d);
        }
        for (let c = 0; c < d; c++) {
          for (let j = 0; j < seqLen; j++) keysT[c * seqLen + j] = keys[j * d + c]!;
        }

        for (const [index, block] of blocks.entries()) {
          const { start, end } = block;
          let blockKeys = keysT;
          if (end < seqLen) {
            // The first `end` columns of Kᵀ.
            for (let c = 0; c < d; c++) blockKeysT.set(keysT.subarray(c * seqLen, c * seqLen + end), c * end);
            blockKeys = blockKeysT;
          }
          const rows = (end - start) * group;
          const queryOffset = start * group * d;
          const out = tf.tidy(() => {
            const queryTensor = tf.tensor2d(queries.subarray(queryOffset, queryOffset + rows * d), [rows, d]);
            const scores = tf.add(tf.matMul(queryTensor, tf.tensor2d(blockKeys.subarray(0, d * end), [d, end])), masks[index]!);
            return tf.matMul(tf.softmax(scores), tf.tensor2d(values.subarray(0, end * d), [end, d]));
          });

          const blockContext = out.dataSync() as Float32Array;
          out.dispose();
          for (let t = start; t < end; t++) {
            const source = (t - start) * group * d;
            context.set(blockContext.subarray(source, source + group * d), ((b * seqLen + t) * heads + kvHead * group) * d);
          }
        }
      }
    }
  } finally {
    for (const mask of masks) mask.dispose();
  }
  return context;
}

function capture(onInput: InputCapture | undefined, group: string, x: Tensor, tokens: number): void {
  if (onInput) onInput(group, x.dataSync() as Float32Array, tokens);
}

/**
 * Runs one decoder block on x [N, D] (N = batch * seqLen) and returns the new
 * residual stream [N, D]. `onInput` receives the input of each input group
 * (INPUT_GROUPS) as it is computed. The caller disposes the result.
 */
export function forwardBlock(tf: TF, spec: BlockSpec, weights: BlockTensors, x: Tensor, seqLen: number, onInput?: InputCapture): Tensor {
  const tokens = x.shape[0]!;
  if (tokens % seqLen !== 0) {
    throw new Error(`Block input has ${tokens} tokens, which is not a multiple of seqLen ${seqLen}.`);
  }
  const batch = tokens / seqLen;
  const { heads, headDim } = spec;
  return tf.tidy(() => {
    // Attention.
    const h = spec.normPlacement === 'pre' ? applyNorm(tf, x, weights.attentionNorm, spec.norm, spec.normEps) : x;
    capture(onInput, INPUT_GROUPS.attentionInput, h, tokens);
    const q = applyLinear(tf, h, weights.q).dataSync() as Float32Array;
    const k = applyLinear(tf, h, weights.k).dataSync() as Float32Array;
    const v = applyLinear(tf, h, weights.v).dataSync() as Float32Array;
    const context = attend(tf, spec, q, k, v, batch, seqLen);
    const attention = tf.tensor2d(context, [tokens, heads * headDim]);
    if (onInput) onInput(INPUT_GROUPS.attentionOutput, context, tokens);
    let residual = tf.add(x, applyLinear(tf, attention, weights.o));
    if (spec.normPlacement === 'post') residual = applyNorm(tf, residual, weights.attentionNorm, spec.norm, spec.normEps);

    // Feed-forward.
    const m = spec.normPlacement === 'pre' ? applyNorm(tf, residual, weights.mlpNorm, spec.norm, spec.normEps) : residual;
    capture(onInput, INPUT_GROUPS.mlpInput, m, tokens);
    let hidden: Tensor;
    if (spec.mlp === 'swiglu') {
      const gate = applyLinear(tf, m, weights.gate!);
      hidden = tf.mul(tf.mul(gate, tf.sigmoid(gate)), applyLinear(tf, m, weights.up));
    } else {
      hidden = tf.relu(applyLinear(tf, m, weights.up));
    }
    capture(onInput, INPUT_GROUPS.mlpHidden, hidden, tokens);
    let out = tf.add(residual, applyLinear(tf, hidden, weights.down));
    if (spec.normPlacement === 'post') out = applyNorm(tf, out, weights.mlpNorm, spec.norm, spec.normEps);
    return out;
  });
}
