import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEntry, repoRoot, stories260K } from '../pipeline/paths.js';

const ARGS = ['prune', '--model', stories260K, '--method', 'alps', '--sparsity', '0.7', '--samples', '8', '--seq-len', '64', '--eval', 'none', '--json'];

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; when `killAfter` matches a stderr line, sends SIGKILL. */
function runCli(args: string[], killAfter?: RegExp): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry, ...args], { cwd: repoRoot, env: { ...process.env, ALPS_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (killAfter && killAfter.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Files of an output folder except the report, whose timings differ between runs. */
function weightFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((name) => name !== 'pruning_report.json')
    .sort();
}

describe('prune --resume', () => {
  it('matches an uninterrupted run byte for byte', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'alps-resume-'));
    const interrupted = join(folder, 'interrupted');
    const reference = join(folder, 'reference');

    const killed = await runCli([...ARGS, '--out', interrupted], /block 2 finished/);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toMatch(/block 2 finished/);
    expect(existsSync(interrupted)).toBe(false);
    expect(existsSync(join(`${interrupted}.run`, 'block-00002.safetensors'))).toBe(true);

    const resumed = await runCli([...ARGS, '--resume', `${interrupted}.run`]);
    expect(resumed.stderr).toMatch(/resuming at block 3/);
    expect(resumed.code).toBe(0);
    const outcome = JSON.parse(resumed.stdout);
    expect(outcome.out).toBe(interrupted);
    expect(outcome.layers).toHaveLength(35);

    const uninterrupted = await runCli([...ARGS, '--out', reference]);
    expect(uninterrupted.code).toBe(0);
    const expected = JSON.parse(uninterrupted.stdout);

    const files = weightFiles(reference);
    expect(files.length).toBeGreaterThan(0);
    expect(weightFiles(interrupted)).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(interrupted, file)).equals(readFileSync(join(reference, file))), file).toBe(true);
    }
    // Relative errors come from the same computation, so they match exactly as well.
    expect(outcome.layers.map((layer: { relativeError: number }) => layer.relativeError)).toEqual(
      expected.layers.map((layer: { relativeError: number }) => layer.relativeError),
    );
  });
});
