/**
 * Applies one run's pipeline events to the store (progress, per-layer
 * results, perplexity, the event log) and forwards each event to the bus.
 */
import type { PipelineEventData } from '../../shared/ipc.js';
import type { Store } from '../store/index.js';
import type { EventBus } from './event-bus.js';

export function recordEvent(store: Store, bus: EventBus, runId: string, event: PipelineEventData): void {
  store.eventWriter.append(runId, event);

  switch (event.type) {
    case 'run-started':
      // A resumed run solves the blocks from `startBlock` again; drop their old results.
      store.layers.deleteFromBlock(runId, event.startBlock);
      store.runs.update(runId, { blocks: event.blocks, blocksDone: event.startBlock });
      break;
    case 'layer-finished':
      store.layers.upsert(runId, {
        block: event.block,
        name: event.name,
        kind: event.kind,
        target: event.target,
        relativeError: event.relativeError,
        sparsity: event.sparsity,
        seconds: event.seconds,
        iterations: event.iterations,
      });
      store.runs.update(runId, { progress: event.progress, secondsLeft: event.secondsLeft });
      break;
    case 'block-finished':
      store.runs.update(runId, {
        blocksDone: event.block + 1,
        blocks: event.blocks,
        progress: event.progress,
        secondsLeft: event.secondsLeft,
      });
      break;
    case 'evaluation-finished':
      store.runs.update(runId, event.model === 'dense' ? { densePerplexity: event.perplexity } : { prunedPerplexity: event.perplexity });
      break;
    case 'run-finished':
      store.runs.update(runId, { overallSparsity: event.overallSparsity, progress: 1, secondsLeft: 0 });
      break;
    default:
      break;
  }

  bus.emit('run.event', { runId, event });
}
