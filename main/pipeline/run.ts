/**
 * One pruning run from settings to output folder: load the model, cut the
 * calibration windows, measure dense perplexity, prune block by block with
 * checkpoints, measure pruned perplexity, write the output and its report.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { selectBackend, type BackendName } from '../engine/backend.js';
import { createEngine } from '../engine/index.js';
import { CancelledError, InvalidInputError } from '../engine/types.js';
import { readDocuments, tokenStream } from '../data/text.js';
import { loadModel } from '../model/load.js';
import type { CausalLM } from '../model/types.js';
import { moduleLogger } from '../log.js';
import { cutCalibrationWindows, sha256File } from './calibration.js';
import { openRunFolder, readActivations, readBlockWeights, type RunFingerprint } from './checkpoint.js';
import { PIPELINE_DEFAULTS } from './defaults.js';
import { measurePerplexity } from './evaluate.js';
import type { PipelineEvent } from './events.js';
import { overallSparsity, pruneBlocks } from './prune.js';
import { packageRoot } from './resources.js';
import { saveOutput, type PruningReport } from './save.js';
import { parsePruneSettings, resolveTargets, type PruneOutcome, type PruneSettings } from './settings.js';
import type { PipelineEngine, PruneHooks } from './index.js';

const log = moduleLogger('pipeline');

/** Version of this package, recorded in reports and run folders. */
export function engineVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Default run folder: `<out>.run` beside the output folder. */
export function defaultRunDir(out: string): string {
  return `${resolve(out)}.run`;
}

/**
 * Loads a tfjs backend on this thread for the model's forward passes. The
 * native TensorFlow backends may be loaded by one thread per process only and
 * the engine worker takes it, so this thread runs wasm (or cpu when asked).
 */
export async function modelBackend(requested: string | undefined): Promise<Awaited<ReturnType<typeof selectBackend>>> {
  const name: BackendName = requested === 'cpu' ? 'cpu' : 'wasm';
  try {
    return await selectBackend(name);
  } catch (error) {
    if (name === 'cpu') throw error;
    log.warn({ error: (error as Error).message }, 'wasm backend unavailable for the model; using cpu');
    return selectBackend('cpu');
  }
}

export async function runPruneImpl(input: PruneSettings, hooks: PruneHooks): Promise<PruneOutcome> {
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const emit = (event: PipelineEvent): void => hooks.onEvent?.(event);
  const { signal } = hooks;

  let engine: PipelineEngine | null = null;
  let model: CausalLM | null = null;
  try {
    const settings = parsePruneSettings(input);
    const modelPath = resolve(settings.model);
    const out = resolve(settings.out);
    const runDir = resolve(settings.runDir ?? defaultRunDir(out));
    const calibrationFile = resolve(settings.calibration.file);
    const evalFile = settings.eval === null ? null : resolve(settings.eval);
    await checkPaths(modelPath, out, runDir, settings.overwrite, settings.resume);
    const targets = resolveTargets(settings.targets);

    const { tf } = await modelBackend(settings.backend);
    const loaded = await loadModel(modelPath, { tf, tokenizerPath: settings.tokenizer });
    model = loaded.model;
    const { summary } = model;

    // Calibration windows, before the engine starts, so that a short text fails fast.
    const calibrationStream = tokenStream(await readDocuments(calibrationFile), loaded.tokenizer);
    const windows = cutCalibrationWindows(calibrationStream, settings.calibration, calibrationFile);
    const calibrationSha256 = await sha256File(calibrationFile);
    engine = hooks.engine ?? (await createEngine({ backend: settings.backend, workers: settings.workers }));

    // Run folder: new, or resumed after its last finished block.
    const fingerprint: RunFingerprint = {
      model: modelPath,
      modelBytes: modelBytes(modelPath),
      tokenizer: loaded.source.tokenizer,
      method: settings.method,
      targets: { ...settings.targets },
      calibration: { ...settings.calibration, file: calibrationFile, sha256: calibrationSha256 },
      backend: engine.backend.name,
      pipeline: { ...PIPELINE_DEFAULTS },
      engineVersion: engineVersion(),
    };
    const state = await openRunFolder(runDir, fingerprint, summary.blocks, settings.resume);
    const startBlock = state.manifest.finishedBlocks;
    const linearCount = summary.linears.length * summary.blocks;
    emit({ type: 'run-started', time: Date.now(), model: modelPath, method: settings.method, targets: settings.targets, blocks: summary.blocks, layers: linearCount, startBlock, runDir });
    log.info({ model: modelPath, method: settings.method, targets: settings.targets, startBlock, runDir }, 'run started');

    // Dense perplexity.
    const evalSeqLen = settings.evalSeqLen ?? settings.calibration.seqLen;
    const evalStream = evalFile === null ? null : tokenStream(await readDocuments(evalFile), loaded.tokenizer);
    const evaluate = async (which: 'dense' | 'pruned', blockWeights?: (block: number) => Map<string, Float32Array>): Promise<number | null> => {
      if (evalStream === null || evalFile === null || model === null) return null;
      emit({ type: 'evaluation-started', time: Date.now(), model: which, windows: Math.floor(evalStream.length / evalSeqLen) });
      const result = await measurePerplexity(model, evalStream, evalFile, { seqLen: evalSeqLen, blockWeights, signal });
      emit({ type: 'evaluation-finished', time: Date.now(), model: which, perplexity: result.perplexity, seconds: result.seconds });
      log.info({ model: which, perplexity: result.perplexity, windows: result.windows, seconds: result.seconds }, 'perplexity measured');
      return result.perplexity;
    };
    const dense = settings.evalDense ? await evaluate('dense') : null;

    // Prune the remaining blocks.
    const inputs = startBlock === 0 ? await model.embed(windows.tokens, windows.seqLen) : readActivations(runDir, state.manifest);
    const layers = await pruneBlocks(
      { model, engine, method: settings.method, targets, runDir, state, inputs, samples: windows.samples, seqLen: windows.seqLen, emit, signal },
      (block) => model!.linears(block),
    );
    const sizes = new Map<string, number>();
    for (let block = 0; block < summary.blocks; block++) for (const linear of model.linears(block)) sizes.set(linear.name, linear.rows * linear.cols);
    const sparsity = overallSparsity(layers, (name) => sizes.get(name) ?? 0);

    const pruned = await evaluate('pruned', (block) => readBlockWeights(runDir, block));

    // Output folder with the report.
    const report: PruningReport = {
      method: settings.method,
      targets: settings.targets,
      layers: layers.map(({ name, kind, block, target, relativeError, sparsity, seconds, iterations }) => ({ name, kind, block, target, relativeError, sparsity, seconds, iterations })),
      perplexity: { dense, pruned },
      calibration: { file: calibrationFile, sha256: calibrationSha256, samples: windows.samples, seqLen: windows.seqLen, sampling: settings.calibration.sampling, seed: settings.calibration.seed },
      evaluation: evalFile === null ? null : { file: evalFile, seqLen: evalSeqLen },
      model: modelPath,
      engineVersion: engineVersion(),
      backend: engine.backend.name,
      seconds: 0,
      overallSparsity: sparsity,
    };
    emit({ type: 'saving-started', time: Date.now(), out });
    report.seconds = elapsed();
    await saveOutput(loaded, out, runDir, report, settings.overwrite, signal);
    await rm(runDir, { recursive: true, force: true });

    const seconds = elapsed();
    emit({ type: 'run-finished', time: Date.now(), seconds, out, overallSparsity: sparsity });
    log.info({ out, seconds, overallSparsity: sparsity, dense, pruned }, 'run finished');
    return {
      method: settings.method,
      targets: settings.targets,
      perplexity: { dense, pruned },
      layers,
      overallSparsity: sparsity,
      seconds,
      out,
      runDir,
      backend: engine.backend.name,
      engineVersion: engineVersion(),
    };
  } catch (error) {
    if (error instanceof CancelledError || signal?.aborted) {
      emit({ type: 'run-cancelled', time: Date.now(), seconds: elapsed() });
      log.info({ seconds: elapsed() }, 'run cancelled');
      throw error instanceof CancelledError ? error : new CancelledError('The run was cancelled.');
    }
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    const code = (error as { code?: unknown }).code;
    emit({ type: 'run-failed', time: Date.now(), seconds: elapsed(), error: { name, message, code: typeof code === 'string' ? code : null } });
    log.error({ error: message }, 'run failed');
    throw error;
  } finally {
    if (engine !== null && hooks.engine === undefined) await engine.close();
    model?.dispose();
  }
}

/** Size of the model file, or of all files at the top of a model folder: a cheap check that a resume reads the same weights. */
function modelBytes(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.size;
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(join(path, entry.name)).size, 0);
}

/** Rejects unusable model, output and run folder paths before any work, so these fail in seconds rather than after pruning. */
async function checkPaths(model: string, out: string, runDir: string, overwrite: boolean, resume: boolean): Promise<void> {
  if (!existsSync(model)) {
    throw new InvalidInputError(`Model path ${model} was not found: pass a llama2.c .bin file or a Hugging Face model folder with --model.`);
  }
  const modelFolder = statSync(model).isDirectory() ? model : dirname(model);
  // The writer rejects these as well. Checking here fails before pruning instead of after.
  if (out === model || !relative(out, modelFolder).startsWith('..')) {
    throw new InvalidInputError(`Output folder ${out} would replace or contain the input model ${model}: choose an --out outside ${modelFolder}.`);
  }
  if (existsSync(out) && !overwrite) {
    throw new InvalidInputError(`Output folder ${out} already exists: pass --overwrite to replace it, or choose another --out.`);
  }
  await checkWritable(out, '--out');
  if (!resume) await checkWritable(runDir, '--run-dir');
}

async function checkWritable(path: string, flag: string): Promise<void> {
  let folder = dirname(path);
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  if (!statSync(folder).isDirectory()) {
    throw new InvalidInputError(`${path} cannot be created: ${folder} is a file, not a folder. Choose another ${flag}.`);
  }
  // A probe folder tests what access(W_OK) cannot: read-only mounts, and permissions when running as root.
  try {
    await rm(await mkdtemp(join(folder, '.alps-write-test-')), { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new InvalidInputError(`${path} cannot be created: the folder ${folder} is not writable (${code}). Choose another ${flag}.`);
  }
}
