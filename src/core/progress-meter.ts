/**
 * Progress of an index run by chunks, with throughput and an estimate of the time left, from the
 * engine's IndexProgress events. The total is not known while files are still being read, so it
 * is extrapolated from the chunks found per file read so far; the rate is a moving average over
 * the last stretch of the run (it follows back-off and pauses rather than the whole run's mean).
 */
import type { IndexProgress } from './types.js';

/** What a progress line or tooltip shows. */
export interface ProgressEstimate {
  /** Chunks embedded so far. */
  done: number;
  /** Chunks to embed in this run: exact once every file has been read, estimated before. */
  total: number;
  totalIsEstimate: boolean;
  /** 0..100, by chunks. */
  percent: number;
  /** Chunks embedded per second over the recent window; undefined until measurable. */
  chunksPerSecond?: number;
  /** Seconds left at that rate; undefined until measurable. */
  etaSeconds?: number;
  /** Chunks taken from the cache (not embedded). */
  cached: number;
}

/** Seconds of history the rate is measured over. */
const WINDOW_MS = 20_000;

export class ProgressMeter {
  private samples: { t: number; embedded: number }[] = [];

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Takes one progress event; returns the estimate after it. */
  update(p: IndexProgress): ProgressEstimate {
    const t = this.now();
    this.samples.push({ t, embedded: p.chunksEmbedded });
    while (this.samples.length > 2 && t - this.samples[0]!.t > WINDOW_MS) this.samples.shift();
    const found = Math.max(p.chunksFound ?? p.chunksEmbedded, p.chunksEmbedded);
    const allRead = p.filesTotal > 0 && p.filesDone >= p.filesTotal;
    // Until every file is read, the chunks still to come are assumed to be like those found so far.
    const total = allRead || p.filesDone === 0 ? found : Math.max(found, Math.round((found * p.filesTotal) / p.filesDone));
    const first = this.samples[0]!;
    const dt = (t - first.t) / 1000;
    const rate = dt >= 1 && p.chunksEmbedded > first.embedded ? (p.chunksEmbedded - first.embedded) / dt : undefined;
    const left = Math.max(0, total - p.chunksEmbedded);
    const percent = p.phase === 'done' ? 100 : total ? Math.min(99, Math.floor((100 * p.chunksEmbedded) / total)) : 0;
    return {
      done: p.chunksEmbedded,
      total,
      totalIsEstimate: !allRead,
      percent,
      chunksPerSecond: rate,
      etaSeconds: rate ? left / rate : undefined,
      cached: p.chunksCached,
    };
  }
}

/** `1 h 05 min`, `4 min 10 s`, `35 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** One line: `1,204/3,960 chunks (30%) · 41 chunks/s · about 1 min 07 s left`. */
export function describeProgress(e: ProgressEstimate): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const parts = [`${n(e.done)}/${e.totalIsEstimate ? '~' : ''}${n(e.total)} chunks (${e.percent}%)`];
  if (e.chunksPerSecond !== undefined)
    parts.push(`${e.chunksPerSecond >= 10 ? Math.round(e.chunksPerSecond) : e.chunksPerSecond.toFixed(1)} chunks/s`);
  if (e.etaSeconds !== undefined) parts.push(`about ${formatDuration(e.etaSeconds)} left`);
  if (e.cached) parts.push(`${n(e.cached)} from cache`);
  return parts.join(' · ');
}
