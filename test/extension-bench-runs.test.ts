/**
 * The saved benchmark runs of "Loupe: Run Benchmark" (src/extension/bench-runs.ts): file names
 * sort by time, the newest valid earlier runs are compared and broken files skipped (a bad
 * --compare file would fail the bench after it measured everything), and the message after a run
 * carries the recommended batch size.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BENCH_SCHEMA, type BenchResults } from '../src/core/bench/results.js';
import { earlierRuns, runFileName, runSummaryMessage } from '../src/extension/bench-runs.js';
import { tempDir } from './support/files.js';

const minimal = (name: string) => ({ schema: BENCH_SCHEMA, model: { name }, throughput: {}, sanity: {} });

test('run file names have no colons and sort in time order', () => {
  const a = runFileName(new Date('2026-11-22T08:59:59.999Z'));
  const b = runFileName(new Date('2026-11-22T09:00:00.000Z'));
  assert.equal(a, '2026-11-22T08-59-59-999Z.json');
  assert.ok(!/[:]/.test(a));
  assert.deepEqual([b, a].sort(), [a, b]);
});

test('earlierRuns: newest valid runs first, at most max, broken files skipped and named', () => {
  const { dir, cleanup } = tempDir();
  try {
    assert.deepEqual(earlierRuns(path.join(dir, 'none')), { files: [], skipped: [] });
    const names = ['2026-01-01T00-00-00-000Z', '2026-02-01T00-00-00-000Z', '2026-03-01T00-00-00-000Z', '2026-04-01T00-00-00-000Z'];
    for (const n of names) writeFileSync(path.join(dir, `${n}.json`), JSON.stringify(minimal(n)));
    writeFileSync(path.join(dir, '2026-05-01T00-00-00-000Z.json'), '{"schema":"loupe-bench/1", trunc');
    writeFileSync(path.join(dir, '2026-06-01T00-00-00-000Z.json'), JSON.stringify({ schema: 'other/1' }));
    writeFileSync(path.join(dir, '2026-07-01T00-00-00-000Z.html'), '<html>');
    const r = earlierRuns(dir, 3);
    assert.deepEqual(
      r.files.map((f) => path.basename(f)),
      ['2026-04-01T00-00-00-000Z.json', '2026-03-01T00-00-00-000Z.json', '2026-02-01T00-00-00-000Z.json'],
    );
    assert.deepEqual(r.skipped.map((f) => path.basename(f)).sort(), ['2026-05-01T00-00-00-000Z.json', '2026-06-01T00-00-00-000Z.json']);
  } finally {
    cleanup();
  }
});

test('the message after a run names the figures and the recommended batch size', () => {
  const r = {
    quick: true,
    seconds: 36.4,
    model: { name: 'all-MiniLM-L6-v2', computeUnit: 'CPU' },
    throughput: { chunksPerSec: 41.25, tokensPerSec: 5210.7 },
    latency: { singleText: { p50: 12.34 } },
    recommendations: { batchSize: 16, lines: [] },
  } as unknown as BenchResults;
  const m = runSummaryMessage(r, 2, 32);
  assert.match(m, /quick, 36 s\) of all-MiniLM-L6-v2 on CPU: 41\.3 chunks\/s, 5211 tokens\/s, single-text latency p50 12\.3 ms/);
  assert.match(m, /Recommended batch size: 16 chunks per unit of work; loupe.compute.batchSize is 32/);
  assert.match(runSummaryMessage(r, 0, 16), /16 chunks per unit of work, the current setting/);
  assert.match(m, /Compared with 2 earlier runs/);
  const none = runSummaryMessage({ ...r, recommendations: { batchSize: null, lines: [] } }, 0, 32);
  assert.match(none, /No batch size recommended/);
  assert.ok(!/Compared/.test(none));
});
