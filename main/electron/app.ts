/**
 * Electron main process: one sandboxed window showing the bundled renderer,
 * the IPC transport, native dialogs, and a clean stop on quit (a run in
 * progress is cancelled and marked interrupted, so History can resume it).
 *
 * Paths: the renderer is `renderer/dist/index.html` under the app folder.
 * The bundled model and texts are in `resources/` of a checkout, and in
 * `<resourcesPath>/resources` of a packaged app, where electron-builder.yml
 * copies them. The run history lives in `app.getPath('userData')`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, session } from 'electron';
import { openApp, type AppContext } from '../app/context.js';
import { createHandlers } from '../app/handlers.js';
import { moduleLogger } from '../log.js';
import { registerIpc } from './ipc.js';
import { nativeHandlers } from './native.js';

const log = moduleLogger('electron');

const preloadPath = fileURLToPath(new URL('./preload.js', import.meta.url));

function rendererIndexPath(): string {
  return join(app.getAppPath(), 'renderer', 'dist', 'index.html');
}

function resourcesDir(): string {
  return app.isPackaged ? join(process.resourcesPath, 'resources') : join(app.getAppPath(), 'resources');
}

/**
 * Creates the app window. Its Content-Security-Policy comes from the meta tag
 * in renderer/index.html, because file:// pages get no response headers.
 */
function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    title: 'ALPS Studio',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });
  window.once('ready-to-show', () => window.show());

  const contents = window.webContents;
  // The window shows one local page: no navigation, redirects, pop-ups or webviews.
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    log.warn({ url }, 'blocked navigation');
  });
  contents.on('will-redirect', (event, url) => {
    event.preventDefault();
    log.warn({ url }, 'blocked redirect');
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    log.warn({ url }, 'blocked window.open');
    return { action: 'deny' };
  });
  return window;
}

async function start(): Promise<void> {
  // The interface needs no camera, notifications or other permissions.
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) => {
    log.warn({ permission }, 'denied permission request');
    callback(false);
  });

  const rendererIndex = rendererIndexPath();
  if (!existsSync(rendererIndex)) {
    dialog.showErrorBox(
      'ALPS Studio: interface not built',
      `${rendererIndex} is missing. Run \`npm run build\` in the ALPS Studio folder, then start the app again.`,
    );
    app.exit(1);
    return;
  }

  const context: AppContext = openApp({ dataDir: app.getPath('userData'), platform: 'electron', resourcesDir: resourcesDir() });
  const window = createWindow();
  const handlers = createHandlers(context, nativeHandlers(window));
  const unregister = registerIpc({ window, rendererIndex, handlers, bus: context.bus });
  await window.loadFile(rendererIndex);

  let closing = false;
  app.on('before-quit', (event) => {
    if (closing) {
      return;
    }
    // Stop runs before the process ends, so they are stored as interrupted rather than left running.
    event.preventDefault();
    closing = true;
    unregister();
    context
      .close()
      .catch((error: unknown) => log.error({ err: error }, 'failed to stop cleanly'))
      .finally(() => app.quit());
  });
  app.on('window-all-closed', () => app.quit());
}

// ALPS_STUDIO_USER_DATA moves the history elsewhere, so tests and a second profile do not share it.
if (process.env.ALPS_STUDIO_USER_DATA) {
  app.setPath('userData', process.env.ALPS_STUDIO_USER_DATA);
}

if (!app.requestSingleInstanceLock()) {
  // A second copy would open the same history database; focus the first instead.
  app.quit();
} else {
  app.on('second-instance', () => {
    const [window] = BrowserWindow.getAllWindows();
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  });
  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      // For example a history database written by a newer version, whose message names the fix.
      log.error({ err: error }, 'ALPS Studio failed to start');
      dialog.showErrorBox('ALPS Studio could not start', error instanceof Error ? error.message : String(error));
      app.exit(1);
    });
}
