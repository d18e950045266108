/**
 * Solver settings in one place. The values reproduce the published reference
 * implementations so that results can be compared with their figures:
 * ALPS from mazumder-lab/ALPS `alps.py` (functions `ALPS_admm` and
 * `cg_batch`), SparseGPT from IST-DASLab/sparsegpt `sparsegpt.py`
 * (`fasterprune`).
 */

export const ALPS_DEFAULTS = {
  /** Ridge added to H before solving: damping × mean(diag H) on the diagonal. */
  damping: 0.01,
  /** Added to sqrt(diag H) before dividing by it, so dead inputs stay finite. */
  normEpsilon: 1e-8,
  /** ADMM penalty rho at the start. */
  rhoInitial: 0.1,
  /** Maximum ADMM iterations. */
  maxIterations: 300,
  /** The support is compared and rho adjusted every this many iterations. */
  checkEvery: 3,
  /** From this iteration on, a small support change ends the ADMM loop. */
  switchIteration: 30,
  /** Support change above this fraction of the kept count: rho × rhoGrowLarge. */
  changeLarge: 0.1,
  /** Support change above this fraction of the kept count: rho × rhoGrowMedium. */
  changeMedium: 0.005,
  /** Support change below this fraction of the kept count (after switchIteration) stops the loop. */
  changeStop: 0.0003,
  rhoGrowLarge: 1.3,
  rhoGrowMedium: 1.2,
  /** Growth for a small but non-zero change once rho has grown at least once. */
  rhoGrowSmall: 1.1,
  /** rho is divided by this when the support settles before rho has ever grown. */
  rhoShrink: 5,
  /** Upper limit on rho. */
  rhoMax: 1e6,
  /** Conjugate-gradient iterations on the final support. */
  pcgIterations: 10,
  /** Conjugate gradient stops once every output's masked residual norm is below this fraction of its right-hand side norm. */
  pcgRelativeTolerance: 1e-4,
  /**
   * Householder reflectors combined per product when forming Q of Hn = Q T Qᵀ.
   * A speed setting with no effect on results beyond float32 rounding.
   */
  qBlockSize: 64,
} as const;

export const SPARSEGPT_DEFAULTS = {
  /** Ridge added to H: damping × mean(diag H) on the diagonal. */
  damping: 0.01,
  /** Columns pruned together before the lazy update of the later columns. */
  blockSize: 128,
} as const;

export type AlpsSettings = { -readonly [K in keyof typeof ALPS_DEFAULTS]: number };
export type SparseGptSettings = { -readonly [K in keyof typeof SPARSEGPT_DEFAULTS]: number };
