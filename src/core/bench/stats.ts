/** Numeric helpers for `loupe bench`: percentiles, latency summaries, rounding. Pure. */

/** Latency summary in milliseconds. */
export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** p50/p99/mean/min/max of millisecond samples, rounded to microseconds. */
export function summarize(samplesMs: number[]): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: round(percentile(s, 50), 3), p99: round(percentile(s, 99), 3), mean: round(mean, 3), min: round(s[0] ?? NaN, 3), max: round(s[s.length - 1] ?? NaN, 3) };
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Rounds to `digits` significant digits (for FLOP/s and bytes). */
export function sig(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

/** Median of samples. */
export function median(xs: number[]): number {
  return percentile([...xs].sort((a, b) => a - b), 50);
}
