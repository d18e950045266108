/**
 * Hugging Face `tokenizer.json` tokenizers, run by @huggingface/tokenizers.
 * `encode` adds no special tokens (the token stream adds BOS itself).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

import type { Tokenizer } from './types.js';

/** Special-token ids from config.json, used when tokenizer_config.json does not name them. */
export interface SpecialTokenDefaults {
  bosTokenId?: number | null;
  eosTokenId?: number | null;
}

export class HuggingFaceTokenizer implements Tokenizer {
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly vocabSize: number;

  private constructor(
    private readonly tokenizer: HfTokenizer,
    bosId: number | null,
    eosId: number | null,
  ) {
    this.bosId = bosId;
    this.eosId = eosId;
    this.vocabSize = tokenizer.get_vocab(true).size;
  }

  /**
   * Reads `path` (a tokenizer.json) and, when present beside it,
   * tokenizer_config.json. BOS and EOS come from tokenizer_config.json's
   * bos_token and eos_token when it names them, else from `defaults`.
   */
  static fromFile(path: string, defaults: SpecialTokenDefaults = {}): HuggingFaceTokenizer {
    const json = readJson(path, 'Tokenizer file');
    const configPath = join(dirname(path), 'tokenizer_config.json');
    const config = existsSync(configPath) ? (readJson(configPath, 'Tokenizer config') as Record<string, unknown>) : {};
    let tokenizer: HfTokenizer;
    try {
      tokenizer = new HfTokenizer(json as object, config);
    } catch (error) {
      throw new Error(`Tokenizer file ${path} could not be loaded (${(error as Error).message}): pass a Hugging Face tokenizer.json with --tokenizer FILE.`);
    }
    const special = (key: 'bos_token' | 'eos_token', fallback: number | null | undefined): number | null => {
      if (!(key in config)) return fallback ?? null;
      const value = config[key];
      const content = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
      if (typeof content !== 'string') return null;
      return tokenizer.token_to_id(content) ?? fallback ?? null;
    };
    return new HuggingFaceTokenizer(tokenizer, special('bos_token', defaults.bosTokenId), special('eos_token', defaults.eosTokenId));
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(Array.from(ids), { skip_special_tokens: true });
  }
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${what} ${path} cannot be read (${code ?? String(error)}): check the path, or pass --tokenizer FILE.`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${path} is not valid JSON (${(error as Error).message}).`);
  }
}
