/** Index progress by chunks: the engine's running estimate of the total, (the CLI's line with throughput and time left: progress-meter.test.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
        assert.ok(
          seen.some((p) => p.phase === 'chunk' && p.filesDone < p.filesTotal && (p.chunksEstimated ?? 0) > 0),
          'an estimate before the end',
        );
      } finally {
        await engine.close();
      }
    } finally {
      cleanup();
    }
  });
});
