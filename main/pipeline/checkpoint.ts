/**
 * The run folder, which lets a killed run resume from its last finished block.
 *
 * Layout (every file written to a temporary name, synced, then renamed):
 * - `settings.json`: what determines the pruned weights (model, method,
 *   targets, calibration, backend). A resume with other settings is rejected.
 * - `block-00003.safetensors`: block 3's pruned linears, float32.
 * - `activations-00003.safetensors`: tensor `x` [tokens, hidden], float32,
 *   the pruned block 3's outputs, which are block 4's inputs.
 * - `layers.json`: the per-layer records of all finished blocks.
 * - `manifest.json`: written last after each block, so it only ever names
 *   files that are complete. Activations of earlier blocks are deleted after
 *   the manifest moves past them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../engine/types.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import type { LayerRecord } from './settings.js';

const MANIFEST_VERSION = 1;

export interface RunManifest {
  version: number;
  /** Blocks of the model. */
  blocks: number;
  /** Blocks 0 .. finishedBlocks−1 are pruned and saved. */
  finishedBlocks: number;
  /** Activation file entering block `finishedBlocks`; null before block 0 finished. */
  activations: string | null;
  /** Seconds spent pruning in all processes of this run so far. */
  seconds: number;
}

/** Settings that determine the pruned weights. A resume with any difference is rejected. */
export type RunFingerprint = Record<string, string | number | boolean | null | Record<string, unknown>>;

export interface PrunedLinear {
  name: string;
  rows: number;
  cols: number;
  W: Float32Array;
}

export interface RunState {
  manifest: RunManifest;
  layers: LayerRecord[];
}

export function blockFile(block: number): string {
  return `block-${String(block).padStart(5, '0')}.safetensors`;
}

function activationFile(block: number): string {
  return `activations-${String(block).padStart(5, '0')}.safetensors`;
}

/** Writes JSON to `path` through a synced temporary file and a rename. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 1)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/**
 * Prepares `dir` for a new run, or reads its state to resume. A new run
 * rejects a folder that already contains a run. A resume rejects a folder
 * without one or with different settings.
 */
export async function openRunFolder(dir: string, fingerprint: RunFingerprint, blocks: number, resume: boolean): Promise<RunState> {
  const manifestPath = join(dir, 'manifest.json');
  if (resume) {
    if (!existsSync(manifestPath)) {
      throw new InvalidInputError(
        `Run folder ${dir} has no manifest.json, so there is nothing to resume: check the path, or start a new run without --resume.`,
      );
    }
    const saved = await readJson<RunFingerprint>(join(dir, 'settings.json'));
    const differences = compareFingerprints(saved, fingerprint);
    if (differences.length > 0) {
      throw new InvalidInputError(
        `Cannot resume ${dir}: its settings differ from this run's (${differences.join('; ')}). ` +
          'Resume with the original settings, or start a new run in another --run-dir.',
      );
    }
    const manifest = await readJson<RunManifest>(manifestPath);
    if (manifest.version !== MANIFEST_VERSION || manifest.blocks !== blocks) {
      throw new InvalidInputError(`Run folder ${dir} has manifest version ${manifest.version} for ${manifest.blocks} blocks, which this run cannot resume.`);
    }
    return { manifest, layers: await readJson<LayerRecord[]>(join(dir, 'layers.json')) };
  }

  if (existsSync(manifestPath)) {
    throw new InvalidInputError(
      `Run folder ${dir} already contains a run: pass --resume ${dir} to continue it, or remove the folder or choose another --run-dir.`,
    );
  }
  await mkdir(dir, { recursive: true });
  const manifest: RunManifest = { version: MANIFEST_VERSION, blocks, finishedBlocks: 0, activations: null, seconds: 0 };
  await writeJsonAtomic(join(dir, 'settings.json'), fingerprint);
  await writeJsonAtomic(join(dir, 'layers.json'), []);
  await writeJsonAtomic(manifestPath, manifest);
  return { manifest, layers: [] };
}

/** Lists `key: saved → current` for every top-level setting that differs. */
export function compareFingerprints(saved: RunFingerprint, current: RunFingerprint): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  const differences: string[] = [];
  for (const key of [...keys].sort()) {
    const before = JSON.stringify(saved[key] ?? null);
    const now = JSON.stringify(current[key] ?? null);
    if (before !== now) differences.push(`${key}: ${before} → ${now}`);
  }
  return differences;
}

/**
 * Saves a finished block: its pruned linears, the activations entering the
 * next block and the layer records, then the manifest. Returns the new manifest.
 */
export async function saveBlock(
  dir: string,
  state: RunState,
  block: number,
  linears: PrunedLinear[],
  next: { x: Float32Array; tokens: number; hidden: number },
  seconds: number,
): Promise<RunManifest> {
  await writeSafetensors(
    join(dir, blockFile(block)),
    linears.map((linear) => ({ name: linear.name, dtype: 'F32' as const, shape: [linear.rows, linear.cols], data: linear.W })),
  );
  const activations = activationFile(block);
  await writeSafetensors(join(dir, activations), [{ name: 'x', dtype: 'F32', shape: [next.tokens, next.hidden], data: next.x }]);
  await writeJsonAtomic(join(dir, 'layers.json'), state.layers);

  const previous = state.manifest.activations;
  const manifest: RunManifest = { ...state.manifest, finishedBlocks: block + 1, activations, seconds };
  await writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  state.manifest = manifest;
  if (previous !== null && previous !== activations) await rm(join(dir, previous), { force: true });
  return manifest;
}

/** Reads the activations entering block `manifest.finishedBlocks`. */
export function readActivations(dir: string, manifest: RunManifest): Float32Array {
  if (manifest.activations === null) throw new Error(`Run folder ${dir} has no saved activations yet.`);
  const file = SafetensorsFile.open(join(dir, manifest.activations));
  try {
    return file.readFloat32('x');
  } finally {
    file.close();
  }
}

/** Reads block `block`'s pruned linears from the run folder, by tensor name. */
export function readBlockWeights(dir: string, block: number): Map<string, Float32Array> {
  const file = SafetensorsFile.open(join(dir, blockFile(block)));
  try {
    return new Map(file.names().map((name) => [name, file.readFloat32(name)]));
  } finally {
    file.close();
  }
}
