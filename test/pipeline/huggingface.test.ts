import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../main/engine/index.js';
import { loadModel } from '../../main/model/load.js';
import { runPrune } from '../../main/pipeline/index.js';
import { modelBackend } from '../../main/pipeline/run.js';
import { writeHuggingFaceFromLlama2c } from '../helpers/hf-from-llama2c.js';
import { calibrationText, sharedRoot, stories260K } from './paths.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', workers: 2 });
});
afterAll(async () => {
  await engine?.close();
});

describe('runPrune on a Hugging Face folder', () => {
  it('saves a folder that reloads with the reported sparsity', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'alps-hf-'));
    const input = join(folder, 'stories260K-hf');
    await writeHuggingFaceFromLlama2c(stories260K, resolve(sharedRoot, 'assets', 'stories260K', 'tok512.bin'), input);
    const out = join(folder, 'pruned');

    const outcome = await runPrune(
      {
        model: input,
        method: 'sparsegpt',
        targets: { default: '2:4', mlp: '0.6' },
        calibration: { file: calibrationText, samples: 8, seqLen: 64, sampling: 'consecutive', seed: 0 },
        eval: null,
        out,
      },
      { engine },
    );
    expect(outcome.layers).toHaveLength(35);
    expect(outcome.layers[0]!.name).toBe('model.layers.0.self_attn.q_proj.weight');

    const report = JSON.parse(readFileSync(join(out, 'pruning_report.json'), 'utf8'));
    expect(report.layers).toHaveLength(35);

    const { tf } = await modelBackend('wasm');
    const { model } = await loadModel(out, { tf });
    try {
      for (let block = 0; block < model.summary.blocks; block++) {
        await model.loadBlock(block);
        for (const linear of model.linears(block)) {
          const weight = model.getLinear(linear.name);
          const zeros = weight.reduce((count, value) => count + (value === 0 ? 1 : 0), 0);
          const recorded = outcome.layers.find((layer) => layer.name === linear.name)!;
          expect(zeros / weight.length, linear.name).toBe(recorded.sparsity);
          expect(recorded.target, linear.name).toBe(linear.kind === 'attention' ? '2:4' : '0.6');
          if (linear.kind === 'attention') expect(recorded.sparsity, linear.name).toBe(0.5);
        }
        model.releaseBlock(block);
      }
    } finally {
      model.dispose();
    }
  });
});
