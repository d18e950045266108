/**
 * Tensor access across the safetensors files of a Hugging Face folder: one
 * `model.safetensors`, or the shards listed in `model.safetensors.index.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SafetensorsFile, type TensorInfo } from '../../io/safetensors.js';
import type { TensorRef, WeightSource } from '../transformer.js';
import { assertFinite, assertShape } from '../weights.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export class HuggingFaceWeights implements WeightSource {
  private constructor(
    readonly folder: string,
    /** Open weight files, sorted by file name. */
    readonly files: SafetensorsFile[],
    private readonly fileOf: Map<string, SafetensorsFile>,
    /** The index path, or null for a single file. */
    readonly index: string | null,
  ) {}

  /** Opens the weight files of `folder` and validates every header. */
  static open(folder: string): HuggingFaceWeights {
    const indexPath = join(folder, INDEX_FILE);
    const singlePath = join(folder, SINGLE_FILE);
    let fileNames: string[];
    let indexFile: string | null = null;
    let weightMap: Record<string, string> | null = null;
    if (existsSync(indexPath)) {
      indexFile = indexPath;
      weightMap = readWeightMap(indexPath);
      fileNames = [...new Set(Object.values(weightMap))].sort();
    } else if (existsSync(singlePath)) {
      fileNames = [SINGLE_FILE];
    } else {
      throw new Error(
        `Folder ${folder} has neither ${SINGLE_FILE} nor ${INDEX_FILE}: only safetensors weights are supported (convert .bin or .pth weights with the safetensors converter).`,
      );
    }

    const files: SafetensorsFile[] = [];
    const fileOf = new Map<string, SafetensorsFile>();
    try {
      for (const name of fileNames) {
        const file = SafetensorsFile.open(join(folder, name));
        files.push(file);
        for (const tensor of file.names()) {
          if (weightMap && weightMap[tensor] !== name) continue;
          fileOf.set(tensor, file);
        }
      }
      if (weightMap) {
        for (const [tensor, name] of Object.entries(weightMap)) {
          if (!fileOf.has(tensor)) throw new Error(`${indexPath} maps ${tensor} to ${name}, but that file has no such tensor.`);
        }
      }
    } catch (error) {
      for (const file of files) file.close();
      throw error;
    }
    return new HuggingFaceWeights(folder, files, fileOf, indexFile);
  }

  has(name: string): boolean {
    return this.fileOf.has(name);
  }

  /** Stored dtype, shape and file of `name`. */
  info(name: string): TensorInfo & { file: string } {
    const file = this.fileOf.get(name);
    if (!file) {
      throw new Error(`Tensor ${name} is missing from the weights in ${this.folder}: the weight files do not match config.json.`);
    }
    return { ...file.info(name), file: file.path };
  }

  /** Checks that `ref` exists with the shape that config.json implies. */
  checkShape(ref: TensorRef): void {
    const info = this.info(ref.name);
    assertShape(info.shape, ref, info.file, 'the weights do not match config.json.');
  }

  read(ref: TensorRef): Float32Array {
    this.checkShape(ref);
    const file = this.fileOf.get(ref.name)!;
    const values = file.readFloat32(ref.name);
    assertFinite(values, ref.name, file.path);
    return values;
  }

  close(): void {
    for (const file of this.files) file.close();
  }
}

function readWeightMap(indexPath: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (error) {
    throw new Error(`${indexPath} is not valid JSON (${(error as Error).message}).`);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  const valid =
    typeof weightMap === 'object' && weightMap !== null && Object.values(weightMap).every((file) => typeof file === 'string' && !file.includes('/'));
  if (!valid) throw new Error(`${indexPath} has no valid weight_map of tensor names to shard file names.`);
  return weightMap as Record<string, string>;
}
