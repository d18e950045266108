/**
 * The model interface the pipeline prunes through. Implementations stream
 * weights block by block: `loadBlock` reads one block's tensors from disk and
 * `releaseBlock` drops them, so memory holds one block at a time.
 *
 * Activations are float32 [tokens, hidden] row-major, for one sequence of
 * `seqLen` tokens or a batch of sequences concatenated along tokens
 * (`batch * seqLen` rows; attention never crosses a sequence boundary).
 */

export type ModelFormat = 'llama2c' | 'huggingface';

export interface LinearInfo {
  /** Full tensor name as stored, for example `model.layers.0.self_attn.q_proj.weight` or `blocks.0.attention.wq`. */
  name: string;
  /** Layer type used for per-type targets: `attention` or `mlp`. */
  kind: 'attention' | 'mlp';
  rows: number;
  cols: number;
  /** Linears with the same `inputGroup` within a block read the same input (and share H). */
  inputGroup: string;
}

export interface ModelSummary {
  format: ModelFormat;
  architecture: string;
  path: string;
  hidden: number;
  blocks: number;
  vocabSize: number;
  /** Storage dtype of the weights on disk: F32, F16 or BF16. */
  dtype: string;
  parameters: number;
  /** Linears of block 0, in forward order; other blocks have the same shapes and groups under their own names (see CausalLM.linears). */
  linears: LinearInfo[];
  maxSequenceLength: number;
  bosTokenId: number | null;
}

/** Receives each linear's input during a block forward (tokens x cols, row-major). */
export type InputCapture = (inputGroup: string, input: Float32Array, tokens: number) => void;

export interface CausalLM {
  readonly summary: ModelSummary;
  /** Linears of block `index` with their full tensor names (`summary.linears` lists block 0's), in forward order. */
  linears(index: number): LinearInfo[];
  /** Token embedding (plus learned positions where the architecture has them): [tokens, hidden]. */
  embed(tokens: Int32Array, seqLen: number): Promise<Float32Array>;
  /** Reads block `index`'s weights into memory. */
  loadBlock(index: number): Promise<void>;
  /** Frees block `index`'s weights. */
  releaseBlock(index: number): void;
  /** Runs block `index` on `x` [tokens, hidden]; calls `capture` with each input group's activations. */
  forwardBlock(index: number, x: Float32Array, seqLen: number, capture?: InputCapture): Promise<Float32Array>;
  /** Final norm and classifier: logits [tokens, vocab]. */
  head(x: Float32Array, seqLen: number): Promise<Float32Array>;
  /** Current weight of a linear in a loaded block, [rows, cols]. */
  getLinear(name: string): Float32Array;
  /** Replaces a linear's weight in a loaded block (the pruned Ŵ). */
  setLinear(name: string, weight: Float32Array): void;
  dispose(): void;
}
