/**
 * Measurements for the end-to-end tests and benchmarks: when LOUPE_METRICS_FILE is set, the
 * extension appends one JSON line per measurement (activation time, event-loop delay during an
 * index job). Nothing is written otherwise.
 */
import { appendFileSync } from 'node:fs';

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
