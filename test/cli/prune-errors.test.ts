import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEntry, repoRoot, stories260K } from '../pipeline/paths.js';

function prune(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cliEntry, 'prune', ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ALPS_LOG_LEVEL: 'warn' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const scratch = (): string => mkdtempSync(join(tmpdir(), 'alps-cli-'));
const SMALL = ['--samples', '4', '--seq-len', '32', '--eval', 'none', '--method', 'magnitude'];

describe('prune command errors', () => {
  it('reports a missing model path', () => {
    const result = prune(['--model', '/nonexistent/model.bin', '--sparsity', '0.7', '--out', join(scratch(), 'out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Model path /nonexistent/model.bin was not found: pass a llama2.c .bin file or a Hugging Face model folder with --model.');
    expect(result.stdout).toBe('');
  });

  it('reports a short calibration text', () => {
    const folder = scratch();
    const text = join(folder, 'short.txt');
    writeFileSync(text, 'Once upon a time there was a cat.\n');
    const result = prune(['--model', stories260K, '--sparsity', '0.7', '--calibration', text, '--samples', '64', '--seq-len', '256', '--eval', 'none', '--out', join(folder, 'out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/short\.txt has \d+ tokens, but 64 samples of 256 tokens need 16384\. Use a longer text, or lower --samples or --seq-len/);
  });

  it('reports an existing output folder', () => {
    const out = scratch();
    const result = prune(['--model', stories260K, '--sparsity', '0.7', ...SMALL, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Output folder ${out} already exists: pass --overwrite to replace it, or choose another --out.`);
  });

  it('reports an unwritable output folder', () => {
    const folder = scratch();
    writeFileSync(join(folder, 'file.txt'), 'not a folder');
    const out = join(folder, 'file.txt', 'out');
    const result = prune(['--model', stories260K, '--sparsity', '0.7', ...SMALL, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${out} cannot be created: ${join(folder, 'file.txt')} is a file, not a folder. Choose another --out.`);
  });

  it('rejects two targets at once', () => {
    const result = prune(['--sparsity', '0.7', '--pattern', '2:4']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Give exactly one of --sparsity (a fraction such as 0.7) or --pattern (N:M such as 2:4).');
  });

  it('rejects an out-of-range sparsity', () => {
    const result = prune(['--sparsity', '1.2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Sparsity 1.2 is out of range');
  });

  it('overwrites with --overwrite', () => {
    const out = scratch();
    const result = prune(['--model', stories260K, '--sparsity', '0.5', ...SMALL, '--out', out, '--overwrite', '--json']);
    expect(result.code).toBe(0);
    const outcome = JSON.parse(result.stdout);
    expect(outcome.out).toBe(out);
    expect(outcome.layers).toHaveLength(35);
    for (const key of ['perplexity', 'layers', 'seconds', 'out']) expect(outcome).toHaveProperty(key);
    for (const key of ['name', 'relativeError', 'sparsity', 'seconds']) expect(outcome.layers[0]).toHaveProperty(key);
  });
});
