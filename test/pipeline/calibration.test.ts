import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readDocuments, tokenStream } from '../../main/data/text.js';
import { InvalidInputError } from '../../main/engine/types.js';
import { Llama2cTokenizer } from '../../main/tokenizer/llama2c.js';
import { cutCalibrationWindows, mulberry32, sha256File } from '../../main/pipeline/calibration.js';
import { calibrationText, pipelineFixture, repoRoot, sharedRoot } from './paths.js';
import { resolve } from 'node:path';

const stream = Int32Array.from({ length: 1000 }, (_, i) => i);

describe('cutCalibrationWindows', () => {
  it('cuts consecutive windows from the start', () => {
    const windows = cutCalibrationWindows(stream, { samples: 3, seqLen: 10, sampling: 'consecutive', seed: 0 }, 'test');
    expect(windows.offsets).toEqual([0, 10, 20]);
    expect(Array.from(windows.tokens)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(windows.streamTokens).toBe(1000);
  });

  it('draws random windows from the seed', () => {
    const settings = { samples: 5, seqLen: 100, sampling: 'random' as const, seed: 7 };
    const first = cutCalibrationWindows(stream, settings, 'test');
    const again = cutCalibrationWindows(stream, settings, 'test');
    const other = cutCalibrationWindows(stream, { ...settings, seed: 8 }, 'test');
    expect(again.offsets).toEqual(first.offsets);
    expect(other.offsets).not.toEqual(first.offsets);
    for (const [s, offset] of first.offsets.entries()) {
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThanOrEqual(900);
      // Each window is a contiguous slice of the stream starting at its offset.
      expect(first.tokens[s * 100]).toBe(offset);
      expect(first.tokens[s * 100 + 99]).toBe(offset + 99);
    }
  });

  it('rejects a short stream with token counts', () => {
    const cut = () => cutCalibrationWindows(stream, { samples: 64, seqLen: 256, sampling: 'consecutive', seed: 0 }, 'short.txt');
    expect(cut).toThrow(InvalidInputError);
    expect(cut).toThrow(/short\.txt has 1000 tokens, but 64 samples of 256 tokens need 16384/);
    expect(cut).toThrow(/at most 3 samples fit/);
  });
});

describe('mulberry32', () => {
  it('returns uniform numbers in [0, 1)', () => {
    const next = mulberry32(123);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const value = next();
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
      sum += value;
    }
    // The mean of 10 000 uniform draws has a standard deviation of about 0.003.
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.015);
  });
});

describe('calibration stream of the bundled text', () => {
  it('matches the reference token counts and ids', async () => {
    const fixture = JSON.parse(readFileSync(pipelineFixture, 'utf8'));
    const tokenizer = Llama2cTokenizer.fromFile(resolve(sharedRoot, 'assets', 'stories260K', 'tok512.bin'));
    const tokens = tokenStream(await readDocuments(calibrationText), tokenizer);
    expect(tokens.length).toBe(fixture.calibration.streamTokens);
    expect(Array.from(tokens.subarray(0, 20))).toEqual(fixture.calibration.first20);
  });

  it('bundles byte-identical copies of the texts', async () => {
    expect(await sha256File(resolve(repoRoot, 'resources', 'text', 'tinystories-calibration.txt'))).toBe(
      '5a2e63d643d73dd3a6a717ceda18046e6ff0f95e5cee5f1aef7a0dc0b2757d4f',
    );
    expect(await sha256File(resolve(repoRoot, 'resources', 'text', 'tinystories-eval.txt'))).toBe(
      '0690b04377e6aa7cea883116b580ffd5fa804108d0a8bf188f1f8fcd2edf2bcb',
    );
  });
});
