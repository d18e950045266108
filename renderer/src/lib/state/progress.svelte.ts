import type { EventPayload, PipelineEventData } from '../../../../shared/ipc.js';
import type { AppManager } from './app.svelte.js';
import { LiveRun } from './live-run.svelte.js';
import type { RunFormManager } from './run-form.svelte.js';

/**
 * Stored events replayed when following a run that started before the page
 * loaded. ALPS stores an event per support check, so a long run keeps only
 * the newest part of its ADMM traces.
 */
const ATTACH_EVENT_LIMIT = 20_000;

/**
 * Starts runs (one per target of a sweep) and follows their events. The
 * Progress screen shows `current`: the sweep's running run, or its last run
 * once all have ended.
 */
export class ProgressManager {
  #runs = $state<LiveRun[]>([]);
  #starting = $state(false);
  /** Live events of runs being attached, by run id, held until their stored events are loaded. */
  #attaching = new Map<string, PipelineEventData[]>();
  #current = $derived(this.#runs.find((run) => run.status === 'running') ?? this.#runs.at(-1) ?? null);

  constructor(private readonly app: AppManager) {}

  get runs(): LiveRun[] {
    return this.#runs;
  }

  get current(): LiveRun | null {
    return this.#current;
  }

  get starting(): boolean {
    return this.#starting;
  }

  get active(): boolean {
    return this.#runs.some((run) => run.status === 'running');
  }

  /** Subscribes to the backend's run events; returns the function that unsubscribes. */
  connect(): () => void {
    const offEvent = this.app.transport.on('run.event', (payload) => this.#onEvent(payload));
    const offStatus = this.app.transport.on('run.status', (payload) => this.#onStatus(payload));
    return () => {
      offEvent();
      offStatus();
    };
  }

  async start(form: RunFormManager): Promise<boolean> {
    if (!form.valid || this.#starting) return false;
    this.#starting = true;
    try {
      const result = await this.app.call('Starting the run', 'run.start', { settings: form.toRequest() });
      if (!result) return false;
      this.#runs = result.runIds.map((runId) => new LiveRun(runId));
      this.app.show('progress');
      return true;
    } finally {
      this.#starting = false;
    }
  }

  /**
   * Follows a run that is already running, such as one started before this
   * page was loaded. The run's stored events rebuild its state first.
   */
  async attach(runId: string): Promise<void> {
    if (this.#runs.some((run) => run.runId === runId) || this.#attaching.has(runId)) return;

    // Live events that arrive while the stored ones load are held back and
    // applied after them, minus those the store already returned.
    const heldEvents: PipelineEventData[] = [];
    this.#attaching.set(runId, heldEvents);
    try {
      const detail = await this.app.call('Loading the running run', 'runs.get', { runId, eventLimit: ATTACH_EVENT_LIMIT });
      if (!detail) return;
      const run = new LiveRun(runId);
      const stored = detail.events.map((entry) => entry.event);
      for (const event of stored) run.apply(event);
      const storedTail = new Set(stored.slice(-heldEvents.length - 1).map((event) => JSON.stringify(event)));
      for (const event of heldEvents) {
        if (!storedTail.has(JSON.stringify(event))) run.apply(event);
      }
      run.status = detail.run.status;
      this.#runs = [run];
    } finally {
      this.#attaching.delete(runId);
    }
  }

  /** Follows a run that another action started, such as a resumed run. */
  follow(runId: string): void {
    this.#runs = [new LiveRun(runId)];
    this.app.show('progress');
  }

  /** Cancels every run of the sweep that has not ended. */
  async cancel(): Promise<void> {
    for (const run of this.#runs) {
      if (run.status === 'running') await this.app.call('Cancelling the run', 'run.cancel', { runId: run.runId });
    }
  }

  #onEvent(payload: EventPayload<'run.event'>): void {
    this.#attaching.get(payload.runId)?.push(payload.event);
    const run = this.#runs.find((entry) => entry.runId === payload.runId);
    run?.apply(payload.event);
  }

  #onStatus(payload: EventPayload<'run.status'>): void {
    const run = this.#runs.find((entry) => entry.runId === payload.runId);
    if (!run) return;
    run.status = payload.status;
    if (payload.status !== 'running') run.secondsLeft = null;
    if (payload.status === 'failed' && payload.error) run.error = payload.error.message;
  }
}
