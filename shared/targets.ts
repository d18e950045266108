/**
 * Pruning methods and sparsity targets, shared by the engine, the CLI and the
 * renderer. A target is either a fraction of weights to remove or an N:M
 * pattern along the input dimension.
 */

export const METHODS = ['alps', 'sparsegpt', 'wanda', 'magnitude'] as const;
export type Method = (typeof METHODS)[number];

export type Target =
  /** Fraction of the weights set to zero, in [0, 1). */
  | { kind: 'fraction'; sparsity: number }
  /** At most `n` non-zeros in every group of `m` consecutive inputs of each output row. */
  | { kind: 'nm'; n: number; m: number };

/** Formats a target as users write it: "0.7" or "2:4". */
export function formatTarget(target: Target): string {
  return target.kind === 'fraction' ? String(target.sparsity) : `${target.n}:${target.m}`;
}

/**
 * Parses "0.7" (a fraction) or "2:4" (N:M). Throws an Error whose message
 * names the value and the accepted forms.
 */
export function parseTarget(text: string): Target {
  const trimmed = text.trim();
  const nm = /^(\d+):(\d+)$/.exec(trimmed);
  if (nm) {
    const n = Number(nm[1]);
    const m = Number(nm[2]);
    if (m < 1 || n < 1 || n >= m) {
      throw new Error(`Pattern ${trimmed} is invalid: N:M needs 1 <= N < M (for example 2:4 keeps 2 of every 4 weights).`);
    }
    return { kind: 'nm', n, m };
  }
  const value = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(value)) {
    throw new Error(`Target "${text}" is invalid: give a sparsity fraction such as 0.7 or an N:M pattern such as 2:4.`);
  }
  return { kind: 'fraction', sparsity: validateSparsity(value) };
}

/** Returns `value` when it is a valid sparsity fraction and throws otherwise. */
export function validateSparsity(value: number): number {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new Error(
      `Sparsity ${value} is out of range: use a fraction from 0 up to but not including 1 (0.7 removes 70% of weights).`,
    );
  }
  return value;
}
