/**
 * The first ONNX Runtime lane's thread started early by a one-shot search (src/adapters/onnx-prestart.ts,
 * bin/loupe.js through dist/quick.mjs): adopted once by the embedder that follows, never when it
 * has already exited, and not started for a search that names llama.cpp. Real worker threads and
 * the bundled int8 model.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { OnnxEmbedder, BUNDLED_ONNX_INT8_MODEL } from '../src/adapters/onnx-embedder.js';
import { prestartOnnxWorker, settlePrestartedWorker, takePrestartedWorker } from '../src/adapters/onnx-prestart.js';
import { prestartSearchLane } from '../src/cli/quick.js';
import { REPO, tempDir } from './support/helpers.js';

const INT8 = path.join(REPO, BUNDLED_ONNX_INT8_MODEL);
const KEY = Symbol.for('loupe.onnx.prestartedWorker');
const pending = (): { worker: Worker } | undefined => (globalThis as Record<symbol, { worker: Worker } | undefined>)[KEY];

async function vectorOf(text: string): Promise<Float32Array> {
  const e = await OnnxEmbedder.load({ modelPath: INT8, contexts: 1, optimizedCacheDir: null });
  try {
    return await e.embedQuery(text);
  } finally {
    await e.dispose();
  }
}

describe('prestarted ONNX Runtime lane', () => {
  test('adopted once by the next embedder, which embeds as a lane started by itself', async () => {
    const reference = await vectorOf('open the index and search it');
    assert.equal(prestartOnnxWorker(), true);
    const worker = pending()?.worker;
    assert.ok(worker, 'a worker is waiting');
    assert.equal(prestartOnnxWorker(), true, 'a second call starts no second thread');
    assert.equal(pending()?.worker, worker);
    const v = await vectorOf('open the index and search it');
    assert.equal(pending(), undefined, 'adopted');
    assert.deepEqual(Array.from(v), Array.from(reference));
    assert.equal(takePrestartedWorker(), null);
  });

  test('a prestarted thread that has exited is not adopted: the embedder starts its own', async () => {
    prestartOnnxWorker();
    const worker = pending()!.worker;
    const exited = once(worker, 'exit');
    await worker.terminate();
    await exited;
    const v = await vectorOf('a query');
    assert.equal(v.length, 384);
    assert.equal(pending(), undefined);
  });

  test('a search starts it unless it names llama.cpp; other commands never', async () => {
    const started = (argv: string[]): boolean => {
      prestartSearchLane(argv);
      const w = takePrestartedWorker();
      void w?.loaded.then(() => w.worker.terminate());
      return w !== null;
    };
    assert.equal(started(['search', '.', 'q']), true);
    assert.equal(started(['search', '.', 'q', '--model', 'm/model.onnx']), true);
    assert.equal(started(['search', '.', 'q', '--backend', 'llama']), false);
    assert.equal(started(['search', '.', 'q', '--backend=llama']), false);
    assert.equal(started(['search', '.', 'q', '--model', 'm.gguf']), false);
    assert.equal(started(['index', '.']), false);
    assert.equal(started(['status', '.']), false);
  });

  test('a process that ends with an unused prestarted thread exits with its own code, wherever the load was (no C++ abort)', (t) => {
    // A `loupe search` with a usage error exits while onnxruntime-node may still be loading on the
    // prestarted thread; ending the process then aborted it ("terminate called after throwing an
    // instance of 'Napi::Error'", no exit code). Each child ends at a different point of the load.
    const { dir, cleanup } = tempDir('loupe-prestart-exit-');
    t.after(cleanup);
    const prestart = pathToFileURL(path.join(REPO, 'out/src/adapters/onnx-prestart.js')).href;
    const file = path.join(dir, 'exit.mjs');
    writeFileSync(
      file,
      `const p = await import(${JSON.stringify(prestart)});
p.prestartOnnxWorker();
await new Promise((r) => setTimeout(r, Number(process.argv[2])));
await p.settlePrestartedWorker();
process.exitCode = 2;`,
    );
    const failures: string[] = [];
    for (let delay = 0; delay <= 300; delay += 20) {
      const r = spawnSync(process.execPath, [file, String(delay)], { encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 2) failures.push(`after ${delay} ms: status ${r.status} signal ${r.signal} ${r.stderr.trim()}`);
    }
    assert.deepEqual(failures, []);
  });

  test('an embedder disposed while onnxruntime-node is still loading ends its process with its own code (no C++ abort)', (t) => {
    // `loupe search` on an index whose metadata was damaged: the engine adopted the prestarted
    // thread, found no index, and closed the embedder while the native module was still loading:
    // the process aborted (exit 134, "terminate called after throwing an instance of 'Napi::Error'").
    const { dir, cleanup } = tempDir('loupe-lane-close-');
    t.after(cleanup);
    const prestart = pathToFileURL(path.join(REPO, 'out/src/adapters/onnx-prestart.js')).href;
    const embedder = pathToFileURL(path.join(REPO, 'out/src/adapters/onnx-embedder.js')).href;
    const file = path.join(dir, 'close.mjs');
    writeFileSync(
      file,
      `const p = await import(${JSON.stringify(prestart)});
const { OnnxEmbedder } = await import(${JSON.stringify(embedder)});
if (process.argv[3] === 'prestart') p.prestartOnnxWorker();
await new Promise((r) => setTimeout(r, Number(process.argv[2])));
const e = await OnnxEmbedder.load({ modelPath: ${JSON.stringify(INT8)}, contexts: 1, optimizedCacheDir: null });
await e.dispose();
process.exitCode = 2;`,
    );
    const failures: string[] = [];
    for (const mode of ['prestart', 'own'])
      for (let delay = 0; delay <= 120; delay += 20) {
        const r = spawnSync(process.execPath, [file, String(delay), mode], { encoding: 'utf8', timeout: 60_000 });
        if (r.status !== 2) failures.push(`${mode} after ${delay} ms: status ${r.status} signal ${r.signal} ${r.stderr.trim()}`);
      }
    assert.deepEqual(failures, []);
  });

  test('settling is a no-op without a prestarted thread, and ends one nothing adopted', async () => {
    await settlePrestartedWorker();
    prestartOnnxWorker();
    const worker = pending()!.worker;
    const exited = once(worker, 'exit');
    await settlePrestartedWorker();
    await exited;
    assert.equal(pending(), undefined);
    assert.equal(takePrestartedWorker(), null);
  });

  test("ONNX Runtime's telemetry stays off: no device id, database or /tmp/mat-debug log from an embedding process", (t) => {
    const { dir, cleanup } = tempDir('loupe-ort-telemetry-');
    t.after(cleanup);
    const home = path.join(dir, 'home');
    mkdirSync(home);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') };
    delete env.ORT_DISABLE_TELEMETRY;
    const embedder = pathToFileURL(path.join(REPO, 'out/src/adapters/onnx-embedder.js')).href;
    const script = `const { OnnxEmbedder } = await import(${JSON.stringify(embedder)});
const e = await OnnxEmbedder.load({ modelPath: ${JSON.stringify(INT8)}, contexts: 1 });
const v = await e.embedQuery('a query');
await e.dispose();
console.log(JSON.stringify({ pid: process.pid, dims: v.length, env: process.env.ORT_DISABLE_TELEMETRY }));`;
    const file = path.join(dir, 'embed.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pid: number; dims: number; env: string };
    assert.equal(out.dims, 384);
    assert.equal(out.env, '1');
    assert.ok(!existsSync(path.join(home, '.cache', 'Microsoft')), 'no telemetry folder in the home');
    assert.ok(!existsSync(`/tmp/mat-debug-${out.pid}.log`), 'no telemetry log in /tmp');
    assert.ok(existsSync(path.join(home, '.cache', 'loupe', 'onnx-optimized')), 'the optimised-model cache went to the home');
  });
});
