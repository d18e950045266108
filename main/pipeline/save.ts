/**
 * The output folder of a run: the pruned model in the input's format plus
 * `pruning_report.json`. Pruned weights are read back from the run folder's
 * per-block checkpoints one block at a time, so memory stays bounded by a
 * block. The folder is assembled under a temporary name beside the final one
 * and renamed into place only when complete.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Method } from '../../shared/targets.js';
import type { LoadedModel } from '../model/load.js';
import { blockFile } from './checkpoint.js';
import { throwIfCancelled } from './evaluate.js';
import type { LayerRecord, Targets } from './settings.js';

/** Contents of `pruning_report.json`. */
export interface PruningReport {
  method: Method;
  targets: Targets;
  layers: LayerRecord[];
  /** Null where evaluation was skipped. */
  perplexity: { dense: number | null; pruned: number | null };
  calibration: { file: string; sha256: string; samples: number; seqLen: number; sampling: 'consecutive' | 'random'; seed: number };
  evaluation: { file: string; seqLen: number } | null;
  model: string;
  engineVersion: string;
  /** Engine backend that ran the solvers. */
  backend: string;
  /** Seconds from the start of the run until saving began. */
  seconds: number;
  overallSparsity: number;
}

export async function saveOutput(loaded: LoadedModel, out: string, runDir: string, report: PruningReport, overwrite: boolean, signal?: AbortSignal): Promise<void> {
  // TODO: write the model in the input's format with writePrunedModel (main/model/write.ts), which does not exist yet.
  // Until then the output contains the pruned linears as the run folder's per-block safetensors files.
  const partial = join(dirname(out), `.${Date.now()}-${process.pid}.partial`);
  await mkdir(partial, { recursive: true });
  try {
    for (let block = 0; block < loaded.model.summary.blocks; block++) {
      throwIfCancelled(signal);
      await copyFile(join(runDir, blockFile(block)), join(partial, blockFile(block)));
    }
    await writeFile(join(partial, 'pruning_report.json'), `${JSON.stringify(report, null, 1)}\n`);
    if (overwrite && existsSync(out)) await rm(out, { recursive: true, force: true });
    await rename(partial, out);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}
