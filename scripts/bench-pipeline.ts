/**
 * Pipeline benchmarks for docs/BENCHMARKS.md ("Pipeline" section).
 *
 *   npx tsx scripts/bench-pipeline.ts main [--methods alps,sparsegpt,wanda,magnitude]
 *     Runs the main job (`prune --sparsity 0.7` defaults: bundled stories260K,
 *     64 × 256 consecutive calibration tokens, dense and pruned perplexity on
 *     the bundled evaluation text) once per method and prints a table row each.
 *
 *   npx tsx scripts/bench-pipeline.ts memory [--keep DIR]
 *     Writes a Llama-shaped Hugging Face folder of about 125M parameters with
 *     random F16 weights (hidden 768, 12 layers, intermediate 2048, vocab
 *     32000, tied embedding) to a temporary folder, prunes it with Wanda at 0.7
 *     in a child process and prints the child's peak RSS next to the model's
 *     size. The folder has no tokenizer, so calibration is 8 windows of 128
 *     random token ids (mulberry32, seed 1), embedded and pruned block by block
 *     through the same code as `prune`; evaluation and saving are not part of
 *     this measurement.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../main/engine/index.js';
import { floatToHalf } from '../main/io/safetensors.js';
import { openHuggingFaceModel } from '../main/model/huggingface/load.js';
import { mulberry32 } from '../main/pipeline/calibration.js';
import { openRunFolder } from '../main/pipeline/checkpoint.js';
import { runPrune } from '../main/pipeline/index.js';
import { pruneBlocks } from '../main/pipeline/prune.js';
import { BUNDLED } from '../main/pipeline/resources.js';
import { modelBackend } from '../main/pipeline/run.js';
import { METHODS, type Method } from '../shared/targets.js';

const SHAPE = { hidden: 768, layers: 12, intermediate: 2048, vocab: 32000, heads: 12 };
const CALIBRATION = { samples: 8, seqLen: 128, seed: 1 };

function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

async function benchMain(methods: Method[]): Promise<void> {
  console.log(`Machine: ${machine()}; date ${new Date().toISOString()}`);
  console.log('| method | seconds | dense perplexity | pruned perplexity | overall sparsity |');
  console.log('|---|---|---|---|---|');
  for (const method of methods) {
    const out = join(mkdtempSync(join(tmpdir(), 'alps-bench-')), 'pruned');
    const outcome = await runPrune({
      model: BUNDLED.model(),
      method,
      targets: { default: '0.7' },
      calibration: { file: BUNDLED.calibration(), samples: 64, seqLen: 256, sampling: 'consecutive', seed: 0 },
      eval: BUNDLED.evaluation(),
      out,
    });
    console.log(
      `| ${method} | ${outcome.seconds.toFixed(1)} | ${outcome.perplexity.dense!.toFixed(4)} | ${outcome.perplexity.pruned!.toFixed(2)} | ${outcome.overallSparsity.toFixed(4)} |`,
    );
    rmSync(out, { recursive: true, force: true });
  }
}

/** Writes `tensors` as an F16 safetensors file, generating the values of one tensor at a time. */
function writeRandomSafetensors(path: string, tensors: { name: string; shape: number[]; fill: 'normal' | 'ones' }[], seed: number): void {
  const ordered = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const tensor of ordered) {
    const bytes = tensor.shape.reduce((a, b) => a * b, 1) * 2;
    header[tensor.name] = { dtype: 'F16', shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));

  const next = mulberry32(seed);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, length);
    writeSync(fd, json);
    for (const tensor of ordered) {
      const count = tensor.shape.reduce((a, b) => a * b, 1);
      const buffer = Buffer.allocUnsafe(count * 2);
      for (let i = 0; i < count; i++) {
        // Box-Muller with standard deviation 0.02, as Llama initialisation uses.
        const value = tensor.fill === 'ones' ? 1 : 0.02 * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
        buffer.writeUInt16LE(floatToHalf(value), 2 * i);
      }
      writeSync(fd, buffer);
    }
  } finally {
    closeSync(fd);
  }
}

function writeLlamaFolder(folder: string): void {
  const { hidden, layers, intermediate, vocab, heads } = SHAPE;
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    vocab_size: vocab,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float16',
    hidden_act: 'silu',
  };
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config, null, 2));
  const tensors: { name: string; shape: number[]; fill: 'normal' | 'ones' }[] = [
    { name: 'model.embed_tokens.weight', shape: [vocab, hidden], fill: 'normal' },
    { name: 'model.norm.weight', shape: [hidden], fill: 'ones' },
  ];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      { name: `${p}.input_layernorm.weight`, shape: [hidden], fill: 'ones' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [hidden], fill: 'ones' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [hidden, hidden], fill: 'normal' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [hidden, hidden], fill: 'normal' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [hidden, hidden], fill: 'normal' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [hidden, hidden], fill: 'normal' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [intermediate, hidden], fill: 'normal' },
      { name: `${p}.mlp.up_proj.weight`, shape: [intermediate, hidden], fill: 'normal' },
      { name: `${p}.mlp.down_proj.weight`, shape: [hidden, intermediate], fill: 'normal' },
    );
  }
  writeRandomSafetensors(join(folder, 'model.safetensors'), tensors, 7);
}

/** Runs in the child process: prunes the folder with Wanda and prints one JSON line with the peak RSS. */
async function memoryChild(folder: string): Promise<void> {
  const started = performance.now();
  const { tf } = await modelBackend('wasm');
  const { model } = openHuggingFaceModel(folder, tf);
  const engine = await createEngine({ backend: 'wasm' });
  const rssAfterLoad = process.memoryUsage().rss;

  const { samples, seqLen, seed } = CALIBRATION;
  const next = mulberry32(seed);
  const tokens = Int32Array.from({ length: samples * seqLen }, () => Math.floor(next() * SHAPE.vocab));
  const inputs = await model.embed(tokens, seqLen);
  const runDir = join(folder, 'run');
  const state = await openRunFolder(runDir, { bench: 'memory' }, model.summary.blocks, false);
  const target = { kind: 'fraction' as const, sparsity: 0.7 };
  await pruneBlocks(
    {
      model,
      engine,
      method: 'wanda',
      targets: { attention: target, mlp: target },
      runDir,
      state,
      inputs,
      samples,
      seqLen,
      emit: (event) => {
        if (event.type === 'block-finished') console.error(`block ${event.block} finished in ${event.seconds.toFixed(1)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
      },
    },
    (block) => model.linears(block),
  );
  await engine.close();
  const result = {
    blocks: model.summary.blocks,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    rssAfterLoadBytes: rssAfterLoad,
    seconds: (performance.now() - started) / 1000,
    parameters: model.summary.parameters,
    layers: state.layers.length,
    meanSparsity: state.layers.reduce((sum, layer) => sum + layer.sparsity, 0) / state.layers.length,
  };
  console.log(JSON.stringify(result));
}

function benchMemory(keep: string | undefined): void {
  const folder = keep ?? mkdtempSync(join(tmpdir(), 'alps-bench-125m-'));
  mkdirSync(folder, { recursive: true });
  let started = performance.now();
  // A kept folder from an earlier run is reused: the weights depend only on the fixed seed.
  if (!existsSync(join(folder, 'model.safetensors'))) {
    writeLlamaFolder(folder);
    console.error(`Wrote ${folder} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  rmSync(join(folder, 'run'), { recursive: true, force: true });
  const fileBytes = statSync(join(folder, 'model.safetensors')).size;

  started = performance.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, 'memory-child', folder], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ALPS_LOG_LEVEL: 'warn' },
    maxBuffer: 64 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`The memory run failed (exit ${child.status}); its messages are above.`);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const blockBytes = (4 * SHAPE.hidden * SHAPE.hidden + 3 * SHAPE.hidden * SHAPE.intermediate) * 4;
  console.log(`Machine: ${machine()}; date ${new Date().toISOString()}`);
  console.log(`| parameters | file (F16) | weights as float32 | one block as float32 | peak RSS | RSS after load | seconds |`);
  console.log('|---|---|---|---|---|---|---|');
  console.log(
    `| ${(result.parameters / 1e6).toFixed(1)}M | ${mib(fileBytes)} | ${mib(result.parameters * 4)} | ${mib(blockBytes)} | ${mib(result.maxRssBytes)} | ${mib(result.rssAfterLoadBytes)} | ${result.seconds.toFixed(1)} |`,
  );
  console.error(`Pruned ${result.layers} layers, mean sparsity ${result.meanSparsity.toFixed(4)}; wall ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (!keep) rmSync(folder, { recursive: true, force: true });
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { methods: { type: 'string' }, keep: { type: 'string' } } });
const [command, argument] = positionals;
if (command === 'main') {
  const methods = (values.methods?.split(',') ?? [...METHODS]) as Method[];
  await benchMain(methods);
} else if (command === 'memory') {
  benchMemory(values.keep);
} else if (command === 'memory-child' && argument) {
  await memoryChild(argument);
} else {
  console.error('Usage: tsx scripts/bench-pipeline.ts main [--methods a,b] | memory [--keep DIR]');
  process.exitCode = 2;
}
