/** Comparison of runs and their export as CSV or JSON. */
import type { Comparison, RunDetail, RunSettings, RunSummary } from '../../shared/ipc.js';

/** Flattens settings to `key → text` pairs, such as `calibration.samples → "64"`. */
export function flattenSettings(settings: RunSettings): Record<string, string | null> {
  const flat: Record<string, string | null> = {};
  const visit = (prefix: string, value: unknown): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) {
        visit(prefix === '' ? key : `${prefix}.${key}`, inner);
      }
    } else {
      flat[prefix] = value === null || value === undefined ? null : String(value);
    }
  };
  visit('', settings);
  return flat;
}

export function compareRuns(details: RunDetail[]): Comparison {
  const flat = details.map((detail) => flattenSettings(detail.run.settings));
  const keys = [...new Set(flat.flatMap((settings) => Object.keys(settings)))];
  const differingSettings = keys
    .map((key) => ({ key, values: flat.map((settings) => settings[key] ?? null) }))
    .filter(({ values }) => new Set(values).size > 1);

  // Layers in block order, then in the order the first run that has them lists them.
  const order = new Map<string, { block: number; position: number }>();
  for (const detail of details) {
    for (const layer of detail.layers) {
      if (!order.has(layer.name)) {
        order.set(layer.name, { block: layer.block, position: order.size });
      }
    }
  }
  const names = [...order.keys()].sort((a, b) => {
    const left = order.get(a)!;
    const right = order.get(b)!;
    return left.block - right.block || left.position - right.position;
  });
  const layers = names.map((name) => ({
    block: order.get(name)!.block,
    name,
    relativeErrors: details.map((detail) => detail.layers.find((layer) => layer.name === name)?.relativeError ?? null),
  }));

  return { runs: details.map((detail) => detail.run), differingSettings, layers };
}

function timestampForFile(time: Date): string {
  return time.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * Quotes a CSV cell (RFC 4180). Text starting with = + - or @ gets a leading
 * apostrophe so that spreadsheets show a run name as text, not a formula.
 */
function csvCell(value: string | number | null): string {
  if (value === null) {
    return '';
  }
  if (typeof value === 'number') {
    return String(value);
  }
  const text = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function runColumns(run: RunSummary): Record<string, string | number | null> {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    createdAt: new Date(run.createdAt).toISOString(),
    ...flattenSettings(run.settings),
    densePerplexity: run.metrics.densePerplexity,
    prunedPerplexity: run.metrics.prunedPerplexity,
    overallSparsity: run.metrics.overallSparsity,
    meanRelativeError: run.metrics.meanRelativeError,
    seconds: run.seconds,
    backend: run.backend,
    outputPath: run.outputPath,
    notes: run.notes,
  };
}

/** Formats one CSV row per run: its settings and metrics, then one `relativeError:<layer>` column per layer. */
export function exportCsv(details: RunDetail[]): string {
  const rows = details.map((detail) => {
    const row = runColumns(detail.run);
    for (const layer of detail.layers) {
      row[`relativeError:${layer.name}`] = layer.relativeError;
    }
    return row;
  });
  const header = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const lines = [header.map(csvCell).join(','), ...rows.map((row) => header.map((key) => csvCell(row[key] ?? null)).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

export function exportRuns(details: RunDetail[], format: 'csv' | 'json', now = new Date()): { filename: string; mimeType: string; content: string } {
  const stem = `alps-runs-${timestampForFile(now)}`;
  if (format === 'csv') {
    return { filename: `${stem}.csv`, mimeType: 'text/csv', content: exportCsv(details) };
  }
  const content = JSON.stringify(
    { exportedAt: now.toISOString(), runs: details.map((detail) => ({ ...detail.run, layers: detail.layers })) },
    null,
    2,
  );
  return { filename: `${stem}.json`, mimeType: 'application/json', content };
}
