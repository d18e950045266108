/**
 * The llama2.c tokenizer (`tokenizer.bin`, `tok512.bin`): a SentencePiece BPE
 * vocabulary exported as scored pieces.
 *
 * File layout (little-endian): int32 max_token_length, then for each id a
 * float32 score, an int32 byte length and the piece bytes. Ids 0, 1 and 2 are
 * `<unk>`, BOS and EOS; pieces `<0x00>`..`<0xFF>` at ids 3..258 are the byte
 * fallback. Spaces inside pieces are stored as ' ' (not '▁').
 *
 * Encoding follows llama2.c's `encode`. It prepends one space (SentencePiece's
 * dummy prefix) and maps each UTF-8 character to its piece, or to one
 * byte-fallback id per byte (byte + 3) when it has none. Then it repeatedly
 * merges the adjacent pair whose concatenation is the highest-scoring piece,
 * taking the leftmost pair on ties. A max-heap over a linked list of pieces
 * finds that pair in O(log n) per merge: the 470 KB calibration text encodes
 * in about 0.5 s here.
 */
import { readFileSync } from 'node:fs';

import type { Tokenizer } from './types.js';

const BOS_ID = 1;
const EOS_ID = 2;
const BYTE_FALLBACK_OFFSET = 3;

export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly vocabSize: number;
  /** Piece bytes as latin1 strings (one char per byte), indexed by id. */
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly idOfPiece = new Map<string, number>();

  private constructor(pieces: string[], scores: Float32Array) {
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    pieces.forEach((piece, id) => {
      if (!this.idOfPiece.has(piece)) this.idOfPiece.set(piece, id);
    });
  }

  /**
   * Reads a llama2.c tokenizer file. `expectedVocabSize`, when given (the
   * model header's vocab_size), must equal the number of pieces in the file.
   */
  static fromFile(path: string, expectedVocabSize?: number): Llama2cTokenizer {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(`Tokenizer file ${path} cannot be read (${code ?? String(error)}): check the path, or pass --tokenizer FILE.`);
    }
    return Llama2cTokenizer.fromBytes(bytes, path, expectedVocabSize);
  }

  static fromBytes(bytes: Buffer, label: string, expectedVocabSize?: number): Llama2cTokenizer {
    if (bytes.length < 4) throw new Error(`Tokenizer file ${label} is ${bytes.length} bytes, too short for a llama2.c tokenizer.`);
    const pieces: string[] = [];
    const scores: number[] = [];
    let offset = 4;
    while (offset < bytes.length) {
      if (offset + 8 > bytes.length) {
        throw new Error(`Tokenizer file ${label} is truncated inside the entry of id ${pieces.length}: it is not a complete llama2.c tokenizer.`);
      }
      const score = bytes.readFloatLE(offset);
      const length = bytes.readInt32LE(offset + 4);
      offset += 8;
      if (length < 0 || offset + length > bytes.length) {
        throw new Error(`Tokenizer file ${label} has an invalid piece length ${length} at id ${pieces.length}: the file is corrupt or not a llama2.c tokenizer.`);
      }
      pieces.push(bytes.toString('latin1', offset, offset + length));
      scores.push(score);
      offset += length;
    }
    if (expectedVocabSize !== undefined && pieces.length !== expectedVocabSize) {
      throw new Error(
        `Tokenizer file ${label} has ${pieces.length} pieces but the model's vocab_size is ${expectedVocabSize}: pass the tokenizer trained with this model (--tokenizer FILE).`,
      );
    }
    if (pieces.length < BYTE_FALLBACK_OFFSET + 256) {
      throw new Error(`Tokenizer file ${label} has ${pieces.length} pieces, fewer than the 259 of the special and byte-fallback ids.`);
    }
    return new Llama2cTokenizer(pieces, Float32Array.from(scores));
  }

  /** Score of piece `id`, as stored in the file. */
  score(id: number): number {
    return this.scores[id]!;
  }

  /** Piece text of `id` (UTF-8 decoded), with spaces as ' '. */
  piece(id: number): string {
    return Buffer.from(this.pieces[id]!, 'latin1').toString('utf8');
  }

  encode(text: string): number[] {
    if (text === '') return [];
    const ids = this.initialIds(Buffer.from(' ' + text, 'utf8'));
    return this.mergePairs(ids);
  }

  decode(ids: ArrayLike<number>): string {
    const chunks: Buffer[] = [];
    let previous = BOS_ID;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === BOS_ID || id === EOS_ID) {
        previous = id;
        continue;
      }
      let piece = this.pieces[id];
      if (piece === undefined) throw new Error(`Token id ${id} is out of range for a vocabulary of ${this.vocabSize}.`);
      if (id >= BYTE_FALLBACK_OFFSET && id < BYTE_FALLBACK_OFFSET + 256) {
        chunks.push(Buffer.of(id - BYTE_FALLBACK_OFFSET));
      } else {
        // The dummy-prefix space of the first piece after BOS is not part of the text.
        if (previous === BOS_ID && piece.startsWith(' ')) piece = piece.slice(1);
        chunks.push(Buffer.from(piece, 'latin1'));
      }
      previous = id;
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Maps each UTF-8 character to its piece id, or to one byte-fallback id per byte. */
  private initialIds(utf8: Buffer): number[] {
    const ids: number[] = [];
    let i = 0;
    while (i < utf8.length) {
      // A character is a lead byte plus the continuation bytes (10xxxxxx) after it, at most 4 bytes.
      let end = i + 1;
      while (end < utf8.length && end - i < 4 && (utf8[end]! & 0xc0) === 0x80) end++;
      const id = this.idOfPiece.get(utf8.toString('latin1', i, end));
      if (id !== undefined) {
        ids.push(id);
      } else {
        for (let b = i; b < end; b++) ids.push(utf8[b]! + BYTE_FALLBACK_OFFSET);
      }
      i = end;
    }
    return ids;
  }

  /** Merges adjacent pairs by descending merged-piece score, leftmost first on ties. */
  private mergePairs(initial: number[]): number[] {
    const n = initial.length;
    const id = Int32Array.from(initial);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const version = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap();
    const pushPair = (left: number): void => {
      const right = next[left]!;
      if (right < 0) return;
      const merged = this.idOfPiece.get(this.pieces[id[left]!]! + this.pieces[id[right]!]!);
      if (merged === undefined) return;
      heap.push({ score: this.scores[merged]!, left, right, merged, leftVersion: version[left]!, rightVersion: version[right]! });
    };
    for (let i = 0; i + 1 < n; i++) pushPair(i);

    for (let pair = heap.pop(); pair; pair = heap.pop()) {
      const { left, right } = pair;
      // Skip entries made stale by an earlier merge of either node.
      if (version[left] !== pair.leftVersion || version[right] !== pair.rightVersion || next[left] !== right) continue;
      id[left] = pair.merged;
      version[left]!++;
      version[right] = -1;
      const after = next[right]!;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      if (prev[left]! >= 0) pushPair(prev[left]!);
      pushPair(left);
    }

    const out: number[] = [];
    for (let i = 0; i >= 0 && i < n; i = next[i]!) out.push(id[i]!);
    return out;
  }
}

interface PairEntry {
  score: number;
  /** Node index of the left piece; its original position orders ties (leftmost first). */
  left: number;
  right: number;
  merged: number;
  leftVersion: number;
  rightVersion: number;
}

/** Binary max-heap on (score, then smaller `left`). */
class PairHeap {
  private readonly items: PairEntry[] = [];

  push(entry: PairEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): PairEntry | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && before(items[l]!, items[best]!)) best = l;
        if (r < items.length && before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

function before(a: PairEntry, b: PairEntry): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}
