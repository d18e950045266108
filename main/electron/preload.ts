/**
 * Preload of the ALPS Studio window. It exposes exactly one object,
 * `window.alps` (type `AlpsApi` in shared/ipc.ts):
 *   - `invoke(channel, request)` resolves to the result envelope
 *     `{ ok, value }` or `{ ok: false, error }`, and rejects with an Error
 *     naming the channel when the channel is not declared;
 *   - `on(event, listener)` returns the function that unsubscribes, and
 *     throws for an undeclared event;
 *   - `platform` is `'electron'`.
 *
 * The window is sandboxed, so Electron runs this file as a plain script whose
 * `require` reaches only a few modules. The file therefore has no import
 * statements. It gets the declared channel and event names from the main
 * process, because it cannot load shared/ipc.ts and its zod schemas.
 *
 * NOTE: not yet run in a real Electron here (no binary on the build machine):
 * test/electron/window.test.ts covers it where Electron is installed.
 */
type ElectronModule = typeof import('electron');
type AlpsApi = import('../../shared/ipc.js').AlpsApi;
type EventListener = (payload: unknown) => void;

// A sandboxed preload is not an ES module: `require` is the only way to reach Electron's API here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer } = require('electron') as ElectronModule;

/** IPC message names between this preload and main/electron/ipc.ts. */
const PRELOAD_CHANNELS = { names: 'alps:names', invoke: 'alps:invoke', event: 'alps:event' } as const;

const declared = ipcRenderer.sendSync(PRELOAD_CHANNELS.names) as { channels: string[]; events: string[] };
const channelNames = new Set(declared.channels);
const eventNames = new Set(declared.events);
const listeners = new Map<string, Set<EventListener>>();

ipcRenderer.on(PRELOAD_CHANNELS.event, (_event, message: { event: string; payload: unknown }) => {
  for (const listener of listeners.get(message.event) ?? []) {
    listener(message.payload);
  }
});

const api: AlpsApi = {
  invoke(channel, request) {
    if (!channelNames.has(channel)) {
      return Promise.reject(new Error(`IPC channel "${String(channel)}" is not declared in shared/ipc.ts: use one of ${[...channelNames].join(', ')}.`));
    }
    return ipcRenderer.invoke(PRELOAD_CHANNELS.invoke, channel, request);
  },
  on(event, listener) {
    if (!eventNames.has(event)) {
      throw new Error(`IPC event "${String(event)}" is not declared in shared/ipc.ts: use one of ${[...eventNames].join(', ')}.`);
    }
    const set = listeners.get(event) ?? new Set<EventListener>();
    set.add(listener as EventListener);
    listeners.set(event, set);
    return () => {
      set.delete(listener as EventListener);
    };
  },
  platform: 'electron',
};

contextBridge.exposeInMainWorld('alps', api);
