/**
 * Timing wrappers around the engine's ports and store, so one `engine.index()` run can say where
 * its wall time went: inside embedding calls, or on the main thread while the embedder idled.
 */
import type { Chunk, ChunkerPort } from '../../src/core/types.js';
import { ForwardingEmbedder } from '../../src/core/forwarding-embedder.js';
import type { Store } from '../../src/core/store.js';

/** Time spent in one component, and the part of it during which no embedding was in flight. */
export interface BusyFigure {
  calls: number;
  ms: number;
  /** While the embedder had nothing to do: this time stalls the pipeline. */
  msWhileEmbedderIdle: number;
}

/** Where one index run's wall time went. */
export interface PipelineProbe {
  timeline: {
    beforeFirstEmbedMs: number;
    insideEmbedCallsMs: number;
    betweenEmbedCallsMs: number;
    afterLastEmbedMs: number;
    embedCalls: number;
  };
  mainThread: Record<string, BusyFigure>;
}

/** An EmbedderPort that forwards to a real one and records texts and timings. */
export class ProbeEmbedder extends ForwardingEmbedder {
  readonly texts: string[] = [];
  readonly busy: Record<string, BusyFigure> = {};
  embedCalls = 0;
  embedMs = 0;
  firstEmbedAt = NaN;
  lastEmbedEnd = NaN;
  private inflight = 0;

  /** Times a synchronous main-thread step under `name`. */
  time<T>(name: string, fn: () => T): T {
    const idle = this.inflight === 0;
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.add(name, performance.now() - t0, idle);
    }
  }

  /** Times an async step under `name` (wall time). */
  async timeAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const idle = this.inflight === 0;
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(name, performance.now() - t0, idle);
    }
  }

  private add(name: string, ms: number, idle: boolean): void {
    const b = (this.busy[name] ??= { calls: 0, ms: 0, msWhileEmbedderIdle: 0 });
    b.calls++;
    b.ms += ms;
    if (idle) b.msWhileEmbedderIdle += ms;
  }

  /** Figures of the run that started at `t0` and took `ms` (take it before the probe sees more calls). */
  snapshot(t0: number, ms: number): PipelineProbe {
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    const head = this.firstEmbedAt - t0;
    const tail = t0 + ms - this.lastEmbedEnd;
    return {
      timeline: {
        beforeFirstEmbedMs: r1(head),
        insideEmbedCallsMs: r1(this.embedMs),
        betweenEmbedCallsMs: r1(ms - head - tail - this.embedMs),
        afterLastEmbedMs: r1(tail),
        embedCalls: this.embedCalls,
      },
      mainThread: Object.fromEntries(
        Object.entries(this.busy).map(([k, v]) => [k, { calls: v.calls, ms: r1(v.ms), msWhileEmbedderIdle: r1(v.msWhileEmbedderIdle) }]),
      ),
    };
  }

  override countTokens(text: string): number {
    return this.time('countTokens', () => this.inner.countTokens(text));
  }

  override async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    this.texts.push(...texts);
    this.embedCalls++;
    this.inflight++;
    const t0 = performance.now();
    if (Number.isNaN(this.firstEmbedAt)) this.firstEmbedAt = t0;
    try {
      return await this.inner.embedDocuments(texts, signal);
    } finally {
      const t1 = performance.now();
      this.embedMs += t1 - t0;
      this.lastEmbedEnd = t1;
      this.inflight--;
    }
  }
}

/** A ChunkerPort that times `chunkFile` on the probe. */
export class ProbeChunker implements ChunkerPort {
  constructor(
    private readonly inner: ChunkerPort,
    private readonly probe: ProbeEmbedder,
  ) {}

  get version(): string {
    return this.inner.version;
  }

  languageFor(relPath: string): string {
    return this.inner.languageFor(relPath);
  }

  chunkFile(relPath: string, text: string): Promise<Chunk[]> {
    return this.probe.timeAsync('chunk', () => this.inner.chunkFile(relPath, text));
  }

  dispose(): void {
    this.inner.dispose();
  }
}

/** Wraps the store's commit and snapshot (public methods) with probe timers. */
export function probeStore(store: Store, probe: ProbeEmbedder): void {
  const commit = store.commit.bind(store);
  const snapshot = store.snapshot.bind(store);
  store.commit = (v, ops) => probe.time('storeCommit', () => commit(v, ops));
  store.snapshot = () => probe.time('storeSnapshot', () => snapshot());
}
