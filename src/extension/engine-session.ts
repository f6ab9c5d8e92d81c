/**
 * One workspace folder's engine: an engine process (EngineClient) plus the extension's view of
 * it (state, status, the running index job). No `vscode` import, so it is tested under plain
 * Node against the real engine process. Everything heavy runs in that process, never here.
 */
import type { EngineStatus } from '../core/engine.js';
import type { SearchFilter } from './search-filter.js';
import type { ComputeStatus } from '../core/compute/status.js';
import type { ExportSummary } from '../core/projector-export.js';
import type { AskParams, AskResult, EventMessage, OpenParams } from '../core/protocol.js';
import { LoupeError, type EngineState, type IndexProgress, type IndexSummary, type Logger } from '../core/types.js';
import { ProgressMeter, type ProgressEstimate } from '../core/progress-meter.js';
import { EngineClient } from '../adapters/engine-client.js';
import type { RootedResult } from './passages.js';

export interface SessionOptions {
  /** Absolute path of the workspace folder. */
  root: string;
  /** Its display name. */
  name: string;
  params: OpenParams;
  /** The engine process script (dist/engine-server.mjs inside the VSIX). */
  serverScript?: string;
  logger: Logger;
  /** Called whenever state or status changes (the status bar re-renders). */
  onChange: () => void;
  /** Called when the watcher's update reached the index (open searches refresh). */
  onIndexed?: () => void;
}

/** A running index job. */
interface Job {
  id: string;
  done: Promise<IndexSummary | undefined>;
  listeners: Set<(p: IndexProgress) => void>;
}

let jobCounter = 0;

export class EngineSession {
  readonly client: EngineClient;
  state: EngineState | undefined;
  status: EngineStatus | undefined;
  /** Hardware, back-off mode and compute unit (the engine's `compute` request and events). */
  compute: ComputeStatus | undefined;
  /** Set when opening the engine failed (model missing, index of another model…). */
  openError: LoupeError | Error | undefined;
  private job: Job | undefined;
  /** The running job's progress by chunks, with throughput and time left (for the status bar tooltip). */
  progress: ProgressEstimate | undefined;
  private meter = new ProgressMeter();
  private readonly answerListeners = new Map<string, (e: Extract<EventMessage, { event: 'answer' }>) => void>();
  /** Why VS Code paused the engine, while it is paused: shown even while no job runs (the engine holds the next one). */
  private pauseReason: string | undefined;
  private watching = false;
  private disposed = false;
  private readonly offEvent: () => void;
  private readonly offExit: () => void;

  constructor(readonly opts: SessionOptions) {
    // Electron's Node (desktop VS Code) needs ELECTRON_RUN_AS_NODE to run a plain Node script.
    // Indexing is background work: the engine runs at nice 10 so the editor wins contended cores.
    // The folder's index has one engine for every client (this window, other windows, `loupe mcp`,
    // `loupe search`): the shared engine on its local socket, started detached if none runs.
    // LOUPE_PRIVATE_ENGINE=1 forks a private one instead (the engine then dies with the window).
    const shared = process.env.LOUPE_PRIVATE_ENGINE === '1' ? undefined : 'vscode';
    this.client = new EngineClient({
      serverScript: opts.serverScript,
      shared,
      env: { ELECTRON_RUN_AS_NODE: '1', LOUPE_ENGINE_NICE: '10' },
    });
    this.offEvent = this.client.onEvent((e) => this.onEvent(e));
    this.offExit = this.client.onExit(({ code, signal, restarting }) => {
      if (this.disposed) return;
      opts.logger.warn(
        `[${opts.name}] engine process exited (${signal ?? `code ${code}`}); ${restarting ? 'restarting it' : 'too many restarts, giving up'}`,
      );
      if (!restarting) {
        this.state = { kind: 'error', message: 'The engine process keeps stopping; see the log.' };
        opts.onChange();
      } else if (this.watching) {
        // The watcher ran in the process that died: start it in the new one.
        this.watching = false;
        this.watch(true).catch((e) => opts.logger.warn(`[${opts.name}] watcher did not restart: ${(e as Error).message}`));
      }
    });
  }

  get root(): string {
    return this.opts.root;
  }
  get name(): string {
    return this.opts.name;
  }
  /** The embedding model's name once the engine is open. */
  get modelName(): string | undefined {
    return this.status?.model.name;
  }

  /** The compute unit embeddings run on now: the scheduler's route when it has one, else the model's. */
  get computeUnit(): string | undefined {
    const unit = this.compute?.unit;
    if (unit === 'ane') return 'ANE';
    if (unit === 'cpu') return 'CPU';
    return this.status?.model.computeUnit;
  }
  /** True while an index job runs. */
  get indexing(): boolean {
    return !!this.job;
  }

  private onEvent(e: EventMessage): void {
    if (e.event === 'state') {
      this.state = e.state;
      this.opts.onChange();
    } else if (e.event === 'progress') {
      if (this.job?.id === e.jobId) {
        this.progress = e.progress.phase === 'scan' ? undefined : this.meter.update(e.progress);
        for (const l of this.job.listeners) l(e.progress);
      }
    } else if (e.event === 'log') {
      this.opts.logger[e.level](`[${this.opts.name}] ${e.message}`);
    } else if (e.event === 'compute') {
      this.compute = e.compute;
      this.opts.onChange();
    } else if (e.event === 'answer') {
      this.answerListeners.get(e.jobId)?.(e);
    } else if (e.event === 'indexed') {
      this.opts.logger.info(
        `[${this.opts.name}] updated ${e.summary.filesChanged} changed, ${e.summary.filesDeleted} deleted file(s): ${e.summary.chunks} chunks`,
      );
      void this.refreshStatus();
      this.opts.onIndexed?.();
    }
  }

  /** Starts the engine process and opens the folder's index (loads the model there). */
  async open(rebuild = false): Promise<EngineStatus> {
    const t0 = performance.now();
    try {
      this.openError = undefined;
      this.status = await this.client.open({
        ...this.opts.params,
        rebuild: rebuild || undefined,
        paused: this.pauseReason !== undefined ? { reason: this.pauseReason } : undefined,
      });
      this.state = this.status.state;
      this.opts.logger.info(
        `[${this.name}] engine open in ${Math.round(performance.now() - t0)} ms: ${this.status.model.name} on ${this.status.model.computeUnit}, ${this.status.chunks} chunks in ${this.status.files} files, ${this.status.searchStructure}, store ${this.status.storeDir}`,
      );
      for (const w of this.status.warnings) this.opts.logger.warn(`[${this.name}] ${w}`);
      this.compute = (await this.client.request('compute', {}).catch(() => null)) ?? undefined;
      if (this.compute)
        this.opts.logger.info(
          `[${this.name}] compute: ${this.compute.units.join(', ') || 'CPU'}; back-off ${this.compute.backoff ? 'on' : 'off'}`,
        );
      return this.status;
    } catch (e) {
      this.openError = e as Error;
      this.state = { kind: 'error', message: (e as Error).message };
      throw e;
    } finally {
      this.opts.onChange();
    }
  }

  /** Re-reads the engine's status. */
  async refreshStatus(): Promise<EngineStatus | undefined> {
    try {
      this.status = await this.client.request('status', {});
      this.opts.onChange();
    } catch (e) {
      this.opts.logger.debug(`[${this.name}] status failed: ${(e as Error).message}`);
    }
    return this.status;
  }

  /**
   * Brings the index up to date (a full scan; unchanged chunks come from the cache). A running
   * job is cancelled first. Resolves undefined when cancelled.
   */
  index(onProgress?: (p: IndexProgress) => void): { id: string; done: Promise<IndexSummary | undefined> } {
    const previous = this.job;
    const id = `index-${process.pid}-${++jobCounter}`;
    const listeners = new Set<(p: IndexProgress) => void>(onProgress ? [onProgress] : []);
    const run = async (): Promise<IndexSummary | undefined> => {
      if (previous) {
        await this.client.request('cancel', { jobId: previous.id }).catch(() => undefined);
        await previous.done.catch(() => undefined);
      }
      try {
        const summary = await this.client.request('index', { jobId: id });
        this.opts.logger.info(
          `[${this.name}] indexed ${summary.files} files (${summary.filesChanged} changed, ${summary.filesDeleted} deleted, ${summary.filesSkipped} skipped): ${summary.chunks} chunks, ${summary.embedded} embedded, ${summary.cached} cached, ${summary.seconds.toFixed(1)} s`,
        );
        for (const w of summary.warnings.slice(0, 20)) this.opts.logger.warn(`[${this.name}] ${w}`);
        return summary;
      } catch (e) {
        if ((e as Error).name === 'AbortError') {
          this.opts.logger.info(`[${this.name}] index job cancelled`);
          return undefined;
        }
        throw e;
      } finally {
        if (this.job?.id === id) this.job = undefined;
        await this.refreshStatus();
      }
    };
    this.meter = new ProgressMeter();
    this.progress = undefined;
    const job: Job = {
      id,
      done: run().finally(() => {
        if (this.job === undefined || this.job.id === id) this.progress = undefined;
      }),
      listeners,
    };
    this.job = job;
    return job;
  }

  /** Adds a progress listener to the running job, if any. */
  onJobProgress(listener: (p: IndexProgress) => void): () => void {
    const job = this.job;
    job?.listeners.add(listener);
    return () => job?.listeners.delete(listener);
  }

  /** Cancels the running index job (committed batches are kept). */
  async cancelIndex(): Promise<void> {
    const job = this.job;
    if (!job) return;
    await this.client.request('cancel', { jobId: job.id });
    await job.done.catch(() => undefined);
  }

  /** Starts or stops the engine's file watcher (it runs in the engine process). */
  async watch(on: boolean): Promise<void> {
    if (on === this.watching) return;
    const r = await this.client.request('watch', { on });
    this.watching = r.watching;
    this.opts.logger.info(`[${this.name}] watcher: ${r.how}`);
  }

  /** Searches this folder's index, limited by `filter` when given; `agent` names a chat agent asking (a contention signal for the engine). */
  async search(query: string, k: number, agent?: string, filter?: SearchFilter): Promise<RootedResult[]> {
    const hits = await this.client.request('search', { query, k, agent, ...(filter ? { filter } : {}) });
    return hits.map((h) => ({ ...h, root: this.root, rootName: this.name }));
  }

  /**
   * Asks the engine's answer model (from `p.sources` when given, else from the engine's own
   * retrieval); `onEvent` gets the `answer` events (citations, tokens, done, error). Aborting
   * `signal` cancels generation.
   */
  async ask(
    p: Omit<AskParams, 'jobId'>,
    signal: AbortSignal,
    onEvent: (e: Extract<EventMessage, { event: 'answer' }>) => void,
  ): Promise<AskResult> {
    signal.throwIfAborted();
    const jobId = `ask-${process.pid}-${++jobCounter}`;
    this.answerListeners.set(jobId, onEvent);
    const onAbort = () => void this.client.request('cancel', { jobId }).catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.client.request('ask', { ...p, jobId });
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.answerListeners.delete(jobId);
    }
  }

  /** Writes the index as TensorFlow Embedding Projector files into `outDir` (the engine reads its own store). */
  async exportProjector(outDir: string): Promise<ExportSummary> {
    return this.client.request('exportProjector', { outDir });
  }

  /** Drops a conversation's history in the engine. */
  async forget(conversationId: string): Promise<void> {
    await this.client.request('forgetConversation', { conversationId });
  }

  /**
   * Pauses embedding work between units (the engine keeps answering searches). The pause is engine
   * state: a restarted engine opens paused.
   */
  async pause(reason: string): Promise<void> {
    await this.client.request('pause', { reason });
    this.pauseReason = reason;
    this.opts.onChange();
  }

  async resume(): Promise<void> {
    await this.client.request('resume', {});
    this.pauseReason = undefined;
    this.opts.onChange();
  }

  /** The state to show: a pause from VS Code shows even while no job runs. */
  get shownState(): EngineState | undefined {
    const s = this.state;
    if (this.pauseReason !== undefined && (!s || s.kind === 'ready' || s.kind === 'idle'))
      return { kind: 'paused', reason: this.pauseReason };
    return s;
  }

  /** Stops the engine process. */
  async dispose(): Promise<void> {
    this.disposed = true;
    // Closing waits for the engine's queue: cancel a running index first (committed batches stay).
    if (this.job) await this.client.request('cancel', { jobId: this.job.id }).catch(() => undefined);
    this.offEvent();
    this.offExit();
    await this.client.close(3000);
  }
}
