import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKEND_NAMES } from '../../main/engine/backend.js';
import { SafetensorsFile } from '../../main/io/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const layersDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'layers');
const reference = JSON.parse(readFileSync(path.join(layersDir, 'reference.json'), 'utf8')) as {
  cases: { file: string; method: string; target: string; relativeError: number; sparsity: number; iterations?: number }[];
};
const scratch = mkdtempSync(path.join(tmpdir(), 'alps-solve-cli-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function solve(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repoRoot, 'bin', 'alps-studio.mjs'), 'solve', ...args],
      { cwd: repoRoot, env: { ...process.env, ALPS_LOG_LEVEL: 'warn' }, timeout: 120_000 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error) code = typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function referenceCase(file: string, method: string, target: string) {
  const found = reference.cases.find((c) => c.file === file && c.method === method && c.target === target);
  if (!found) throw new Error(`reference.json has no case ${file} ${method} ${target}`);
  return found;
}

/** tr((W−Ŵ) H (W−Ŵ)ᵀ) / tr(W H Wᵀ) in float64. */
function relativeError(W: Float32Array, pruned: Float32Array, H: Float32Array, rows: number, cols: number): number {
  let numerator = 0;
  let denominator = 0;
  const delta = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) delta[i] = W[r * cols + i]! - pruned[r * cols + i]!;
    for (let i = 0; i < cols; i++) {
      let hDelta = 0;
      let hW = 0;
      for (let j = 0; j < cols; j++) {
        hDelta += H[i * cols + j]! * delta[j]!;
        hW += H[i * cols + j]! * W[r * cols + j]!;
      }
      numerator += delta[i]! * hDelta;
      denominator += W[r * cols + i]! * hW;
    }
  }
  return numerator / denominator;
}

describe('solve --json', () => {
  const cases = [
    { file: 'layer-b0-wq.safetensors', method: 'alps', flags: ['--sparsity', '0.7'], target: '0.7' },
    { file: 'layer-b4-w2.safetensors', method: 'sparsegpt', flags: ['--pattern', '2:4'], target: '2:4' },
    { file: 'layer-b0-w1.safetensors', method: 'wanda', flags: ['--sparsity', '0.5'], target: '0.5' },
  ];

  for (const { file, method, flags, target } of cases) {
    it(`${method} ${target} on ${file} matches the reference`, async () => {
      const run = await solve('--problem', path.join(layersDir, file), '--method', method, ...flags, '--json');
      expect(run.code, run.stderr).toBe(0);

      const report = JSON.parse(run.stdout) as Record<string, unknown>;
      const expected = referenceCase(file, method, target);
      expect(report.method).toBe(method);
      expect(report.target).toBe(target);
      expect(report.relativeError as number).toBeLessThanOrEqual(1.02 * expected.relativeError + 1e-6);
      expect(Math.abs((report.sparsity as number) - expected.sparsity)).toBeLessThanOrEqual(0.001);
      expect(report.seconds as number).toBeGreaterThan(0);
      expect(BACKEND_NAMES).toContain(report.backend);
      if (method === 'alps') expect(report.iterations as number).toBeGreaterThan(0);
      else expect(report.iterations).toBeNull();
    });
  }
});

describe('solve output', () => {
  it('--out writes the pruned W as F32', async () => {
    const problem = path.join(layersDir, 'layer-b4-wo.safetensors');
    const out = path.join(scratch, 'wo-pruned.safetensors');
    const run = await solve('--problem', problem, '--method', 'alps', '--sparsity', '0.5', '--out', out, '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { relativeError: number; sparsity: number };

    const source = SafetensorsFile.open(problem);
    const [rows, cols] = source.info('W').shape as [number, number];
    const W = source.readFloat32('W');
    const H = source.readFloat32('H');
    source.close();
    const written = SafetensorsFile.open(out);
    expect(written.names()).toEqual(['W']);
    expect(written.info('W').dtype).toBe('F32');
    expect(written.info('W').shape).toEqual([rows, cols]);
    const pruned = written.readFloat32('W');
    written.close();

    const zeros = pruned.filter((value) => value === 0).length;
    expect(zeros / pruned.length).toBeCloseTo(report.sparsity, 12);
    const error = relativeError(W, pruned, H, rows, cols);
    expect(Math.abs(error - report.relativeError) / report.relativeError).toBeLessThan(1e-6);
  });

  it('prints a readable summary without --json', async () => {
    const run = await solve('--problem', path.join(layersDir, 'layer-b0-wk.safetensors'), '--method', 'magnitude', '--sparsity', '0.5');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Pruned layer-b0-wk \[32, 64\] with magnitude at 0.5 on /);
    expect(run.stdout).toMatch(/relative error\s+\d/);
    expect(run.stdout).toMatch(/sparsity\s+0.5\d* \(\d+ of 2048 weights are zero\)/);
  });

  it('--help prints usage with units', async () => {
    const run = await solve('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: alps-studio solve --problem FILE --method METHOD/);
    expect(run.stdout).toMatch(/--sparsity S\s+fraction of weights to remove/);
    expect(run.stdout).toMatch(/--pattern N:M/);
  });
});
