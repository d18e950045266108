/**
 * Every method and target on the single-layer problems of stories260K,
 * against the figures of the reference implementations (reference.json next
 * to the problems, from the repository's sibling `shared/` folder).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../main/io/safetensors.js';
import { solveGroup } from '../../main/engine/solve.js';
import type { Method } from '../../main/engine/types.js';
import { parseTarget } from '../../shared/targets.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const layersDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'layers');

interface ReferenceCase {
  file: string;
  method: Method;
  target: string;
  relativeError: number;
  sparsity: number;
  iterations?: number;
}

const cases = (JSON.parse(readFileSync(path.join(layersDir, 'reference.json'), 'utf8')) as { cases: ReferenceCase[] }).cases;

function readProblem(file: string): { W: Float32Array; H: Float32Array; rows: number; cols: number } {
  const safetensors = SafetensorsFile.open(path.join(layersDir, file));
  try {
    const [rows, cols] = safetensors.info('W').shape;
    return { W: safetensors.readFloat32('W'), H: safetensors.readFloat32('H'), rows, cols };
  } finally {
    safetensors.close();
  }
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('layer fixtures', () => {
  it('lists every method and target', () => {
    expect(cases.length).toBe(14 * 4 * 3);
  });

  for (const reference of cases) {
    it(`${reference.file} ${reference.method} ${reference.target}`, async () => {
      const { W, H, rows, cols } = readProblem(reference.file);
      const target = parseTarget(reference.target);
      const [result] = await solveGroup(tf, { cols, H, layers: [{ name: reference.file, rows, W }] }, {
        method: reference.method,
        target,
      });

      // Error: at most 2% above the reference.
      expect(result.relativeError).toBeLessThanOrEqual(1.02 * reference.relativeError + 1e-6);

      // Zero count: within 0.1% of the reference's.
      let zeros = 0;
      for (const value of result.W) if (value === 0) zeros++;
      const referenceZeros = Math.round(reference.sparsity * rows * cols);
      expect(Math.abs(zeros - referenceZeros)).toBeLessThanOrEqual(0.001 * referenceZeros);
      expect(result.sparsity).toBeCloseTo(zeros / (rows * cols), 12);

      if (target.kind === 'nm') {
        let worst = 0;
        for (let r = 0; r < rows; r++) {
          for (let g = 0; g < cols; g += target.m) {
            let nonZeros = 0;
            for (let t = 0; t < target.m; t++) if (result.W[r * cols + g + t] !== 0) nonZeros++;
            worst = Math.max(worst, nonZeros);
          }
        }
        expect(worst).toBeLessThanOrEqual(target.n);
      }
    });
  }
});
