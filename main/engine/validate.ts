/**
 * Input checks for the engine's edge (the engine facade before a job is
 * dispatched, the engine worker before the solver runs, and the CLI). The
 * solvers assume what these functions establish: shapes agree, every value is
 * finite, the target fits the layer, and H is symmetric positive
 * semidefinite up to rounding. Every failure is an InvalidInputError whose
 * message names the value and the fix.
 *
 * Symbols: W [rows, cols] row-major, H [cols, cols] row-major, d = mean of
 * diag(H), δ = VALIDATION_TOLERANCES.definiteShift × d.
 */
import { z } from 'zod';
import { METHODS, formatTarget, validateSparsity, type Method, type Target } from '../../shared/targets.js';
import { InvalidInputError, type LayerGroup } from './types.js';

/**
 * Tolerances of the checks on H. They must absorb float32 rounding. On
 * float32-accumulated XᵀX with fewer tokens than inputs (rank deficient, so
 * the exact H has zero eigenvalues) the smallest Cholesky pivot reached
 * −1.5e-5 × d, so a shift of 1e-6 × d would reject valid input.
 */
export const VALIDATION_TOLERANCES = {
  /**
   * |H[i,j] − H[j,i]| may reach this fraction of sqrt(H[i,i]·H[j,j]) + δ.
   * Float32 accumulation of XᵀX in two orders differs by far less.
   */
  symmetry: 1e-4,
  /**
   * δ / d: H passes as positive semidefinite when H + δ·I is positive
   * definite. The solvers damp H by 0.01 × d, 100 times δ, so an accepted H is
   * still positive definite after damping.
   */
  definiteShift: 1e-4,
  /**
   * Largest cols for which the float64 Cholesky factorization runs. It costs
   * cols³/3 flops in JavaScript (measured here: 0.1 s at 768, 8.6 s at 3072);
   * larger H get only the O(cols²) diagonal and 2×2-minor checks.
   */
  factorizationMaxCols: 1024,
} as const;

const methodSchema = z.enum(METHODS);

const targetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fraction'), sparsity: z.number() }),
  z.object({ kind: z.literal('nm'), n: z.number().int(), m: z.number().int() }),
]);

/** Returns `method` typed when it is one of METHODS; throws InvalidInputError otherwise. */
export function validateMethod(method: unknown): Method {
  const parsed = methodSchema.safeParse(method);
  if (!parsed.success) {
    throw new InvalidInputError(`Method ${JSON.stringify(method)} is unknown: use one of ${METHODS.join(', ')}.`);
  }
  return parsed.data;
}

/** Checks that `target` is well formed and fits a layer with `cols` input columns. */
export function validateTarget(target: unknown, cols: number): Target {
  const parsed = targetSchema.safeParse(target);
  if (!parsed.success) {
    throw new InvalidInputError(
      `Target ${JSON.stringify(target)} is invalid: use {kind: 'fraction', sparsity} or {kind: 'nm', n, m} (see parseTarget in shared/targets.ts).`,
    );
  }
  const value = parsed.data;
  if (value.kind === 'fraction') {
    try {
      validateSparsity(value.sparsity);
    } catch (error) {
      throw new InvalidInputError((error as Error).message);
    }
    return value;
  }
  const pattern = formatTarget(value);
  if (value.n < 1 || value.m < 1 || value.n >= value.m) {
    throw new InvalidInputError(`Pattern ${pattern} is invalid: N:M needs 1 <= N < M (for example 2:4 keeps 2 of every 4 weights).`);
  }
  if (cols % value.m !== 0) {
    throw new InvalidInputError(
      `Pattern ${pattern} does not fit the layer: its ${cols} input columns are not a multiple of M = ${value.m}. Use an N:M pattern whose M divides ${cols}, or a sparsity fraction.`,
    );
  }
  return value;
}

/**
 * Checks the stored shapes of a layer problem (as read from a file) before
 * the arrays are used: W [out, in] and H [in, in]. `source` names the file.
 */
export function validateProblemShapes(wShape: readonly number[], hShape: readonly number[], source: string): { rows: number; cols: number } {
  if (wShape.length !== 2) {
    throw new InvalidInputError(`${source}: W has shape [${wShape.join(', ')}]; it must be a matrix [out, in].`);
  }
  if (hShape.length !== 2 || hShape[0] !== hShape[1]) {
    throw new InvalidInputError(`${source}: H has shape [${hShape.join(', ')}]; it must be square [in, in] with in = ${wShape[1]} (W's columns).`);
  }
  const [rows, cols] = wShape as [number, number];
  if (hShape[0] !== cols) {
    throw new InvalidInputError(
      `${source}: H is [${hShape.join(', ')}] but W is [${rows}, ${cols}]; H must be [${cols}, ${cols}], built from the inputs of this layer.`,
    );
  }
  if (rows < 1 || cols < 1) {
    throw new InvalidInputError(`${source}: W has shape [${rows}, ${cols}]; both dimensions must be at least 1.`);
  }
  return { rows, cols };
}

/**
 * Runs every check that costs O(cols²) or less: shapes, finiteness, target,
 * symmetry, and the diagonal and 2×2-minor conditions for positive
 * semidefiniteness. The facade runs it on the calling thread before dispatch;
 * `checkPositiveSemidefinite` (O(cols³)) runs in the worker.
 */
export function validateSolveRequest(group: LayerGroup, options: { method: unknown; target: unknown }): void {
  validateGroupShapes(group);
  validateMethod(options.method);
  validateTarget(options.target, group.cols);
  for (const layer of group.layers) {
    checkFinite(layer.W, group.cols, `W of layer "${layer.name}"`, 'Remove non-finite weights before pruning (check the model file).');
  }
  checkFinite(group.H, group.cols, 'H', 'Rebuild H from finite activations: a non-finite H usually means activations overflowed in the calibration pass.');
  checkSymmetricAndMinors(group.H, group.cols);
}

function validateGroupShapes(group: LayerGroup): void {
  const { cols, H, layers } = group;
  if (!Number.isInteger(cols) || cols < 1) {
    throw new InvalidInputError(`Input column count ${cols} is invalid: cols must be a whole number of at least 1.`);
  }
  if (H.length !== cols * cols) {
    throw new InvalidInputError(
      `H has ${H.length} values but cols² = ${cols}² = ${cols * cols}. Pass H = XᵀX as a row-major [cols, cols] array for this layer's ${cols} inputs.`,
    );
  }
  if (layers.length === 0) {
    throw new InvalidInputError('The layer group has no layers: pass at least one {name, rows, W}.');
  }
  const names = new Set<string>();
  for (const layer of layers) {
    if (!layer.name) throw new InvalidInputError('A layer has an empty name: give every layer a unique name such as "blocks.0.attention.wq".');
    if (names.has(layer.name)) throw new InvalidInputError(`Layer name "${layer.name}" appears twice in one group: layer names must be unique.`);
    names.add(layer.name);
    if (!Number.isInteger(layer.rows) || layer.rows < 1) {
      throw new InvalidInputError(`Layer "${layer.name}" has ${layer.rows} rows: rows must be a whole number of at least 1.`);
    }
    if (layer.W.length !== layer.rows * cols) {
      throw new InvalidInputError(
        `W of layer "${layer.name}" has ${layer.W.length} values but rows × cols = ${layer.rows} × ${cols} = ${layer.rows * cols}. Pass W as a row-major [rows, cols] array.`,
      );
    }
  }
}

function checkFinite(values: ArrayLike<number>, cols: number, label: string, fix: string): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isFinite(value)) {
      const row = Math.floor(i / cols);
      throw new InvalidInputError(`${label} contains ${value} at index ${i} (row ${row}, column ${i - row * cols}). ${fix}`);
    }
  }
}

/** Mean of diag(H); 0 when every input column is dead. */
function meanDiagonal(H: ArrayLike<number>, cols: number): number {
  let sum = 0;
  for (let i = 0; i < cols; i++) sum += H[i * cols + i]!;
  return sum / cols;
}

/**
 * Symmetry, a non-negative diagonal (≥ −δ), and H[i,j]² ≤ (H[i,i] + δ)(H[j,j] + δ):
 * a failing 2×2 principal minor proves H + δ·I is not positive semidefinite.
 * Dead input columns (zero row and column) pass.
 */
function checkSymmetricAndMinors(H: ArrayLike<number>, cols: number): void {
  const d = meanDiagonal(H, cols);
  const shift = VALIDATION_TOLERANCES.definiteShift * d;
  for (let i = 0; i < cols; i++) {
    const hii = H[i * cols + i]!;
    if (hii < -shift) {
      throw new InvalidInputError(
        `H is not positive semidefinite: its diagonal entry H[${i},${i}] = ${hii} is negative (tolerance ${-shift}). H = XᵀX has a non-negative diagonal; check how H was accumulated.`,
      );
    }
  }
  if (d <= 0) {
    throw new InvalidInputError('H is all zeros on its diagonal: every input column is dead, so no calibration data reached this layer. Check the calibration inputs.');
  }
  for (let i = 0; i < cols; i++) {
    const hii = H[i * cols + i]!;
    for (let j = 0; j < i; j++) {
      const hij = H[i * cols + j]!;
      const hji = H[j * cols + i]!;
      const hjj = H[j * cols + j]!;
      const scale = Math.sqrt(Math.max(hii, 0) * Math.max(hjj, 0)) + shift;
      if (Math.abs(hij - hji) > VALIDATION_TOLERANCES.symmetry * scale) {
        throw new InvalidInputError(
          `H is not symmetric: H[${i},${j}] = ${hij} but H[${j},${i}] = ${hji}, beyond the tolerance ${VALIDATION_TOLERANCES.symmetry} × (sqrt(H[${i},${i}]·H[${j},${j}]) + δ) = ${VALIDATION_TOLERANCES.symmetry * scale}. Pass H = XᵀX, or symmetrize it as (H + Hᵀ)/2.`,
        );
      }
      if (hij * hij > (hii + shift) * (hjj + shift)) {
        throw new InvalidInputError(
          `H is not positive semidefinite: H[${i},${j}]² = ${hij * hij} exceeds (H[${i},${i}] + δ)(H[${j},${j}] + δ) = ${(hii + shift) * (hjj + shift)} with δ = ${shift}. H = XᵀX cannot have this; check how H was accumulated.`,
        );
      }
    }
  }
}

/**
 * Checks that H + δ·I is positive definite by a float64 Cholesky
 * factorization (cols³/3 flops), so H has no eigenvalue below −δ. Only the
 * lower triangle is read. Skipped above VALIDATION_TOLERANCES.factorizationMaxCols
 * columns; `validateSolveRequest` has already checked the cheap conditions.
 * Returns true when the factorization ran.
 */
export function checkPositiveSemidefinite(H: ArrayLike<number>, cols: number): boolean {
  // NOTE: above factorizationMaxCols only the diagonal and 2×2 minors are checked,
  // so an H whose negative eigenvalue shows in no 2×2 minor passes.
  if (cols > VALIDATION_TOLERANCES.factorizationMaxCols) return false;
  const d = meanDiagonal(H, cols);
  const shift = VALIDATION_TOLERANCES.definiteShift * d;
  const L = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    const rowI = i * cols;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * cols;
      let sum = H[rowI + j]!;
      for (let k = 0; k < j; k++) sum -= L[rowI + k]! * L[rowJ + k]!;
      if (j < i) {
        L[rowI + j] = sum / L[rowJ + j]!;
        continue;
      }
      const pivot = sum + shift;
      if (!(pivot > 0)) {
        throw new InvalidInputError(
          `H is not positive semidefinite: the float64 Cholesky factorization of H + δ·I (δ = ${VALIDATION_TOLERANCES.definiteShift} × mean diagonal = ${shift}) fails at pivot ${i} (value ${pivot}), so H has an eigenvalue below −δ. H = XᵀX cannot have one; check how H was accumulated.`,
        );
      }
      L[rowI + i] = Math.sqrt(pivot);
    }
  }
  return true;
}
