import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEntry, evaluationText, repoRoot, stories260K } from '../pipeline/paths.js';

function evaluate(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cliEntry, 'eval', ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('eval command', () => {
  it('measures a short text', () => {
    // The first 20 stories of the evaluation text.
    const stories = readFileSync(evaluationText, 'utf8').split(/^<\|endoftext\|>$/m).slice(0, 20);
    const file = join(mkdtempSync(join(tmpdir(), 'alps-eval-')), 'stories.txt');
    writeFileSync(file, stories.join('<|endoftext|>'));

    const result = evaluate(['--model', stories260K, '--eval', file, '--seq-len', '128', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.seqLen).toBe(128);
    expect(report.windows).toBeGreaterThan(10);
    expect(report.predictedTokens).toBe(report.windows * 127);
    expect(report.perplexity).toBeCloseTo(Math.exp(report.nll), 9);
    // The dense model has perplexity 3.79 on the whole text with 256-token windows; shorter windows see less context.
    expect(report.perplexity).toBeGreaterThan(3);
    expect(report.perplexity).toBeLessThan(6);
  });

  it('requires --model', () => {
    const result = evaluate([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Missing --model.');
  });

  it('reports a missing model path', () => {
    const result = evaluate(['--model', '/nonexistent/model.bin']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Model path /nonexistent/model.bin was not found');
  });

  it('reports a text shorter than one window', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'alps-eval-')), 'tiny.txt');
    writeFileSync(file, 'Once upon a time.\n');
    const result = evaluate(['--model', stories260K, '--eval', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/tiny\.txt has \d+ tokens, fewer than one window of 256: use a longer text or a smaller --seq-len/);
  });
});
