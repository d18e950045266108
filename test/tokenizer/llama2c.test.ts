import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { readDocuments, tokenStream } from '../../main/data/text.js';
import { Llama2cTokenizer } from '../../main/tokenizer/llama2c.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const tokenizerPath = path.join(repoRoot, 'resources', 'stories260K', 'tok512.bin');
const reference = JSON.parse(readFileSync(path.join(shared, 'fixtures', 'pipeline', 'stories260K.json'), 'utf8')) as {
  calibration: { streamTokens: number; first20: number[] };
  evaluation: { streamTokens: number; first20: number[] };
};

describe('llama2.c tokenizer', () => {
  const tokenizer = Llama2cTokenizer.fromFile(tokenizerPath, 512);

  it('reads 512 pieces with special and byte ids', () => {
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.bosId).toBe(1);
    expect(tokenizer.eosId).toBe(2);
    expect(tokenizer.piece(3)).toBe('<0x00>');
    expect(tokenizer.piece(258)).toBe('<0xFF>');
  });

  it('matches the calibration stream reference', async () => {
    const documents = await readDocuments(path.join(shared, 'assets', 'text', 'tinystories-calibration.txt'));
    const stream = tokenStream(documents, tokenizer);
    expect(stream.length).toBe(reference.calibration.streamTokens);
    expect(Array.from(stream.subarray(0, 20))).toEqual(reference.calibration.first20);
  });

  it('matches the evaluation stream reference', async () => {
    const started = performance.now();
    const documents = await readDocuments(path.join(shared, 'assets', 'text', 'tinystories-eval.txt'));
    const stream = tokenStream(documents, tokenizer);
    const seconds = (performance.now() - started) / 1000;
    expect(stream.length).toBe(reference.evaluation.streamTokens);
    expect(Array.from(stream.subarray(0, 20))).toEqual(reference.evaluation.first20);
    // 337 KB of text; a quadratic merge loop takes minutes here.
    expect(seconds).toBeLessThan(20);
  });

  it('decodes its own encoding back to the text', () => {
    const texts = ['Once upon a time, there was a little girl.', 'Tom said: "No!"\nThen he ran.', 'naïve café 東京 🙂'];
    for (const text of texts) {
      expect(tokenizer.decode([1, ...tokenizer.encode(text)])).toBe(text);
    }
  });

  it('uses byte fallback for unknown characters', () => {
    // '東' is E6 9D B1 in UTF-8 and has no piece in a 512-piece vocabulary.
    const ids = tokenizer.encode('東');
    expect(ids.slice(-3)).toEqual([0xe6 + 3, 0x9d + 3, 0xb1 + 3]);
  });

  it('merges by highest score first', () => {
    // The dummy-prefix space plus "a" is a single piece when the vocabulary has " a".
    const ids = tokenizer.encode('a');
    expect(ids).toHaveLength(1);
    expect(tokenizer.piece(ids[0]!)).toBe(' a');
  });

  it('encodes empty text to no ids', () => {
    expect(tokenizer.encode('')).toEqual([]);
  });

  it('rejects a truncated tokenizer file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alps-tok-'));
    const truncated = path.join(dir, 'tok.bin');
    writeFileSync(truncated, readFileSync(tokenizerPath).subarray(0, 1000));
    expect(() => Llama2cTokenizer.fromFile(truncated)).toThrow(/tok\.bin.*(truncated|invalid piece length)/);
  });

  it('rejects a vocabulary size mismatch', () => {
    expect(() => Llama2cTokenizer.fromFile(tokenizerPath, 32000)).toThrow(/512 pieces but the model's vocab_size is 32000.*--tokenizer/);
  });

  it('rejects a missing tokenizer file', () => {
    expect(() => Llama2cTokenizer.fromFile('/nonexistent/tok512.bin')).toThrow(/\/nonexistent\/tok512\.bin cannot be read \(ENOENT\).*--tokenizer FILE/);
  });
});
