import type { Comparison } from '../../../../shared/ipc.js';
import type { AppManager } from './app.svelte.js';

/** Runs picked on the Compare screen, their comparison, and the exports. */
export class CompareManager {
  #selected = $state<string[]>([]);
  #comparison = $state<Comparison | null>(null);

  constructor(private readonly app: AppManager) {}

  get selected(): string[] {
    return this.#selected;
  }

  get comparison(): Comparison | null {
    return this.#comparison;
  }

  /** Comparing needs at least two runs. */
  get ready(): boolean {
    return this.#selected.length >= 2;
  }

  toggle(runId: string): void {
    this.#selected = this.#selected.includes(runId) ? this.#selected.filter((id) => id !== runId) : [...this.#selected, runId];
  }

  async compare(): Promise<void> {
    if (!this.ready) return;
    const comparison = await this.app.call('Comparing the runs', 'runs.compare', { runIds: this.#selected });
    if (comparison) this.#comparison = comparison;
  }

  /**
   * Exports the selected runs and saves the returned text as a browser
   * download.
   * NOTE: tried in Chromium against the web mode only, not in the Electron window.
   */
  async export(format: 'csv' | 'json'): Promise<void> {
    const result = await this.app.call(`Exporting the runs as ${format.toUpperCase()}`, 'runs.export', { runIds: this.#selected, format });
    if (!result) return;
    const url = URL.createObjectURL(new Blob([result.content], { type: result.mimeType }));
    const link = document.createElement('a');
    link.href = url;
    link.download = result.filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
