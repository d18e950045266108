import type { ModelInfo, ResponseOf } from '../../../../shared/ipc.js';
import type { AppManager, DialogKind } from './app.svelte.js';

export type BundledDefaults = ResponseOf<'model.default'>;

/** The model the next run prunes, and its summary from the backend. */
export class ModelManager {
  #summary = $state<ModelInfo | null>(null);
  #loading = $state(false);
  /** Text of the path field; it may differ from the loaded model until Load is pressed. */
  path = $state('');

  constructor(private readonly app: AppManager) {}

  get summary(): ModelInfo | null {
    return this.#summary;
  }

  /** Linear names of block 0 in forward order; per-layer tables and charts sort by it. */
  get blockLinears(): string[] {
    return this.#summary?.linears.map((linear) => linear.name) ?? [];
  }

  get loading(): boolean {
    return this.#loading;
  }

  /**
   * Loads the bundled model and returns the paths of the bundled model and
   * texts, or undefined when the backend call failed.
   */
  async loadDefault(): Promise<BundledDefaults | undefined> {
    const defaults = await this.app.call('Finding the bundled model', 'model.default', {});
    if (defaults) await this.inspect(defaults.modelPath);
    return defaults;
  }

  async inspect(path: string): Promise<void> {
    const trimmed = path.trim();
    if (!trimmed) {
      this.app.errors.report('Loading the model', new Error('The model path is empty: type the path of a model file or folder.'));
      return;
    }
    this.#loading = true;
    try {
      const summary = await this.app.call(`Loading the model at ${trimmed}`, 'model.inspect', { path: trimmed });
      if (summary) this.#setSummary(summary);
    } finally {
      this.#loading = false;
    }
  }

  async pick(kind: DialogKind): Promise<void> {
    const path = await this.app.pickPath(kind, this.path || undefined);
    if (path) await this.inspect(path);
  }

  #setSummary(summary: ModelInfo): void {
    this.#summary = summary;
    this.path = summary.path;
  }
}
