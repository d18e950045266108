/** `alps-studio serve` as a user starts it: a child process on a temporary data folder. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'bin', 'alps-studio.mjs');

let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'alps-serve-'));
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      lines.close();
      resolveLine(line);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with code ${code} before printing its URL`)));
  });
}

describe('serve command', () => {
  it('prints the URL first and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--data-dir', dataDir], {
      cwd: repoRoot,
      env: { ...process.env, ALPS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await firstLine(child);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);

      const parsed = new URL(url);
      const response = await fetch(new URL('/api/invoke/app.info', parsed), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-alps-token': parsed.searchParams.get('token')! },
        body: '{}',
      });
      const envelope = (await response.json()) as { ok: boolean; value: { dataDir: string; platform: string } };
      expect(envelope.ok).toBe(true);
      expect(envelope.value.dataDir).toBe(dataDir);
      expect(envelope.value.platform).toBe('web');
    } finally {
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('rejects an invalid port', () => {
    const result = spawnSync(process.execPath, [cli, 'serve', '--port', 'eighty', '--data-dir', dataDir], { cwd: repoRoot, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--port "eighty" is invalid: give a whole number >= 0 and <= 65535.');
  });
});
