/**
 * The tokenizer interface shared by the llama2.c and Hugging Face tokenizers.
 * `encode` never adds special tokens: the token stream protocol in
 * main/data/text.ts adds BOS before each document itself.
 */
export interface Tokenizer {
  /** Encodes `text` to token ids, without BOS or EOS. */
  encode(text: string): number[];
  /** Decodes ids to text, skipping BOS and EOS. */
  decode(ids: ArrayLike<number>): string;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly vocabSize: number;
}
