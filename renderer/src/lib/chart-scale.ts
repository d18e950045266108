/** Axis scales and tick values for the SVG charts. */

export interface Scale {
  /** Maps a data value to a pixel coordinate. */
  map(value: number): number;
  ticks: number[];
  format(value: number): string;
}

/** Returns about `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const rawStep = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rawStep) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= max + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(0);
  return String(Number(value.toPrecision(4)));
}

/** A linear scale from [min, max] to [from, to] pixels, widened to round ticks. */
export function linearScale(min: number, max: number, from: number, to: number): Scale {
  let low = min;
  let high = max;
  if (low === high) {
    low -= Math.abs(low) * 0.1 || 1;
    high += Math.abs(high) * 0.1 || 1;
  }
  const ticks = niceTicks(low, high);
  low = Math.min(low, ticks[0] ?? low);
  high = Math.max(high, ticks.at(-1) ?? high);
  return {
    map: (value) => from + ((value - low) / (high - low)) * (to - from),
    ticks,
    format: formatTick,
  };
}

/** A base-10 logarithmic scale; values must be positive, and others map to the lower edge. */
export function logScale(min: number, max: number, from: number, to: number): Scale {
  // A value exactly at a power of ten would sit on the lower edge and draw a
  // bar of zero height, so the axis then starts one decade lower.
  let low = Math.floor(Math.log10(min));
  if (Math.log10(min) - low < 0.05) low -= 1;
  const high = Math.max(Math.ceil(Math.log10(max)), low + 1);
  const ticks: number[] = [];
  for (let exponent = low; exponent <= high; exponent += 1) ticks.push(10 ** exponent);
  return {
    map: (value) => from + ((Math.log10(value > 0 ? value : 10 ** low) - low) / (high - low)) * (to - from),
    ticks,
    format: (value) => `1e${Math.round(Math.log10(value))}`,
  };
}

/** Colors of the series, in the order series get them. */
export const SERIES_COLORS = ['#2f6fdb', '#e07b00', '#23834a', '#b8336a', '#6b4fbb', '#7a6a00', '#00838f'];

/** One line of a line chart. */
export interface LineSeries {
  label: string;
  points: { x: number; y: number }[];
}

/** One color of a bar chart: a value per category, null where the series has none. */
export interface BarSeries {
  label: string;
  values: (number | null)[];
}
