/** Small numeric helpers for the benchmark: percentiles, a seeded RNG, rounding. */

/** Latency summary in milliseconds. */
export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** p50/p99/mean/min/max of millisecond samples, rounded to microseconds. */
export function summarize(samplesMs: number[]): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: r3(percentile(s, 50)), p99: r3(percentile(s, 99)), mean: r3(mean), min: r3(s[0] ?? NaN), max: r3(s[s.length - 1] ?? NaN) };
}

/** Rounds to 3 decimals (JSON stays readable). */
export function r3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Rounds to 1 decimal. */
export function r1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** mulberry32: a tiny seeded PRNG, so synthetic vectors are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box–Muller) from a uniform source. */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
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
