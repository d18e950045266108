import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { writeSafetensors } from '../../main/io/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const layersDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'layers');
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

// Every case spawns the CLI; running them concurrently keeps the file fast.
describe.concurrent('solve errors', () => {
  const problem = path.join(layersDir, 'layer-b0-wq.safetensors');

  const usageCases: { name: string; args: string[]; message: RegExp }[] = [
    { name: 'both targets', args: ['--problem', problem, '--method', 'alps', '--sparsity', '0.5', '--pattern', '2:4'], message: /Give exactly one of --sparsity .* or --pattern/ },
    { name: 'no target', args: ['--problem', problem, '--method', 'alps'], message: /Give exactly one of --sparsity .* or --pattern/ },
    { name: 'unknown method', args: ['--problem', problem, '--method', 'obs', '--sparsity', '0.5'], message: /--method "obs" is unknown: use one of alps, sparsegpt, wanda, magnitude/ },
    { name: 'missing method', args: ['--problem', problem, '--sparsity', '0.5'], message: /Missing --method/ },
    { name: 'missing problem', args: ['--method', 'alps', '--sparsity', '0.5'], message: /Missing --problem/ },
    { name: 'sparsity out of range', args: ['--problem', problem, '--method', 'alps', '--sparsity', '1.2'], message: /Sparsity 1.2 is out of range/ },
    { name: 'fraction as pattern', args: ['--problem', problem, '--method', 'alps', '--pattern', '0.5'], message: /--pattern 0.5 is not an N:M pattern/ },
    { name: 'unknown backend', args: ['--problem', problem, '--method', 'alps', '--sparsity', '0.5', '--backend', 'metal'], message: /Backend "metal" is unknown/ },
    { name: 'unknown flag', args: ['--problem', problem, '--method', 'alps', '--sparsity', '0.5', '--fast'], message: /Unknown option '--fast'/ },
    { name: 'bad worker count', args: ['--problem', problem, '--method', 'alps', '--sparsity', '0.5', '--workers', '0'], message: /--workers 0 is out of range: give a whole number >= 1/ },
  ];

  for (const { name, args, message } of usageCases) {
    it(`exits 2 on ${name}`, async ({ expect }) => {
      const run = await solve(...args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
    });
  }

  it('exits 1 on a missing file', async ({ expect }) => {
    const missing = path.join(scratch, 'absent.safetensors');
    const run = await solve('--problem', missing, '--method', 'alps', '--sparsity', '0.5');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${missing}: file not found`);
  });

  it('exits 1 on a file without H', async ({ expect }) => {
    const file = path.join(scratch, 'only-w.safetensors');
    await writeSafetensors(file, [{ name: 'W', dtype: 'F32', shape: [2, 4], data: new Float32Array(8).fill(1) }]);
    const run = await solve('--problem', file, '--method', 'alps', '--sparsity', '0.5');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/only-w.safetensors: tensor "H" not found \(the file has W\)/);
  });

  it('exits 1 when the pattern does not fit the columns', async ({ expect }) => {
    const run = await solve('--problem', problem, '--method', 'alps', '--pattern', '2:3');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Pattern 2:3 does not fit the layer: its 64 input columns are not a multiple of M = 3/);
  });
});
