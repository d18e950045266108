/**
 * Writes a pruned model in the format it was read from.
 *
 * Hugging Face: a folder with the same weight files, keeping tensor names,
 * dtypes, order and sharding, so the original headers and index stay valid.
 * Every other top-level file of the input folder is copied too (config.json,
 * generation_config.json, tokenizer files), except weights in other formats.
 * llama2.c: the checkpoint in the same layout (header, tensors, trailing RoPE
 * tables) plus its tokenizer file.
 *
 * Each weight file is copied, then the replaced tensors are overwritten in
 * place one at a time, so memory holds one tensor. Everything goes into a
 * temporary sibling folder that is renamed to `outDir` once complete. On any
 * error that folder is removed, and the input is never modified.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';

import { float32ToBytes, SafetensorsFile } from '../io/safetensors.js';
import { moduleLogger } from '../log.js';
import { llama2cLayout, parseLlama2cHeader, LLAMA2C_HEADER_BYTES } from './llama2c.js';
import type { ModelSource } from './load.js';

const log = moduleLogger('model-write');

/** Weight formats that a pruned Hugging Face folder must not carry over, because they would hold the dense weights. */
const STALE_WEIGHT_EXTENSIONS = ['.bin', '.pt', '.pth', '.ckpt', '.h5', '.msgpack', '.gguf', '.onnx', '.safetensors'];

export interface WriteOptions {
  /**
   * Returns the new weight of tensor `name` (row-major, same element count),
   * or undefined to keep the stored one. It is called once per stored tensor,
   * so a name that matches no stored tensor is never requested: compare
   * WriteResult.replaced with the number of tensors you meant to replace.
   */
  replacement(name: string): Float32Array | undefined;
  /** Files to add to the output folder, such as pruning_report.json. Names are plain file names. */
  extraFiles?: { name: string; content: string }[];
  /** Replace an existing `outDir`. Without it an existing folder is an error. */
  overwrite?: boolean;
}

export interface WriteResult {
  outDir: string;
  /** File names written into outDir. */
  files: string[];
  /** Tensors whose stored values were replaced. */
  replaced: number;
}

/** Writes `model` with its replacements to the new folder `outDir`. */
export async function writePrunedModel(model: { source: ModelSource }, outDir: string, options: WriteOptions): Promise<WriteResult> {
  const target = resolve(outDir);
  const { source } = model;
  const inputFolder = resolve(source.format === 'huggingface' ? source.folder : dirname(source.checkpoint));
  if (target === inputFolder || !relative(target, inputFolder).startsWith('..')) {
    throw new Error(`Output folder ${target} contains the input model in ${inputFolder}: choose a folder outside the input.`);
  }
  if (existsSync(target) && !options.overwrite) {
    throw new Error(`Output folder ${target} already exists: choose a new folder, or allow overwriting it (--overwrite).`);
  }
  for (const extra of options.extraFiles ?? []) {
    if (extra.name !== basename(extra.name) || extra.name === '' || extra.name.startsWith('.')) {
      throw new Error(`Extra file name "${extra.name}" is invalid: use a plain file name such as pruning_report.json.`);
    }
  }

  const started = Date.now();
  const partial = join(dirname(target), `.${basename(target)}.partial-${randomBytes(4).toString('hex')}`);
  log.info({ outDir: target, format: source.format }, 'writing model');
  try {
    await mkdir(dirname(target), { recursive: true });
    await mkdir(partial);
    const result =
      source.format === 'huggingface' ? await writeHuggingFace(source, partial, options) : await writeLlama2c(source, partial, options);
    for (const extra of options.extraFiles ?? []) {
      await writeFile(join(partial, extra.name), extra.content);
      result.files.push(extra.name);
    }
    await moveIntoPlace(partial, target);
    log.info({ outDir: target, files: result.files.length, replaced: result.replaced, ms: Date.now() - started }, 'model written');
    return { outDir: target, ...result };
  } catch (error) {
    await removePartial(partial);
    log.error({ outDir: target, err: error }, 'writing the model failed');
    throw writeError(target, error);
  }
}

async function writeHuggingFace(
  source: Extract<ModelSource, { format: 'huggingface' }>,
  partial: string,
  options: WriteOptions,
): Promise<{ files: string[]; replaced: number }> {
  const files: string[] = [];
  let replaced = 0;
  const weightNames = new Set(source.weightFiles.map((file) => basename(file)));

  // Non-weight files at the top level: config, generation config, tokenizer, index, README.
  for (const entry of readdirSync(source.folder, { withFileTypes: true })) {
    if (!entry.isFile() || weightNames.has(entry.name)) continue;
    if (STALE_WEIGHT_EXTENSIONS.some((extension) => entry.name.endsWith(extension))) continue;
    await copyFile(join(source.folder, entry.name), join(partial, entry.name));
    files.push(entry.name);
  }
  // A tokenizer given from outside the folder is stored under the standard name.
  if (resolve(dirname(source.tokenizer)) !== resolve(source.folder) && !files.includes('tokenizer.json')) {
    await copyFile(source.tokenizer, join(partial, 'tokenizer.json'));
    files.push('tokenizer.json');
  }

  for (const weightFile of source.weightFiles) {
    const name = basename(weightFile);
    const output = join(partial, name);
    await copyFile(weightFile, output);
    const reader = SafetensorsFile.open(weightFile);
    const handle = await open(output, 'r+');
    try {
      for (const info of reader.tensors.values()) {
        const values = options.replacement(info.name);
        if (values === undefined) continue;
        if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
          throw new Error(`Tensor ${info.name} is stored as ${info.dtype}; only F32, F16 and BF16 tensors can be replaced.`);
        }
        checkLength(info.name, values, info.shape);
        await handle.write(float32ToBytes(values, info.dtype), 0, undefined, info.begin);
        replaced++;
      }
      await handle.sync();
    } finally {
      await handle.close();
      reader.close();
    }
    files.push(name);
  }
  return { files, replaced };
}

async function writeLlama2c(
  source: Extract<ModelSource, { format: 'llama2c' }>,
  partial: string,
  options: WriteOptions,
): Promise<{ files: string[]; replaced: number }> {
  const name = basename(source.checkpoint);
  const output = join(partial, name);
  await copyFile(source.checkpoint, output);
  const handle = await open(output, 'r+');
  let replaced = 0;
  try {
    const headerBytes = Buffer.alloc(LLAMA2C_HEADER_BYTES);
    await handle.read(headerBytes, 0, LLAMA2C_HEADER_BYTES, 0);
    const layout = llama2cLayout(parseLlama2cHeader(headerBytes, source.checkpoint));
    for (const tensor of layout.tensors.values()) {
      if (tensor.name.startsWith('freq_cis')) continue;
      const values = options.replacement(tensor.name);
      if (values === undefined) continue;
      checkLength(tensor.name, values, tensor.shape);
      await handle.write(float32ToBytes(values, 'F32'), 0, undefined, tensor.offset);
      replaced++;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  const tokenizerName = basename(source.tokenizer);
  await copyFile(source.tokenizer, join(partial, tokenizerName));
  return { files: [name, tokenizerName], replaced };
}

/** Removes the temporary folder; a failure here is logged, because the write error is the one to report. */
async function removePartial(partial: string): Promise<void> {
  try {
    await rm(partial, { recursive: true, force: true });
  } catch (error) {
    // ENOTDIR means the folder was never created because a parent is a file.
    if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') log.error({ path: partial, err: error }, 'removing the partial output failed');
  }
}

function checkLength(name: string, values: Float32Array, shape: number[]): void {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new Error(`Replacement for ${name} has ${values.length} values but its shape [${shape.join(', ')}] needs ${expected}.`);
  }
}

/** Renames `partial` to `target`; an existing target is moved aside first and removed only after the rename. */
async function moveIntoPlace(partial: string, target: string): Promise<void> {
  if (!existsSync(target)) {
    await rename(partial, target);
    return;
  }
  if (!statSync(target).isDirectory()) {
    throw Object.assign(new Error(`${target} is a file, not a folder.`), { code: 'ENOTDIR' });
  }
  const previous = `${partial}.previous`;
  await rename(target, previous);
  try {
    await rename(partial, target);
  } catch (error) {
    await rename(previous, target);
    throw error;
  }
  await rm(previous, { recursive: true, force: true });
}

/** Wraps a file-system error with the folder and what to do about it. */
function writeError(target: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const detail = (error as Error).message ?? String(error);
  let fix = '';
  if (code === 'ENOSPC') fix = 'The disk is full: free space or choose a folder on another disk.';
  else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') fix = 'The location is not writable: choose a writable folder.';
  else if (code === 'ENOTDIR' || code === 'EEXIST') fix = 'A file is in the way of the folder path: choose another output folder.';
  const advice = fix ? ` ${fix}` : '';
  return new Error(`Writing the pruned model to ${target} failed (${detail}).${advice} The partial output was removed.`, { cause: error });
}
