/**
 * Shared set-up of the browser tests: the built renderer, a real
 * `alps-studio serve` child process on a temporary data folder, and Debian's
 * Chromium driven by playwright-core. Every process started here is stopped
 * by its pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const screenshotDir = path.join(repoRoot, 'test-output', 'screenshots');

/** Chromium from Debian's `chromium` package; the tests never download a browser. */
export const CHROMIUM_PATH = process.env.ALPS_E2E_CHROMIUM ?? '/usr/bin/chromium';

/** Seconds to wait for the server to print its URL. */
const SERVER_START_TIMEOUT_S = 60;

/** Builds renderer/dist unless it exists (`npm run test:e2e` builds it before the tests). */
export function ensureRendererBuilt(): void {
  if (existsSync(path.join(repoRoot, 'renderer', 'dist', 'index.html'))) return;
  const result = spawnSync('npx', ['vite', 'build', '--config', 'renderer/vite.config.ts'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`vite build of the renderer failed with exit code ${result.status}: run \`npm run build:renderer\` to see why.`);
}

export interface ServerHandle {
  /** Address with the access token, from the server's first stdout line. */
  url: string;
  pid: number;
  /** Lines the server wrote to stderr, for failure messages. */
  stderr: string[];
  /** Sends SIGTERM to this process and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `node bin/alps-studio.mjs serve --port 0 --data-dir DIR` and waits for its URL. */
export async function startServer(dataDir: string): Promise<ServerHandle> {
  mkdirSync(dataDir, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, 'bin', 'alps-studio.mjs'), 'serve', '--port', '0', '--data-dir', dataDir], {
    cwd: repoRoot,
    env: { ...process.env, ALPS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('Starting `alps-studio serve` failed: the child process has no pid.');

  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`alps-studio serve printed no URL within ${SERVER_START_TIMEOUT_S} s. Its stderr:\n${stderr.join('\n')}`));
    }, SERVER_START_TIMEOUT_S * 1000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`alps-studio serve exited with code ${code} before printing its URL. Its stderr:\n${stderr.join('\n')}`));
    });
  });

  return {
    url,
    pid,
    stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium was not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` or set ALPS_E2E_CHROMIUM.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Saves a PNG of the page as test-output/screenshots/NAME.png: the whole page, or only the window for long screens. */
export async function saveScreenshot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage });
}

/** Reads a number shown in an element, such as a perplexity "61.20". */
export async function readNumber(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).textContent())?.trim() ?? '';
  const value = Number.parseFloat(text);
  if (!Number.isFinite(value)) throw new Error(`Element ${testId} shows "${text}", not a number.`);
  return value;
}
