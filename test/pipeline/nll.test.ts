import { describe, expect, it } from 'vitest';
import { windowNll } from '../../main/pipeline/evaluate.js';

describe('windowNll', () => {
  it('sums cross-entropy over tokens 2..seqLen', () => {
    // Two windows of 3 tokens over a vocabulary of 2.
    const logits = Float32Array.from([
      0, 0, /* predicts token 1 */ Math.log(3), 0, /* predicts token 2 */ 9, 9, /* last position: unused */
      1, 1, /* */ 0, Math.log(4), /* */ -5, 5,
    ]);
    const tokens = Int32Array.from([0, 1, 0, 1, 0, 1]);
    const expected = -Math.log(0.5) - Math.log(3 / 4) + -Math.log(0.5) - Math.log(4 / 5);
    expect(windowNll(logits, tokens, 3, 2)).toBeCloseTo(expected, 6);
  });

  it('stays finite for large logits', () => {
    const logits = Float32Array.from([1000, 0, 0, 0]);
    const tokens = Int32Array.from([0, 0]);
    expect(windowNll(logits, tokens, 2, 2)).toBeCloseTo(0, 9);
  });
});
