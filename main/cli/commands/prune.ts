/**
 * `alps-studio prune`: prunes a whole model block by block and saves it with
 * `pruning_report.json`. With --json, stdout gets exactly one JSON object
 * (PruneOutcome: perplexity {dense, pruned}, layers [{name, relativeError,
 * sparsity, seconds, ...}], seconds, out, ...); progress lines go to stderr.
 * The flag names and the JSON fields are a contract for scripts.
 */
import { existsSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { formatTarget, METHODS, parseTarget } from '../../../shared/targets.js';
import { SAMPLING, type PruneSettings, type Targets } from '../../pipeline/settings.js';
import type { PipelineEvent } from '../../pipeline/events.js';
import { BUNDLED } from '../../pipeline/resources.js';
import { EXIT, interruptSignal, parseChoice, parseFlags, parseNumber, printUsage, runCommand, UsageError } from '../args.js';

const USAGE = `Usage: alps-studio prune (--sparsity S | --pattern N:M) [options]

Prunes every linear layer of a model block by block, measures perplexity
before and after, and writes the pruned model with pruning_report.json.
Without --model it prunes the bundled stories260K model.

Options:
  --model PATH             llama2.c .bin file or Hugging Face folder (default: bundled stories260K)
  --tokenizer FILE         tokenizer, when it is not found beside the model
  --method METHOD          ${METHODS.join(' | ')} (default alps)
  --sparsity S             fraction of weights to remove, from 0 up to but not including 1 (0.7 removes 70%)
  --pattern N:M            keep at most N of every M consecutive weights along each row's inputs (for example 2:4)
  --attention-sparsity T   target of the attention projections (a fraction or N:M), overriding the default
  --mlp-sparsity T         target of the feed-forward linears (a fraction or N:M), overriding the default
  --calibration FILE       calibration text, plain or JSONL with "text" (default: bundled TinyStories)
  --samples N              calibration windows (default 64)
  --seq-len L              tokens per window, for calibration and evaluation (default 256)
  --sampling MODE          ${SAMPLING.join(' | ')} (default consecutive: the first N·L tokens)
  --seed N                 seed of --sampling random (default 0)
  --eval FILE              evaluation text, or "none" to skip perplexity (default: bundled TinyStories)
  --out DIR                output folder (default: a new folder under ./runs named by model, method and target)
  --overwrite              replace --out if it exists
  --run-dir DIR            checkpoint folder (default: <out>.run)
  --resume RUN_DIR         continue a killed or cancelled run from its last finished block;
                           pass the same settings as the first attempt
  --backend NAME           tensorflow-gpu | tensorflow | wasm | cpu (default: the fastest that loads)
  --workers N              engine worker threads (default: one per core)
  --json                   print one JSON object on stdout (see below)
  --verbose                keep the info-level logs on stderr
  -h, --help               print this help

--json prints {"perplexity": {"dense", "pruned"}, "layers": [{"name",
"relativeError", "sparsity", "seconds", ...}], "seconds", "out", "method",
"targets", "overallSparsity", "backend", "runDir", "engineVersion"}.
Exit codes: 0 done, 1 failed, 2 invalid flags, 130 interrupted (resume it with --resume).`;

const FLAGS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  method: { type: 'string' },
  sparsity: { type: 'string' },
  pattern: { type: 'string' },
  'attention-sparsity': { type: 'string' },
  'mlp-sparsity': { type: 'string' },
  calibration: { type: 'string' },
  samples: { type: 'string' },
  'seq-len': { type: 'string' },
  sampling: { type: 'string' },
  seed: { type: 'string' },
  eval: { type: 'string' },
  out: { type: 'string' },
  overwrite: { type: 'boolean' },
  'run-dir': { type: 'string' },
  resume: { type: 'string' },
  backend: { type: 'string' },
  workers: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function run(argv: string[]): Promise<number> {
  return runCommand('prune', async () => {
    const { values } = parseFlags(argv, FLAGS, 'prune');
    if (values.help) return printUsage(USAGE);
    // Progress lines are the human-readable output, and pino's info lines would interleave with them. The level
    // must be set before the first module that logs is imported, so this command imports those modules dynamically.
    if (!values.verbose) process.env.ALPS_LOG_LEVEL ??= 'warn';
    const { parseBackendName } = await import('../../engine/backend.js');

    const targets = parseTargets(values);
    const method = parseChoice(values.method ?? 'alps', 'method', METHODS);
    const model = resolve(values.model ?? BUNDLED.model());
    const runDir = values.resume ?? values['run-dir'];
    const settings: PruneSettings = {
      model,
      tokenizer: values.tokenizer,
      method,
      targets,
      calibration: {
        file: values.calibration ?? BUNDLED.calibration(),
        samples: parseNumber(values.samples, 'samples', { integer: true, min: 1 }) ?? 64,
        seqLen: parseNumber(values['seq-len'], 'seq-len', { integer: true, min: 2 }) ?? 256,
        sampling: parseChoice(values.sampling ?? 'consecutive', 'sampling', SAMPLING),
        seed: parseNumber(values.seed, 'seed', { integer: true, min: 0, max: 0xffffffff }) ?? 0,
      },
      eval: values.eval === 'none' ? null : (values.eval ?? BUNDLED.evaluation()),
      out: resolve(values.out ?? defaultOut(model, method, targets, values.resume)),
      overwrite: values.overwrite ?? false,
      runDir,
      resume: values.resume !== undefined,
      backend: values.backend === undefined ? undefined : parseBackendFlag(values.backend, parseBackendName),
      workers: parseNumber(values.workers, 'workers', { integer: true, min: 1 }),
    };

    const { runPrune } = await import('../../pipeline/index.js');
    const interrupt = interruptSignal();
    try {
      const outcome = await runPrune(settings, { signal: interrupt.signal, onEvent: printProgress });
      if (values.json) console.log(JSON.stringify(outcome));
      else printSummary(outcome);
    } catch (error) {
      if (interrupt.signal.aborted) console.error(`Resume with the same options and --resume ${resolve(runDir ?? `${settings.out}.run`)}.`);
      throw error;
    } finally {
      interrupt.dispose();
    }
    return EXIT.ok;
  });
}

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

function parseTargets(values: Values): Targets {
  if ((values.sparsity === undefined) === (values.pattern === undefined)) {
    throw new UsageError('Give exactly one of --sparsity (a fraction such as 0.7) or --pattern (N:M such as 2:4).');
  }
  const text = values.sparsity ?? values.pattern!;
  const checked = checkTarget(text, values.sparsity !== undefined ? 'sparsity' : 'pattern');
  if (values.sparsity !== undefined && parseTarget(checked).kind !== 'fraction') {
    throw new UsageError(`--sparsity ${text} is not a fraction: give a number such as 0.7, or use --pattern for N:M.`);
  }
  if (values.pattern !== undefined && parseTarget(checked).kind !== 'nm') {
    throw new UsageError(`--pattern ${text} is not an N:M pattern: give it as N:M (for example 2:4), or use --sparsity for a fraction.`);
  }
  const targets: Targets = { default: checked };
  if (values['attention-sparsity'] !== undefined) targets.attention = checkTarget(values['attention-sparsity'], 'attention-sparsity');
  if (values['mlp-sparsity'] !== undefined) targets.mlp = checkTarget(values['mlp-sparsity'], 'mlp-sparsity');
  return targets;
}

function checkTarget(text: string, flag: string): string {
  try {
    return formatTarget(parseTarget(text));
  } catch (error) {
    throw new UsageError(`--${flag}: ${(error as Error).message}`);
  }
}

function parseBackendFlag(value: string, parseBackendName: (text: string) => string): string {
  try {
    return parseBackendName(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Default output folder: ./runs/<model>-<method>-<target>, with -2, -3, ...
 * appended when taken. A resumed run in `<out>.run` writes to `<out>`.
 */
function defaultOut(model: string, method: string, targets: Targets, resume: string | undefined): string {
  if (resume !== undefined) {
    if (resume.endsWith('.run')) return resume.slice(0, -'.run'.length);
    throw new UsageError(`--resume ${resume} is not a default run folder (<out>.run), so the output folder is unknown: pass --out as well.`);
  }
  const label = [targets.default, targets.attention && `attn${targets.attention}`, targets.mlp && `mlp${targets.mlp}`]
    .filter(Boolean)
    .join('-')
    .replace(/:/g, 'of');
  const stem = `${basename(model, extname(model))}-${method}-${label}`;
  const base = join(process.cwd(), 'runs', stem);
  let candidate = base;
  for (let n = 2; existsSync(candidate) || existsSync(`${candidate}.run`); n++) candidate = `${base}-${n}`;
  return candidate;
}

function formatSeconds(seconds: number | null): string {
  if (seconds === null) return 'estimating time left';
  return seconds < 90 ? `about ${Math.ceil(seconds)} s left` : `about ${Math.ceil(seconds / 60)} min left`;
}

function printProgress(event: PipelineEvent): void {
  switch (event.type) {
    case 'run-started':
      console.error(`Pruning ${event.model}: ${event.blocks} blocks, ${event.layers} layers, ${event.method} at ${JSON.stringify(event.targets)}` +
        (event.startBlock > 0 ? `, resuming at block ${event.startBlock}` : ''));
      break;
    case 'layer-finished':
      console.error(
        `block ${event.block} ${event.name} [${event.target}]: relative error ${event.relativeError.toPrecision(4)}, sparsity ${event.sparsity.toFixed(4)}, ` +
          `${event.seconds.toFixed(2)} s (${Math.round(100 * event.progress)}% done, ${formatSeconds(event.secondsLeft)})`,
      );
      break;
    case 'block-finished':
      console.error(`block ${event.block} finished in ${event.seconds.toFixed(1)} s (${event.block + 1}/${event.blocks} blocks)`);
      break;
    case 'evaluation-started':
      console.error(`Measuring ${event.model} perplexity on ${event.windows} windows...`);
      break;
    case 'evaluation-finished':
      console.error(`${event.model} perplexity ${event.perplexity.toFixed(4)} (${event.seconds.toFixed(1)} s)`);
      break;
    case 'saving-started':
      console.error(`Saving to ${event.out}`);
      break;
    default:
      break;
  }
}

function printSummary(outcome: Awaited<ReturnType<typeof import('../../pipeline/index.js').runPrune>>): void {
  const { dense, pruned } = outcome.perplexity;
  const lines = [
    `Pruned with ${outcome.method} at ${JSON.stringify(outcome.targets)} on ${outcome.backend}: overall sparsity ${outcome.overallSparsity.toFixed(4)}`,
    dense === null ? '  perplexity       not measured (--eval none)' : `  perplexity       ${dense.toFixed(4)} dense, ${pruned!.toFixed(4)} pruned`,
    `  layers           ${outcome.layers.length}, mean relative error ${(outcome.layers.reduce((sum, layer) => sum + layer.relativeError, 0) / outcome.layers.length).toPrecision(4)}`,
    `  seconds          ${outcome.seconds.toFixed(1)}`,
    `  output           ${outcome.out}`,
  ];
  console.log(lines.join('\n'));
}
