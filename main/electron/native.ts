/** Handlers of the channels that need native UI: file dialogs and the file manager. */
import { existsSync } from 'node:fs';
import { dialog, shell, type BrowserWindow, type OpenDialogOptions } from 'electron';
import type { Handlers } from '../app/handlers.js';
import { AppError } from '../app/errors.js';

const DIALOG_OPTIONS: Record<'modelFolder' | 'modelFile' | 'text' | 'outputFolder', OpenDialogOptions> = {
  modelFolder: { title: 'Choose a Hugging Face model folder', properties: ['openDirectory'] },
  modelFile: {
    title: 'Choose a model file',
    properties: ['openFile'],
    filters: [
      { name: 'Models (llama2.c .bin, safetensors)', extensions: ['bin', 'safetensors'] },
      { name: 'All files', extensions: ['*'] },
    ],
  },
  text: {
    title: 'Choose a text file',
    properties: ['openFile'],
    filters: [
      { name: 'Text (plain or JSONL)', extensions: ['txt', 'jsonl', 'json'] },
      { name: 'All files', extensions: ['*'] },
    ],
  },
  outputFolder: { title: 'Choose the folder for pruned models', properties: ['openDirectory', 'createDirectory'] },
};

export function nativeHandlers(window: BrowserWindow): Pick<Handlers, 'dialog.open' | 'shell.showInFolder'> {
  return {
    'dialog.open': async ({ kind, defaultPath }) => {
      const result = await dialog.showOpenDialog(window, { ...DIALOG_OPTIONS[kind], ...(defaultPath ? { defaultPath } : {}) });
      return { path: result.canceled ? null : (result.filePaths[0] ?? null) };
    },
    'shell.showInFolder': ({ path }) => {
      if (!existsSync(path)) {
        throw new AppError('NOT_FOUND', `${path} does not exist any more: it may have been moved or deleted.`, 'NotFoundError');
      }
      shell.showItemInFolder(path);
      return {};
    },
  };
}
