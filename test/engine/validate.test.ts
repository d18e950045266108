import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, type LayerGroup } from '../../main/engine/types.js';
import {
  checkPositiveSemidefinite,
  validateMethod,
  validateProblemShapes,
  validateSolveRequest,
  validateTarget,
  VALIDATION_TOLERANCES,
} from '../../main/engine/validate.js';
import { SafetensorsFile } from '../../main/io/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const layerFile = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'layers', 'layer-b0-wq.safetensors');

const ALPS_70 = { method: 'alps', target: { kind: 'fraction', sparsity: 0.7 } } as const;

/** Deterministic uniform numbers in [-0.5, 0.5) (a 32-bit linear congruential generator). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

/** H = XᵀX accumulated in float32 for X [tokens, cols]. */
function gram(tokens: number, cols: number, seed: number): Float32Array {
  const next = random(seed);
  const X = Float32Array.from({ length: tokens * cols }, next);
  const H = new Float32Array(cols * cols);
  for (let t = 0; t < tokens; t++) {
    for (let i = 0; i < cols; i++) {
      const xi = X[t * cols + i]!;
      for (let j = 0; j < cols; j++) H[i * cols + j] = Math.fround(H[i * cols + j]! + Math.fround(xi * X[t * cols + j]!));
    }
  }
  return H;
}

/** Builds a small valid group: 8 rows, 16 columns, H from 64 tokens. */
function smallGroup(): LayerGroup {
  const cols = 16;
  const next = random(7);
  return { cols, H: gram(64, cols, 3), layers: [{ name: 'layer', rows: 8, W: Float32Array.from({ length: 8 * cols }, next) }] };
}

function expectInvalid(action: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidInputError);
  expect((caught as Error).message).toMatch(message);
}

describe('validateSolveRequest accepts', () => {
  it('a fixture layer problem', () => {
    const file = SafetensorsFile.open(layerFile);
    const [rows, cols] = file.info('W').shape as [number, number];
    const group: LayerGroup = { cols, H: file.readFloat32('H'), layers: [{ name: 'wq', rows, W: file.readFloat32('W') }] };
    file.close();

    expect(() => validateSolveRequest(group, ALPS_70)).not.toThrow();
    expect(checkPositiveSemidefinite(group.H, cols)).toBe(true);
  });

  it('dead input columns', () => {
    const group = smallGroup();
    const { cols, H } = group;
    for (const dead of [0, 5, 15]) {
      for (let k = 0; k < cols; k++) {
        H[dead * cols + k] = 0;
        H[k * cols + dead] = 0;
      }
    }

    expect(() => validateSolveRequest(group, ALPS_70)).not.toThrow();
    expect(checkPositiveSemidefinite(H, cols)).toBe(true);
  });

  it('rank-deficient float32 XᵀX', () => {
    // 64 tokens for 256 inputs: 192 exact zero eigenvalues, negative after float32 rounding.
    const cols = 256;
    const H = gram(64, cols, 11);
    const group: LayerGroup = { cols, H, layers: [{ name: 'layer', rows: 1, W: new Float32Array(cols).fill(1) }] };

    expect(() => validateSolveRequest(group, ALPS_70)).not.toThrow();
    expect(checkPositiveSemidefinite(H, cols)).toBe(true);
  });

  it('N:M patterns that divide cols', () => {
    expect(validateTarget({ kind: 'nm', n: 2, m: 4 }, 16)).toEqual({ kind: 'nm', n: 2, m: 4 });
    expect(validateTarget({ kind: 'nm', n: 4, m: 8 }, 16)).toEqual({ kind: 'nm', n: 4, m: 8 });
    expect(validateTarget({ kind: 'fraction', sparsity: 0 }, 16)).toEqual({ kind: 'fraction', sparsity: 0 });
  });
});

describe('validateSolveRequest rejects', () => {
  it('W length not rows × cols', () => {
    const group = smallGroup();
    group.layers[0]!.W = new Float32Array(8 * 16 - 1);
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /W of layer "layer" has 127 values but rows × cols = 8 × 16 = 128/);
  });

  it('H length not cols²', () => {
    const group = smallGroup();
    group.H = new Float32Array(16 * 15);
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /H has 240 values but cols² = 16² = 256/);
  });

  it('NaN in W with its first index', () => {
    const group = smallGroup();
    group.layers[0]!.W[21] = NaN;
    group.layers[0]!.W[40] = NaN;
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /W of layer "layer" contains NaN at index 21 \(row 1, column 5\)/);
  });

  it('Infinity in H', () => {
    const group = smallGroup();
    group.H[3 * 16 + 2] = Infinity;
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /H contains Infinity at index 50 \(row 3, column 2\)/);
  });

  it('-Infinity in W', () => {
    const group = smallGroup();
    group.layers[0]!.W[0] = -Infinity;
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /W of layer "layer" contains -Infinity at index 0/);
  });

  it('asymmetric H beyond the tolerance', () => {
    const group = smallGroup();
    const { H } = group;
    const scale = Math.sqrt(H[2 * 16 + 2]! * H[9 * 16 + 9]!);
    H[9 * 16 + 2] = H[2 * 16 + 9]! + 10 * VALIDATION_TOLERANCES.symmetry * scale;
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /H is not symmetric: H\[9,2\] = .* but H\[2,9\] = .*, beyond the tolerance 0.0001/);
  });

  it('asymmetry within rounding passes', () => {
    const group = smallGroup();
    const { H } = group;
    const scale = Math.sqrt(H[2 * 16 + 2]! * H[9 * 16 + 9]!);
    H[9 * 16 + 2] = H[2 * 16 + 9]! + 0.1 * VALIDATION_TOLERANCES.symmetry * scale;
    expect(() => validateSolveRequest(group, ALPS_70)).not.toThrow();
  });

  it('negative diagonal entry', () => {
    const group = smallGroup();
    group.H[4 * 16 + 4] = -1;
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /H is not positive semidefinite: its diagonal entry H\[4,4\] = -1 is negative/);
  });

  it('2×2 minor with H[i,j]² above H[i,i]·H[j,j]', () => {
    const group = smallGroup();
    const { H } = group;
    const big = 2 * Math.sqrt(H[1 * 16 + 1]! * H[6 * 16 + 6]!);
    H[6 * 16 + 1] = big;
    H[1 * 16 + 6] = big;
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /H is not positive semidefinite: H\[6,1\]² = .* exceeds/);
  });

  it('all-zero H', () => {
    const group = smallGroup();
    group.H.fill(0);
    expectInvalid(() => validateSolveRequest(group, ALPS_70), /H is all zeros on its diagonal: every input column is dead/);
  });

  it('sparsity out of range', () => {
    const group = smallGroup();
    const options = { method: 'alps', target: { kind: 'fraction', sparsity: 1.2 } };
    expectInvalid(() => validateSolveRequest(group, options), /Sparsity 1.2 is out of range: use a fraction from 0 up to but not including 1/);
  });

  it('negative sparsity', () => {
    expectInvalid(() => validateTarget({ kind: 'fraction', sparsity: -0.1 }, 16), /Sparsity -0.1 is out of range/);
  });

  it('N >= M', () => {
    expectInvalid(() => validateTarget({ kind: 'nm', n: 4, m: 4 }, 16), /Pattern 4:4 is invalid: N:M needs 1 <= N < M/);
  });

  it('cols not a multiple of M', () => {
    expectInvalid(() => validateTarget({ kind: 'nm', n: 2, m: 3 }, 16), /Pattern 2:3 does not fit the layer: its 16 input columns are not a multiple of M = 3/);
  });

  it('malformed target object', () => {
    expectInvalid(() => validateTarget({ kind: 'percent', value: 70 }, 16), /Target .* is invalid: use \{kind: 'fraction', sparsity\} or \{kind: 'nm', n, m\}/);
  });

  it('unknown method', () => {
    expectInvalid(() => validateMethod('obs'), /Method "obs" is unknown: use one of alps, sparsegpt, wanda, magnitude/);
  });

  it('empty group and duplicate names', () => {
    const empty = smallGroup();
    empty.layers = [];
    expectInvalid(() => validateSolveRequest(empty, ALPS_70), /The layer group has no layers/);

    const duplicate = smallGroup();
    duplicate.layers.push({ ...duplicate.layers[0]! });
    expectInvalid(() => validateSolveRequest(duplicate, ALPS_70), /Layer name "layer" appears twice in one group/);
  });
});

describe('checkPositiveSemidefinite', () => {
  it('rejects a negative eigenvalue hidden from 2×2 minors', () => {
    // H = a·I − (c/n)·11ᵀ has eigenvalue a − c on the all-ones vector and a elsewhere.
    // With a − c = −0.01 every 2×2 minor is positive, so only the factorization finds it.
    const cols = 64;
    const a = 1;
    const c = 1.01;
    const H = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < cols; j++) H[i * cols + j] = (i === j ? a : 0) - c / cols;
    }
    const group: LayerGroup = { cols, H, layers: [{ name: 'layer', rows: 1, W: new Float32Array(cols).fill(1) }] };

    expect(() => validateSolveRequest(group, ALPS_70)).not.toThrow();
    expectInvalid(() => checkPositiveSemidefinite(H, cols), /H is not positive semidefinite: the float64 Cholesky factorization of H \+ δ·I .* fails at pivot 63/);
  });

  it('skips the factorization above the column limit', () => {
    const cols = VALIDATION_TOLERANCES.factorizationMaxCols + 1;
    expect(checkPositiveSemidefinite(new Float32Array(cols * cols), cols)).toBe(false);
  });
});

describe('validateProblemShapes', () => {
  it('accepts W [out, in] with H [in, in]', () => {
    expect(validateProblemShapes([8, 16], [16, 16], 'p.safetensors')).toEqual({ rows: 8, cols: 16 });
  });

  it('rejects non-square H', () => {
    expectInvalid(() => validateProblemShapes([8, 16], [16, 8], 'p.safetensors'), /p.safetensors: H has shape \[16, 8\]; it must be square \[in, in\] with in = 16/);
  });

  it('rejects H that does not match W', () => {
    expectInvalid(() => validateProblemShapes([8, 16], [8, 8], 'p.safetensors'), /p.safetensors: H is \[8, 8\] but W is \[8, 16\]; H must be \[16, 16\]/);
  });

  it('rejects W that is not a matrix', () => {
    expectInvalid(() => validateProblemShapes([128], [16, 16], 'p.safetensors'), /W has shape \[128\]; it must be a matrix \[out, in\]/);
  });
});
