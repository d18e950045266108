/**
 * Events of one pruning run, in the order they occur. Every event is a plain
 * JSON object (numbers, strings, null, arrays), so the run manager can store
 * it in SQLite and forward it unchanged to the window or the browser.
 *
 * `progress` is the fraction of the pruning work done, weighted by layer size
 * (rows × cols). `secondsLeft` is an estimate that extrapolates the seconds
 * spent per unit of that work so far. It is null until one layer has finished.
 */
import type { Method } from '../../shared/targets.js';

/** Per-kind targets as users write them ("0.7", "2:4"). */
export interface TargetLabels {
  default: string;
  attention?: string;
  mlp?: string;
}

export type PipelineEvent =
  | {
      type: 'run-started';
      /** Milliseconds since the Unix epoch. */
      time: number;
      model: string;
      method: Method;
      targets: TargetLabels;
      blocks: number;
      /** Linears pruned in the whole model. */
      layers: number;
      /** First block this process prunes: 0, or the block after the last checkpoint on resume. */
      startBlock: number;
      runDir: string;
    }
  | { type: 'block-started'; time: number; block: number; blocks: number }
  | { type: 'layer-started'; time: number; block: number; name: string; kind: 'attention' | 'mlp'; target: string }
  | {
      type: 'iteration';
      time: number;
      block: number;
      layer: string;
      iteration: number;
      rho: number;
      supportChange: number;
      objective: number;
    }
  | {
      type: 'layer-finished';
      time: number;
      block: number;
      name: string;
      kind: 'attention' | 'mlp';
      target: string;
      relativeError: number;
      sparsity: number;
      seconds: number;
      iterations: number | null;
      progress: number;
      secondsLeft: number | null;
    }
  | { type: 'block-finished'; time: number; block: number; blocks: number; seconds: number; progress: number; secondsLeft: number | null }
  | { type: 'evaluation-started'; time: number; model: 'dense' | 'pruned'; windows: number }
  | { type: 'evaluation-finished'; time: number; model: 'dense' | 'pruned'; perplexity: number; seconds: number }
  | { type: 'saving-started'; time: number; out: string }
  | { type: 'run-finished'; time: number; seconds: number; out: string; overallSparsity: number }
  | { type: 'run-cancelled'; time: number; seconds: number }
  | { type: 'run-failed'; time: number; seconds: number; error: { name: string; message: string; code: string | null } };

export type PipelineEventType = PipelineEvent['type'];
