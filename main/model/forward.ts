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

/** Repeats the [T, T] mask for `group` query heads stacked along rows: [group * T, T]. */
function groupedMask(seqLen: number, group: number, slidingWindow: number | null): Float32Array {
  const single = attentionMask(seqLen, slidingWindow);
  const out = new Float32Array(group * single.length);
  for (let g = 0; g < group; g++) out.set(single, g * single.length);
  return out;
}

/**
 * Builds RoPE tables for rotate(x) = x * C + (x @ R) * S. C and S [T, d]
 * contain the cos and sin of each pair's angle at both positions of the
 * pair, and R [d, d] is the signed permutation that maps each pair (a, b)
 * to (−b, a). One small matmul replaces strided slicing, which the wasm
 * backend runs slowly.
 */
function ropeTables(spec: BlockSpec, seqLen: number): { C: Float32Array; S: Float32Array; R: Float32Array } {
  const rope = spec.rope!;
  const d = spec.headDim;
  const half = d / 2;
  const { cos, sin } = ropeAngles(rope.invFreq, seqLen);
  const C = new Float32Array(seqLen * d);
  const S = new Float32Array(seqLen * d);
  const R = new Float32Array(d * d);
  // Pair i occupies positions (2i, 2i+1) when interleaved and (i, i + d/2) when half-split.
  const pair = (i: number): [number, number] => (rope.layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + half]);
  for (let i = 0; i < half; i++) {
    const [a, b] = pair(i);
    R[b * d + a] = -1;
    R[a * d + b] = 1;
    for (let t = 0; t < seqLen; t++) {
      C[t * d + a] = C[t * d + b] = cos[t * half + i]!;
      S[t * d + a] = S[t * d + b] = sin[t * half + i]!;
    }
  }
  return { C, S, R };
}

/** Rotates x [B, T, heads, d] by each token's position within its sequence. */
function applyRope(tf: TF, x: Tensor, spec: BlockSpec, seqLen: number): Tensor {
  const d = spec.headDim;
  const { C, S, R } = ropeTables(spec, seqLen);
  const cosT = tf.tensor3d(C, [seqLen, 1, d]);
  const sinT = tf.tensor3d(S, [seqLen, 1, d]);
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [-1, d]), tf.tensor2d(R, [d, d])), x.shape);
  return tf.add(tf.mul(x, cosT), tf.mul(rotated, sinT));
}

/**
 * Splits x into `count` equal 2-D tensors of `shape` along its flat row-major
 * data. Copying through a typed array is several times faster than
 * tf.unstack or tf.split on the wasm backend (tfjs 4.22).
 */
function splitRows(tf: TF, x: Tensor, count: number, shape: [number, number]): Tensor[] {
  const data = x.dataSync() as Float32Array;
  const size = shape[0] * shape[1];
  return Array.from({ length: count }, (_, i) => tf.tensor2d(data.subarray(i * size, (i + 1) * size), shape));
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
  const { heads, kvHeads, headDim } = spec;
  return tf.tidy(() => {
    // Attention.
    const h = spec.normPlacement === 'pre' ? applyNorm(tf, x, weights.attentionNorm, spec.norm, spec.normEps) : x;
    capture(onInput, INPUT_GROUPS.attentionInput, h, tokens);
    let q = tf.reshape(applyLinear(tf, h, weights.q), [batch, seqLen, heads, headDim]);
    let k = tf.reshape(applyLinear(tf, h, weights.k), [batch, seqLen, kvHeads, headDim]);
    const v = applyLinear(tf, h, weights.v);
    if (spec.rope) {
      q = applyRope(tf, q, spec, seqLen);
      k = applyRope(tf, k, spec, seqLen);
    }
    // Query head h reads kv head floor(h / G), G = H / K. Ordering the queries as [B, K, G * T, d]
    // lets each kv head serve its G query heads in one matmul, with no copy of k and v.
    // The query is scaled by d^-0.5 before the product, as OPT does (Llama scales the scores instead).
    const group = heads / kvHeads;
    const scaledQ = tf.mul(q, 1 / Math.sqrt(headDim));
    const qGrouped = tf.reshape(
      tf.transpose(tf.reshape(scaledQ, [batch, seqLen, kvHeads, group, headDim]), [0, 2, 3, 1, 4]),
      [batch * kvHeads, group * seqLen, headDim],
    );
    // Keys as Kᵀ [B * K, d, T], so that the score matmul needs no transposeB.
    const keysT = tf.transpose(k, [0, 2, 3, 1]);
    const values = tf.transpose(tf.reshape(v, [batch, seqLen, kvHeads, headDim]), [0, 2, 1, 3]);
    const slices = batch * kvHeads;
    const querySlices = splitRows(tf, qGrouped, slices, [group * seqLen, headDim]);
    const keySlices = splitRows(tf, keysT, slices, [headDim, seqLen]);
    const valueSlices = splitRows(tf, values, slices, [seqLen, headDim]);

    // One (sequence, kv head) at a time: 2-D matmuls run several times faster than batched
    // ones on the wasm backend, and each [G * T, T] score matrix stays in cache.
    const mask = tf.tensor2d(groupedMask(seqLen, group, spec.slidingWindow), [group * seqLen, seqLen]);
    const contexts = querySlices.map((query, i) => {
      const scores = tf.add(tf.matMul(query, keySlices[i]!), mask);
      return tf.matMul(tf.softmax(scores), valueSlices[i]!);
    });
    const context = tf.concat(contexts, 0);
    // [B * K, G * T, d] is [B, H, T, d]; move heads next to d: [B, T, H, d] → [N, H * d].
    const attention = tf.reshape(tf.transpose(tf.reshape(context, [batch, heads, seqLen, headDim]), [0, 2, 1, 3]), [tokens, heads * headDim]);
    capture(onInput, INPUT_GROUPS.attentionOutput, attention, tokens);
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
