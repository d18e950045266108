/**
 * `alps-studio solve`: prunes one layer problem read from a safetensors file
 * (`W` [out, in] and `H` = XᵀX [in, in]) and reports its relative error.
 * With --json, stdout gets exactly one JSON object; progress and logs go to
 * stderr. The flag names and the JSON fields are a contract for scripts.
 */
import { basename, extname } from 'node:path';
import { formatTarget, METHODS, parseTarget, validateSparsity, type Target } from '../../../shared/targets.js';
import { createEngine, type LayerResult } from '../../engine/index.js';
import { BACKEND_NAMES, parseBackendName } from '../../engine/backend.js';
import { InvalidInputError } from '../../engine/types.js';
import { validateProblemShapes, validateTarget } from '../../engine/validate.js';
import { SafetensorsFile, writeSafetensors } from '../../io/safetensors.js';
import { EXIT, interruptSignal, parseChoice, parseFlags, parseNumber, printUsage, requireFlag, runCommand, UsageError } from '../args.js';

const USAGE = `Usage: alps-studio solve --problem FILE --method METHOD (--sparsity S | --pattern N:M) [options]

Prunes one layer problem: a safetensors file with W float32 [out, in] and
H float32 [in, in] = XᵀX summed over calibration tokens.

Options:
  --problem FILE     layer problem to prune (safetensors with tensors W and H)
  --method METHOD    ${METHODS.join(' | ')}
  --sparsity S       fraction of weights to remove, from 0 up to but not including 1 (0.7 removes 70%)
  --pattern N:M      keep at most N of every M consecutive weights along each row's inputs (for example 2:4)
  --backend NAME     ${BACKEND_NAMES.join(' | ')} (default: the fastest that loads)
  --workers N        engine worker threads (default 1; one layer runs on one worker)
  --out FILE         write the pruned W to FILE as safetensors (tensor W, F32)
  --json             print one JSON object on stdout: method, target, relativeError,
                     sparsity, seconds, iterations, backend, and more
  -h, --help         print this help

Relative error is tr((W−Ŵ) H (W−Ŵ)ᵀ) / tr(W H Wᵀ). Seconds are the solver's
time in the worker, without loading the file or starting the engine.
Exit codes: 0 done, 1 failed (bad file or solve error), 2 invalid flags, 130 interrupted.`;

const FLAGS = {
  problem: { type: 'string' },
  method: { type: 'string' },
  sparsity: { type: 'string' },
  pattern: { type: 'string' },
  backend: { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Problem {
  name: string;
  rows: number;
  cols: number;
  W: Float32Array;
  H: Float32Array;
}

export function run(argv: string[]): Promise<number> {
  return runCommand('solve', async () => {
    const { values } = parseFlags(argv, FLAGS, 'solve');
    if (values.help) return printUsage(USAGE);

    const file = requireFlag(values.problem, 'problem', 'solve');
    const method = parseChoice(requireFlag(values.method, 'method', 'solve'), 'method', METHODS);
    const target = parseTargetFlags(values.sparsity, values.pattern);
    const backend = values.backend === undefined ? undefined : parseBackendFlag(values.backend);
    const workers = parseNumber(values.workers, 'workers', { integer: true, min: 1 }) ?? 1;

    const problem = readProblem(file);
    validateTarget(target, problem.cols);

    const interrupt = interruptSignal();
    const engine = await createEngine({ backend, workers });
    let result: LayerResult;
    const started = performance.now();
    try {
      result = await engine.solveLayer(problem.W, problem.H, problem.rows, problem.cols, problem.name, {
        method,
        target,
        signal: interrupt.signal,
        onIteration: (event) => {
          console.error(
            `iteration ${event.iteration}: rho ${event.rho.toPrecision(3)}, support change ${(100 * event.supportChange).toFixed(2)}%, relative error ${event.objective.toPrecision(4)}`,
          );
        },
      });
    } finally {
      interrupt.dispose();
      await engine.close();
    }
    const wallSeconds = (performance.now() - started) / 1000;

    if (values.out) {
      await writeSafetensors(values.out, [{ name: 'W', dtype: 'F32', shape: [problem.rows, problem.cols], data: result.W }]);
    }

    const report = {
      method,
      target: formatTarget(target),
      relativeError: result.relativeError,
      sparsity: result.sparsity,
      seconds: result.seconds,
      iterations: result.iterations,
      backend: engine.backend.name,
      device: engine.backend.device,
      layer: problem.name,
      rows: problem.rows,
      cols: problem.cols,
      wallSeconds,
      timings: result.timings,
      out: values.out ?? null,
    };
    if (values.json) console.log(JSON.stringify(report));
    else console.log(formatSummary(report));
    return EXIT.ok;
  });
}

function parseTargetFlags(sparsity: string | undefined, pattern: string | undefined): Target {
  if ((sparsity === undefined) === (pattern === undefined)) {
    throw new UsageError('Give exactly one of --sparsity (a fraction such as 0.7) or --pattern (N:M such as 2:4).');
  }
  if (sparsity !== undefined) {
    const value = parseNumber(sparsity, 'sparsity')!;
    try {
      return { kind: 'fraction', sparsity: validateSparsity(value) };
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  let target: Target;
  try {
    target = parseTarget(pattern!);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (target.kind !== 'nm') throw new UsageError(`--pattern ${pattern} is not an N:M pattern: give it as N:M (for example 2:4), or use --sparsity for a fraction.`);
  return target;
}

function parseBackendFlag(value: string): string {
  try {
    return parseBackendName(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Reads W and H from a layer problem file; throws (exit 1) when either is missing or the shapes disagree. */
function readProblem(file: string): Problem {
  const source = SafetensorsFile.open(file);
  try {
    for (const tensor of ['W', 'H']) {
      if (!source.tensors.has(tensor)) {
        const found = source.names();
        throw new InvalidInputError(
          `${file}: tensor "${tensor}" not found (the file has ${found.length ? found.join(', ') : 'no tensors'}). A layer problem needs W [out, in] and H [in, in].`,
        );
      }
    }
    const { rows, cols } = validateProblemShapes(source.info('W').shape, source.info('H').shape, file);
    return { name: basename(file, extname(file)), rows, cols, W: source.readFloat32('W'), H: source.readFloat32('H') };
  } finally {
    source.close();
  }
}

function formatSummary(report: {
  method: string;
  target: string;
  relativeError: number;
  sparsity: number;
  seconds: number;
  wallSeconds: number;
  iterations: number | null;
  device: string;
  layer: string;
  rows: number;
  cols: number;
  out: string | null;
}): string {
  const zeros = Math.round(report.sparsity * report.rows * report.cols);
  const lines = [
    `Pruned ${report.layer} [${report.rows}, ${report.cols}] with ${report.method} at ${report.target} on ${report.device}`,
    `  relative error   ${report.relativeError.toPrecision(6)}`,
    `  sparsity         ${report.sparsity.toFixed(4)} (${zeros} of ${report.rows * report.cols} weights are zero)`,
    `  seconds          ${report.seconds.toFixed(3)} in the solver, ${report.wallSeconds.toFixed(3)} including the transfer to the worker`,
  ];
  if (report.iterations !== null) lines.push(`  ADMM iterations  ${report.iterations}`);
  if (report.out) lines.push(`  wrote Ŵ to ${report.out}`);
  return lines.join('\n');
}
