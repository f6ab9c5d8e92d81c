/**
 * The saved benchmark runs behind "Loupe: Run Benchmark" (one JSON per run under the extension's
 * global storage, benchmarks/<timestamp>.json), and the sentence shown after a run. No `vscode`
 * import and nothing native: unit-tested directly.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseBenchResults, type BenchResults } from '../core/bench/results.js';

/** A file name for a run started at `d` that sorts by time: 2026-11-22T08-45-00-123Z.json. */
export function runFileName(d: Date): string {
  return `${d.toISOString().replace(/[:.]/g, '-')}.json`;
}

/**
 * The newest `max` earlier runs in `dir` that are loupe bench results, newest first. Files that do
 * not parse (truncated, another schema) are skipped and named, so one bad file never fails a run
 * after it has measured everything (the bench rejects a bad --compare file at the end).
 */
export function earlierRuns(dir: string, max = 3): { files: string[]; skipped: string[] } {
  const files: string[] = [];
  const skipped: string[] = [];
  if (!existsSync(dir)) return { files, skipped };
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .reverse();
  for (const f of names) {
    if (files.length >= max) break;
    const p = path.join(dir, f);
    try {
      parseBenchResults(JSON.parse(readFileSync(p, 'utf8')), p);
      files.push(p);
    } catch {
      skipped.push(p);
    }
  }
  return { files, skipped };
}

/** The message after a run: the headline figures and the recommended batch size. */
export function runSummaryMessage(
  r: Pick<BenchResults, 'quick' | 'seconds' | 'model' | 'throughput' | 'latency' | 'recommendations'>,
  compared: number,
  currentBatchSize: number,
): string {
  const parts = [
    `Loupe benchmark (${r.quick ? 'quick' : 'full'}, ${Math.round(r.seconds)} s) of ${r.model.name} on ${r.model.computeUnit}: ${r.throughput.chunksPerSec.toFixed(1)} chunks/s, ${Math.round(r.throughput.tokensPerSec)} tokens/s, single-text latency p50 ${r.latency.singleText.p50.toFixed(1)} ms.`,
  ];
  const b = r.recommendations.batchSize;
  if (b === null) parts.push('No batch size recommended (the sweep had no points).');
  else if (b === currentBatchSize)
    parts.push(`Recommended batch size: ${b} chunks per unit of work, the current setting (loupe.compute.batchSize).`);
  else parts.push(`Recommended batch size: ${b} chunks per unit of work; loupe.compute.batchSize is ${currentBatchSize}.`);
  if (compared) parts.push(`Compared with ${compared} earlier run${compared === 1 ? '' : 's'} in the report.`);
  return parts.join(' ');
}
