// Dense perplexity of stories260K with the `eval` command: 620 windows of 256
// tokens over the bundled evaluation text, reference 3.791450667616223.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliEntry, evaluationText, pipelineFixture, repoRoot, stories260K } from '../pipeline/paths.js';

describe('eval command on stories260K', () => {
  it('matches the reference perplexity', () => {
    const fixture = JSON.parse(readFileSync(pipelineFixture, 'utf8'));
    const result = spawnSync(process.execPath, [cliEntry, 'eval', '--model', stories260K, '--eval', evaluationText, '--json'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.windows).toBe(fixture.evaluation.windows);
    expect(report.predictedTokens).toBe(fixture.evaluation.predictedTokens);
    expect(Math.abs(report.perplexity / fixture.dense.perplexity - 1)).toBeLessThan(0.001);
  });
});
