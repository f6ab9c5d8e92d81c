/**
 * The engine as a separate process: started with `child_process.fork`, it speaks the protocol
 * of src/core/protocol.ts over the IPC channel. Native work (llama.cpp, hnswlib, tree-sitter)
 * happens here, so a native crash or a long synchronous HNSW build never touches the host.
 */
import { setPriority } from 'node:os';
import { closeEngine, computeControllerOf, openEngine } from '../adapters/open-engine.js';
import { ChokidarWatcher } from '../adapters/chokidar-watcher.js';
import { computeStatusWithoutBackoff } from '../adapters/compute/compute.js';
import { AnswerService } from '../adapters/llm/answer-service.js';
import { writeProjectorFiles } from '../core/projector-export.js';
import { isRequest, type EngineMessage, type EngineMethods, type MethodName, type RequestMessage } from '../core/protocol.js';
import { LoupeError, type Logger } from '../core/types.js';

type Parts = Awaited<ReturnType<typeof openEngine>>;

// Indexing is background work: a front end (the VS Code extension) may ask the engine to run at a
// lower CPU priority so the editor wins when cores are contended. Set before any model loads, so
// the threads llama.cpp starts later inherit it.
const nice = Number(process.env.LOUPE_ENGINE_NICE);
if (Number.isInteger(nice) && nice > 0) {
  try {
    setPriority(Math.min(nice, 19));
  } catch {
    // not permitted here: run at normal priority
  }
}

function send(m: EngineMessage): void {
  process.send?.(m);
}

const logger: Logger = {
  info: (message) => send({ type: 'event', event: 'log', level: 'info', message }),
  warn: (message) => send({ type: 'event', event: 'log', level: 'warn', message }),
  error: (message) => send({ type: 'event', event: 'log', level: 'error', message }),
  debug: (message) => send({ type: 'event', event: 'log', level: 'debug', message }),
};

let parts: Parts | undefined;
let watcher: ChokidarWatcher | undefined;
const jobs = new Map<string, AbortController>();
const answers = new AnswerService(logger);

function engine(): Parts['engine'] {
  if (!parts) throw new LoupeError('The engine has not been opened yet.', 'not-open');
  return parts.engine;
}

async function withJob<T>(jobId: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  jobs.set(jobId, ac);
  try {
    return await run(ac.signal);
  } finally {
    jobs.delete(jobId);
  }
}

const handlers: { [M in MethodName]: (p: EngineMethods[M][0]) => Promise<EngineMethods[M][1]> } = {
  async open(p) {
    if (parts) await closeEngine(parts);
    parts = await openEngine({ ...p, logger, onCompute: (compute) => send({ type: 'event', event: 'compute', compute }) });
    if (p.paused) parts.engine.pause(p.paused.reason);
    parts.engine.onState((state) => send({ type: 'event', event: 'state', state }));
    send({ type: 'event', event: 'state', state: parts.engine.state });
    return parts.engine.status();
  },
  async index({ jobId }) {
    return withJob(jobId, (signal) => engine().index({ signal, onProgress: (progress) => send({ type: 'event', event: 'progress', jobId, progress }) }));
  },
  async search({ query, k, mode }) {
    return engine().search(query, { k, mode });
  },
  async status() {
    return engine().status();
  },
  async compute() {
    if (!parts) return null;
    const c = computeControllerOf(parts);
    if (!c) return computeStatusWithoutBackoff(parts.embedder);
    await c.detect();
    return c.status();
  },
  async watch({ on }) {
    const e = engine();
    if (on && !watcher) {
      watcher = new ChokidarWatcher({ root: e.root, isIgnored: (rel, isDir) => e.isIgnored(rel, isDir), logger });
      await watcher.start(async (batch) => {
        const summary = batch.rescan ? await e.index() : await e.updatePaths(batch.changed, batch.deleted);
        send({ type: 'event', event: 'indexed', summary });
      });
    } else if (!on && watcher) {
      await watcher.close();
      watcher = undefined;
    }
    return { watching: !!watcher, how: watcher?.describe() ?? 'not watching' };
  },
  async cancel({ jobId }) {
    const ac = jobs.get(jobId);
    ac?.abort();
    return { cancelled: !!ac };
  },
  async pause({ reason }) {
    engine().pause(reason);
    return null;
  },
  async resume() {
    engine().resume();
    return null;
  },
  async ask(p) {
    return withJob(p.jobId, async (signal) => {
      const d = await answers.ask(engine(), p, signal, (e) => send({ type: 'event', event: 'answer', jobId: p.jobId, ...e }));
      return { answer: d.answer, citations: d.citations, cited: d.cited, finishReason: d.finishReason, model: (await answers.modelFor(p.llm)).info };
    });
  },
  async exportProjector({ outDir }) {
    const e = engine();
    if (!e.store.chunkCount) throw new LoupeError(`Nothing in ${e.root} is indexed yet: let indexing finish, then export.`, 'empty-index');
    return writeProjectorFiles(e.root, e.store, outDir);
  },
  async forgetConversation({ conversationId }) {
    return { forgotten: answers.forget(conversationId) };
  },
  async close() {
    await answers.dispose();
    await watcher?.close();
    watcher = undefined;
    if (parts) await closeEngine(parts);
    parts = undefined;
    setImmediate(() => process.exit(0));
    return null;
  },
};

async function handle(req: RequestMessage): Promise<void> {
  try {
    const handler = handlers[req.method] as (p: unknown) => Promise<unknown>;
    if (!handler) throw new LoupeError(`Unknown method ${req.method}`, 'bad-request');
    const result = await handler(req.params);
    send({ type: 'response', id: req.id, ok: true, result });
  } catch (e) {
    const err = e as Error & { code?: string };
    send({ type: 'response', id: req.id, ok: false, error: { message: err.message, code: err instanceof LoupeError ? err.code : undefined, aborted: err.name === 'AbortError' } });
  }
}

if (!process.send) {
  process.stderr.write('loupe engine: must be started with an IPC channel (child_process.fork)\n');
  process.exit(2);
}
process.on('message', (m) => {
  if (isRequest(m)) void handle(m);
});
// The host going away closes the channel; nothing is left to serve.
process.on('disconnect', () => {
  void (async () => {
    await answers.dispose().catch(() => undefined);
    await watcher?.close();
    if (parts) await closeEngine(parts).catch(() => undefined);
    process.exit(0);
  })();
});
