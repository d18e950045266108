import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { floatToHalf, halfToFloat, SafetensorsFile } from '../../main/io/safetensors.js';
import { loadModel, type LoadedModel, type ModelSource } from '../../main/model/load.js';
import { openHuggingFaceModel } from '../../main/model/huggingface/load.js';
import { writePrunedModel } from '../../main/model/write.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixturesDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'hf');
const storiesDir = path.join(repoRoot, 'resources', 'stories260K');
const workDir = mkdtempSync(path.join(tmpdir(), 'alps-write-'));

/** A Hugging Face fixture as a LoadedModel source, with a stand-in tokenizer.json so the folder is complete. */
function huggingFaceSource(name: string): ModelSource & { format: 'huggingface' } {
  const folder = mkdtempSync(path.join(workDir, `${name}-`));
  cpSync(path.join(fixturesDir, name), folder, { recursive: true });
  rmSync(path.join(folder, 'reference'), { recursive: true });
  writeFileSync(path.join(folder, 'tokenizer.json'), '{"version": "1.0"}');
  const { model, weights } = openHuggingFaceModel(folder, tf);
  const source = {
    format: 'huggingface' as const,
    folder,
    tokenizer: path.join(folder, 'tokenizer.json'),
    weightFiles: weights.files.map((file) => file.path),
    index: weights.index,
  };
  model.dispose();
  return source;
}

function listAll(folder: string): string[] {
  return readdirSync(folder).sort();
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('writePrunedModel for Hugging Face folders', () => {
  it('round-trips sharded BF16 with replacements', async () => {
    const source = huggingFaceSource('llama3_gqa_bf16_sharded');
    const { model } = openHuggingFaceModel(source.folder, tf);
    await model.loadBlock(1);
    const name = 'model.layers.1.mlp.down_proj.weight';
    const pruned = model.getLinear(name).slice();
    for (let i = 0; i < pruned.length; i += 2) pruned[i] = 0;
    model.dispose();

    const outDir = path.join(workDir, 'llama3-out');
    const result = await writePrunedModel({ source }, outDir, {
      replacement: (tensor) => (tensor === name ? pruned : undefined),
      extraFiles: [{ name: 'pruning_report.json', content: '{"method": "magnitude"}' }],
    });
    expect(result.replaced).toBe(1);
    expect(listAll(outDir)).toEqual([...listAll(source.folder), 'pruning_report.json'].sort());
    expect(readFileSync(path.join(outDir, 'model.safetensors.index.json'), 'utf8')).toBe(
      readFileSync(path.join(source.folder, 'model.safetensors.index.json'), 'utf8'),
    );
    expect(readFileSync(path.join(outDir, 'config.json'), 'utf8')).toBe(readFileSync(path.join(source.folder, 'config.json'), 'utf8'));

    const reopened = openHuggingFaceModel(outDir, tf);
    await reopened.model.loadBlock(1);
    // The original values are BF16 already, and zero is exact, so the round trip is exact.
    expect(Array.from(reopened.model.getLinear(name))).toEqual(Array.from(pruned));
    reopened.model.dispose();

    for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const before = SafetensorsFile.open(path.join(source.folder, shard));
      const after = SafetensorsFile.open(path.join(outDir, shard));
      expect(after.names()).toEqual(before.names());
      for (const tensor of before.names()) {
        expect(after.info(tensor).dtype).toBe('BF16');
        if (tensor !== name) expect(after.readBytes(tensor).equals(before.readBytes(tensor)), tensor).toBe(true);
      }
      before.close();
      after.close();
    }
  });

  it('rounds F16 replacements to nearest even', async () => {
    const source = huggingFaceSource('opt_f16');
    const name = 'model.decoder.layers.0.fc1.weight';
    const values = new Float32Array(256 * 64).map((_, i) => 0.1 + i * 1e-5);
    const outDir = path.join(workDir, 'opt-out');
    await writePrunedModel({ source }, outDir, { replacement: (tensor) => (tensor === name ? values : undefined) });
    const written = SafetensorsFile.open(path.join(outDir, 'model.safetensors'));
    expect(written.info(name).dtype).toBe('F16');
    const stored = written.readFloat32(name);
    written.close();
    for (const i of [0, 1, 1000, values.length - 1]) {
      expect(stored[i]).toBe(halfToFloat(floatToHalf(values[i]!)));
      expect(Math.abs(stored[i]! - values[i]!)).toBeLessThanOrEqual(values[i]! * 2 ** -11);
    }
  });

  it('rejects an existing output folder', async () => {
    const source = huggingFaceSource('opt_f16');
    const outDir = path.join(workDir, 'existing');
    mkdirSync(outDir);
    writeFileSync(path.join(outDir, 'keep.txt'), 'user data');
    await expect(writePrunedModel({ source }, outDir, { replacement: () => undefined })).rejects.toThrow(
      /Output folder .*existing already exists: choose a new folder, or allow overwriting it/,
    );
    expect(readFileSync(path.join(outDir, 'keep.txt'), 'utf8')).toBe('user data');
  });

  it('replaces an existing folder with overwrite', async () => {
    const source = huggingFaceSource('opt_f16');
    const outDir = path.join(workDir, 'replaced');
    mkdirSync(outDir);
    writeFileSync(path.join(outDir, 'stale.txt'), 'old run');
    await writePrunedModel({ source }, outDir, { replacement: () => undefined, overwrite: true });
    expect(existsSync(path.join(outDir, 'stale.txt'))).toBe(false);
    expect(existsSync(path.join(outDir, 'model.safetensors'))).toBe(true);
  });

  it('rejects the input folder as output', async () => {
    const source = huggingFaceSource('opt_f16');
    await expect(writePrunedModel({ source }, source.folder, { replacement: () => undefined, overwrite: true })).rejects.toThrow(
      /contains the input model/,
    );
  });

  it('fails cleanly under a file', async () => {
    const source = huggingFaceSource('opt_f16');
    const blocker = path.join(workDir, 'blocker-file');
    writeFileSync(blocker, 'not a folder');
    const outDir = path.join(blocker, 'pruned');
    await expect(writePrunedModel({ source }, outDir, { replacement: () => undefined })).rejects.toThrow(
      /Writing the pruned model to .*blocker-file\/pruned failed .*A file is in the way of the folder path/,
    );
    expect(readFileSync(blocker, 'utf8')).toBe('not a folder');
  });

  it('cleans up after mid-write failure', async () => {
    const source = huggingFaceSource('llama3_gqa_bf16_sharded');
    const parent = mkdtempSync(path.join(workDir, 'parent-'));
    const outDir = path.join(parent, 'pruned');
    let calls = 0;
    await expect(
      writePrunedModel({ source }, outDir, {
        replacement: () => {
          calls++;
          if (calls === 5) throw new Error('solver crashed');
          return undefined;
        },
      }),
    ).rejects.toThrow(/Writing the pruned model to .*pruned failed \(solver crashed\)\. The partial output was removed/);
    expect(calls).toBe(5);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('rejects a replacement of the wrong size', async () => {
    const source = huggingFaceSource('opt_f16');
    const parent = mkdtempSync(path.join(workDir, 'parent-'));
    await expect(
      writePrunedModel({ source }, path.join(parent, 'out'), {
        replacement: (tensor) => (tensor === 'model.decoder.layers.0.fc2.weight' ? new Float32Array(5) : undefined),
      }),
    ).rejects.toThrow(/Replacement for model\.decoder\.layers\.0\.fc2\.weight has 5 values but its shape \[64, 256\] needs 16384/);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('writePrunedModel for llama2.c checkpoints', () => {
  it('round-trips with the tokenizer and RoPE tables', async () => {
    const loaded: LoadedModel = await loadModel(path.join(storiesDir, 'stories260K.bin'), { tf });
    await loaded.model.loadBlock(2);
    const name = 'blocks.2.feed_forward.w1';
    const pruned = loaded.model.getLinear(name).map((v, i) => (i % 3 === 0 ? 0 : v));
    const outDir = path.join(workDir, 'stories-out');
    const result = await writePrunedModel(loaded, outDir, { replacement: (tensor) => (tensor === name ? pruned : undefined) });
    loaded.model.dispose();
    expect(result.files.sort()).toEqual(['stories260K.bin', 'tok512.bin']);
    expect(listAll(outDir)).toEqual(['stories260K.bin', 'tok512.bin']);

    const before = readFileSync(path.join(storiesDir, 'stories260K.bin'));
    const after = readFileSync(path.join(outDir, 'stories260K.bin'));
    expect(after.length).toBe(before.length);
    // Only w1 of block 2 may differ; the header and the trailing RoPE tables are copied.
    const w1Start = 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 2 * 5 * 32 * 64 + 5 * 64 * 64 + 5 * 64 + 2 * 172 * 64);
    const w1End = w1Start + 4 * 172 * 64;
    expect(after.subarray(0, w1Start).equals(before.subarray(0, w1Start))).toBe(true);
    expect(after.subarray(w1End).equals(before.subarray(w1End))).toBe(true);

    const reloaded = await loadModel(outDir, { tf });
    await reloaded.model.loadBlock(2);
    expect(Array.from(reloaded.model.getLinear(name))).toEqual(Array.from(pruned));
    reloaded.model.dispose();
  });
});
