/**
 * Text corpora and the token stream protocol used for calibration and
 * evaluation.
 *
 * Plain text: documents are separated by lines that hold only
 * `<|endoftext|>`. Each document is trimmed, and every run of blank lines
 * inside it becomes a single newline. JSONL (`.jsonl` or `.ndjson`): one JSON
 * object per line, the document in its `text` field (processed the same way).
 * Empty documents are dropped.
 *
 * Token stream: for each document in order, BOS (when the tokenizer has one)
 * followed by the document's encoding.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

import type { Tokenizer } from '../tokenizer/types.js';

const SEPARATOR = /^[ \t]*<\|endoftext\|>[ \t]*$/;

/** Reads the documents of a plain-text or JSONL file. */
export async function readDocuments(path: string): Promise<string[]> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let reason = `cannot be read (${code ?? String(error)})`;
    if (code === 'ENOENT') reason = 'was not found';
    if (code === 'EISDIR') reason = 'is a folder';
    throw new Error(`Text file ${path} ${reason}: pass a plain-text or JSONL file.`);
  }
  if (content.trim() === '') {
    throw new Error(`Text file ${path} is empty: it needs at least one document.`);
  }
  const extension = extname(path).toLowerCase();
  const documents = extension === '.jsonl' || extension === '.ndjson' ? parseJsonl(path, content) : splitDocuments(content);
  if (documents.length === 0) throw new Error(`Text file ${path} contains only empty documents: it needs at least one document with text.`);
  return documents;
}

/** Splits plain text on `<|endoftext|>` lines and normalizes each document. */
export function splitDocuments(content: string): string[] {
  const documents: string[] = [];
  let current: string[] = [];
  const flush = (): void => {
    const document = normalizeDocument(current.join('\n'));
    if (document !== '') documents.push(document);
    current = [];
  };
  for (const line of content.split(/\r?\n/)) {
    if (SEPARATOR.test(line)) flush();
    else current.push(line);
  }
  flush();
  return documents;
}

/** Trims a document and replaces each run of blank lines inside it by one newline. */
export function normalizeDocument(text: string): string {
  return text.trim().replace(/\n(?:[ \t]*\n)+/g, '\n');
}

function parseJsonl(path: string, content: string): string[] {
  const documents: string[] = [];
  const lines = content.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${path} line ${index + 1} is not valid JSON (${(error as Error).message}): each line must be an object with a "text" field.`);
    }
    const text = (value as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') {
      throw new Error(`${path} line ${index + 1} has no string "text" field: each line must be an object such as {"text": "..."}.`);
    }
    const document = normalizeDocument(text);
    if (document !== '') documents.push(document);
  });
  return documents;
}

/** Concatenates BOS (when the tokenizer has one) and the encoding of each document. */
export function tokenStream(documents: readonly string[], tokenizer: Tokenizer): Int32Array {
  const parts: number[][] = [];
  let total = 0;
  for (const document of documents) {
    const ids = tokenizer.encode(document);
    parts.push(ids);
    total += ids.length + (tokenizer.bosId === null ? 0 : 1);
  }
  const stream = new Int32Array(total);
  let offset = 0;
  for (const ids of parts) {
    if (tokenizer.bosId !== null) stream[offset++] = tokenizer.bosId;
    stream.set(ids, offset);
    offset += ids.length;
  }
  return stream;
}
