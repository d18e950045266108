/**
 * Calibration windows: `samples` windows of `seqLen` tokens cut from the
 * token stream of a text file (BOS before each document, see main/data/text.ts).
 *
 * - `consecutive`: the first samples·seqLen tokens of the stream, cut into
 *   `samples` adjacent windows. This is how the reference figures were made.
 * - `random`: `samples` window starts drawn uniformly from
 *   [0, streamTokens − seqLen] by a mulberry32 generator seeded with `seed`,
 *   so the same seed gives the same windows. Windows may overlap.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { InvalidInputError } from '../engine/types.js';
import type { CalibrationSettings } from './settings.js';

export interface CalibrationWindows {
  /** samples·seqLen token ids, window after window. */
  tokens: Int32Array;
  samples: number;
  seqLen: number;
  /** Start of each window in the stream. */
  offsets: number[];
  /** Length of the whole token stream of the file. */
  streamTokens: number;
}

/**
 * Cuts calibration windows from `stream`. Throws InvalidInputError when the
 * stream has fewer than samples·seqLen tokens; `source` names the text in the
 * message.
 */
export function cutCalibrationWindows(
  stream: Int32Array,
  settings: Pick<CalibrationSettings, 'samples' | 'seqLen' | 'sampling' | 'seed'>,
  source: string,
): CalibrationWindows {
  const { samples, seqLen } = settings;
  const needed = samples * seqLen;
  // Random windows may overlap, but requiring as many tokens as disjoint
  // windows keeps a random run from repeating a short text over and over.
  if (stream.length < needed) {
    throw new InvalidInputError(
      `Calibration text ${source} has ${stream.length} tokens, but ${samples} samples of ${seqLen} tokens need ${needed}. ` +
        `Use a longer text, or lower --samples or --seq-len (at most ${Math.floor(stream.length / seqLen)} samples fit at this length).`,
    );
  }

  const offsets: number[] = [];
  if (settings.sampling === 'consecutive') {
    for (let s = 0; s < samples; s++) offsets.push(s * seqLen);
  } else {
    const next = mulberry32(settings.seed);
    const starts = stream.length - seqLen + 1;
    for (let s = 0; s < samples; s++) offsets.push(Math.floor(next() * starts));
  }

  const tokens = new Int32Array(needed);
  offsets.forEach((offset, s) => tokens.set(stream.subarray(offset, offset + seqLen), s * seqLen));
  return { tokens, samples, seqLen, offsets, streamTokens: stream.length };
}

/** mulberry32: a 32-bit seeded generator of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** SHA-256 of a file's bytes, in hex, recorded in the report and the run settings. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
