// Whole-model pruning of stories260K against the reference pipeline figures:
// each method at 70% and 2:4, calibrated on 64 × 256 consecutive tokens and
// evaluated on 256-token windows of the evaluation text. A run may be up to
// 5% worse than the reference, per layer and in perplexity.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../main/engine/index.js';
import { runPrune } from '../../main/pipeline/index.js';
import type { Method } from '../../shared/targets.js';
import { calibrationText, evaluationText, pipelineFixture, stories260K } from './paths.js';

interface FixtureRun {
  method: Method;
  target: string;
  perplexity: number;
  layers: { name: string; relativeError: number; sparsity: number }[];
}

const fixture = JSON.parse(readFileSync(pipelineFixture, 'utf8')) as { runs: FixtureRun[] };
const TOLERANCE = 1.05;

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', workers: 2 });
});
afterAll(async () => {
  await engine?.close();
});

describe('stories260K pipeline against the reference', () => {
  it.each(fixture.runs.map((run) => [run.method, run.target, run] as const))('%s at %s', async (method, target, reference) => {
    const out = join(mkdtempSync(join(tmpdir(), 'alps-methods-')), 'pruned');
    const outcome = await runPrune(
      {
        model: stories260K,
        method,
        targets: { default: target },
        calibration: { file: calibrationText, samples: 64, seqLen: 256, sampling: 'consecutive', seed: 0 },
        eval: evaluationText,
        evalDense: false,
        out,
      },
      { engine },
    );

    expect(outcome.layers.map((layer) => layer.name)).toEqual(reference.layers.map((layer) => layer.name));
    for (const [index, layer] of outcome.layers.entries()) {
      const expected = reference.layers[index]!;
      expect(layer.relativeError, layer.name).toBeLessThanOrEqual(TOLERANCE * expected.relativeError);
      expect(Math.abs(layer.sparsity - expected.sparsity), layer.name).toBeLessThan(0.005);
    }
    expect(outcome.perplexity.pruned).not.toBeNull();
    expect(outcome.perplexity.pruned!).toBeLessThanOrEqual(TOLERANCE * reference.perplexity);
  });
});
