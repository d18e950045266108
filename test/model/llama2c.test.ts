import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { readDocuments, tokenStream } from '../../main/data/text.js';
import { SafetensorsFile } from '../../main/io/safetensors.js';
import { loadModel, type LoadedModel } from '../../main/model/load.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const modelDir = path.join(repoRoot, 'resources', 'stories260K');
const checkpoint = path.join(modelDir, 'stories260K.bin');

/** Runs every block and the head on `tokens` (whole sequences of seqLen). */
async function logitsOf(loaded: LoadedModel, tokens: Int32Array, seqLen: number): Promise<Float32Array> {
  const { model } = loaded;
  let x = await model.embed(tokens, seqLen);
  for (let b = 0; b < model.summary.blocks; b++) {
    await model.loadBlock(b);
    x = await model.forwardBlock(b, x, seqLen);
  }
  return model.head(x, seqLen);
}

function argmaxRow(logits: Float32Array, row: number, vocab: number): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[row * vocab + i]! > logits[row * vocab + best]!) best = i;
  return best;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('stories260K resources', () => {
  it('match the published checksums', () => {
    expect(sha256(checkpoint)).toBe('b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696');
    expect(sha256(path.join(modelDir, 'tok512.bin'))).toBe('037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312');
  });
});

describe('llama2.c model', () => {
  it('summarizes the header', async () => {
    const loaded = await loadModel(checkpoint, { tf });
    const { summary } = loaded.model;
    expect(summary).toMatchObject({ format: 'llama2c', hidden: 64, blocks: 5, vocabSize: 512, maxSequenceLength: 512, bosTokenId: 1, dtype: 'F32' });
    expect(summary.linears.map((l) => `${l.name}:${l.rows}x${l.cols}:${l.inputGroup}`)).toEqual([
      'blocks.0.attention.wq:64x64:attention_input',
      'blocks.0.attention.wk:32x64:attention_input',
      'blocks.0.attention.wv:32x64:attention_input',
      'blocks.0.attention.wo:64x64:attention_output',
      'blocks.0.feed_forward.w1:172x64:mlp_input',
      'blocks.0.feed_forward.w3:172x64:mlp_input',
      'blocks.0.feed_forward.w2:64x172:mlp_hidden',
    ]);
    expect(loaded.model.linears(4)[6]!.name).toBe('blocks.4.feed_forward.w2');
    loaded.model.dispose();
  });

  it('opens a folder with its tokenizer', async () => {
    const loaded = await loadModel(modelDir, { tf });
    expect(loaded.source).toEqual({ format: 'llama2c', checkpoint, tokenizer: path.join(modelDir, 'tok512.bin') });
    loaded.model.dispose();
  });

  it('greedy-decodes the known story opening', async () => {
    const loaded = await loadModel(checkpoint, { tf });
    const ids = [1];
    for (let step = 0; step < 16; step++) {
      const tokens = Int32Array.from(ids);
      const logits = await logitsOf(loaded, tokens, tokens.length);
      ids.push(argmaxRow(logits, tokens.length - 1, 512));
    }
    expect(loaded.tokenizer.decode(ids).startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    loaded.model.dispose();
  });

  it('keeps batch sequences independent', async () => {
    const loaded = await loadModel(checkpoint, { tf });
    const a = Int32Array.from([1, 403, 407, 261, 378, 432, 383, 286]);
    const b = Int32Array.from([1, 301, 427, 309, 426, 301, 427, 309]);
    const batched = await logitsOf(loaded, Int32Array.from([...a, ...b]), 8);
    const single = await logitsOf(loaded, b, 8);
    let maxDiff = 0;
    for (let i = 0; i < single.length; i++) maxDiff = Math.max(maxDiff, Math.abs(batched[8 * 512 + i]! - single[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    loaded.model.dispose();
  });

  it('reads the reference layer weights', async () => {
    const loaded = await loadModel(checkpoint, { tf });
    await loaded.model.loadBlock(4);
    for (const linear of loaded.model.linears(4)) {
      const short = linear.name.split('.').pop()!;
      const fixture = SafetensorsFile.open(path.join(shared, 'fixtures', 'layers', `layer-b4-${short}.safetensors`));
      expect(fixture.metadata.layer).toBe(linear.name);
      expect(Array.from(loaded.model.getLinear(linear.name))).toEqual(Array.from(fixture.readFloat32('W')));
      fixture.close();
    }
    loaded.model.dispose();
  });

  it('block 0 captures reproduce H', async () => {
    const loaded = await loadModel(checkpoint, { tf });
    const documents = await readDocuments(path.join(shared, 'assets', 'text', 'tinystories-calibration.txt'));
    const seqLen = 256;
    const tokens = tokenStream(documents, loaded.tokenizer).slice(0, 64 * seqLen);
    const groups = new Map<string, Float64Array>();
    const { model } = loaded;
    await model.loadBlock(0);
    for (let start = 0; start < tokens.length; start += 16 * seqLen) {
      const x = await model.embed(tokens.slice(start, start + 16 * seqLen), seqLen);
      await model.forwardBlock(0, x, seqLen, (group, input, count) => {
        const cols = input.length / count;
        const H = groups.get(group) ?? new Float64Array(cols * cols);
        for (let t = 0; t < count; t++) {
          for (let i = 0; i < cols; i++) {
            const xi = input[t * cols + i]!;
            for (let j = 0; j < cols; j++) H[i * cols + j]! += xi * input[t * cols + j]!;
          }
        }
        groups.set(group, H);
      });
    }
    for (const linear of model.linears(0)) {
      const short = linear.name.split('.').pop()!;
      const fixture = SafetensorsFile.open(path.join(shared, 'fixtures', 'layers', `layer-b0-${short}.safetensors`));
      const expected = fixture.readFloat32('H');
      fixture.close();
      const actual = groups.get(linear.inputGroup)!;
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < expected.length; i++) {
        diff += (actual[i]! - expected[i]!) ** 2;
        norm += expected[i]! ** 2;
      }
      // Float32 activations summed over 16384 tokens: relative Frobenius error well below 1e-4.
      expect(Math.sqrt(diff / norm), linear.name).toBeLessThan(1e-4);
    }
    model.dispose();
  });

  it('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadModel(checkpoint, { tf });
    await logitsOf(loaded, Int32Array.from([1, 403, 407, 261]), 4);
    const block = loaded.model.linears(2)[0]!;
    loaded.model.setLinear(block.name, new Float32Array(block.rows * block.cols));
    loaded.model.releaseBlock(0);
    loaded.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('replaces a linear with setLinear', async () => {
    const loaded = await loadModel(checkpoint, { tf });
    const tokens = Int32Array.from([1, 403, 407, 261]);
    const dense = await logitsOf(loaded, tokens, 4);
    const wo = loaded.model.linears(0)[3]!;
    loaded.model.setLinear(wo.name, new Float32Array(wo.rows * wo.cols));
    expect(loaded.model.getLinear(wo.name).every((v) => v === 0)).toBe(true);
    const changed = await logitsOf(loaded, tokens, 4);
    expect(changed.some((v, i) => Math.abs(v - dense[i]!) > 1e-3)).toBe(true);
    expect(() => loaded.model.setLinear(wo.name, new Float32Array(3))).toThrow(/has 3 values but the layer needs 4096/);
    loaded.model.dispose();
  });
});

describe('llama2.c model errors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'alps-llama2c-'));

  it('rejects a missing path', async () => {
    await expect(loadModel(path.join(dir, 'absent.bin'), { tf })).rejects.toThrow(/absent\.bin was not found/);
  });

  it('rejects a truncated checkpoint', async () => {
    const file = path.join(dir, 'truncated.bin');
    writeFileSync(file, readFileSync(checkpoint).subarray(0, 500_000));
    await expect(loadModel(file, { tf, tokenizerPath: path.join(modelDir, 'tok512.bin') })).rejects.toThrow(
      /truncated\.bin is 500000 bytes but its header .* implies 1056540: the file is truncated/,
    );
  });

  it('rejects an invalid header', async () => {
    const file = path.join(dir, 'garbage.bin');
    writeFileSync(file, Buffer.alloc(64, 0xff));
    await expect(loadModel(file, { tf })).rejects.toThrow(/garbage\.bin has an invalid llama2.c header/);
  });

  it('names searched tokenizer paths', async () => {
    const alone = mkdtempSync(path.join(tmpdir(), 'alps-alone-'));
    copyFileSync(checkpoint, path.join(alone, 'model.bin'));
    await expect(loadModel(path.join(alone, 'model.bin'), { tf })).rejects.toThrow(
      new RegExp(`looked for ${alone}/tokenizer\\.bin and ${alone}/tok512\\.bin\\. Pass the tokenizer with --tokenizer FILE`),
    );
  });

  it('names a tensor holding NaN', async () => {
    const bytes = Buffer.from(readFileSync(checkpoint));
    // The first value of block 1's wq: header, embedding, 5 rms_att rows, then block 0's wq.
    const offset = 28 + 4 * (512 * 64 + 5 * 64 + 64 * 64);
    bytes.writeFloatLE(NaN, offset);
    const file = path.join(dir, 'nan.bin');
    writeFileSync(file, bytes);
    const loaded = await loadModel(file, { tf, tokenizerPath: path.join(modelDir, 'tok512.bin') });
    await loaded.model.loadBlock(0);
    await expect(loaded.model.loadBlock(1)).rejects.toThrow(/Tensor blocks\.1\.attention\.wq in .*nan\.bin contains NaN at flat index 0/);
    loaded.model.dispose();
  });
});
