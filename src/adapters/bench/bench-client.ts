/**
 * Runs `loupe bench` in a child process (bench-worker) and reports progress: what VS Code's
 * "Loupe: Run Benchmark" calls, since the extension host loads no native module. Imports
 * nothing native.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from '../../core/bench/results.js';
import { LoupeError } from '../../core/types.js';
import type { BenchProgress } from './run-bench.js';
import type { WorkerMessage, WorkerRequest } from './bench-worker.js';

export type ForkedBenchOptions = Extract<WorkerRequest, { type: 'run' }>['options'];

export interface ForkedBenchRun {
  results: BenchResults;
  html: string;
  reportPath?: string;
  jsonPath?: string;
}

/**
 * Forks the worker (`workerScript`, default: bench-worker.js beside this file; in the VSIX
 * dist/bench-worker.mjs), runs the benchmark with `options`, and resolves with the results and
 * the report's HTML. Aborting `signal` cancels the run (rejects with an AbortError).
 */
export function runBenchForked(
  options: ForkedBenchOptions,
  onProgress: (p: BenchProgress) => void = () => {},
  o: {
    workerScript?: string;
    execPath?: string;
    env?: NodeJS.ProcessEnv;
    signal?: AbortSignal;
    onLog?: (level: string, message: string) => void;
  } = {},
): Promise<ForkedBenchRun> {
  const script = o.workerScript ?? fileURLToPath(new URL('./bench-worker.js', import.meta.url));
  return new Promise((resolve, reject) => {
    o.signal?.throwIfAborted();
    // `env` is added to this process's (VS Code's Electron needs ELECTRON_RUN_AS_NODE to run a Node script).
    const child = fork(script, [], {
      execPath: o.execPath,
      env: o.env ? { ...process.env, ...o.env } : undefined,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const onAbort = (): void => {
      if (child.connected) child.send({ type: 'cancel' } satisfies WorkerRequest);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onProgress({ step: m.step, fraction: m.fraction, detail: m.detail });
      else if (m.type === 'log') o.onLog?.(m.level, m.message);
      else if (m.type === 'done')
        finish(() => resolve({ results: m.results, html: m.html, reportPath: m.reportPath, jsonPath: m.jsonPath }));
      else if (m.type === 'error') {
        finish(() =>
          reject(
            m.aborted
              ? Object.assign(new Error('The benchmark was cancelled.'), { name: 'AbortError' })
              : new LoupeError(m.message, m.code ?? 'bench-failed'),
          ),
        );
      }
    });
    child.on('error', (e) => finish(() => reject(e)));
    // 'close' comes after the IPC channel and stdio are done, so a last 'done' message is never lost.
    child.on('close', (code, signal) => {
      finish(() =>
        reject(
          new LoupeError(
            `The benchmark process exited (${signal ?? `code ${code}`}) before finishing.${stderr ? `\n${stderr.trim()}` : ''}`,
            'bench-failed',
          ),
        ),
      );
    });
    child.send({ type: 'run', options } satisfies WorkerRequest);
  });
}
