/**
 * The output folder of a run: the pruned model in the input's format plus
 * `pruning_report.json`, written by writePrunedModel (main/model/write.ts),
 * which assembles it under a temporary name and renames it into place once
 * complete. Pruned weights are read back from the run folder's per-block
 * checkpoints one block at a time, so memory stays bounded by a block.
 */
import type { Method } from '../../shared/targets.js';
import type { LoadedModel } from '../model/load.js';
import { writePrunedModel } from '../model/write.js';
import { readBlockWeights } from './checkpoint.js';
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
  throwIfCancelled(signal);
  const blockOf = new Map<string, number>();
  for (let block = 0; block < loaded.model.summary.blocks; block++) {
    for (const linear of loaded.model.linears(block)) blockOf.set(linear.name, block);
  }

  // The writer asks for tensors in file order, which may jump between blocks; one cached block keeps repeats cheap.
  let cached: { block: number; weights: Map<string, Float32Array> } | null = null;
  const replacement = (name: string): Float32Array | undefined => {
    const block = blockOf.get(name);
    if (block === undefined) return undefined;
    if (cached?.block !== block) cached = { block, weights: readBlockWeights(runDir, block) };
    return cached.weights.get(name);
  };

  await writePrunedModel(loaded, out, {
    replacement,
    extraFiles: [{ name: 'pruning_report.json', content: `${JSON.stringify(report, null, 1)}\n` }],
    overwrite,
  });
}
