/**
 * `alps-studio eval`: measures a model's perplexity on a text file, with
 * consecutive non-overlapping windows of --seq-len tokens (the incomplete
 * tail is dropped). With --json, stdout gets one JSON object:
 * {perplexity, nll, windows, predictedTokens, seconds, model, file, seqLen}.
 */
import { resolve } from 'node:path';
import { BUNDLED } from '../../pipeline/resources.js';
import { EXIT, interruptSignal, parseFlags, parseNumber, printUsage, requireFlag, runCommand } from '../args.js';

const USAGE = `Usage: alps-studio eval --model PATH [options]

Measures perplexity: exp(mean negative log-likelihood) over tokens 2..L of
consecutive, non-overlapping windows of L tokens, each document preceded by BOS.

Options:
  --model PATH       llama2.c .bin file or Hugging Face folder
  --tokenizer FILE   tokenizer, when it is not found beside the model
  --eval FILE        text, plain or JSONL with "text" (default: bundled TinyStories evaluation text)
  --seq-len L        tokens per window (default 256)
  --json             print one JSON object on stdout
  --verbose          keep the info-level logs on stderr
  -h, --help         print this help

Exit codes: 0 done, 1 failed, 2 invalid flags, 130 interrupted.`;

const FLAGS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  eval: { type: 'string' },
  'seq-len': { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function run(argv: string[]): Promise<number> {
  return runCommand('eval', async () => {
    const { values } = parseFlags(argv, FLAGS, 'eval');
    if (values.help) return printUsage(USAGE);
    // Set before the first module that logs is imported (see the prune command).
    if (!values.verbose) process.env.ALPS_LOG_LEVEL ??= 'warn';

    const model = resolve(requireFlag(values.model, 'model', 'eval'));
    const file = resolve(values.eval ?? BUNDLED.evaluation());
    const seqLen = parseNumber(values['seq-len'], 'seq-len', { integer: true, min: 2 }) ?? 256;

    const { evaluateModel } = await import('../../pipeline/index.js');
    const interrupt = interruptSignal();
    try {
      const result = await evaluateModel({ model, tokenizer: values.tokenizer, file, seqLen, signal: interrupt.signal });
      const report = { ...result, model, file, seqLen };
      if (values.json) {
        console.log(JSON.stringify(report));
      } else {
        console.log(
          `Perplexity ${result.perplexity.toFixed(4)} (mean NLL ${result.nll.toFixed(6)} nats) over ${result.windows} windows, ` +
            `${result.predictedTokens} predicted tokens, in ${result.seconds.toFixed(1)} s`,
        );
      }
    } finally {
      interrupt.dispose();
    }
    return EXIT.ok;
  });
}
