import type { Channel, DIALOG_KINDS, RequestOf, ResponseOf } from '../../../../shared/ipc.js';
import { BackendError, type Transport } from '../transport.js';
import { ErrorManager } from './errors.svelte.js';

export const SCREENS = ['model', 'new-run', 'progress', 'results', 'history', 'compare', 'settings'] as const;
export type Screen = (typeof SCREENS)[number];

export type AppInfo = ResponseOf<'app.info'>;
export type DialogKind = (typeof DIALOG_KINDS)[number];

/**
 * Application-wide state: the transport, the current screen, the backend's
 * version information and whether native file dialogs exist. Other managers
 * call the backend through `call`, which routes failures to the error banner.
 */
export class AppManager {
  readonly errors = new ErrorManager();
  #screen = $state<Screen>('model');
  #info = $state<AppInfo | null>(null);
  #dialogSupported = $state(false);

  constructor(readonly transport: Transport) {
    this.#dialogSupported = transport.platform === 'electron';
  }

  get screen(): Screen {
    return this.#screen;
  }

  get info(): AppInfo | null {
    return this.#info;
  }

  /** True in Electron, where the main process can show files in the system file manager. */
  get native(): boolean {
    return this.transport.platform === 'electron';
  }

  /** False in web mode, where the path fields are typed in instead. */
  get dialogSupported(): boolean {
    return this.#dialogSupported;
  }

  show(screen: Screen): void {
    this.#screen = screen;
  }

  /**
   * Invokes a channel. On failure it reports the error under `context` and
   * returns undefined, which no channel returns on success.
   */
  async call<C extends Channel>(context: string, channel: C, request: RequestOf<C>): Promise<ResponseOf<C> | undefined> {
    try {
      return await this.transport.invoke(channel, request);
    } catch (error) {
      this.errors.report(context, error);
      return undefined;
    }
  }

  async loadInfo(): Promise<void> {
    this.#info = (await this.call('Reading the application information', 'app.info', {})) ?? null;
  }

  /** Opens the native file or folder picker; returns null when dismissed or unsupported. */
  async pickPath(kind: DialogKind, defaultPath?: string): Promise<string | null> {
    try {
      const result = await this.transport.invoke('dialog.open', defaultPath ? { kind, defaultPath } : { kind });
      return result.path;
    } catch (error) {
      if (error instanceof BackendError && error.code === 'UNSUPPORTED') {
        this.#dialogSupported = false;
        return null;
      }
      this.errors.report('Opening the file dialog', error);
      return null;
    }
  }

  async showInFolder(path: string): Promise<void> {
    await this.call('Showing the folder', 'shell.showInFolder', { path });
  }
}
