import type { Transport } from '../transport.js';
import { AppManager } from './app.svelte.js';
import { CompareManager } from './compare.svelte.js';
import { HistoryManager } from './history.svelte.js';
import { ModelManager } from './model.svelte.js';
import { ProgressManager } from './progress.svelte.js';
import { RunFormManager } from './run-form.svelte.js';

/** Every manager of the window, created once at start and handed to the screens. */
export class Studio {
  readonly app: AppManager;
  readonly model: ModelManager;
  readonly form: RunFormManager;
  readonly progress: ProgressManager;
  readonly history: HistoryManager;
  readonly compare: CompareManager;

  constructor(transport: Transport) {
    this.app = new AppManager(transport);
    this.model = new ModelManager(this.app);
    this.form = new RunFormManager(this.model);
    this.progress = new ProgressManager(this.app);
    this.history = new HistoryManager(this.app, this.progress);
    this.compare = new CompareManager(this.app);
  }

  /**
   * Subscribes to run events, then loads the version information, the run
   * history and the bundled model, whose calibration and evaluation files
   * prefill the New run form. A run already in progress shows on the
   * Progress screen. Returns the function that unsubscribes.
   */
  start(): () => void {
    const disconnect = this.progress.connect();
    // A run that ended changes the history, so the list is reloaded.
    const offStatus = this.app.transport.on('run.status', (payload) => {
      if (payload.status !== 'running') void this.history.refresh();
    });
    void this.app.loadInfo();
    void this.history.refresh().then(() => {
      const running = this.history.runs.find((run) => run.status === 'running');
      if (running) void this.progress.attach(running.id);
    });
    void this.model.loadDefault().then((defaults) => {
      if (!defaults) return;
      this.form.calibrationPath ||= defaults.calibrationFile;
      this.form.evaluationPath ||= defaults.evalFile;
      this.form.outputDir ||= defaults.outDir;
    });
    return () => {
      offStatus();
      disconnect();
    };
  }
}
