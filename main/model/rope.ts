/**
 * Rotary position embedding: inverse frequencies and per-position angles.
 *
 * Arithmetic is rounded to float32 at each step, as PyTorch does it in
 * float32 (transformers `modeling_rope_utils.py`, 4.46) and as llama2.c's
 * `powf`/`cosf` do, so the angles match the reference implementations.
 */

/** RoPE frequency scaling, as in a Hugging Face config's `rope_scaling`. */
export type RopeScaling =
  | { kind: 'none' }
  /** Positions divided by `factor` (transformers `linear`). */
  | { kind: 'linear'; factor: number }
  /** Llama 3.1 frequency-dependent scaling (transformers `llama3`). */
  | { kind: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

const f = Math.fround;

/** Returns inv_freq[i] = 1 / theta^(2i / headDim) for i < headDim / 2, then applies `scaling`. */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling = { kind: 'none' }): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(theta ** f((2 * i) / headDim)));

  if (scaling.kind === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = f(inv[i]! / scaling.factor);
  } else if (scaling.kind === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const lowFreqWavelength = originalMaxPositions / lowFreqFactor;
    const highFreqWavelength = originalMaxPositions / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const frequency = inv[i]!;
      // PyTorch rounds the scalar 2π to float32 before dividing a float32 tensor by it.
      const wavelength = f(f(2 * Math.PI) / frequency);
      if (wavelength > lowFreqWavelength) {
        // Long wavelengths: interpolate fully.
        inv[i] = f(frequency / factor);
      } else if (wavelength >= highFreqWavelength) {
        // Medium wavelengths: blend between the scaled and the original frequency.
        const smooth = f(f(f(originalMaxPositions / wavelength) - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
        inv[i] = f(f(f(f(1 - smooth) * frequency) / factor) + f(smooth * frequency));
      }
    }
  }
  return inv;
}

/** Returns cos and sin of position * inv_freq: [seqLen, headDim / 2] each, positions 0..seqLen-1. */
export function ropeAngles(invFreq: Float32Array, seqLen: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  for (let p = 0; p < seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(p * invFreq[i]!);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
