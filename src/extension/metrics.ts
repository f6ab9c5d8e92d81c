/**
 * Measurements for the end-to-end tests and benchmarks: when LOUPE_METRICS_FILE is set, the
 * extension appends one JSON line per measurement (activation time, event-loop delay during an
 * index job). Nothing is written otherwise.
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Appends `{time, ...m}` as a JSON line to $LOUPE_METRICS_FILE, if set. */
export function appendMetric(m: Record<string, unknown>): void {
  const file = process.env.LOUPE_METRICS_FILE;
  if (!file) return;
  try {
    appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), ...m }) + '\n');
  } catch {
    // measurements must never break the extension
  }
}

/**
 * With LOUPE_METRICS_FILE set, samples the extension host's event-loop delay in windows of
 * `windowMs` and appends one line per window, marked with whether an index job ran, so delay
 * while indexing can be compared with delay while idle in the same run. Returns a stop function.
 */
export function startLoopSampler(indexing: () => boolean, windowMs = 5000): () => void {
  if (!process.env.LOUPE_METRICS_FILE) return () => {};
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let sawIndexing = indexing();
  const poll = setInterval(() => {
    sawIndexing ||= indexing();
  }, 250);
  const timer = setInterval(() => {
    appendMetric({
      event: 'loop',
      indexing: sawIndexing || indexing(),
      p50: h.percentile(50) / 1e6,
      p99: h.percentile(99) / 1e6,
      max: h.max / 1e6,
      samples: h.count,
    });
    h.reset();
    sawIndexing = indexing();
  }, windowMs);
  poll.unref();
  timer.unref();
  return () => {
    clearInterval(poll);
    clearInterval(timer);
    h.disable();
  };
}
