/**
 * Loader for llama2.c "legacy" checkpoints (`run.c` format, version 0).
 *
 * Layout (little-endian): seven int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len). Then come float32 tensors, stacked over
 * layers: token embedding [vocab, dim]; rms_att [L, dim]; wq [L, dim, dim];
 * wk [L, kv_dim, dim]; wv [L, kv_dim, dim]; wo [L, dim, dim]; rms_ffn [L, dim];
 * w1 [L, hidden, dim]; w2 [L, dim, hidden]; w3 [L, hidden, dim];
 * rms_final [dim]; two legacy RoPE tables of seq_len * head_size / 2 floats;
 * then the classifier [vocab, dim] only when vocab_size is negative (a
 * positive vocab_size means the classifier is the embedding).
 * kv_dim = dim * n_kv_heads / n_heads.
 *
 * Math: RMSNorm (eps 1e-5), RoPE on interleaved pairs (theta 10000),
 * grouped-query attention and a SwiGLU feed-forward w2(silu(w1 x) * w3 x).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import type { BlockSpec } from './forward.js';
import { ropeInverseFrequencies } from './rope.js';
import type { ModelLayout, TensorRef, WeightSource } from './transformer.js';
import { assertFinite } from './weights.js';

export const LLAMA2C_HEADER_BYTES = 28;
const RMS_EPS = 1e-5;
const ROPE_THETA = 10_000;
/** Magic of llama2.c's newer export versions ("ak42"), which this loader does not read. */
const VERSIONED_MAGIC = 0x616b3432;

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** True when vocab_size is positive: the classifier is the token embedding. */
  sharedClassifier: boolean;
}

/** A stored tensor: byte offset in the file and shape. */
export interface Llama2cTensor extends TensorRef {
  offset: number;
}

export interface Llama2cLayout {
  header: Llama2cHeader;
  /** Every tensor by name, including the legacy RoPE tables (`freq_cis_real`, `freq_cis_imag`). */
  tensors: Map<string, Llama2cTensor>;
  /** Expected file size in bytes. */
  fileBytes: number;
}

/** Name of a llama2.c linear: `blocks.{i}.attention.wq` or `blocks.{i}.feed_forward.w1`. */
export function llama2cLinearName(block: number, linear: 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3'): string {
  return linear === 'wq' || linear === 'wk' || linear === 'wv' || linear === 'wo'
    ? `blocks.${block}.attention.${linear}`
    : `blocks.${block}.feed_forward.${linear}`;
}

export function parseLlama2cHeader(bytes: Buffer, file: string): Llama2cHeader {
  if (bytes.length < LLAMA2C_HEADER_BYTES) {
    throw new Error(`${file} is ${bytes.length} bytes, too short for a llama2.c checkpoint header (28 bytes).`);
  }
  if (bytes.readUInt32LE(0) === VERSIONED_MAGIC) {
    throw new Error(`${file} is a versioned llama2.c export ("ak42" magic): export it with the legacy format (export.py --version 0).`);
  }
  const fields = Array.from({ length: 7 }, (_, i) => bytes.readInt32LE(4 * i));
  const [dim, hiddenDim, layers, heads, kvHeads, vocab, seqLen] = fields as [number, number, number, number, number, number, number];
  const valid =
    dim > 0 && hiddenDim > 0 && layers > 0 && heads > 0 && kvHeads > 0 && vocab !== 0 && seqLen > 0 &&
    dim % heads === 0 && heads % kvHeads === 0 && (dim / heads) % 2 === 0;
  if (!valid) {
    throw new Error(
      `${file} has an invalid llama2.c header (dim ${dim}, hidden_dim ${hiddenDim}, n_layers ${layers}, n_heads ${heads}, n_kv_heads ${kvHeads}, vocab_size ${vocab}, seq_len ${seqLen}): it is not a llama2.c checkpoint.`,
    );
  }
  return { dim, hiddenDim, layers, heads, kvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
}

/** Computes every tensor's offset and shape from the header. */
export function llama2cLayout(header: Llama2cHeader): Llama2cLayout {
  const { dim, hiddenDim, layers, heads, kvHeads, vocabSize, seqLen } = header;
  const headSize = dim / heads;
  const kvDim = (dim * kvHeads) / heads;
  const tensors = new Map<string, Llama2cTensor>();
  let offset = LLAMA2C_HEADER_BYTES;
  const add = (name: string, shape: number[]): void => {
    tensors.set(name, { name, shape, offset });
    offset += 4 * shape.reduce((a, b) => a * b, 1);
  };
  const stacked = (suffix: (i: number) => string, shape: number[]): void => {
    for (let i = 0; i < layers; i++) add(suffix(i), shape);
  };

  add('tok_embeddings', [vocabSize, dim]);
  stacked((i) => `blocks.${i}.attention_norm`, [dim]);
  stacked((i) => llama2cLinearName(i, 'wq'), [dim, dim]);
  stacked((i) => llama2cLinearName(i, 'wk'), [kvDim, dim]);
  stacked((i) => llama2cLinearName(i, 'wv'), [kvDim, dim]);
  stacked((i) => llama2cLinearName(i, 'wo'), [dim, dim]);
  stacked((i) => `blocks.${i}.ffn_norm`, [dim]);
  stacked((i) => llama2cLinearName(i, 'w1'), [hiddenDim, dim]);
  stacked((i) => llama2cLinearName(i, 'w2'), [dim, hiddenDim]);
  stacked((i) => llama2cLinearName(i, 'w3'), [hiddenDim, dim]);
  add('norm', [dim]);
  add('freq_cis_real', [seqLen, headSize / 2]);
  add('freq_cis_imag', [seqLen, headSize / 2]);
  if (!header.sharedClassifier) add('output', [vocabSize, dim]);
  return { header, tensors, fileBytes: offset };
}

/** Builds the architecture description that TransformerModel runs. */
export function llama2cModelLayout(path: string, layout: Llama2cLayout): ModelLayout {
  const { header, tensors } = layout;
  const headDim = header.dim / header.heads;
  const get = (name: string): TensorRef => tensors.get(name)!;
  const linear = (name: string) => ({ weight: get(name), bias: null });
  const spec: BlockSpec = {
    hidden: header.dim,
    heads: header.heads,
    kvHeads: header.kvHeads,
    headDim,
    norm: 'rms',
    normEps: RMS_EPS,
    normPlacement: 'pre',
    rope: { layout: 'interleaved', invFreq: ropeInverseFrequencies(headDim, ROPE_THETA) },
    slidingWindow: null,
    mlp: 'swiglu',
  };
  let parameters = 0;
  for (const tensor of tensors.values()) {
    if (!tensor.name.startsWith('freq_cis')) parameters += tensor.shape.reduce((a, b) => a * b, 1);
  }
  return {
    summary: {
      format: 'llama2c',
      architecture: 'llama2.c',
      path,
      hidden: header.dim,
      blocks: header.layers,
      vocabSize: header.vocabSize,
      dtype: 'F32',
      parameters,
      maxSequenceLength: header.seqLen,
      bosTokenId: 1,
    },
    spec: () => spec,
    block: (i) => ({
      attentionNorm: linear(`blocks.${i}.attention_norm`),
      q: linear(llama2cLinearName(i, 'wq')),
      k: linear(llama2cLinearName(i, 'wk')),
      v: linear(llama2cLinearName(i, 'wv')),
      o: linear(llama2cLinearName(i, 'wo')),
      mlpNorm: linear(`blocks.${i}.ffn_norm`),
      gate: linear(llama2cLinearName(i, 'w1')),
      up: linear(llama2cLinearName(i, 'w3')),
      down: linear(llama2cLinearName(i, 'w2')),
    }),
    embedding: get('tok_embeddings'),
    projectIn: null,
    positions: null,
    finalNorm: linear('norm'),
    projectOut: null,
    classifier: header.sharedClassifier ? get('tok_embeddings') : get('output'),
  };
}

/** Reads tensors of a llama2.c checkpoint by byte offset. */
export class Llama2cWeights implements WeightSource {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    readonly layout: Llama2cLayout,
  ) {
    this.fd = fd;
  }

  /** Opens `path`, parses the header and checks that the file size matches it. */
  static open(path: string): Llama2cWeights {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(`llama2.c checkpoint ${path} cannot be opened (${code ?? String(error)}): check the path and its permissions.`);
    }
    try {
      const headerBytes = Buffer.alloc(LLAMA2C_HEADER_BYTES);
      const size = fstatSync(fd).size;
      readSync(fd, headerBytes, 0, Math.min(size, LLAMA2C_HEADER_BYTES), 0);
      const header = parseLlama2cHeader(size < LLAMA2C_HEADER_BYTES ? headerBytes.subarray(0, size) : headerBytes, path);
      const layout = llama2cLayout(header);
      if (size !== layout.fileBytes) {
        throw new Error(
          `${path} is ${size} bytes but its header (dim ${header.dim}, n_layers ${header.layers}, vocab_size ${header.vocabSize}, seq_len ${header.seqLen}) implies ${layout.fileBytes}: the file is truncated or not a legacy llama2.c checkpoint.`,
        );
      }
      return new Llama2cWeights(path, fd, layout);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  read(ref: TensorRef): Float32Array {
    const tensor = this.layout.tensors.get(ref.name);
    if (!tensor) throw new Error(`Tensor ${ref.name} is not part of the llama2.c layout of ${this.path}.`);
    if (this.fd === null) throw new Error(`${this.path} is closed: the model was disposed.`);
    const values = new Float32Array(tensor.shape.reduce((a, b) => a * b, 1));
    const bytes = new Uint8Array(values.buffer);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, tensor.offset + done);
      if (n === 0) throw new Error(`${this.path} ended while reading ${ref.name}: the file is truncated.`);
      done += n;
    }
    assertFinite(values, ref.name, this.path);
    return values;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
