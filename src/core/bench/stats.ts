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
  return {
    n: s.length,
    p50: round(percentile(s, 50), 3),
    p99: round(percentile(s, 99), 3),
    mean: round(mean, 3),
    min: round(s[0] ?? NaN, 3),
    max: round(s[s.length - 1] ?? NaN, 3),
  };
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

/** mulberry32: a small seeded PRNG, so synthetic points are the same on every run. */
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

/** Standard normal sample (Box–Muller). */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * `n` unit vectors spread over the region real embeddings occupy: normalize(a + w·b + noise)
 * for random real vectors a, b, w ∈ [0, 0.5] and Gaussian noise of norm ≈ `noise`.
 */
export function syntheticNeighbours(base: Float32Array[], n: number, seed = 7, noise = 0.3): Float32Array[] {
  const rand = seededRandom(seed);
  const d = base[0].length;
  const sigma = noise / Math.sqrt(d);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = base[Math.floor(rand() * base.length)];
    const b = base[Math.floor(rand() * base.length)];
    const w = rand() * 0.5;
    const v = new Float32Array(d);
    let s = 0;
    for (let j = 0; j < d; j++) {
      v[j] = a[j] + w * b[j] + sigma * gaussian(rand);
      s += v[j] * v[j];
    }
    const inv = 1 / Math.sqrt(s || 1);
    for (let j = 0; j < d; j++) v[j] *= inv;
    out.push(v);
  }
  return out;
}
