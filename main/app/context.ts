/**
 * The app's back end as one object: the store, the event bus and the run
 * manager for one data folder. The web mode and the Electron shell each open
 * one and close it on exit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { moduleLogger } from '../log.js';
import { openStore, type Store } from '../store/index.js';
import { EventBus } from './event-bus.js';
import { bundledPaths, packageRoot, type BundledPaths } from './paths.js';
import { RunManager, type RunManagerOptions } from './run-manager.js';

const log = moduleLogger('app');

export interface AppOptions {
  dataDir: string;
  platform: 'electron' | 'web';
  /** Folder with `stories260K/` and `text/`; defaults to `resources/` of the package. */
  resourcesDir?: string;
  /** Overrides for the run manager, such as shorter time limits. */
  runManager?: Partial<Pick<RunManagerOptions, 'limits' | 'startHost'>>;
}

export interface AppContext {
  readonly dataDir: string;
  readonly platform: 'electron' | 'web';
  readonly version: string;
  readonly store: Store;
  readonly bus: EventBus;
  readonly manager: RunManager;
  readonly bundled: BundledPaths;
  /** Suggested parent folder of pruned models. */
  readonly defaultOutDir: string;
  /** Backend name and device as shown in Settings. */
  backendLabel(): string;
  /** Stops runs (marking them interrupted), writes queued events and closes the database. */
  close(): Promise<void>;
}

function readVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return manifest.version ?? '0.0.0';
}

export function openApp(options: AppOptions): AppContext {
  const store = openStore(options.dataDir);
  const bus = new EventBus();
  const manager = new RunManager({ store, bus, dataDir: options.dataDir, ...options.runManager });
  const version = readVersion();
  log.info({ dataDir: options.dataDir, database: store.path, platform: options.platform, version }, 'app opened');

  let closed = false;
  return {
    dataDir: options.dataDir,
    platform: options.platform,
    version,
    store,
    bus,
    manager,
    bundled: bundledPaths(options.resourcesDir),
    defaultOutDir: join(options.dataDir, 'models'),
    backendLabel() {
      if (manager.backend !== null) {
        return manager.backend;
      }
      // NOTE: the engine starts with the first run (it costs seconds and threads), so until then this reports the last run's backend.
      const last = store.db.prepare('SELECT backend FROM runs WHERE backend IS NOT NULL ORDER BY finished_at DESC LIMIT 1').get() as
        | { backend: string }
        | undefined;
      return last ? `${last.backend} (used by the latest run)` : 'chosen when the first run starts';
    },
    async close() {
      if (closed) {
        return;
      }
      closed = true;
      await manager.close();
      store.close();
      log.info({ dataDir: options.dataDir }, 'app closed');
    },
  };
}
