/**
 * Memory and batching settings of the pipeline. They bound what one call
 * into the model allocates, not the numbers it computes: changing them may
 * change float32 rounding of the forward passes, so a run folder records
 * them and a resume must use the same values.
 */
export const PIPELINE_DEFAULTS = {
  /**
   * Tokens per `forwardBlock` call, rounded down to whole windows (at least one window). Cancellation is checked
   * between calls, so a call should take well under a second.
   */
  forwardChunkTokens: 1024,
  /** Logit entries (tokens × vocab) per `head` call in evaluation, rounded down to whole windows. */
  headChunkLogits: 8 * 1024 * 1024,
  /** Evaluation activations held at once (windows × seqLen × hidden float32), in bytes. */
  evaluationBatchBytes: 256 * 1024 * 1024,
  /** How often the H accumulation checks the AbortSignal, in tokens processed. */
  cancellationCheckTokens: 64,
} as const;

/** Number of whole windows of `seqLen` tokens that fit in `budget` units at `perToken` units each (at least 1). */
export function windowsPerChunk(budget: number, seqLen: number, perToken: number): number {
  return Math.max(1, Math.floor(budget / (seqLen * perToken)));
}
