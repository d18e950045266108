/**
 * The real Electron window, driven by Playwright. It runs only where the
 * Electron binary is installed (`node scripts/ensure-electron.mjs`); without
 * it the test is reported as skipped with the reason in its name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { _electron as electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..');

function electronBinary(): { path: string | null; reason: string } {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    if (typeof path === 'string' && existsSync(path)) {
      return { path, reason: '' };
    }
    return { path: null, reason: `the electron package points at ${String(path)}, which does not exist` };
  } catch (error) {
    return { path: null, reason: `require('electron') failed: ${(error as Error).message}` };
  }
}

const binary = electronBinary();
const skipReason = binary.path === null ? ` (skipped: no Electron binary, ${binary.reason}; run node scripts/ensure-electron.mjs)` : '';
if (binary.path === null) {
  console.warn(`test/electron/window.test.ts${skipReason}`);
}

describe('electron window', () => {
  it.skipIf(binary.path === null)(`opens on the bundled model${skipReason}`, async () => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'inherit' });
    if (!existsSync(join(repoRoot, 'renderer', 'dist', 'index.html'))) {
      execFileSync('npm', ['run', 'build:renderer'], { cwd: repoRoot, stdio: 'inherit' });
    }
    const userData = mkdtempSync(join(tmpdir(), 'alps-electron-'));
    const application = await electron.launch({
      executablePath: binary.path!,
      args: [repoRoot],
      env: { ...process.env, ALPS_STUDIO_USER_DATA: userData, ALPS_LOG_LEVEL: 'warn' },
    });
    try {
      const window = await application.firstWindow();
      await expect(window.title()).resolves.toBe('ALPS Studio');
      await window.getByText(/stories260K/).first().waitFor({ timeout: 30_000 });

      const exposed = await window.evaluate(() => {
        const api = (window as unknown as { alps?: { platform?: string; invoke?: unknown } }).alps;
        return { platform: api?.platform, invoke: typeof api?.invoke, require: typeof (window as unknown as { require?: unknown }).require };
      });
      expect(exposed).toEqual({ platform: 'electron', invoke: 'function', require: 'undefined' });

      const rejected = await window.evaluate(async () => {
        const api = (window as unknown as { alps: { invoke(channel: string, request: unknown): Promise<unknown> } }).alps;
        return api.invoke('fs.readFile', {}).then(
          () => 'resolved',
          (error: Error) => error.message,
        );
      });
      expect(rejected).toContain('IPC channel "fs.readFile" is not declared');

      const info = await window.evaluate(async () => {
        const api = (window as unknown as { alps: { invoke(channel: string, request: unknown): Promise<unknown> } }).alps;
        return api.invoke('app.info', {});
      });
      expect(info).toMatchObject({ ok: true, value: { platform: 'electron', dataDir: userData } });
    } finally {
      await application.close();
      rmSync(userData, { recursive: true, force: true });
    }
  });
});
