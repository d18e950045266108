/**
 * Applies (Hn + ρI)⁻¹ to the ADMM right-hand side for a changing ρ, given
 * Hn = Q T Qᵀ (Q orthogonal, T tridiagonal) so that
 * (Hn + ρI)⁻¹ = Q (T + ρI)⁻¹ Qᵀ for every ρ from one factorization.
 *
 * The right-hand side R is [rows = out, n = in] row-major, and since the
 * inverse is symmetric, B = R · (Hn + ρI)⁻¹. Two ways to apply it:
 *  - "sandwich": B = ((R Q)(T + ρI)⁻¹) Qᵀ, two products of n²·rows each per
 *    iteration, with the tridiagonal solve on each row in float64;
 *  - "explicit": M = (Q (T + ρI)⁻¹) Qᵀ rebuilt with one n³ product whenever ρ
 *    changes, then B = R M, one n²·rows product per iteration.
 * ρ changes at most once per support check, so `chooseStrategy` compares
 * 2·n²·rows against n²·rows + n³/checkEvery per iteration.
 */
import {
  factorShiftedTridiagonal,
  solveShiftedTridiagonalRows,
  type Tridiagonalization,
} from '../linalg/tridiagonal.js';
import { SLICE_MULTIPLY_ADDS, multiply, multiplyInSlices, toTensor, type Tensor2D, type Tf } from '../linalg/tensor.js';
import type { StepTimer } from './timer.js';

export type InverseStrategy = 'sandwich' | 'explicit';

/** Picks the strategy with the smaller multiply-add count per ADMM iteration. */
export function chooseStrategy(n: number, rows: number, checkEvery: number): InverseStrategy {
  const sandwich = 2 * n * n * rows;
  const explicit = n * n * rows + (n * n * n) / checkEvery;
  return explicit < sandwich ? 'explicit' : 'sandwich';
}

export class ShiftedInverse {
  private rho = Number.NaN;
  private explicitInverse: Tensor2D | null = null;
  private factor: ReturnType<typeof factorShiftedTridiagonal> | null = null;

  /**
   * @param q Q as a float32 tensor [n, n], owned by the caller.
   * @param qTransposed Qᵀ as a float32 tensor, owned by the caller (products with
   *   a transposed operand run many times slower on the wasm backend).
   * @param qValues the same Q as a typed array (rows of Q are solved to rebuild M).
   */
  constructor(
    private readonly tf: Tf,
    private readonly tridiagonal: Tridiagonalization,
    private readonly q: Tensor2D,
    private readonly qTransposed: Tensor2D,
    private readonly qValues: Float32Array,
    readonly strategy: InverseStrategy,
    private readonly timer: StepTimer,
  ) {}

  /** Sets ρ, refactors T + ρI and, for the explicit strategy, rebuilds M. */
  async setRho(rho: number, signal: AbortSignal | undefined): Promise<void> {
    if (rho === this.rho) return;
    this.rho = rho;
    const factor = factorShiftedTridiagonal(this.tridiagonal, rho);
    this.factor = factor;
    if (this.strategy !== 'explicit') return;

    const n = this.tridiagonal.n;
    await this.timer.timeAsync('inverse rebuild', async () => {
      const qTimesInverse = this.qValues.slice();
      solveShiftedTridiagonalRows(factor, qTimesInverse, n);
      const inverse = await multiplyInSlices(this.tf, qTimesInverse, n, n, this.qTransposed, signal);
      this.explicitInverse?.dispose();
      this.explicitInverse = toTensor(this.tf, inverse, n, n);
    });
  }

  /** Returns R (Hn + ρI)⁻¹ for R [rows, n]. */
  async apply(R: Float32Array, rows: number, signal: AbortSignal | undefined): Promise<Float32Array> {
    const n = this.tridiagonal.n;
    const factor = this.factor!;
    if (this.strategy === 'explicit') {
      const inverse = this.explicitInverse!;
      return this.timer.timeAsync('admm matmul', () => multiplyInSlices(this.tf, R, rows, n, inverse, signal));
    }
    // Each slice of rows goes through R Q, the row-wise tridiagonal solve and · Qᵀ.
    // That is two products per slice, so slices are half the usual size.
    return this.timer.timeAsync('admm matmul', () =>
      multiplyInSlices(
        this.tf,
        R,
        rows,
        n,
        this.q,
        signal,
        (rotated, sliceRows) => {
          solveShiftedTridiagonalRows(factor, rotated, sliceRows);
          return multiply(this.tf, rotated, sliceRows, n, this.qTransposed);
        },
        SLICE_MULTIPLY_ADDS / 2,
      ),
    );
  }

  dispose(): void {
    this.explicitInverse?.dispose();
    this.explicitInverse = null;
  }
}
