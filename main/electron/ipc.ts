/**
 * The Electron transport of the IPC channels: the main-process end of
 * preload.ts. Every message is accepted only from the app window's main
 * frame showing the bundled renderer, then validated and dispatched like a
 * web-mode request.
 */
import { ipcMain, type BrowserWindow, type IpcMainEvent, type IpcMainInvokeEvent } from 'electron';
import { CHANNEL_NAMES, EVENT_NAMES, type InvokeResult } from '../../shared/ipc.js';
import type { EventBus } from '../app/event-bus.js';
import { dispatch, type Handlers } from '../app/handlers.js';
import { moduleLogger } from '../log.js';
import { isRendererUrl } from './sender.js';

const log = moduleLogger('electron.ipc');

/** IPC message names between preload.ts and this module. */
export const PRELOAD_CHANNELS = { names: 'alps:names', invoke: 'alps:invoke', event: 'alps:event' } as const;

export interface IpcOptions {
  window: BrowserWindow;
  /** Absolute path of the renderer's index.html; only pages loaded from it may call. */
  rendererIndex: string;
  handlers: Handlers;
  bus: EventBus;
}

/** Registers the IPC handlers; returns the function that removes them. */
export function registerIpc(options: IpcOptions): () => void {
  const { window, rendererIndex, handlers, bus } = options;

  function isTrusted(event: IpcMainEvent | IpcMainInvokeEvent): boolean {
    const frame = event.senderFrame;
    const trusted =
      !window.isDestroyed() &&
      event.sender === window.webContents &&
      frame !== null &&
      frame === window.webContents.mainFrame &&
      isRendererUrl(frame.url, rendererIndex);
    if (!trusted) {
      log.warn({ url: frame?.url ?? null, senderId: event.sender.id }, 'rejected IPC message from an unexpected sender');
    }
    return trusted;
  }

  ipcMain.on(PRELOAD_CHANNELS.names, (event) => {
    event.returnValue = isTrusted(event) ? { channels: CHANNEL_NAMES, events: EVENT_NAMES } : { channels: [], events: [] };
  });

  ipcMain.handle(PRELOAD_CHANNELS.invoke, async (event, channel: unknown, request: unknown): Promise<InvokeResult<unknown>> => {
    if (!isTrusted(event)) {
      return {
        ok: false,
        error: { name: 'ForbiddenError', code: 'UNSUPPORTED', message: 'IPC is only accepted from the ALPS Studio window: reload the app.' },
      };
    }
    return dispatch(handlers, typeof channel === 'string' ? channel : String(channel), request);
  });

  const unsubscribe = bus.subscribe((message) => {
    if (!window.isDestroyed()) {
      window.webContents.send(PRELOAD_CHANNELS.event, message);
    }
  });

  return () => {
    unsubscribe();
    ipcMain.removeAllListeners(PRELOAD_CHANNELS.names);
    ipcMain.removeHandler(PRELOAD_CHANNELS.invoke);
  };
}
