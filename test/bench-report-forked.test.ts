/**
 * runBenchForked: the benchmark in a child process (what VS Code's "Loupe: Run Benchmark" uses,
 * since the extension host loads no native module) — with the bundled dist/bench-worker.mjs when
 * the build made it, else the compiled worker; progress arrives, results and HTML come back, and a
 * cancel stops the child.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { runBenchForked } from '../src/adapters/bench/bench-client.js';
import type { BenchProgress } from '../src/adapters/bench/run-bench.js';
import { REPO, tempDir, tinyBertPath } from './support/helpers.js';

const bundled = path.join(REPO, 'dist/bench-worker.mjs');
const workerScript = existsSync(bundled) ? bundled : undefined;

describe(`runBenchForked (${workerScript ? 'dist/bench-worker.mjs' : 'compiled worker'})`, () => {
  test('a quick run in a child process: progress, results, report written', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const progress: BenchProgress[] = [];
      const r = await runBenchForked(
        { quick: true, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1, reportPath: path.join(dir, 'r.html') },
        (p) => progress.push(p),
        { workerScript },
      );
      assert.equal(r.results.model.name, 'loupe-tiny-bert');
      assert.ok(r.results.sanity.norms.ok);
      assert.equal(r.results.answer.status, 'not-measured');
      assert.equal(r.reportPath, path.join(dir, 'r.html'));
      assert.ok(existsSync(r.reportPath!));
      assert.match(r.html, /^<!DOCTYPE html>/);
      assert.ok(progress.some((p) => p.step === 'seqlen'));
      assert.equal(progress.at(-1)!.fraction, 1);
    } finally {
      cleanup();
    }
  });

  test('cancel: rejects with an AbortError and the child exits', async () => {
    const ac = new AbortController();
    const steps: string[] = [];
    await assert.rejects(
      runBenchForked(
        { quick: true, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 },
        (p) => {
          steps.push(p.step);
          if (p.step === 'throughput') ac.abort();
        },
        { workerScript, signal: ac.signal },
      ),
      (e: Error) => e.name === 'AbortError',
    );
    assert.ok(!steps.includes('report'), steps.join(','));
  });

  test('a missing model is a clear error from the child', async () => {
    await assert.rejects(
      runBenchForked({ quick: true, modelPath: '/nonexistent/m.gguf' }, undefined, { workerScript }),
      /Model file not found: \/nonexistent\/m\.gguf/,
    );
  });
});
