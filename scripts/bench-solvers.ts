/**
 * Layer-solver benchmark. It solves each synthetic timing problem at 70%
 * sparsity with every method through the engine (worker pool) and compares
 * seconds and relative error with the reference implementations' figures.
 * It then writes the "Layer solvers" section of docs/BENCHMARKS.md and keeps
 * the file's other sections.
 *
 *   npm run bench -- [--backend NAME] [--repeats N] [--no-write]
 *
 * Inputs are the timing fixtures in ../shared/fixtures/timing beside the
 * repository (W [out, in], H [in, in]) and their reference.json. Each solve
 * runs alone on one worker, so its seconds compare with the reference's. The
 * pool's other workers are measured separately, by solving two problems at
 * once and by concurrent matrix products.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, parseNumber } from '../main/cli/args.js';
import { ALPS_DEFAULTS } from '../main/engine/defaults.js';
import { createEngine, type Engine, type LayerResult, type Method } from '../main/engine/index.js';
import { chooseStrategy } from '../main/engine/solvers/alps-operator.js';
import { SafetensorsFile } from '../main/io/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const timingDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'timing');
const benchmarksFile = path.join(repoRoot, 'docs', 'BENCHMARKS.md');
const METHODS: Method[] = ['alps', 'sparsegpt', 'wanda', 'magnitude'];
const SPARSITY = 0.7;

interface ReferenceCase {
  file: string;
  method: Method;
  target: number;
  relativeError: number;
  sparsity: number;
  seconds: number;
  iterations: number | null;
}

interface Problem {
  file: string;
  rows: number;
  cols: number;
  W: Float32Array;
  H: Float32Array;
}

interface Measurement {
  problem: Problem;
  method: Method;
  reference: ReferenceCase;
  result: LayerResult;
  /** Seconds from the engine call to its result, including the transfers to and from the worker. */
  wallSeconds: number;
}

function readProblem(file: string): Problem {
  const source = SafetensorsFile.open(path.join(timingDir, file));
  const [rows, cols] = source.info('W').shape as [number, number];
  const problem = { file, rows, cols, W: source.readFloat32('W'), H: source.readFloat32('H') };
  source.close();
  return problem;
}

async function solveOnce(engine: Engine, problem: Problem, method: Method): Promise<{ result: LayerResult; wallSeconds: number }> {
  const started = performance.now();
  // solveLayer transfers its arrays to the worker, so pass copies.
  const result = await engine.solveLayer(problem.W.slice(), problem.H.slice(), problem.rows, problem.cols, problem.file, {
    method,
    target: { kind: 'fraction', sparsity: SPARSITY },
  });
  return { result, wallSeconds: (performance.now() - started) / 1000 };
}

/**
 * Multiply-add flops of the ADMM loop's products, as the ALPS solver runs
 * them: Hn·B0 once, then per iteration one [out, in]×[in, in] product with
 * the explicit inverse or two with the Q sandwich (see alps-operator.ts).
 */
function admmMatmulFlops(rows: number, cols: number, iterations: number): number {
  const product = 2 * rows * cols * cols;
  const perIteration = chooseStrategy(cols, rows, ALPS_DEFAULTS.checkEvery) === 'explicit' ? product : 2 * product;
  return product + iterations * perIteration;
}

function format(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function shapeName(problem: Problem): string {
  return `in${problem.cols} out${problem.rows}`;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

async function main(): Promise<void> {
  const { values } = parseFlags(
    process.argv.slice(2),
    { backend: { type: 'string' }, repeats: { type: 'string' }, 'no-write': { type: 'boolean' } },
    'bench',
  );
  const repeats = parseNumber(values.repeats, 'repeats', { integer: true, min: 1 }) ?? 1;
  const reference = JSON.parse(readFileSync(path.join(timingDir, 'reference.json'), 'utf8')) as { gemmGflops: number; cases: ReferenceCase[] };
  const files = [...new Set(reference.cases.map((c) => c.file))];

  const loadAtStart = loadavg()[0]!;
  const engine = await createEngine({ backend: values.backend, workers: availableParallelism() });
  console.error(`backend ${engine.backend.name}: ${engine.backend.device}, ${engine.workers} workers`);
  const measurements: Measurement[] = [];
  const peaks = new Map<string, { single: number; concurrent: number }>();
  const concurrency: { problem: Problem; singleSeconds: number; pairSeconds: number }[] = [];
  try {
    for (const file of files) {
      const problem = readProblem(file);
      const peak = await measurePeak(engine, problem);
      peaks.set(file, peak);
      console.error(`${shapeName(problem)}: tf.matMul peak ${format(peak.single, 1)} GFLOP/s on one worker, ${format(peak.concurrent, 1)} on all`);

      for (const method of METHODS) {
        const referenceCase = reference.cases.find((c) => c.file === file && c.method === method);
        if (!referenceCase) throw new Error(`${file}: reference.json has no ${method} case.`);
        let best: { result: LayerResult; wallSeconds: number } | null = null;
        for (let r = 0; r < repeats; r++) {
          const run = await solveOnce(engine, problem, method);
          if (!best || run.result.seconds < best.result.seconds) best = run;
        }
        measurements.push({ problem, method, reference: referenceCase, ...best! });
        console.error(`${shapeName(problem)} ${method}: ${format(best!.result.seconds)} s (reference ${referenceCase.seconds} s), relative error ${best!.result.relativeError.toPrecision(4)}`);
      }

      // Two solves at once take as long as the larger shapes' single solves, so only the smallest shape is paired.
      if (engine.workers >= 2 && file === files[0]) {
        const single = measurements.find((m) => m.problem === problem && m.method === 'alps')!;
        const started = performance.now();
        await Promise.all([solveOnce(engine, problem, 'alps'), solveOnce(engine, problem, 'alps')]);
        concurrency.push({ problem, singleSeconds: single.wallSeconds, pairSeconds: (performance.now() - started) / 1000 });
      }
    }
  } finally {
    await engine.close();
  }

  const load = { start: loadAtStart, end: loadavg()[0]! };
  const section = renderSection({ engine, measurements, peaks, concurrency, repeats, load, referenceGflops: reference.gemmGflops });
  console.log(section);
  if (!values['no-write']) {
    writeSection(section);
    console.error(`wrote the "Layer solvers" section of ${path.relative(repoRoot, benchmarksFile)}`);
  }
}

/**
 * GFLOP/s of tf.matMul on the ADMM product's shape [out, in]×[in, in]: the
 * best of five single products on one worker, and every worker at once (summed).
 */
async function measurePeak(engine: Engine, problem: Problem): Promise<{ single: number; concurrent: number }> {
  const flops = 2 * problem.rows * problem.cols * problem.cols;
  const repeats = 3;
  let single = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) single = Math.min(single, await engine.measureMatMul(problem.rows, problem.cols, problem.cols, 1));
  const started = performance.now();
  const all = Array.from({ length: engine.workers }, () => engine.measureMatMul(problem.rows, problem.cols, problem.cols, repeats));
  await Promise.all(all);
  const wall = (performance.now() - started) / 1000;
  return { single: flops / single / 1e9, concurrent: (engine.workers * repeats * flops) / wall / 1e9 };
}

/**
 * States whether the ALPS loop's products alone, at this backend's matMul
 * rate, already take longer than the reference's whole solve. A load spike
 * can make the measured peak lower than the loop's own rate; the higher of
 * the two is used then.
 */
function verdict(m: Measurement, measuredPeak: number): string {
  const flops = admmMatmulFlops(m.problem.rows, m.problem.cols, m.result.iterations ?? 0);
  const achieved = flops / (m.result.timings['admm matmul'] ?? Number.NaN) / 1e9;
  const rate = Math.max(measuredPeak, achieved);
  const floor = flops / (rate * 1e9);
  const rateText =
    achieved >= measuredPeak
      ? `at the loop's own ${format(achieved, 1)} GFLOP/s (above the measured tf.matMul peak of ${format(measuredPeak, 1)}, which load disturbed)`
      : `at this backend's peak of ${format(measuredPeak, 1)} GFLOP/s`;
  if (floor >= m.reference.seconds) {
    return `the loop's products alone need ${format(floor, 1)} s ${rateText}, more than the reference's whole ${m.reference.seconds} s, so this backend cannot match it`;
  }
  const share = achieved >= measuredPeak ? '' : ` and from the loop reaching ${format((100 * achieved) / measuredPeak, 0)}% of the peak`;
  return `the loop's products need ${format(floor, 1)} s ${rateText}, less than the reference's ${m.reference.seconds} s, so the gap comes from the other steps${share}`;
}

interface SectionInput {
  engine: Engine;
  measurements: Measurement[];
  peaks: Map<string, { single: number; concurrent: number }>;
  concurrency: { problem: Problem; singleSeconds: number; pairSeconds: number }[];
  repeats: number;
  /** One-minute load average when the run started and ended. */
  load: { start: number; end: number };
  referenceGflops: number;
}

function renderSection({ engine, measurements, peaks, concurrency, repeats, load, referenceGflops }: SectionInput): string {
  const lines: string[] = [];
  lines.push('## Layer solvers', '');
  lines.push(
    `Generated by \`npm run bench\` (scripts/bench-solvers.ts) on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `- Machine: ${cpuModel()}, ${availableParallelism()} cores, Node ${process.version}. One-minute load average: ${format(load.start, 1)} at the start, ${format(load.end, 1)} at the end.${Math.max(load.start, load.end) > availableParallelism() ? ' Other processes shared the cores, so the times are inflated.' : ''}`,
    `- Backend: ${engine.backend.name}, ${engine.backend.device}; ${engine.workers} engine workers.`,
    `- Problems: the synthetic timing fixtures (W [out, in], H from 16384 tokens) at ${SPARSITY * 100}% sparsity; each solve runs alone on one worker${repeats > 1 ? `, best of ${repeats}` : ''}.`,
    `- Reference: the published implementations on a 2-core AMD EPYC with AVX-512 (PyTorch 1.13, OpenBLAS on 2 threads, ${referenceGflops} GFLOP/s float32 GEMM).`,
    '- Seconds are the solver\'s own time in the worker (LayerResult.seconds). "Wall" is the whole engine call: it adds the transfers to and from the worker, the engine\'s check of H and the float64 relative-error step, which LayerResult.seconds leaves out. Neither includes reading the file.',
    '',
    '### Time and error against the reference',
    '',
    '| shape | method | seconds | wall | reference s | ratio | relative error | reference error | error ratio | ADMM iterations (ref) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const m of measurements) {
    const iterations = m.result.iterations === null ? '–' : `${m.result.iterations} (${m.reference.iterations ?? '–'})`;
    lines.push(
      `| ${shapeName(m.problem)} | ${m.method} | ${format(m.result.seconds)} | ${format(m.wallSeconds)} | ${m.reference.seconds} | ${format(m.result.seconds / m.reference.seconds, 2)} | ${m.result.relativeError.toPrecision(4)} | ${m.reference.relativeError.toPrecision(4)} | ${format(m.result.relativeError / m.reference.relativeError, 3)} | ${iterations} |`,
    );
  }

  lines.push(
    '',
    '### Matrix-product throughput in the ALPS loop',
    '',
    `ADMM GFLOP/s = flops of the loop's products (Hn·B0 once, then one or two [out, in]×[in, in] products per iteration, as the solver picks) divided by the \`admm matmul\` seconds in LayerResult.timings. The peak is a plain tf.matMul of the same shape on one worker (best of five), and on all workers at once (summed). "At peak" is the least time the loop's products can take on this backend; "at ${referenceGflops} GFLOP/s" is their time at the reference machine's GEMM rate. Where "at peak" alone exceeds the reference's whole ALPS time, this backend cannot match the reference on that shape.`,
    '',
    `| shape | loop GFLOP | admm matmul s | ADMM GFLOP/s | tf.matMul peak, 1 worker | peak, all workers | loop at peak, s | at ${referenceGflops} GFLOP/s, s | reference ALPS s |`,
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const m of measurements.filter((x) => x.method === 'alps')) {
    const flops = admmMatmulFlops(m.problem.rows, m.problem.cols, m.result.iterations ?? 0);
    const seconds = m.result.timings['admm matmul'] ?? Number.NaN;
    const peak = peaks.get(m.problem.file)!;
    lines.push(
      `| ${shapeName(m.problem)} | ${format(flops / 1e9, 1)} | ${format(seconds)} | ${format(flops / seconds / 1e9, 1)} | ${format(peak.single, 1)} | ${format(peak.concurrent, 1)} | ${format(flops / (peak.single * 1e9))} | ${format(flops / (referenceGflops * 1e9))} | ${m.reference.seconds} |`,
    );
  }

  lines.push('');
  for (const m of measurements.filter((x) => x.method === 'alps')) {
    lines.push(`- ${shapeName(m.problem)}: ${verdict(m, peaks.get(m.problem.file)!.single)}.`);
  }

  lines.push(
    '',
    '### Share of time per step',
    '',
    'From LayerResult.timings, as a percentage of the sum of all steps (given in seconds). The solver\'s `seconds` above leave out two of them: `relative error` (the float64 error of the result) and `checkDefinite` (the engine\'s positive-semidefiniteness check of H, which runs before the solver and is skipped above 1024 columns).',
    '',
  );
  for (const m of measurements) {
    const total = Object.values(m.result.timings).reduce((sum, seconds) => sum + seconds, 0);
    const steps = Object.entries(m.result.timings)
      .sort((a, b) => b[1] - a[1])
      .map(([step, seconds]) => `${step} ${format((100 * seconds) / total, 1)}%`);
    lines.push(`- ${shapeName(m.problem)} ${m.method} (${format(total)} s): ${steps.join(', ')}`);
  }

  if (concurrency.length) {
    lines.push(
      '',
      '### Both cores',
      '',
      'One layer is one job on one worker: the ALPS projection keeps the k largest weights of the whole matrix and SparseGPT selects its mask across all rows of a block, so splitting one layer across workers would change the result. The second core serves the next layer, as in the pipeline. Two ALPS solves of the same shape at once:',
      '',
      '| shape | one solve, wall s | two at once, wall s | per solve |',
      '|---|---|---|---|',
    );
    for (const c of concurrency) {
      lines.push(`| ${shapeName(c.problem)} | ${format(c.singleSeconds)} | ${format(c.pairSeconds)} | ${format(c.pairSeconds / 2)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces the "## Layer solvers" section of docs/BENCHMARKS.md, keeping every other section. */
function writeSection(section: string): void {
  const title = '# Benchmarks\n\nMeasured figures, each section with its script and machine.\n\n';
  const existing = existsSync(benchmarksFile) ? readFileSync(benchmarksFile, 'utf8') : title;
  const start = existing.indexOf('## Layer solvers');
  if (start < 0) {
    writeFileSync(benchmarksFile, `${existing.trimEnd()}\n\n${section}`);
    return;
  }
  const next = existing.indexOf('\n## ', start + 1);
  const after = next < 0 ? '' : existing.slice(next + 1);
  writeFileSync(benchmarksFile, `${existing.slice(0, start)}${section}${after ? `\n${after}` : ''}`);
}

await main();
