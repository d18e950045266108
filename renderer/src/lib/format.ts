/** Display formats shared by the screens. */

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** 1234567 → "1.23 M"; counts under ten thousand are written in full. */
export function formatCount(count: number): string {
  if (count < 10_000) return count.toLocaleString('en-US');
  if (count < 1_000_000) return `${(count / 1_000).toFixed(1)} k`;
  if (count < 1_000_000_000) return `${(count / 1_000_000).toFixed(2)} M`;
  return `${(count / 1_000_000_000).toFixed(2)} B`;
}

/** Seconds as "42 s", "3 min 05 s" or "1 h 02 min". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

export function formatPerplexity(value: number | null): string {
  return value === null ? '–' : value.toFixed(2);
}

export function formatPercent(fraction: number | null, digits = 1): string {
  return fraction === null ? '–' : `${(fraction * 100).toFixed(digits)}%`;
}

/** Relative errors span decades, so they are shown in scientific notation. */
export function formatError(value: number | null): string {
  return value === null ? '–' : value.toExponential(3);
}

export function formatTime(epochMs: number | null): string {
  return epochMs === null ? '–' : new Date(epochMs).toLocaleString();
}
