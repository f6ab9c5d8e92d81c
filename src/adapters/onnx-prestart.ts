/**
 * The first ONNX Runtime lane's thread, started before the CLI bundle loads: a cold `loupe search`
 * then boots the worker and loads onnxruntime-node (~150–300 ms of that thread) while the main
 * thread compiles the CLI and opens the index, instead of after (issue 17).
 *
 * `bin/loupe.js` starts it through dist/quick.mjs once no running engine answered; the OnnxEmbedder
 * of the same process adopts it (a separate bundle: the hand-over goes through a global symbol).
 * Until adopted it keeps no process alive, and a worker that has already exited is not adopted.
 * Nothing here loads onnxruntime-node on this thread.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const KEY = Symbol.for('loupe.onnx.prestartedWorker');

interface Prestarted {
  worker: Worker;
  exited: boolean;
  /** onnxruntime-node finished loading on the thread (its 'loaded' message), or the thread ended. */
  settled: Promise<void>;
}

type Holder = { [KEY]?: Prestarted };

/** The worker script beside a bundle or module in `dir` (dist/onnx-worker.mjs, out/…/onnx-worker.js), or null. */
export function onnxWorkerScript(dir: string): string | null {
  for (const f of ['onnx-worker.js', 'onnx-worker.mjs']) {
    const p = path.join(dir, f);
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * A worker thread for ONNX Runtime sessions, with ONNX Runtime's telemetry off (unless the user set
 * `ORT_DISABLE_TELEMETRY` themselves). onnxruntime-node 1.30 on Linux otherwise starts Microsoft's
 * 1DS telemetry with every process: it reads /etc/machine-id, keeps a device id and a growing
 * SQLite database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime, leaves an empty
 * /tmp/mat-debug-<pid>.log, and uploads over HTTPS where it finds a CA bundle. A local code search
 * needs none of it. Set here, on the main thread: ONNX Runtime reads the process environment,
 * which only the main thread's `process.env` writes through to.
 */
export function newOnnxWorker(script: string | URL): Worker {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  return new Worker(script);
}

/**
 * Resolves once onnxruntime-node has finished loading on `worker` (its 'loaded' message, posted
 * before any other) or the thread has ended: from then on it may be terminated safely. Listen from
 * the worker's creation: a message already delivered is not seen again.
 */
export function nativeLoadSettled(worker: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (m: { type?: string }): void => {
      if (m?.type !== 'loaded') return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('exit', () => resolve());
  });
}

/** Starts the worker thread of the first lane now (once per process); false when there is no worker script. */
export function prestartOnnxWorker(dir = path.dirname(fileURLToPath(import.meta.url))): boolean {
  const g = globalThis as Holder;
  if (g[KEY]) return true;
  const script = onnxWorkerScript(dir);
  if (!script) return false;
  const worker = newOnnxWorker(script);
  const rec: Prestarted = {
    worker,
    exited: false,
    settled: nativeLoadSettled(worker),
  };
  worker.once('exit', () => (rec.exited = true));
  // An error before adoption (no onnxruntime-node here): the lane is started afresh, and says why.
  worker.once('error', () => (rec.exited = true));
  rec.worker.unref();
  g[KEY] = rec;
  return true;
}

/**
 * The prestarted worker, once (kept alive from now on), with the promise that onnxruntime-node has
 * finished loading on it (its 'loaded' message may already have gone by); null when none was
 * started or it has exited.
 */
export function takePrestartedWorker(): { worker: Worker; loaded: Promise<void> } | null {
  const g = globalThis as Holder;
  const rec = g[KEY];
  if (!rec) return null;
  delete g[KEY];
  if (rec.exited) {
    void rec.worker.terminate();
    return null;
  }
  rec.worker.ref();
  return { worker: rec.worker, loaded: rec.settled };
}

/**
 * Ends a prestarted worker that nothing adopted (the command failed or needed no ONNX Runtime
 * lane): waits until onnxruntime-node has finished loading on it (at most `capMs`), then
 * terminates it. Ending the process while the native module is still loading aborts it, with a
 * C++ message and no exit code, so every CLI run awaits this before it ends.
 */
export async function settlePrestartedWorker(capMs = 5000): Promise<void> {
  const g = globalThis as Holder;
  const rec = g[KEY];
  if (!rec) return;
  delete g[KEY];
  if (!rec.exited) {
    // Keeps the process alive while it waits (the thread was unref'd; the timer below is too).
    rec.worker.ref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([rec.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, capMs).unref()))]);
    clearTimeout(timer);
  }
  await rec.worker.terminate().catch(() => undefined);
}
