/**
 * `loupe bench` in a child process, for hosts that must not load native modules (the VS Code
 * extension host): forked by `runBenchForked` (bench-client.ts), it receives one `run` message
 * with the options, sends `progress` messages, then `done` (results, report path) or `error`,
 * and exits. A `cancel` message aborts the run. Bundled as dist/bench-worker.mjs.
 */
import { LoupeError, type Logger } from '../../core/types.js';
import { runBench, type BenchOptions } from './run-bench.js';

export type WorkerRequest =
  | {
      type: 'run';
      options: Omit<BenchOptions, 'signal' | 'logger' | 'answerModel'> & {
        answerModel?: import('../llm/open-answer-model.js').AnswerModelConfig;
      };
    }
  | { type: 'cancel' };

export type WorkerMessage =
  | { type: 'progress'; step: string; fraction: number; detail?: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'done'; results: import('../../core/bench/results.js').BenchResults; reportPath?: string; jsonPath?: string; html: string }
  | { type: 'error'; message: string; code?: string; aborted?: boolean };

/** Sends a message; resolves once it is handed to the channel (a large `done` needs that before disconnecting). */
function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

if (process.send) {
  const ac = new AbortController();
  const logger: Logger = {
    info: (message) => void send({ type: 'log', level: 'info', message }),
    debug: () => {},
    warn: (message) => void send({ type: 'log', level: 'warn', message }),
    error: (message) => void send({ type: 'log', level: 'error', message }),
  };
  // If the host goes away, stop.
  process.on('disconnect', () => {
    ac.abort();
    setTimeout(() => process.exit(0), 2000).unref();
  });
  process.on('message', (m: WorkerRequest) => {
    if (m.type === 'cancel') {
      ac.abort();
      return;
    }
    if (m.type !== 'run') return;
    runBench({ ...m.options, signal: ac.signal, logger }, (p) => void send({ type: 'progress', ...p }))
      .then((r) => send({ type: 'done', results: r.results, reportPath: r.reportPath, jsonPath: r.jsonPath, html: r.html }))
      .catch((e: Error) =>
        send({ type: 'error', message: e.message, code: e instanceof LoupeError ? e.code : undefined, aborted: ac.signal.aborted }),
      )
      .finally(() => {
        if (process.connected) process.disconnect();
      });
  });
}
