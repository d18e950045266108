import type { PipelineEventData, RunStatus } from '../../../../shared/ipc.js';

export type StepStatus = 'pending' | 'running' | 'done';

export interface LayerProgress {
  block: number;
  name: string;
  status: StepStatus;
  relativeError: number | null;
  sparsity: number | null;
  seconds: number | null;
}

export interface TracePoint {
  iteration: number;
  rho: number;
  objective: number;
  supportChange: number;
}

/** Log lines kept per run; older lines are dropped from the view. */
const MAX_LOG_LINES = 400;

/** Live state of one run, rebuilt from its pipeline events. */
export class LiveRun {
  status = $state<RunStatus>('running');
  /** Method and target as the run reports them when it starts; null while queued. */
  label = $state<string | null>(null);
  /** Fraction of the pruning work done, in [0, 1]. */
  fraction = $state(0);
  secondsLeft = $state<number | null>(null);
  blocks = $state<StepStatus[]>([]);
  layers = $state<LayerProgress[]>([]);
  /**
   * ADMM traces (ALPS only) of the layers in progress, by layer name. The
   * engine prunes several layers at once, one per worker, so there can be
   * several. A finished layer's trace stays until the next layer starts.
   */
  traces = $state<Record<string, TracePoint[]>>({});
  /** Layers being pruned now, in the order they started. */
  runningLayers = $derived(this.layers.filter((layer) => layer.status === 'running').map((layer) => layer.name));
  /** Traces to chart: those of the running layers that have one, else every trace kept. */
  visibleTraces = $derived.by(() => {
    const running = Object.entries(this.traces).filter(([name, points]) => points.length > 0 && this.runningLayers.includes(name));
    return running.length > 0 ? running : Object.entries(this.traces);
  });
  log = $state<string[]>([]);
  error = $state<string | null>(null);
  densePerplexity = $state<number | null>(null);
  prunedPerplexity = $state<number | null>(null);
  outputPath = $state<string | null>(null);

  constructor(readonly runId: string) {}

  apply(event: PipelineEventData): void {
    this.#log(event);
    switch (event.type) {
      case 'run-started':
        this.label = `${event.method} at ${event.targets.default}`;
        this.blocks = Array.from({ length: event.blocks }, (_, index) => (index < event.startBlock ? 'done' : 'pending'));
        break;
      case 'block-started':
        this.blocks[event.block] = 'running';
        break;
      case 'block-finished':
        this.blocks[event.block] = 'done';
        this.fraction = event.progress;
        this.secondsLeft = event.secondsLeft;
        break;
      case 'layer-started':
        // A replayed event can repeat one already applied, which must not add a second row.
        if (this.layers.some((layer) => layer.block === event.block && layer.name === event.name)) break;
        this.#dropFinishedTraces();
        this.traces[event.name] = [];
        this.layers.push({ block: event.block, name: event.name, status: 'running', relativeError: null, sparsity: null, seconds: null });
        break;
      case 'iteration':
        (this.traces[event.layer] ??= []).push({ iteration: event.iteration, rho: event.rho, objective: event.objective, supportChange: event.supportChange });
        break;
      case 'layer-finished': {
        const layer = this.layers.find((entry) => entry.block === event.block && entry.name === event.name);
        if (layer) {
          layer.status = 'done';
          layer.relativeError = event.relativeError;
          layer.sparsity = event.sparsity;
          layer.seconds = event.seconds;
        }
        this.fraction = event.progress;
        this.secondsLeft = event.secondsLeft;
        break;
      }
      case 'evaluation-finished':
        if (event.model === 'dense') this.densePerplexity = event.perplexity;
        else this.prunedPerplexity = event.perplexity;
        break;
      // The status itself comes from `run.status`, which the backend sends
      // after it stored the outcome, so the status shown is the stored one.
      case 'run-finished':
        this.fraction = 1;
        this.secondsLeft = null;
        this.outputPath = event.out;
        break;
      case 'run-cancelled':
        this.secondsLeft = null;
        break;
      case 'run-failed':
        this.secondsLeft = null;
        this.error = event.error.message;
        break;
      default:
        break;
    }
  }

  #dropFinishedTraces(): void {
    const running = new Set(this.runningLayers);
    for (const name of Object.keys(this.traces)) {
      if (!running.has(name)) delete this.traces[name];
    }
  }

  #log(event: PipelineEventData): void {
    if (event.type === 'iteration') return;
    const time = new Date(event.time).toLocaleTimeString();
    this.log.push(`${time}  ${describeEvent(event)}`);
    if (this.log.length > MAX_LOG_LINES) this.log.splice(0, this.log.length - MAX_LOG_LINES);
  }
}

/** Formats a pipeline event as one log line. */
export function describeEvent(event: PipelineEventData): string {
  switch (event.type) {
    case 'run-started':
      return `Run started: ${event.method} at ${event.targets.default} on ${event.model}, ${event.blocks} blocks, ${event.layers} layers, from block ${event.startBlock}`;
    case 'block-started':
      return `Block ${event.block} started (blocks 0 to ${event.blocks - 1})`;
    case 'layer-started':
      return `Layer ${event.name} (${event.kind}, target ${event.target}) started`;
    case 'layer-finished':
      return `Layer ${event.name}: relative error ${event.relativeError.toExponential(3)}, sparsity ${event.sparsity.toFixed(4)}, ${event.seconds.toFixed(2)} s`;
    case 'block-finished':
      return `Block ${event.block} finished in ${event.seconds.toFixed(1)} s`;
    case 'evaluation-started':
      return `Evaluating the ${event.model} model on ${event.windows} windows`;
    case 'evaluation-finished':
      return `Perplexity of the ${event.model} model: ${event.perplexity.toFixed(3)} (${event.seconds.toFixed(1)} s)`;
    case 'saving-started':
      return `Saving the pruned model to ${event.out}`;
    case 'run-finished':
      return `Run finished in ${event.seconds.toFixed(1)} s, overall sparsity ${event.overallSparsity.toFixed(4)}`;
    case 'run-cancelled':
      return `Run cancelled after ${event.seconds.toFixed(1)} s`;
    case 'run-failed':
      return `Run failed: ${event.error.message}`;
    case 'iteration':
      return `${event.layer} iteration ${event.iteration}: objective ${event.objective}, rho ${event.rho}`;
  }
}

