/**
 * Every method at 70% on the larger synthetic layer problems (768 and 3072
 * inputs), checked against the reference figures. Each solve logs its seconds
 * and per-step timings next to the reference seconds.
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

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const timingDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'timing');

interface ReferenceCase {
  file: string;
  method: Method;
  target: number;
  relativeError: number;
  sparsity: number;
  seconds: number;
  iterations: number | null;
}

const cases = (JSON.parse(readFileSync(path.join(timingDir, 'reference.json'), 'utf8')) as { cases: ReferenceCase[] }).cases;

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('timing fixtures', () => {
  for (const reference of cases) {
    it(`${reference.file} ${reference.method} ${reference.target}`, async () => {
      const safetensors = SafetensorsFile.open(path.join(timingDir, reference.file));
      const [rows, cols] = safetensors.info('W').shape;
      const W = safetensors.readFloat32('W');
      const H = safetensors.readFloat32('H');
      safetensors.close();

      const before = tf.memory().numTensors;
      // CPU seconds stay meaningful on a shared machine where wall-clock seconds
      // stretch; the wasm backend runs on this one thread.
      const cpuStart = process.cpuUsage();
      const [result] = await solveGroup(tf, { cols, H, layers: [{ name: reference.file, rows, W }] }, {
        method: reference.method,
        target: { kind: 'fraction', sparsity: reference.target },
      });
      const cpu = process.cpuUsage(cpuStart);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const steps = Object.entries(result.timings).map(([name, seconds]) => `${name} ${seconds.toFixed(2)}`).join(', ');
      console.log(
        `${reference.file} ${reference.method}: ${result.seconds.toFixed(2)} s (reference ${reference.seconds} s), ` +
          `CPU ${cpuSeconds.toFixed(2)} s including the relative error, ` +
          `error ${result.relativeError.toFixed(6)} (reference ${reference.relativeError.toFixed(6)}), ` +
          `iterations ${result.iterations ?? '-'} (reference ${reference.iterations ?? '-'}); ${steps}`,
      );

      expect(tf.memory().numTensors).toBe(before);
      expect(result.relativeError).toBeLessThanOrEqual(1.02 * reference.relativeError + 1e-6);
      let zeros = 0;
      for (const value of result.W) if (value === 0) zeros++;
      const referenceZeros = Math.round(reference.sparsity * rows * cols);
      expect(Math.abs(zeros - referenceZeros)).toBeLessThanOrEqual(0.001 * referenceZeros);
    });
  }
});
