/** Index progress by chunks: the engine's running estimate of the total, and the CLI's line with throughput and time left. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { progressLine } from '../src/cli/main.js';
import type { IndexProgress } from '../src/core/types.js';
import { SAMPLE_PROJECT, openTestEngine, tempDir, writeTree } from './support/helpers.js';

describe('progress by chunks', () => {
  test('the estimate of total chunks ends equal to the chunks of the run, and never trails the chunks done', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const files: Record<string, string> = { ...SAMPLE_PROJECT };
      for (let i = 0; i < 40; i++) files[`gen/f${i}.ts`] = `export function generated${i}(a: number): number {\n  return a * ${i};\n}\n`;
      writeTree(dir, files);
      const engine = await openTestEngine(dir);
      try {
        const seen: IndexProgress[] = [];
        const s = await engine.index({ onProgress: (p) => seen.push(p) });
        const last = seen.at(-1)!;
        assert.equal(last.phase, 'done');
        assert.equal(last.chunksSeen, s.chunks);
        assert.equal(last.chunksEstimated, s.chunks);
        assert.equal(last.chunksEmbedded + last.chunksCached, s.chunks);
        for (const p of seen.filter((x) => x.phase !== 'scan')) {
          assert.ok((p.chunksEstimated ?? 0) >= (p.chunksSeen ?? 0), JSON.stringify(p));
          assert.ok((p.chunksSeen ?? 0) >= p.chunksEmbedded + p.chunksCached, JSON.stringify(p));
        }
        assert.ok(seen.some((p) => p.phase === 'chunk' && p.filesDone < p.filesTotal && (p.chunksEstimated ?? 0) > 0), 'an estimate before the end');
      } finally {
        await engine.close();
      }
    } finally {
      cleanup();
    }
  });

  test('the CLI line shows chunks of the estimate, throughput and time left', () => {
    const p: IndexProgress = { phase: 'embed', filesDone: 100, filesTotal: 400, chunksEmbedded: 900, chunksCached: 100, chunksSeen: 1100, chunksEstimated: 4000 };
    assert.equal(progressLine(p, 0, 20_000), 'indexing 1000/~4000 chunks (25%) · 45 chunks/s · about 1m07s left · 100/400 files');
    const end: IndexProgress = { ...p, phase: 'done', filesDone: 400, chunksEmbedded: 3900, chunksCached: 100, chunksSeen: 4000, chunksEstimated: 4000 };
    assert.equal(progressLine(end, 0, 60_000), 'indexing 4000/4000 chunks (100%) · 65 chunks/s · 400/400 files');
    assert.equal(progressLine({ ...p, phase: 'scan' }), 'scanning…');
  });
});
