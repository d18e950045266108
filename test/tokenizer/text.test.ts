import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { normalizeDocument, readDocuments, splitDocuments, tokenStream } from '../../main/data/text.js';
import type { Tokenizer } from '../../main/tokenizer/types.js';

const dir = mkdtempSync(path.join(tmpdir(), 'alps-text-'));

function writeTemp(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** Encodes each character as its code point; enough to check the stream layout. */
const charTokenizer: Tokenizer = {
  encode: (text) => Array.from(text, (c) => c.codePointAt(0)!),
  decode: (ids) => String.fromCodePoint(...Array.from(ids)),
  bosId: 1,
  eosId: 2,
  vocabSize: 0x110000,
};

describe('text documents', () => {
  it('splits on endoftext lines and trims', () => {
    const docs = splitDocuments('  First story.\n<|endoftext|>\n\nSecond story.  \n<|endoftext|>\n');
    expect(docs).toEqual(['First story.', 'Second story.']);
  });

  it('collapses blank-line runs to one newline', () => {
    expect(normalizeDocument('One.\n\n\nTwo.\n  \nThree.\nFour.')).toBe('One.\nTwo.\nThree.\nFour.');
  });

  it('keeps endoftext inside a line', () => {
    expect(splitDocuments('a <|endoftext|> b')).toEqual(['a <|endoftext|> b']);
  });

  it('reads JSONL text fields', async () => {
    const file = writeTemp('docs.jsonl', '{"text": "A.\\n\\nB."}\n\n{"text": " C "}\n');
    expect(await readDocuments(file)).toEqual(['A.\nB.', 'C']);
  });

  it('names the JSONL line without text', async () => {
    const file = writeTemp('bad.jsonl', '{"text": "ok"}\n{"body": "no text"}\n');
    await expect(readDocuments(file)).rejects.toThrow(/bad\.jsonl line 2 has no string "text" field/);
  });

  it('names the JSONL line with invalid JSON', async () => {
    const file = writeTemp('broken.jsonl', '{"text": "ok"}\n{"text": \n');
    await expect(readDocuments(file)).rejects.toThrow(/broken\.jsonl line 2 is not valid JSON/);
  });

  it('rejects a missing file', async () => {
    await expect(readDocuments(path.join(dir, 'absent.txt'))).rejects.toThrow(/absent\.txt was not found/);
  });

  it('rejects an empty file', async () => {
    const file = writeTemp('empty.txt', '  \n\n');
    await expect(readDocuments(file)).rejects.toThrow(/empty\.txt is empty/);
  });

  it('rejects a file of separators only', async () => {
    const file = writeTemp('separators.txt', '<|endoftext|>\n<|endoftext|>\n');
    await expect(readDocuments(file)).rejects.toThrow(/contains only empty documents/);
  });

  it('puts BOS before each document', () => {
    const stream = tokenStream(['ab', 'c'], charTokenizer);
    expect(Array.from(stream)).toEqual([1, 97, 98, 1, 99]);
  });

  it('omits BOS when the tokenizer has none', () => {
    const stream = tokenStream(['ab'], { ...charTokenizer, bosId: null });
    expect(Array.from(stream)).toEqual([97, 98]);
  });
});
