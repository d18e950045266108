import type { RunDetail, RunStatus, RunSummary } from '../../../../shared/ipc.js';
import type { AppManager } from './app.svelte.js';
import type { ProgressManager } from './progress.svelte.js';

export type SortField = 'createdAt' | 'name' | 'status' | 'method' | 'prunedPerplexity' | 'overallSparsity';

function sortValue(run: RunSummary, field: SortField): number | string {
  switch (field) {
    case 'createdAt':
      return run.createdAt;
    case 'name':
      return run.name.toLowerCase();
    case 'status':
      return run.status;
    case 'method':
      return run.settings.method;
    case 'prunedPerplexity':
      return run.metrics.prunedPerplexity ?? Number.POSITIVE_INFINITY;
    case 'overallSparsity':
      return run.metrics.overallSparsity ?? -1;
  }
}

/**
 * Every stored run, with the History screen's sort and filter, the run
 * opened on the Results screen, and the actions on one run.
 */
export class HistoryManager {
  #runs = $state<RunSummary[]>([]);
  #detail = $state<RunDetail | null>(null);
  sortField = $state<SortField>('createdAt');
  sortAscending = $state(false);
  /** Case-insensitive text matched against the name, notes, method and target. */
  filterText = $state('');
  filterStatus = $state<RunStatus | 'all'>('all');

  #visible = $derived.by(() => {
    const text = this.filterText.trim().toLowerCase();
    const matches = (run: RunSummary) =>
      (this.filterStatus === 'all' || run.status === this.filterStatus) &&
      (text === '' || [run.name, run.notes, run.settings.method, run.settings.target].some((value) => value.toLowerCase().includes(text)));
    const direction = this.sortAscending ? 1 : -1;
    return this.#runs.filter(matches).sort((a, b) => {
      const left = sortValue(a, this.sortField);
      const right = sortValue(b, this.sortField);
      if (left < right) return -direction;
      if (left > right) return direction;
      return 0;
    });
  });

  constructor(
    private readonly app: AppManager,
    private readonly progress: ProgressManager,
  ) {}

  get runs(): RunSummary[] {
    return this.#runs;
  }

  get visible(): RunSummary[] {
    return this.#visible;
  }

  /** The run shown on the Results screen. */
  get detail(): RunDetail | null {
    return this.#detail;
  }

  sortBy(field: SortField): void {
    if (this.sortField === field) this.sortAscending = !this.sortAscending;
    else {
      this.sortField = field;
      this.sortAscending = field === 'name';
    }
  }

  async refresh(): Promise<void> {
    const runs = await this.app.call('Loading the run history', 'runs.list', {});
    if (runs) this.#runs = runs;
  }

  async openResults(runId: string): Promise<void> {
    const detail = await this.app.call('Loading the run results', 'runs.get', { runId, eventLimit: 0 });
    if (!detail) return;
    this.#detail = detail;
    this.app.show('results');
  }

  /** Saves a new name, new notes or both, then reloads the list once. */
  async edit(runId: string, changes: { name?: string; notes?: string }): Promise<void> {
    if (changes.name !== undefined) {
      const name = changes.name.trim();
      if (name === '') {
        this.app.errors.report('Renaming the run', new Error('The new name is empty: type at least one character.'));
        return;
      }
      await this.app.call('Renaming the run', 'runs.rename', { runId, name });
    }
    if (changes.notes !== undefined) {
      await this.app.call('Saving the notes', 'runs.setNotes', { runId, notes: changes.notes });
    }
    await this.refresh();
  }

  async delete(runId: string, deleteFiles: boolean): Promise<void> {
    await this.app.call('Deleting the run', 'runs.delete', { runId, deleteFiles });
    if (this.#detail?.run.id === runId) this.#detail = null;
    await this.refresh();
  }

  async resume(runId: string): Promise<void> {
    const result = await this.app.call('Resuming the run', 'run.resume', { runId });
    if (result) this.progress.follow(result.id);
  }
}
