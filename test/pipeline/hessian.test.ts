import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../main/engine/types.js';
import { HessianAccumulator } from '../../main/pipeline/hessian.js';
import { mulberry32 } from '../../main/pipeline/calibration.js';

function randomInputs(tokens: number, cols: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const x = new Float32Array(tokens * cols);
  for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
  // A dead input column, as the MLP hidden state can have.
  for (let t = 0; t < tokens; t++) x[t * cols + 1] = 0;
  return x;
}

describe('HessianAccumulator', () => {
  it('sums XᵀX over chunks', () => {
    const tokens = 50;
    const cols = 7;
    const x = randomInputs(tokens, cols, 3);
    const accumulator = new HessianAccumulator(cols);
    accumulator.add(x.subarray(0, 20 * cols), 20);
    accumulator.add(x.subarray(20 * cols), 30);
    const H = accumulator.finish();

    expect(accumulator.tokens).toBe(50);
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < cols; j++) {
        let expected = 0;
        for (let t = 0; t < tokens; t++) expected += x[t * cols + i]! * x[t * cols + j]!;
        expect(H[i * cols + j]).toBeCloseTo(expected, 10);
      }
    }
    expect(H[1 * cols + 1]).toBe(0);
  });

  it('rejects inputs of the wrong width', () => {
    const accumulator = new HessianAccumulator(4);
    expect(() => accumulator.add(new Float32Array(10), 3)).toThrow(/10 values does not match 3 tokens × 4 features/);
  });

  it('stops when the signal aborts', () => {
    const controller = new AbortController();
    controller.abort();
    const accumulator = new HessianAccumulator(3);
    expect(() => accumulator.add(new Float32Array(300), 100, controller.signal)).toThrow(CancelledError);
  });
});
