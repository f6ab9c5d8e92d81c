/**
 * Numeric helpers for the developers' benchmark. Percentiles, latency summaries, the seeded RNG
 * and Gaussian samples are `loupe bench`'s own (src/core/bench/stats.ts), re-exported here.
 */
import { round } from '../../src/core/bench/stats.js';

export { gaussian, percentile, seededRandom, summarize, type LatencySummary } from '../../src/core/bench/stats.js';

/** Rounds to 3 decimals (JSON stays readable). */
export function r3(x: number): number {
  return round(x, 3);
}

/** Rounds to 1 decimal. */
export function r1(x: number): number {
  return round(x, 1);
}

/** Milliseconds taken by an async function, with its result. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** The process's peak resident set so far, in MiB. */
export function peakRssMiB(): number {
  // resourceUsage().maxRSS is in kilobytes.
  return r1(process.resourceUsage().maxRSS / 1024);
}

/** Dot product of two equal-length vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
