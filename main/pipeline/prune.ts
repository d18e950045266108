/**
 * Block-by-block pruning in the standard sequential order:
 *
 * 1. block k's inputs X are the outputs of the already-pruned blocks 0..k−1
 *    (the embeddings for block 0);
 * 2. one forward pass of the dense block collects every linear's input and
 *    accumulates H = XᵀX in float64, one H per input group;
 * 3. each input group goes to the engine with its target. A solve takes one
 *    target, so a group that mixes attention and MLP linears is split by
 *    kind. The groups of a block are solved concurrently in the engine's
 *    worker pool;
 * 4. the pruned weights are set and the block's outputs recomputed with them:
 *    they are block k+1's inputs;
 * 5. the run folder gets block k's checkpoint.
 *
 * The embedding, the norms and the classifier are not pruned.
 */
import type { LayerGroup, LayerResult } from '../engine/types.js';
import type { CausalLM, LinearInfo } from '../model/types.js';
import { formatTarget, type Method, type Target } from '../../shared/targets.js';
import { moduleLogger } from '../log.js';
import { saveBlock, type PrunedLinear, type RunState } from './checkpoint.js';
import { PIPELINE_DEFAULTS, windowsPerChunk } from './defaults.js';
import { forwardInChunks, throwIfCancelled } from './evaluate.js';
import type { PipelineEvent } from './events.js';
import { HessianAccumulator } from './hessian.js';
import { ProgressEstimator } from './progress.js';
import type { LayerRecord } from './settings.js';
import type { PipelineEngine } from './index.js';

const log = moduleLogger('pipeline');

export interface BlockPruneOptions {
  model: CausalLM;
  engine: PipelineEngine;
  method: Method;
  targets: { attention: Target; mlp: Target };
  runDir: string;
  /** Run folder state. Blocks before `state.manifest.finishedBlocks` are done. */
  state: RunState;
  /** Inputs of block `state.manifest.finishedBlocks`, [samples·seqLen, hidden]. */
  inputs: Float32Array;
  samples: number;
  seqLen: number;
  emit: (event: PipelineEvent) => void;
  signal?: AbortSignal;
}

/** Linears of block `block`, in forward order, with that block's tensor names. */
export type BlockLinears = (block: number) => LinearInfo[];

/** Prunes the blocks after the last checkpoint and returns the layer records of every block, in forward order. */
export async function pruneBlocks(options: BlockPruneOptions, linearsOf: BlockLinears): Promise<LayerRecord[]> {
  const { model, engine, method, targets, runDir, state, samples, seqLen, emit, signal } = options;
  const { blocks, hidden } = model.summary;
  const sizeOf = (block: number): number => linearsOf(block).reduce((sum, linear) => sum + linear.rows * linear.cols, 0);

  let total = 0;
  for (let block = 0; block < blocks; block++) total += sizeOf(block);
  const progress = new ProgressEstimator(total);
  for (let block = 0; block < state.manifest.finishedBlocks; block++) progress.restore(sizeOf(block));

  const chunkWindows = windowsPerChunk(PIPELINE_DEFAULTS.forwardChunkTokens, seqLen, 1);
  let x = options.inputs;
  let secondsSoFar = state.manifest.seconds;

  for (let block = state.manifest.finishedBlocks; block < blocks; block++) {
    throwIfCancelled(signal);
    const blockStarted = performance.now();
    emit({ type: 'block-started', time: Date.now(), block, blocks });
    const linears = linearsOf(block);

    await model.loadBlock(block);
    try {
      // Step 2: one dense forward collects each input group's H.
      const accumulators = new Map<string, HessianAccumulator>();
      await forwardInChunks(model, block, x, seqLen, samples, chunkWindows, signal, (group, input, tokens) => {
        let accumulator = accumulators.get(group);
        if (!accumulator) {
          accumulator = new HessianAccumulator(input.length / tokens);
          accumulators.set(group, accumulator);
        }
        accumulator.add(input, tokens, signal);
      });

      // Step 3: solve the groups concurrently.
      const groups = groupLinears(linears, targets);
      const solved = await Promise.all(
        groups.map(async ({ target, members }) => {
          const accumulator = accumulators.get(members[0]!.inputGroup);
          if (!accumulator) throw new Error(`Block ${block}: the forward pass captured no input for group "${members[0]!.inputGroup}".`);
          const group: LayerGroup = {
            cols: accumulator.cols,
            // Every group that shares this input gets the same H; a copy keeps them independent if the engine transfers it.
            H: accumulator.finish().slice(),
            layers: members.map((linear) => ({ name: linear.name, rows: linear.rows, W: model.getLinear(linear.name).slice() })),
          };
          for (const linear of members) {
            emit({ type: 'layer-started', time: Date.now(), block, name: linear.name, kind: linear.kind, target: formatTarget(target) });
          }
          const results = await engine.solveGroup(group, {
            method,
            target,
            signal,
            onIteration: (event) => emit({ type: 'iteration', time: Date.now(), block, ...event, layer: event.layer }),
          });
          return results.map((result) => {
            const linear = members.find((member) => member.name === result.name);
            if (!linear) throw new Error(`The engine returned layer "${result.name}", which block ${block} does not contain.`);
            progress.complete(linear.rows * linear.cols);
            const record = layerRecord(block, linear, target, result);
            emit({ type: 'layer-finished', time: Date.now(), ...record, progress: progress.progress, secondsLeft: progress.secondsLeft });
            log.info({ layer: record.name, relativeError: record.relativeError, sparsity: record.sparsity, seconds: record.seconds }, 'layer pruned');
            return { linear, result, record };
          });
        }),
      );
      throwIfCancelled(signal);

      // Step 4: set the pruned weights and recompute the block's outputs.
      const order = new Map(linears.map((linear, index) => [linear.name, index]));
      const done = solved.flat().sort((a, b) => order.get(a.linear.name)! - order.get(b.linear.name)!);
      for (const { linear, result } of done) model.setLinear(linear.name, result.W);
      x = await forwardInChunks(model, block, x, seqLen, samples, chunkWindows, signal);

      // Step 5: checkpoint.
      state.layers.push(...done.map(({ record }) => record));
      const pruned: PrunedLinear[] = done.map(({ linear, result }) => ({ name: linear.name, rows: linear.rows, cols: linear.cols, W: result.W }));
      const blockSeconds = (performance.now() - blockStarted) / 1000;
      secondsSoFar += blockSeconds;
      await saveBlock(runDir, state, block, pruned, { x, tokens: samples * seqLen, hidden }, secondsSoFar);
      emit({ type: 'block-finished', time: Date.now(), block, blocks, seconds: blockSeconds, progress: progress.progress, secondsLeft: progress.secondsLeft });
      log.info({ block, blocks, seconds: blockSeconds }, 'block pruned');
    } finally {
      model.releaseBlock(block);
    }
  }
  return state.layers;
}

interface SolveGroup {
  target: Target;
  members: LinearInfo[];
}

/** Groups a block's linears by shared input and kind, in forward order of each group's first member. */
export function groupLinears(linears: LinearInfo[], targets: { attention: Target; mlp: Target }): SolveGroup[] {
  const groups = new Map<string, SolveGroup>();
  for (const linear of linears) {
    const key = `${linear.inputGroup}\u0000${linear.kind}`;
    let group = groups.get(key);
    if (!group) {
      group = { target: targets[linear.kind], members: [] };
      groups.set(key, group);
    }
    group.members.push(linear);
  }
  return [...groups.values()];
}

function layerRecord(block: number, linear: LinearInfo, target: Target, result: LayerResult): LayerRecord {
  return {
    name: linear.name,
    kind: linear.kind,
    block,
    target: formatTarget(target),
    relativeError: result.relativeError,
    sparsity: result.sparsity,
    seconds: result.seconds,
    iterations: result.iterations,
  };
}

/** Zeros over all entries of the pruned linears, from each layer's sparsity and size. */
export function overallSparsity(records: LayerRecord[], sizeOf: (name: string) => number): number {
  let zeros = 0;
  let entries = 0;
  for (const record of records) {
    const size = sizeOf(record.name);
    zeros += record.sparsity * size;
    entries += size;
  }
  return entries === 0 ? 0 : zeros / entries;
}
