/**
 * The engine behind the protocol: one open index, answered for any number of clients (peers).
 * A forked engine (the extension's IPC channel) has one peer; a shared engine (a local socket,
 * socket-server.ts) has one per connection, and `loupe index` in process has itself as a peer.
 * The host is the index's one writer: index runs, watcher updates and syncs are serialised by
 * the engine, and searches run beside them on what is committed.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { closeEngine, computeControllerOf, openEngine, packageRoot } from '../adapters/open-engine.js';
import { ChokidarWatcher } from '../adapters/chokidar-watcher.js';
import { computeStatusWithoutBackoff } from '../adapters/compute/compute.js';
import { AnswerService } from '../adapters/llm/answer-service.js';
import { mergeHits } from '../core/engine.js';
import {
  PROTOCOL_VERSION,
  type EngineMessage,
  type EngineMethods,
  type EventMessage,
  type MethodName,
  type OpenParams,
  type RequestMessage,
} from '../core/protocol.js';
import { writeProjectorFiles } from '../core/projector-export.js';
import { LoupeError, type Logger, type SearchResult } from '../core/types.js';

type Parts = Awaited<ReturnType<typeof openEngine>>;

/** One client of the host. */
export interface Peer {
  /** Delivers a response or an event to this client. */
  send(m: EngineMessage): void;
  /** Who it is (`loupe mcp`, `vscode`, `loupe search`), from `hello`. */
  label: string;
  /** This peer asked for the watcher (it runs while any peer wants it). */
  watching?: boolean;
  /** The peer passed `hello` (shared engines only answer other requests after it). */
  greeted?: boolean;
}

export interface HostOptions {
  /** True for a shared engine: `hello` is required, `close` ends only the asking client's use. */
  shared: boolean;
  /** Called when the host wants its process to end (after `shutdown`, or `close` of a forked engine). */
  onExit: () => void;
  /** How long a store held by another process (a one-shot `loupe search`) is waited for at `open` (default 20 s). */
  lockWaitMs?: number;
  /** Also called for every log message (a detached engine writes its log file from it). */
  onLog?: (level: 'info' | 'warn' | 'error' | 'debug', message: string) => void;
}

/** Loupe's package version (for `hello`). */
export function loupeVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The parameters that make an engine a different engine: another folder, store or model. */
function identityOf(p: OpenParams): string {
  return JSON.stringify([
    path.resolve(p.root),
    p.storeDir ? path.resolve(p.storeDir) : null,
    p.modelPath ?? null,
    p.dimensions ?? null,
    p.backend ?? 'auto',
  ]);
}

export class EngineHost {
  private parts: Parts | undefined;
  private opened: OpenParams | undefined;
  private watcher: ChokidarWatcher | undefined;
  private readonly jobs = new Map<string, AbortController>();
  private readonly answers: AnswerService;
  readonly peers = new Set<Peer>();
  private lastScanAt: number | null = null;
  /** A sync's index run in flight (later syncs join it). */
  private syncing: Promise<unknown> | undefined;
  /** `open`s run one at a time: two at once (two clients) would load two engines on one store. */
  private opening: Promise<unknown> = Promise.resolve();
  private closed = false;
  readonly logger: Logger;
  readonly version = loupeVersion();

  constructor(private readonly opts: HostOptions) {
    const log =
      (level: 'info' | 'warn' | 'error' | 'debug') =>
      (message: string): void => {
        opts.onLog?.(level, message);
        this.broadcast({ type: 'event', event: 'log', level, message });
      };
    this.logger = { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') };
    this.answers = new AnswerService(this.logger);
  }

  /** Sends an event to every client. */
  broadcast(e: EventMessage): void {
    for (const p of this.peers) p.send(e);
  }

  /** The open engine's parts (for `loupe index` in process). */
  get engineParts(): Parts | undefined {
    return this.parts;
  }

  attach(peer: Peer): void {
    this.peers.add(peer);
  }

  /** A client went away: its watch request goes with it. */
  async detach(peer: Peer): Promise<void> {
    if (!this.peers.delete(peer)) return;
    if (peer.watching) await this.updateWatcher().catch((e) => this.logger.warn(`watcher: ${(e as Error).message}`));
  }

  private engine(): Parts['engine'] {
    if (!this.parts) throw new LoupeError('The engine has not been opened yet.', 'not-open');
    return this.parts.engine;
  }

  private async withJob<T>(jobId: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    this.jobs.set(jobId, ac);
    try {
      return await run(ac.signal);
    } finally {
      this.jobs.delete(jobId);
    }
  }

  /** Marks an agent as active for the compute scheduler (a query from MCP or the language-model tool). */
  private noteAgent(agent: string | undefined): void {
    if (!agent || !this.parts) return;
    computeControllerOf(this.parts)?.noteAgentQuery(agent);
  }

  private async openParts(p: OpenParams): Promise<void> {
    const previous = this.parts ? this.opened : undefined;
    try {
      await this.openPartsOnce(p);
    } catch (e) {
      // Another model's index, a missing model file…: the index that was open stays served.
      if (previous && !this.parts && !this.closed) await this.openPartsOnce(previous).catch(() => undefined);
      throw e;
    }
  }

  private async openPartsOnce(p: OpenParams): Promise<void> {
    if (this.parts) {
      await this.stopWatcher();
      await closeEngine(this.parts);
      this.parts = undefined;
    }
    const deadline = Date.now() + (this.opts.lockWaitMs ?? 20_000);
    for (;;) {
      try {
        this.parts = await openEngine({
          ...p,
          logger: this.logger,
          onCompute: (compute) => this.broadcast({ type: 'event', event: 'compute', compute }),
        });
        break;
      } catch (e) {
        // A one-shot `loupe search` in process holds the store for a few seconds: wait it out.
        if (!(e instanceof LoupeError && e.code === 'store-locked') || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.opened = p;
    this.lastScanAt = null;
    this.parts.engine.onState((state) => this.broadcast({ type: 'event', event: 'state', state }));
    this.broadcast({ type: 'event', event: 'state', state: this.parts.engine.state });
    await this.updateWatcher();
  }

  private async stopWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }

  /** Runs the watcher while any client wants it. */
  private async updateWatcher(): Promise<void> {
    const wanted = [...this.peers].some((p) => p.watching) && !!this.parts;
    if (wanted && !this.watcher) {
      const e = this.engine();
      const w = new ChokidarWatcher({ root: e.root, isIgnored: (rel, isDir) => e.isIgnored(rel, isDir), logger: this.logger });
      this.watcher = w;
      await w.start(async (batch) => {
        const summary = batch.rescan ? await e.index() : await e.updatePaths(batch.changed, batch.deleted);
        if (batch.rescan) this.lastScanAt = Date.now();
        this.broadcast({ type: 'event', event: 'indexed', summary });
      });
    } else if (!wanted && this.watcher) {
      await this.stopWatcher();
    }
  }

  /** Search, with the engine's filters (content kind, language, path glob). */
  private async search(p: EngineMethods['search'][0]): Promise<SearchResult[]> {
    this.noteAgent(p.agent);
    return this.engine().search(p.query, { k: Math.max(1, p.k ?? 10), mode: p.mode, filter: p.filter });
  }

  /** Chunks nearest to the chunk at path:line (that chunk itself left out). */
  private related(p: EngineMethods['related'][0]): SearchResult[] {
    const e = this.engine();
    this.noteAgent(p.agent);
    const rel = p.path.split(path.sep).join('/').replace(/^\.\//, '');
    const rec = e.store.files.get(rel);
    if (!rec || !rec.chunks.length)
      throw new LoupeError(`${p.path} is not in the index (not indexed yet, ignored, or not a path relative to ${e.root}).`, 'not-indexed');
    const line = p.line ?? rec.chunks[0].startLine;
    const around = rec.chunks
      .filter((c) => c.startLine <= line && line <= c.endLine)
      .sort((a, b) => a.endLine - a.startLine - (b.endLine - b.startLine));
    const chunk = around[0] ?? rec.chunks.reduce((best, c) => (Math.abs(c.startLine - line) < Math.abs(best.startLine - line) ? c : best));
    const vector = e.store.getVector(chunk.hash);
    if (!vector) throw new LoupeError(`${p.path}:${line} has no vector yet (indexing in progress); try again shortly.`, 'not-indexed');
    const k = Math.max(1, p.k ?? 10);
    // The starting place is not "related" to itself: leave out its chunk and the rest of its symbol.
    const self = (h: { path: string; chunk: { startLine: number; endLine: number; symbol: string | null } }): boolean =>
      h.path === rel &&
      ((h.chunk.startLine <= chunk.endLine && h.chunk.endLine >= chunk.startLine) || (!!chunk.symbol && h.chunk.symbol === chunk.symbol));
    const hits = e.store.search(vector, k * 3 + 10).filter((h) => !self(h));
    return mergeHits(hits, k);
  }

  /**
   * Brings the index up to date: an incremental index run (files whose size or mtime changed),
   * unless one is already going. Waits at most `maxWaitMs`; the run goes on in the background.
   */
  private async sync(p: EngineMethods['sync'][0]): Promise<EngineMethods['sync'][1]> {
    const e = this.engine();
    this.noteAgent(p.agent);
    const ago = (): number | null => (this.lastScanAt === null ? null : Date.now() - this.lastScanAt);
    const busy = (): string => {
      const s = e.state;
      return s.kind === 'indexing'
        ? `indexing: ${s.done} of ${s.total} changed files done`
        : s.kind === 'paused' || s.kind === 'backingOff'
          ? `indexing ${s.kind === 'paused' ? 'paused' : 'slowed'} (${s.reason})`
          : s.kind === 'scanning'
            ? 'scanning the folder'
            : 'an index run is in progress';
    };
    const wait = p.maxWaitMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const within = <T>(work: Promise<T>): Promise<T | null> =>
      Promise.race([work, new Promise<null>((r) => (timer = setTimeout(() => r(null), wait)))]).finally(() => clearTimeout(timer));
    // A live watcher already sees every change: a sync waits until the events written before this
    // request are committed (nothing to wait for when none came), instead of checking every file
    // on disk (a stat walk of the whole tree, 283 ms p50 at 60k chunks: mcp-scale-2026-12-03.json).
    // Only once the files on disk have been checked since the index was opened: the watcher reports
    // changes from its start on, so what was created or edited before (a folder with no index yet,
    // edits made while no engine ran) is found by that first check, not by the watcher.
    const w = this.watcher;
    if (w?.live && !this.syncing && this.lastScanAt !== null) {
      const settled = await within(w.catchUp().then(() => true));
      if (!settled)
        return {
          fresh: false,
          reason: `${busy()}; the watcher's changes were not committed after ${wait} ms, they continue in the background`,
          scannedAgoMs: ago(),
        };
      return { fresh: true, scannedAgoMs: ago() };
    }
    // Queued behind a running job (a watcher batch, an index run): a short one is waited for, a
    // long one (a first index) is reported. Concurrent syncs share one run.
    const started = Date.now();
    const run = (this.syncing ??= e
      .index()
      .then((summary) => {
        this.lastScanAt = started;
        if (summary.filesChanged || summary.filesDeleted) this.broadcast({ type: 'event', event: 'indexed', summary });
        return summary;
      })
      .finally(() => {
        this.syncing = undefined;
      }));
    const out = await within(run.then((summary) => ({ summary })));
    if (!out)
      return { fresh: false, reason: `${busy()}; not finished after ${wait} ms, it continues in the background`, scannedAgoMs: ago() };
    return { fresh: true, scannedAgoMs: ago(), summary: out.summary as EngineMethods['sync'][1]['summary'] };
  }

  /** Opens the index, or reuses the open one (serialised by the `open` handler). */
  private async open(withPause: EngineMethods['open'][0]): Promise<EngineMethods['open'][1]> {
    // A user's pause is engine state, replayed by a client after a crash: not part of the index's identity.
    const { paused, ...p } = withPause;
    const others = this.peers.size - 1;
    if (this.parts && this.opened && !p.rebuild) {
      const same = identityOf(p) === identityOf(this.opened);
      // Same index and model: reuse it (settings such as excludes re-open only an engine nobody else uses).
      if (same && (others > 0 || JSON.stringify(p) === JSON.stringify(this.opened))) {
        if (paused) this.parts.engine.pause(paused.reason);
        return this.parts.engine.status();
      }
      if (!same && this.opts.shared && others > 0) {
        const m = this.parts.engine.status().model;
        throw new LoupeError(
          `The Loupe engine for this index (PID ${process.pid}) runs model ${m.name} for ${others} other client(s); use the same model, or stop them first.`,
          'engine-in-use',
        );
      }
    }
    await this.openParts(p);
    if (paused) this.engine().pause(paused.reason);
    return this.engine().status();
  }

  private readonly handlers: { [M in MethodName]: (p: EngineMethods[M][0], peer: Peer) => Promise<EngineMethods[M][1]> } = {
    hello: async (p, peer) => {
      if (p.protocol !== PROTOCOL_VERSION) {
        // Nobody else uses this engine: make way for the newer (or older) client's own.
        const alone = this.peers.size <= 1;
        if (alone) setTimeout(() => void this.shutdown(), 50);
        throw new LoupeError(
          `The Loupe engine serving this index speaks protocol ${PROTOCOL_VERSION} (Loupe ${this.version}, PID ${process.pid}) and this client ${p.protocol}; ` +
            (alone
              ? 'it is stopping so a matching one can start.'
              : `it is in use by ${this.peers.size - 1} other client(s): stop them (or the engine, PID ${process.pid}) and try again.`),
          alone ? 'version-skew-restart' : 'version-skew',
        );
      }
      peer.label = p.client || 'client';
      peer.greeted = true;
      return {
        protocol: PROTOCOL_VERSION,
        version: this.version,
        pid: process.pid,
        clients: this.peers.size,
        root: this.parts?.engine.root ?? null,
        storeDir: this.parts?.engine.storeDir ?? null,
      };
    },
    open: (withPause) => {
      const run = this.opening.then(() => this.open(withPause));
      this.opening = run.catch(() => undefined);
      return run;
    },
    index: async ({ jobId }) => {
      const started = Date.now();
      const summary = await this.withJob(jobId, (signal) =>
        this.engine().index({ signal, onProgress: (progress) => this.broadcast({ type: 'event', event: 'progress', jobId, progress }) }),
      );
      this.lastScanAt = started;
      return summary;
    },
    search: async (p) => this.search(p),
    related: async (p) => this.related(p),
    sync: async (p) => this.sync(p),
    status: async () => this.engine().status(),
    compute: async () => {
      if (!this.parts) return null;
      const c = computeControllerOf(this.parts);
      if (!c) return computeStatusWithoutBackoff(this.parts.embedder);
      await c.detect();
      return c.status();
    },
    watch: async ({ on }, peer) => {
      this.engine();
      peer.watching = on;
      await this.updateWatcher();
      return { watching: !!this.watcher, how: this.watcher?.describe() ?? 'not watching' };
    },
    cancel: async ({ jobId }) => {
      const ac = this.jobs.get(jobId);
      ac?.abort();
      return { cancelled: !!ac };
    },
    pause: async ({ reason }) => {
      this.engine().pause(reason);
      return null;
    },
    resume: async () => {
      this.engine().resume();
      return null;
    },
    ask: async (p, peer) => {
      this.noteAgent(peer.label.startsWith('mcp') ? peer.label : undefined);
      return this.withJob(p.jobId, async (signal) => {
        const d = await this.answers.ask(this.engine(), p, signal, (e) =>
          peer.send({ type: 'event', event: 'answer', jobId: p.jobId, ...e }),
        );
        return {
          answer: d.answer,
          citations: d.citations,
          cited: d.cited,
          finishReason: d.finishReason,
          model: (await this.answers.modelFor(p.llm)).info,
        };
      });
    },
    answerModel: async ({ llm }) => this.answers.info(llm),
    forgetConversation: async ({ conversationId }) => ({ forgotten: this.answers.forget(conversationId) }),
    exportProjector: async ({ outDir }) => {
      const e = this.engine();
      if (!e.store.chunkCount)
        throw new LoupeError(`Nothing in ${e.root} is indexed yet: let indexing finish, then export.`, 'empty-index');
      return writeProjectorFiles(e.root, e.store, outDir);
    },
    close: async (_p, peer) => {
      // A shared engine outlives one client's `close`: that client's watch ends, the rest goes on.
      if (this.opts.shared) {
        peer.watching = false;
        await this.updateWatcher();
        return null;
      }
      await this.dispose();
      setImmediate(() => this.opts.onExit());
      return null;
    },
    shutdown: async () => {
      setImmediate(() => void this.shutdown());
      return null;
    },
  };

  /** Answers one request from `peer`. */
  async handle(req: RequestMessage, peer: Peer): Promise<void> {
    try {
      if (this.closed) throw new LoupeError('The engine is stopping.', 'closed');
      const handler = this.handlers[req.method] as ((p: unknown, peer: Peer) => Promise<unknown>) | undefined;
      if (!handler || !Object.hasOwn(this.handlers, req.method)) throw new LoupeError(`Unknown method ${req.method}`, 'bad-request');
      if (this.opts.shared && !peer.greeted && req.method !== 'hello')
        throw new LoupeError('Say hello first (protocol version).', 'bad-request');
      const result = await handler(req.params ?? {}, peer);
      peer.send({ type: 'response', id: req.id, ok: true, result });
    } catch (e) {
      const err = e as Error & { code?: string };
      peer.send({
        type: 'response',
        id: req.id,
        ok: false,
        error: { message: err.message, code: err instanceof LoupeError ? err.code : undefined, aborted: err.name === 'AbortError' },
      });
    }
  }

  /** Closes the index (cancelling jobs; committed batches stay). */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.jobs.values()) ac.abort();
    await this.answers.dispose().catch(() => undefined);
    await this.stopWatcher().catch(() => undefined);
    if (this.parts) await closeEngine(this.parts).catch(() => undefined);
    this.parts = undefined;
  }

  /** Stops the engine for everyone. */
  async shutdown(): Promise<void> {
    await this.dispose();
    this.opts.onExit();
  }
}
