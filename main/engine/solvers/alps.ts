/**
 * ALPS (Meng et al., NeurIPS 2024), following mazumder-lab/ALPS `alps.py`
 * (`ALPS_admm` and `cg_batch`): ADMM on
 *   min ½ tr((B − B0)ᵀ Hn (B − B0))  subject to B meeting the target,
 * with the penalty ρ adapted to the support change, then conjugate gradient
 * on the final support.
 *
 * Layout: the reference works on B = Wᵀ [in, out]; this code keeps the
 * weight layout [rows = out, n = in], row-major, so every product is the
 * transpose of the reference's (B·Hn here for Hn·B there).
 *
 * Symbols: H [n, n] the undamped Hessian; H_d = H + damping·mean(diag H)·I;
 * x = sqrt(diag H_d) + ε; Hn = H_d / (x xᵀ) (unit diagonal); B0 = W·diag(x);
 * YtX = B0·Hn (the reference's name for the data term); D the projected
 * copy; V the scaled dual variable.
 */
import type { AlpsSettings } from '../defaults.js';
import type { IterationEvent, LayerWeights, Target } from '../types.js';
import { checkCancelled, runCancellable } from '../linalg/steps.js';
import { formQBlockedSteps, tridiagonalizeSteps, type Tridiagonalization } from '../linalg/tridiagonal.js';
import { multiplyInSlices, toTensor, type Tensor2D, type Tf } from '../linalg/tensor.js';
import { ShiftedInverse, chooseStrategy } from './alps-operator.js';
import { TargetProjector } from './projection.js';
import type { StepTimer } from './timer.js';

/** The part of ALPS that depends on H only, shared by the layers of a group. */
export interface AlpsPreparation {
  n: number;
  /** x = sqrt(diag H_d) + ε [n]. */
  scale: Float64Array;
  /** Hn as float32 [n, n]. */
  hessian: Tensor2D;
  tridiagonal: Tridiagonalization;
  /** Q of Hn = Q T Qᵀ as float32 [n, n], as a tensor and as a typed array, and Qᵀ as a tensor. */
  q: Tensor2D;
  qValues: Float32Array;
  qTransposed: Tensor2D;
  dispose(): void;
}

/** Damps and normalizes H, then tridiagonalizes Hn in float64 and forms Q. */
export async function prepareAlps(
  tf: Tf,
  H: Float32Array | Float64Array,
  n: number,
  settings: AlpsSettings,
  signal: AbortSignal | undefined,
  timer: StepTimer,
): Promise<AlpsPreparation> {
  const normalized = new Float64Array(n * n);
  const scale = new Float64Array(n);
  timer.time('normalize', () => {
    let diagonalSum = 0;
    for (let i = 0; i < n; i++) diagonalSum += H[i * n + i];
    const damp = (settings.damping * diagonalSum) / n;
    for (let i = 0; i < n; i++) scale[i] = Math.sqrt(H[i * n + i] + damp) + settings.normEpsilon;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const value = H[i * n + j] + (i === j ? damp : 0);
        normalized[i * n + j] = value / (scale[i] * scale[j]);
      }
    }
  });

  const hessian = toTensor(tf, normalized, n, n);
  try {
    const start = performance.now();
    const tridiagonal = await runCancellable(tridiagonalizeSteps(normalized, n), signal);
    timer.add('tridiagonalize', (performance.now() - start) / 1000);

    const qStart = performance.now();
    const qValues = await runCancellable(formQBlockedSteps(tf, tridiagonal, settings.qBlockSize), signal);
    timer.add('form Q', (performance.now() - qStart) / 1000);
    const transposed = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) transposed[j * n + i] = qValues[i * n + j];
    }
    const q = toTensor(tf, qValues, n, n);
    const qTransposed = toTensor(tf, transposed, n, n);
    return {
      n,
      scale,
      hessian,
      tridiagonal,
      q,
      qValues,
      qTransposed,
      dispose() {
        hessian.dispose();
        q.dispose();
        qTransposed.dispose();
      },
    };
  } catch (error) {
    hessian.dispose();
    throw error;
  }
}

export interface AlpsLayerOutput {
  W: Float32Array;
  iterations: number;
  trace: IterationEvent[];
}

/** Runs ADMM and the final conjugate gradient for one layer of a prepared group. */
export async function solveAlpsLayer(
  tf: Tf,
  prepared: AlpsPreparation,
  layer: LayerWeights,
  target: Target,
  settings: AlpsSettings,
  onIteration: ((event: IterationEvent) => void) | undefined,
  signal: AbortSignal | undefined,
  timer: StepTimer,
): Promise<AlpsLayerOutput> {
  const { n, scale } = prepared;
  const rows = layer.rows;
  const total = rows * n;
  if (target.kind === 'fraction' && target.sparsity === 0) return { W: layer.W.slice(), iterations: 0, trace: [] };

  const B0 = new Float32Array(total);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) B0[r * n + i] = layer.W[r * n + i] * scale[i];
  }
  const YtX = await timer.timeAsync('admm matmul', () => multiplyInSlices(tf, B0, rows, n, prepared.hessian, signal));
  const dense = dotFloat64(B0, YtX);

  const projector = new TargetProjector(target, rows, n);
  const keptCount = projector.keptCount;
  if (keptCount === 0) return { W: new Float32Array(total), iterations: 0, trace: [] };

  const D0 = new Float32Array(total);
  const initialSupport = new Uint8Array(total);
  projector.project(B0, D0, initialSupport);

  let B: Float32Array = B0.slice();
  const D = D0.slice();
  const V = new Float32Array(total);
  const R = new Float32Array(total);
  const Z = new Float32Array(total);
  const support = new Uint8Array(total);
  const previousSupport = initialSupport.slice();
  const trace: IterationEvent[] = [];

  const inverse = new ShiftedInverse(
    tf,
    prepared.tridiagonal,
    prepared.q,
    prepared.qTransposed,
    prepared.qValues,
    chooseStrategy(n, rows, settings.checkEvery),
    timer,
  );
  let rho = settings.rhoInitial;
  let grown = false;
  let iterations = settings.maxIterations;
  try {
    await inverse.setRho(rho, signal);
    for (let iteration = 0; iteration < settings.maxIterations; iteration++) {
      await checkCancelled(signal);

      // B = (YtX − V + ρD)(Hn + ρI)⁻¹
      for (let t = 0; t < total; t++) R[t] = YtX[t] - V[t] + rho * D[t];
      B = await inverse.apply(R, rows, signal);

      // D = proj(B + V/ρ); V += ρ(B − D)
      timer.time('projection', () => {
        for (let t = 0; t < total; t++) Z[t] = B[t] + V[t] / rho;
        projector.project(Z, D, support);
      });
      for (let t = 0; t < total; t++) V[t] += rho * (B[t] - D[t]);

      if ((iteration + 1) % settings.checkEvery !== 0) continue;

      let changed = 0;
      for (let t = 0; t < total; t++) if (support[t] !== previousSupport[t]) changed++;
      const change = changed / keptCount;
      let stop = false;
      if (change > settings.changeLarge) {
        rho *= settings.rhoGrowLarge;
        grown = true;
      } else if (change > settings.changeMedium) {
        rho *= settings.rhoGrowMedium;
        grown = true;
      } else if (changed > 0) {
        if (grown) {
          rho *= settings.rhoGrowSmall;
        } else {
          // The support moved a little before ρ ever grew: restart from B0 with a smaller ρ.
          rho /= settings.rhoShrink;
          B = B0.slice();
          D.set(D0);
          V.fill(0);
        }
      } else if (grown) {
        stop = true;
      } else {
        rho /= settings.rhoShrink;
      }
      if (stop) {
        iterations = iteration + 1;
        break;
      }

      previousSupport.set(support);
      rho = Math.min(rho, settings.rhoMax);
      await inverse.setRho(rho, signal);

      const objective = await timer.timeAsync('objective', () =>
        projectedObjective(tf, prepared, projector, B, B0, rows, dense, signal),
      );
      const event: IterationEvent = { layer: layer.name, iteration: iteration + 1, rho, supportChange: change, objective };
      trace.push(event);
      onIteration?.(event);

      if (iteration >= settings.switchIteration && change < settings.changeStop) {
        iterations = iteration + 1;
        break;
      }
    }
  } finally {
    inverse.dispose();
  }

  // Final support from B, then conjugate gradient on it.
  const finalB = new Float32Array(total);
  const finalSupport = new Uint8Array(total);
  timer.time('projection', () => projector.project(B, finalB, finalSupport));
  const solved = await timer.timeAsync('pcg', () =>
    conjugateGradientOnSupport(tf, prepared.hessian, YtX, finalSupport, finalB, rows, n, settings, signal),
  );

  const W = new Float32Array(total);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) W[r * n + i] = solved[r * n + i] / scale[i];
  }
  return { W, iterations, trace };
}

/** tr((P − B0) Hn (P − B0)ᵀ) / tr(B0 Hn B0ᵀ) for P = proj(B): the progress measure of the reference. */
async function projectedObjective(
  tf: Tf,
  prepared: AlpsPreparation,
  projector: TargetProjector,
  B: Float32Array,
  B0: Float32Array,
  rows: number,
  dense: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const total = B.length;
  const projected = new Float32Array(total);
  projector.project(B, projected, new Uint8Array(total));
  const difference = new Float32Array(total);
  for (let t = 0; t < total; t++) difference[t] = projected[t] - B0[t];
  const product = await multiplyInSlices(tf, difference, rows, prepared.n, prepared.hessian, signal);
  return dense > 0 ? dotFloat64(difference, product) / dense : 0;
}

/**
 * Conjugate gradient for X·Hn = YtX restricted to the support (residual
 * masked), one independent system per output row, from X0. Stops after
 * `pcgIterations` or once every row's masked residual norm is at most
 * `pcgRelativeTolerance` × the norm of that row of YtX.
 *
 * NOTE: the reference's stopping test compares unmasked residual norms
 * taken along the other axis. That test in practice never passes, so the
 * reference always runs all iterations, while this one can stop earlier.
 */
async function conjugateGradientOnSupport(
  tf: Tf,
  hessian: Tensor2D,
  YtX: Float32Array,
  support: Uint8Array,
  X0: Float32Array,
  rows: number,
  n: number,
  settings: AlpsSettings,
  signal: AbortSignal | undefined,
): Promise<Float32Array> {
  const total = rows * n;
  const X = X0.slice();
  const product = await multiplyInSlices(tf, X, rows, n, hessian, signal);
  const residual = new Float32Array(total);
  for (let t = 0; t < total; t++) residual[t] = support[t] ? YtX[t] - product[t] : 0;

  const limits = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += YtX[r * n + i] ** 2;
    limits[r] = settings.pcgRelativeTolerance * Math.sqrt(sum);
  }

  const direction = new Float32Array(total);
  const residualNorms = rowDots(residual, residual, rows, n);
  for (let iteration = 1; iteration <= settings.pcgIterations; iteration++) {
    await checkCancelled(signal);
    if (iteration === 1) {
      direction.set(residual);
    }
    const curvature = await multiplyInSlices(tf, direction, rows, n, hessian, signal);
    const denominators = rowDots(direction, curvature, rows, n);
    for (let r = 0; r < rows; r++) {
      const alpha = residualNorms[r] / (denominators[r] === 0 ? 1e-8 : denominators[r]);
      for (let i = r * n; i < (r + 1) * n; i++) {
        X[i] += alpha * direction[i];
        residual[i] = support[i] ? residual[i] - alpha * curvature[i] : 0;
      }
    }

    const nextNorms = rowDots(residual, residual, rows, n);
    let converged = true;
    for (let r = 0; r < rows; r++) if (Math.sqrt(nextNorms[r]) > limits[r]) converged = false;
    if (converged) break;

    for (let r = 0; r < rows; r++) {
      const beta = nextNorms[r] / (residualNorms[r] === 0 ? 1e-8 : residualNorms[r]);
      for (let i = r * n; i < (r + 1) * n; i++) direction[i] = residual[i] + beta * direction[i];
      residualNorms[r] = nextNorms[r];
    }
  }
  return X;
}

function rowDots(a: Float32Array, b: Float32Array, rows: number, n: number): Float64Array {
  const result = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = r * n; i < (r + 1) * n; i++) sum += a[i] * b[i];
    result[r] = sum;
  }
  return result;
}

function dotFloat64(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let t = 0; t < a.length; t++) sum += a[t] * b[t];
  return sum;
}
