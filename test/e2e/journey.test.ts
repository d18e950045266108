/**
 * The whole journey in a browser against the real web mode. The test prunes
 * the bundled stories260K and reads the results, then cancels a second run.
 * It restarts the server on the same data folder, finds both runs in History
 * and compares them, resumes and deletes one, and runs a sweep. Screenshots
 * of each screen go to test-output/screenshots/.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRendererBuilt, launchChromium, readNumber, repoRoot, saveScreenshot, startServer, type ServerHandle } from './helpers.js';

/** Calibration windows and tokens per window, small so the ALPS run takes about a minute on two cores. */
const CALIBRATION = { samples: '16', seqLen: '128' };
/** Stories of the bundled evaluation text used for perplexity, to keep evaluation short. */
const EVAL_STORIES = 20;
/** Maximum wait for a whole ALPS run at 0.7, in ms. */
const RUN_TIMEOUT_MS = 240_000;

describe('web mode journey', () => {
  let dataDir: string;
  let evalFile: string;
  let server: ServerHandle | null = null;
  let browser: Browser;
  let page: Page;
  let bundledModelPath = '';
  /** Linear names of block 0 as the Model screen lists them, in forward order. */
  let blockLinears: string[] = [];
  let cancelledRunId = '';
  /** Uncaught page errors and content-security-policy violations. */
  const pageProblems: string[] = [];

  async function openPage(url: string): Promise<void> {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) pageProblems.push(`CSP: ${message.text()}`);
    });
    await page.goto(url);
  }

  beforeAll(async () => {
    ensureRendererBuilt();
    dataDir = mkdtempSync(path.join(tmpdir(), 'alps-e2e-'));

    const stories = readFileSync(path.resolve(repoRoot, 'resources', 'text', 'tinystories-eval.txt'), 'utf8').split(/^<\|endoftext\|>$/m);
    evalFile = path.join(dataDir, 'eval-stories.txt');
    writeFileSync(evalFile, stories.slice(0, EVAL_STORIES).join('<|endoftext|>\n'));

    server = await startServer(dataDir);
    browser = await launchChromium();
    await openPage(server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('model screen shows bundled stories260K', async () => {
    await page.getByTestId('model-summary').waitFor();

    bundledModelPath = await page.getByTestId('model-path').inputValue();
    expect(bundledModelPath).toMatch(/stories260K\.bin$/);
    expect(await page.getByTestId('model-architecture').textContent()).toContain('llama2c');
    expect((await page.getByTestId('model-dtype').textContent())?.trim()).toBe('F32');
    // A stories260K block has 7 linears: wq, wk, wv, wo, w1, w3 and w2.
    blockLinears = await page.locator('[data-testid=model-layers] tbody tr td:first-child').allTextContents();
    expect(blockLinears).toHaveLength(7);
    expect(blockLinears[0]).toMatch(/^blocks\.0\..*wq$/);
    await saveScreenshot(page, 'model');
  });

  it('missing model path shows error', async () => {
    await page.getByTestId('model-path').fill('/nonexistent/model.bin');
    await page.getByTestId('model-load').click();

    const banner = page.getByTestId('error-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('/nonexistent/model.bin');

    await page.getByRole('button', { name: 'Dismiss' }).click();
    await page.getByTestId('model-path').fill(bundledModelPath);
    await page.getByTestId('model-load').click();
    await page.getByTestId('model-summary').waitFor();
  });

  it('new run form rejects invalid values', async () => {
    await page.getByTestId('nav-new-run').click();
    const start = page.getByTestId('start-run');

    await page.getByTestId('targets').fill('1.2');
    expect(await page.getByTestId('targets-error').textContent()).toContain('Sparsity 1.2 is out of range');
    expect(await start.isDisabled()).toBe(true);

    await page.getByTestId('targets').fill('3:2');
    expect(await page.getByTestId('targets-error').textContent()).toContain('Pattern 3:2 is invalid');
    expect(await start.isDisabled()).toBe(true);

    await page.getByTestId('targets').fill('0.7');
    await page.getByTestId('seq-len').fill('100000');
    expect(await page.getByTestId('seq-len-error').textContent()).toContain('out of range');
    expect(await start.isDisabled()).toBe(true);
  });

  it('alps run at 0.7 finishes with results', async () => {
    await page.getByTestId('method').selectOption('alps');
    await page.getByTestId('targets').fill('0.7');
    await page.getByTestId('samples').fill(CALIBRATION.samples);
    await page.getByTestId('seq-len').fill(CALIBRATION.seqLen);
    expect(await page.getByTestId('calibration-path').inputValue()).toMatch(/tinystories-calibration\.txt$/);
    await page.getByTestId('evaluation-path').fill(evalFile);
    await page.getByTestId('output-dir').fill(path.join(dataDir, 'models'));
    expect(await page.getByTestId('start-run').isEnabled()).toBe(true);
    await saveScreenshot(page, 'new-run');

    await page.getByTestId('start-run').click();
    await page.getByTestId('progress-card').waitFor();

    // Progress moves: layers finish while the run is still running. Block 0
    // has 7 linears, so 9 bars means block 1 is under way.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=chart-layer-error] rect').length >= 9, null, { timeout: RUN_TIMEOUT_MS });
    const runningFraction = await page.getByTestId('progress-bar').evaluate((bar) => (bar as HTMLProgressElement).value);
    expect(runningFraction).toBeGreaterThan(0);
    expect(runningFraction).toBeLessThan(1);
    await saveScreenshot(page, 'progress', false);

    await page.getByTestId('status-finished').waitFor({ timeout: RUN_TIMEOUT_MS });
    expect(await page.getByTestId('progress-bar').evaluate((bar) => (bar as HTMLProgressElement).value)).toBe(1);
    // 5 blocks × 7 linears, each with a relative error bar.
    expect(await page.locator('[data-testid=chart-layer-error] rect').count()).toBe(35);
    // ALPS reports its ADMM trace, so the objective chart draws at least one line.
    expect(await page.locator('[data-testid=chart-admm-objective] path').count()).toBeGreaterThanOrEqual(1);

    await page.getByTestId('open-results').click();
    await page.getByTestId('results-summary').waitFor();
    const dense = await readNumber(page, 'perplexity-dense');
    const pruned = await readNumber(page, 'perplexity-pruned');
    const sparsity = await readNumber(page, 'overall-sparsity');
    // The dense model's perplexity on TinyStories is about 3.8, and pruning 70% raises it.
    expect(dense).toBeGreaterThan(2);
    expect(dense).toBeLessThan(8);
    expect(pruned).toBeGreaterThan(dense);
    expect(sparsity).toBeCloseTo(70, 0);
    const resultLayers = await page.locator('[data-testid=results-layers] tbody tr td:nth-child(2)').allTextContents();
    expect(resultLayers).toHaveLength(35);
    // Layers finish out of order on parallel workers, but the table lists them in forward order.
    expect(resultLayers.slice(0, 7)).toEqual(blockLinears);
    expect(await page.getByTestId('output-path').textContent()).toContain(path.join(dataDir, 'models'));
    await saveScreenshot(page, 'results', false);
  });

  it('second run cancels from progress', async () => {
    await page.getByTestId('nav-new-run').click();
    await page.getByTestId('targets').fill('0.5');
    await page.getByTestId('start-run').click();
    await page.getByTestId('progress-card').waitFor();

    // Cancel after the first layer finished, so the run has partial results.
    await page.locator('[data-testid=chart-layer-error] rect').first().waitFor({ timeout: RUN_TIMEOUT_MS });

    // A reloaded page finds the run in progress and rebuilds it from the stored events.
    await page.reload();
    await page.getByTestId('nav-progress').click();
    await page.getByTestId('status-running').waitFor();
    await page.locator('[data-testid=chart-layer-error] rect').first().waitFor();
    const layerNames = await page.locator('[data-testid=layer-progress] tbody tr td:nth-child(2)').allTextContents();
    expect(layerNames.length).toBeGreaterThanOrEqual(1);
    expect(new Set(layerNames).size).toBe(layerNames.length);
    await page.getByTestId('cancel-run').click();

    await page.getByTestId('status-cancelled').first().waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('status-failed').count()).toBe(0);
    expect(await page.getByTestId('error-banner').count()).toBe(0);
  });

  it('history after restart shows both runs', async () => {
    await page.close();
    await server?.stop();
    server = await startServer(dataDir);
    await openPage(server.url);

    await page.getByTestId('nav-history').click();
    await page.getByTestId('history-table').waitFor();
    const rows = page.getByTestId('history-row');
    expect(await rows.count()).toBe(2);
    const statuses = await rows.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-status')).sort());
    expect(statuses).toEqual(['cancelled', 'finished']);
    cancelledRunId = (await page.locator('[data-status=cancelled]').getAttribute('data-run-id')) ?? '';
    expect(cancelledRunId).not.toBe('');

    await page.locator('[data-status=finished] [data-testid=edit-run]').click();
    await page.getByTestId('edit-name').fill('ALPS 0.7 (e2e)');
    await page.getByTestId('edit-notes').fill('16 × 128 calibration tokens');
    await page.getByTestId('save-edit').click();
    await page.getByText('ALPS 0.7 (e2e)').waitFor();
    await page.getByText('16 × 128 calibration tokens').waitFor();
    expect(await page.locator('[data-status=finished] .name').textContent()).toBe('ALPS 0.7 (e2e)');
    await saveScreenshot(page, 'history');
  });

  it('compare shows charts and exports', async () => {
    await page.getByTestId('nav-compare').click();
    for (const box of await page.getByTestId('compare-select').all()) await box.check();
    await page.getByTestId('compare-button').click();

    await page.getByTestId('chart-perplexity-sparsity').waitFor();
    // Two points: the dense model at sparsity 0 and the finished run. The cancelled run has no perplexity.
    expect(await page.locator('[data-testid=chart-perplexity-sparsity] circle').count()).toBe(2);
    expect(await page.locator('[data-testid=chart-compare-layers] rect').count()).toBeGreaterThan(35);
    expect(await page.locator('[data-testid=compare-metrics] tbody tr').count()).toBe(2);
    expect(await page.getByTestId('compare-settings').textContent()).toContain('0.5');
    await saveScreenshot(page, 'compare');

    const runIds = await page.getByTestId('compare-select').evaluateAll((boxes) => boxes.map((box) => box.getAttribute('data-run-id')));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    const exported = readFileSync(await download.path(), 'utf8');
    for (const runId of runIds) expect(exported).toContain(runId);
    expect(() => JSON.parse(exported)).not.toThrow();
  });

  it('settings show database and version', async () => {
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('settings-info').waitFor();
    expect(await page.getByTestId('database-path').textContent()).toContain(dataDir);
    expect((await page.getByTestId('app-version').textContent())?.trim()).toMatch(/^\d+\.\d+\.\d+/);
    await saveScreenshot(page, 'settings');
  });

  it('resume finishes the cancelled run', async () => {
    await page.getByTestId('nav-history').click();
    await page.locator(`[data-run-id="${cancelledRunId}"] [data-testid=resume-run]`).click();
    await page.getByTestId('progress-card').waitFor();

    await page.getByTestId('status-finished').waitFor({ timeout: RUN_TIMEOUT_MS });
    await page.getByTestId('open-results').click();
    await page.getByTestId('results-summary').waitFor();
    expect(await readNumber(page, 'overall-sparsity')).toBeCloseTo(50, 0);
    expect(await readNumber(page, 'perplexity-pruned')).toBeGreaterThan(await readNumber(page, 'perplexity-dense'));
    expect(await page.locator('[data-testid=results-layers] tbody tr').count()).toBe(35);
  });

  it('delete removes a run and its files', async () => {
    await page.getByTestId('nav-history').click();
    const row = page.locator(`[data-run-id="${cancelledRunId}"]`);
    await row.getByTestId('delete-run').click();
    await page.getByTestId('confirm-dialog').waitFor();
    const outputPath = (await page.getByTestId('delete-path').textContent()) ?? '';
    expect(existsSync(outputPath)).toBe(true);

    await page.getByTestId('delete-files').check();
    await page.getByTestId('confirm-button').click();

    await row.waitFor({ state: 'detached' });
    expect(await page.getByTestId('history-row').count()).toBe(1);
    expect(existsSync(outputPath)).toBe(false);
  });

  it('sweep of two targets runs both', async () => {
    await page.getByTestId('nav-new-run').click();
    await page.getByTestId('method').selectOption('magnitude');
    await page.getByTestId('targets').fill('0.3, 2:4');
    // The page was reloaded, so the form is back at its defaults. Magnitude
    // pruning ignores calibration, and with no evaluation file each run only
    // prunes and saves.
    await page.getByTestId('samples').fill('4');
    await page.getByTestId('seq-len').fill('64');
    await page.getByTestId('evaluation-path').fill('');
    await page.getByTestId('output-dir').fill(path.join(dataDir, 'models'));
    expect((await page.getByTestId('start-run').textContent())?.trim()).toBe('Start sweep of 2 runs');
    await page.getByTestId('start-run').click();

    const sweep = page.getByTestId('sweep-runs');
    await sweep.waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=sweep-runs] [data-testid=status-finished]').length === 2, null, {
      timeout: RUN_TIMEOUT_MS,
    });

    await page.getByTestId('nav-history').click();
    await page.getByTestId('history-status-filter').selectOption('finished');
    await page.getByTestId('history-filter').fill('magnitude');
    const targets = await page.locator('[data-testid=history-row] td:nth-child(7)').allTextContents();
    expect(targets.sort()).toEqual(['0.3', '2:4']);
  });

  it('page had no script errors', () => {
    expect(pageProblems).toEqual([]);
  });
});
