import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineEventSchema } from '../../shared/ipc-data.js';
import { createEngine, type Engine } from '../../main/engine/index.js';
import { CancelledError, InvalidInputError } from '../../main/engine/types.js';
import { runPrune, type PipelineEvent, type PruneSettings } from '../../main/pipeline/index.js';
import { calibrationText, stories260K } from './paths.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ backend: 'wasm', workers: 2 });
});
afterAll(async () => {
  await engine?.close();
});

function settings(out: string, overrides: Partial<PruneSettings> = {}): PruneSettings {
  return {
    model: stories260K,
    method: 'wanda',
    targets: { default: '0.7' },
    calibration: { file: calibrationText, samples: 8, seqLen: 64, sampling: 'consecutive', seed: 0 },
    eval: null,
    out,
    ...overrides,
  };
}

const scratch = (): string => mkdtempSync(join(tmpdir(), 'alps-pipeline-'));

describe('runPrune on stories260K', () => {
  it('prunes every linear with per-kind targets', async () => {
    const out = join(scratch(), 'pruned');
    const events: PipelineEvent[] = [];
    const outcome = await runPrune(settings(out, { targets: { default: '0.7', attention: '0.5' } }), {
      engine,
      onEvent: (event) => events.push(event),
    });

    expect(outcome.layers).toHaveLength(35);
    expect(outcome.layers.slice(0, 7).map((layer) => layer.name)).toEqual([
      'blocks.0.attention.wq',
      'blocks.0.attention.wk',
      'blocks.0.attention.wv',
      'blocks.0.attention.wo',
      'blocks.0.feed_forward.w1',
      'blocks.0.feed_forward.w3',
      'blocks.0.feed_forward.w2',
    ]);
    for (const layer of outcome.layers) {
      const expected = layer.kind === 'attention' ? 0.5 : 0.7;
      expect(layer.target).toBe(String(expected));
      // Wanda removes floor(s · in) weights per row: 32 of 64 (0.5), 44 of 64 (0.6875) or 120 of 172 (0.6977).
      expect(Math.abs(layer.sparsity - expected)).toBeLessThan(0.02);
      expect(layer.relativeError).toBeGreaterThan(0);
      expect(layer.relativeError).toBeLessThan(1);
    }
    expect(outcome.perplexity).toEqual({ dense: null, pruned: null });
    expect(outcome.overallSparsity).toBeGreaterThan(0.5);
    expect(outcome.overallSparsity).toBeLessThan(0.7);

    // The report is in the output, and the run folder is removed after a successful save.
    const report = JSON.parse(readFileSync(join(out, 'pruning_report.json'), 'utf8'));
    expect(report.method).toBe('wanda');
    expect(report.layers).toHaveLength(35);
    expect(report.calibration).toMatchObject({ samples: 8, seqLen: 64, sampling: 'consecutive', seed: 0 });
    expect(report.calibration.sha256).toBe('5a2e63d643d73dd3a6a717ceda18046e6ff0f95e5cee5f1aef7a0dc0b2757d4f');
    expect(existsSync(outcome.runDir)).toBe(false);

    // Events: valid against the shared schema, in run order.
    for (const event of events) expect(() => PipelineEventSchema.parse(event)).not.toThrow();
    expect(events[0]!.type).toBe('run-started');
    expect(events.at(-1)!.type).toBe('run-finished');
    expect(events.filter((event) => event.type === 'block-finished')).toHaveLength(5);
    const finishedLayers = events.filter((event) => event.type === 'layer-finished');
    expect(finishedLayers).toHaveLength(35);
    expect(finishedLayers.at(-1)!.progress).toBeCloseTo(1, 9);
    expect(finishedLayers.at(-1)!.secondsLeft).toBeCloseTo(0, 6);
    expect(JSON.parse(JSON.stringify(events))).toEqual(events);
  });

  it('stops within a second on abort', async () => {
    const out = join(scratch(), 'pruned');
    const controller = new AbortController();
    const events: PipelineEvent[] = [];
    let abortedAt = 0;
    const run = runPrune(settings(out, { method: 'alps', calibration: { file: calibrationText, samples: 16, seqLen: 128, sampling: 'consecutive', seed: 0 } }), {
      engine,
      signal: controller.signal,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'layer-started' && event.block === 1 && abortedAt === 0) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    await expect(run).rejects.toThrow(CancelledError);
    const seconds = (performance.now() - abortedAt) / 1000;

    expect(abortedAt).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(1);
    expect(existsSync(out)).toBe(false);
    expect(events.at(-1)!.type).toBe('run-cancelled');
    // Block 0's checkpoint stays for a resume.
    expect(existsSync(join(`${out}.run`, 'block-00000.safetensors'))).toBe(true);
  });
});

describe('runPrune input checks', () => {
  it('rejects a missing model path', async () => {
    const out = join(scratch(), 'pruned');
    const run = runPrune(settings(out, { model: '/nonexistent/model.bin' }), { engine });
    await expect(run).rejects.toThrow(InvalidInputError);
    await expect(runPrune(settings(out, { model: '/nonexistent/model.bin' }), { engine })).rejects.toThrow(
      'Model path /nonexistent/model.bin was not found: pass a llama2.c .bin file or a Hugging Face model folder with --model.',
    );
  });

  it('rejects a short calibration text with counts', async () => {
    const folder = scratch();
    const text = join(folder, 'short.txt');
    writeFileSync(text, 'Once upon a time there was a cat.\n<|endoftext|>\nThe cat sat on the mat.\n');
    const run = runPrune(settings(join(folder, 'pruned'), { calibration: { file: text, samples: 64, seqLen: 256, sampling: 'consecutive', seed: 0 } }), { engine });
    await expect(run).rejects.toThrow(/short\.txt has \d+ tokens, but 64 samples of 256 tokens need 16384\. Use a longer text, or lower --samples or --seq-len/);
  });

  it('rejects an existing output without overwrite', async () => {
    const out = scratch();
    await expect(runPrune(settings(out), { engine })).rejects.toThrow(`Output folder ${out} already exists: pass --overwrite to replace it, or choose another --out.`);
  });

  it('rejects an output under a file', async () => {
    const folder = scratch();
    writeFileSync(join(folder, 'file.txt'), 'not a folder');
    const out = join(folder, 'file.txt', 'pruned');
    await expect(runPrune(settings(out), { engine })).rejects.toThrow(`${out} cannot be created: ${join(folder, 'file.txt')} is a file, not a folder. Choose another --out.`);
  });

  it('rejects the input model location as output', async () => {
    await expect(runPrune(settings(stories260K, { overwrite: true }), { engine })).rejects.toThrow(/would replace or contain the input model/);
  });
});
