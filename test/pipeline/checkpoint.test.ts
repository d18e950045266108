import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../main/engine/types.js';
import { openRunFolder, readActivations, readBlockWeights, saveBlock } from '../../main/pipeline/checkpoint.js';
import type { LayerRecord } from '../../main/pipeline/settings.js';

const fingerprint = { model: '/models/a.bin', method: 'alps', targets: { default: '0.7' } };

function record(name: string, block: number): LayerRecord {
  return { name, kind: 'mlp', block, target: '0.7', relativeError: 0.1, sparsity: 0.7, seconds: 1, iterations: null };
}

describe('run folder', () => {
  it('saves blocks and restores them on resume', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'alps-run-')), 'run');
    const state = await openRunFolder(dir, fingerprint, 3, false);
    expect(state.manifest.finishedBlocks).toBe(0);

    const W = Float32Array.from([1, 0, 2, 0, 3, 0]);
    state.layers.push(record('blocks.0.w', 0));
    await saveBlock(dir, state, 0, [{ name: 'blocks.0.w', rows: 2, cols: 3, W }], { x: Float32Array.from([1, 2, 3, 4]), tokens: 2, hidden: 2 }, 1.5);
    state.layers.push(record('blocks.1.w', 1));
    await saveBlock(dir, state, 1, [{ name: 'blocks.1.w', rows: 2, cols: 3, W }], { x: Float32Array.from([5, 6, 7, 8]), tokens: 2, hidden: 2 }, 3);

    const resumed = await openRunFolder(dir, fingerprint, 3, true);
    expect(resumed.manifest.finishedBlocks).toBe(2);
    expect(resumed.manifest.seconds).toBe(3);
    expect(resumed.layers.map((layer) => layer.name)).toEqual(['blocks.0.w', 'blocks.1.w']);
    expect(Array.from(readActivations(dir, resumed.manifest))).toEqual([5, 6, 7, 8]);
    expect(Array.from(readBlockWeights(dir, 1).get('blocks.1.w')!)).toEqual(Array.from(W));
    // The activations entering block 1 were superseded and deleted; no temporary file is left.
    expect(readdirSync(dir).sort()).toEqual([
      'activations-00001.safetensors',
      'block-00000.safetensors',
      'block-00001.safetensors',
      'layers.json',
      'manifest.json',
      'settings.json',
    ]);
  });

  it('rejects a resume with other settings', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'alps-run-')), 'run');
    await openRunFolder(dir, fingerprint, 3, false);
    const other = { ...fingerprint, targets: { default: '2:4' } };
    const resume = openRunFolder(dir, other, 3, true);
    await expect(resume).rejects.toThrow(InvalidInputError);
    await expect(openRunFolder(dir, other, 3, true)).rejects.toThrow(/settings differ.*targets: \{"default":"0\.7"\} → \{"default":"2:4"\}/);
  });

  it('rejects a new run in a used folder', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'alps-run-')), 'run');
    await openRunFolder(dir, fingerprint, 3, false);
    await expect(openRunFolder(dir, fingerprint, 3, false)).rejects.toThrow(/already contains a run: pass --resume/);
  });

  it('rejects a resume without a run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alps-run-'));
    await expect(openRunFolder(dir, fingerprint, 3, true)).rejects.toThrow(/has no manifest\.json, so there is nothing to resume/);
    expect(existsSync(join(dir, 'settings.json'))).toBe(false);
  });
});
