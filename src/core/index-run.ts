/**
 * One index run over a list of changed files and deleted paths: read → hash → chunk → fit to the
 * token budget → look up the cache → embed the rest in batches; each batch commits its vectors
 * and the files it completed. The Engine makes one per run (serialised) and owns the state and
 * the snapshot around it.
 */
import { boundedHeader, fitToTokenBudget } from './chunking.js';
import { sha256 } from './fsutil.js';
import type { LexicalIndex } from './lexical/index.js';
import { readSourceFile, type ScannedFile } from './scanner.js';
import type { FileRecord, JournalOp, Store } from './store.js';
import type { Chunk, ChunkerPort, EmbedderPort, IndexProgress, IndexSummary, Logger, PacerPort } from './types.js';
import { DEFAULT_BATCH_SIZE } from './defaults.js';

/** What a run reads and writes: the Engine's store, indexes and ports. */
export interface IndexRunDeps {
  root: string;
  maxFileBytes: number;
  store: Store;
  lexical: LexicalIndex;
  chunker: ChunkerPort;
  embedder: EmbedderPort;
  pacer: PacerPort;
  logger: Logger;
  signal?: AbortSignal;
  onProgress?: (p: IndexProgress) => void;
  /** Shows the run's progress in the engine's state (not called for phase `done`). */
  onIndexing: (s: { kind: 'indexing'; done: number; total: number }) => void;
}

/** A file waiting for the vectors of its new chunks before its record is committed. */
interface PendingFile {
  op: JournalOp;
  /** Hashes this file still waits for. */
  waiting: number;
}

interface EmbeddedBatch {
  hashes: string[];
  vectors: Float32Array[];
}

type PreparedFile =
  | { skip: string; detail: string }
  | { unchanged: FileRecord; size: number; mtimeMs: number }
  | { fitted: { chunk: Chunk; header: string }[]; fileHash: string; size: number; mtimeMs: number };

/** A file that takes longer than this to read and chunk is named in the log. */
const SLOW_FILE_MS = 10_000;

/** The content key of a chunk's vector. The path is left out so a renamed file costs no embedding. */
export function chunkKey(chunk: Chunk): string {
  return sha256(`${chunk.language}\0${chunk.symbol ?? ''}\0${chunk.text}`).slice(0, 32);
}

/** An error's message on one line, for a summary line. */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 300);
}

export class IndexRun {
  readonly summary: IndexSummary;
  private readonly maxTokens: number;
  private readonly bytesTotal: number;
  private bytesDone = 0;
  private filesDone = 0;
  /** Journal entries for the next commit: deletions, then completed files in order. */
  private ops: JournalOp[];
  /** Files in the order they were read, until all their vectors are in. */
  private readonly pending: PendingFile[] = [];
  /** hash → files waiting for it, and its text to embed. */
  private readonly wanted = new Map<string, { text: string; files: PendingFile[] }>();
  /** Hashes to embed, first in first out. */
  private queue: string[] = [];
  /** The unit being embedded while the next files are chunked. */
  private inflight: Promise<EmbeddedBatch> | null = null;
  /** Chunks per unit of embedding work; the pacer sets it before each unit. */
  private unit: number;

  constructor(
    private readonly deps: IndexRunDeps,
    private readonly files: ScannedFile[],
    deleted: string[],
    warnings: string[],
  ) {
    this.summary = {
      files: 0,
      filesChanged: 0,
      filesDeleted: deleted.length,
      filesSkipped: 0,
      chunks: 0,
      embedded: 0,
      cached: 0,
      seconds: 0,
      warnings,
    };
    this.maxTokens = deps.embedder.profile.maxTokens;
    this.bytesTotal = files.reduce((n, f) => n + f.size, 0);
    this.ops = deleted.map((p) => ({ op: 'del', path: p }));
    this.unit = deps.pacer.state.kind === 'paused' ? DEFAULT_BATCH_SIZE : deps.pacer.state.batchSize;
  }

  /**
   * Reads, chunks and embeds every file, committing batch by batch, and commits the rest. On a
   * failure or cancel, what committed stays committed; call `abandon` to settle the batch in flight.
   */
  async run(): Promise<IndexSummary> {
    for (const f of this.files) {
      this.deps.signal?.throwIfAborted();
      this.filesDone++;
      this.bytesDone += f.size;
      // Skipped and unchanged files neither fill the queue nor count towards progress reports.
      if (!(await this.addFile(f))) continue;
      if (this.queue.length >= this.unit) await this.flush(false);
      else if (!this.queue.length && !this.inflight && this.ops.length >= this.unit) {
        this.commit([], this.ops);
        this.ops = [];
      }
      if (this.filesDone % 16 === 0) this.progress('chunk');
    }
    await this.flush(true);
    this.completeReady();
    this.progress('commit');
    if (this.ops.length) this.commit([], this.ops);
    this.ops = [];
    return this.summary;
  }

  /** Waits for the batch in flight to settle (its vectors are dropped). */
  async abandon(): Promise<void> {
    if (this.inflight) await this.inflight.catch(() => undefined);
    this.inflight = null;
  }

  /** Reports progress; every phase but `done` also shows in the engine's state. */
  progress(phase: IndexProgress['phase']): void {
    const { summary, files, filesDone: done } = this;
    // Chunks per byte so far, times all bytes: the estimate firms up as files are chunked.
    const chunksEstimated =
      done >= files.length || this.bytesDone === 0
        ? summary.chunks
        : Math.max(summary.chunks, Math.round((summary.chunks * this.bytesTotal) / this.bytesDone));
    this.deps.onProgress?.({
      phase,
      filesDone: done,
      filesTotal: files.length,
      chunksEmbedded: summary.embedded,
      chunksCached: summary.cached,
      chunksSeen: summary.chunks,
      chunksEstimated,
      chunksFound: summary.embedded + this.wanted.size,
    });
    if (phase === 'done') return;
    this.deps.onIndexing({ kind: 'indexing', done, total: files.length });
  }

  /**
   * One file: its chunks join the queue (or come from the cache); a file in trouble is skipped.
   * False when the file was skipped or unchanged.
   */
  private async addFile(f: ScannedFile): Promise<boolean> {
    const { summary, deps } = this;
    // One file's trouble (unreadable, binary, a parser or chunker failure, a budget) skips that
    // file with one line in the summary and the log; the run goes on.
    const t0 = performance.now();
    const prepared = await this.prepareFile(f).catch((e: unknown) => ({ skip: 'error', detail: errorText(e) }) as const);
    const ms = performance.now() - t0;
    if (ms > SLOW_FILE_MS) deps.logger.warn(`Index: ${f.rel} took ${(ms / 1000).toFixed(1)} s to read and chunk`);
    if ('skip' in prepared) {
      const line = `${f.rel}: skipped (${prepared.skip}: ${prepared.detail})`;
      summary.warnings.push(line);
      deps.logger.info(`Index: ${line}`);
      summary.filesSkipped++;
      if (deps.store.files.has(f.rel)) {
        this.ops.push({ op: 'del', path: f.rel });
        summary.filesDeleted++;
      }
      return false;
    }
    summary.filesChanged++;
    if ('unchanged' in prepared) {
      // Touched but unchanged: record the new mtime only.
      const prev = prepared.unchanged;
      this.pending.push({
        op: {
          op: 'put',
          path: f.rel,
          file: { ...prev, size: prepared.size, mtimeMs: prepared.mtimeMs, chunks: prev.chunks.map((c) => ({ ...c })) },
        },
        waiting: 0,
      });
      summary.cached += prev.chunks.length;
      summary.chunks += prev.chunks.length;
      this.completeReady();
      return false;
    }
    const { fitted, fileHash } = prepared;
    const record: FileRecord = { size: prepared.size, mtimeMs: prepared.mtimeMs, fileHash, chunker: deps.chunker.version, chunks: [] };
    const entry: PendingFile = { op: { op: 'put', path: f.rel, file: record }, waiting: 0 };
    for (const { chunk: c, header } of fitted) {
      const hash = chunkKey(c);
      record.chunks.push({ label: -1, startLine: c.startLine, endLine: c.endLine, symbol: c.symbol, language: c.language, hash });
      deps.lexical.add(hash, c.text, c.symbol);
      if (deps.store.getVector(hash)) {
        summary.cached++;
        continue;
      }
      let w = this.wanted.get(hash);
      if (!w) {
        w = { text: header + c.text, files: [] };
        this.wanted.set(hash, w);
        this.queue.push(hash);
      } else {
        // The same content twice in this run is embedded once: the second shares its vector,
        // so `embedded + cached` adds up to `chunks`.
        summary.cached++;
      }
      if (!w.files.includes(entry)) {
        w.files.push(entry);
        entry.waiting++;
      }
    }
    summary.chunks += fitted.length;
    this.pending.push(entry);
    this.completeReady();
    return true;
  }

  /**
   * Reads, hashes, chunks and fits one file to the token budget, with no side effects, so that a
   * failure anywhere leaves nothing of the file behind. `unchanged` when its content is already
   * indexed under the current chunking rules.
   */
  private async prepareFile(f: ScannedFile): Promise<PreparedFile> {
    const { deps, maxTokens } = this;
    const read = await readSourceFile(f.abs, { root: deps.root, maxBytes: deps.maxFileBytes });
    if ('skip' in read) return read;
    const fileHash = sha256(read.text);
    const prev = deps.store.files.get(f.rel);
    if (prev && prev.fileHash === fileHash && prev.chunker === deps.chunker.version && deps.lexical.covers(prev.chunks)) {
      return { unchanged: prev, size: read.size, mtimeMs: read.mtimeMs };
    }
    const count = (t: string): number => deps.embedder.countTokens(t);
    let chunks: Chunk[];
    try {
      chunks = await deps.chunker.chunkFile(f.rel, read.text);
    } catch (e) {
      return { skip: 'chunking failed', detail: errorText(e) };
    }
    const fitted: { chunk: Chunk; header: string }[] = [];
    for (const c of chunks) {
      const header = boundedHeader(c, count, maxTokens);
      for (const piece of fitToTokenBudget(c, count, maxTokens, header)) fitted.push({ chunk: piece, header });
    }
    return { fitted, fileHash, size: read.size, mtimeMs: read.mtimeMs };
  }

  /** Moves the files whose vectors are all in to the next commit. */
  private completeReady(): void {
    // Files complete in order (the queue is FIFO), so take the finished prefix.
    while (this.pending.length && this.pending[0].waiting === 0) this.ops.push(this.pending.shift()!.op);
  }

  private async embedBatch(hashes: string[]): Promise<EmbeddedBatch> {
    const texts = hashes.map((h) => this.wanted.get(h)!.text);
    const t0 = performance.now();
    const vectors = await this.deps.embedder.embedDocuments(texts, this.deps.signal);
    this.deps.pacer.release({ chunks: hashes.length, ms: performance.now() - t0 });
    return { hashes, vectors };
  }

  private commitBatch({ hashes, vectors }: EmbeddedBatch): void {
    const fresh = hashes.map((hash, i) => ({ hash, vector: vectors[i] }));
    for (const h of hashes) {
      for (const f of this.wanted.get(h)!.files) f.waiting--;
      this.wanted.delete(h);
    }
    this.summary.embedded += hashes.length;
    this.completeReady();
    this.commit(fresh, this.ops);
    this.ops = [];
    this.progress('embed');
  }

  /** Embeds full units from the queue (`all`: everything left) while committing the one before. */
  private async flush(all: boolean): Promise<void> {
    while (this.queue.length >= this.unit || (all && this.queue.length)) {
      const done = this.inflight ? await this.inflight : null;
      this.inflight = null;
      // The pacer may pause here, or shrink the next unit when the machine is busy.
      try {
        this.unit = Math.max(1, await this.deps.pacer.acquire(this.deps.signal));
      } catch (e) {
        // Cancelled while paused: what was embedded is still committed.
        if (done) this.commitBatch(done);
        throw e;
      }
      const batch = this.queue.slice(0, this.unit);
      this.queue = this.queue.slice(batch.length);
      // Embedding runs in llama.cpp's threads while this thread commits the previous batch
      // (two fsyncs) and goes on chunking the next files.
      const inflight = this.embedBatch(batch);
      // Awaited later; until then a failure (or cancel) must not count as an unhandled rejection.
      inflight.catch(() => undefined);
      this.inflight = inflight;
      if (done) this.commitBatch(done);
    }
    if (all && this.inflight) {
      const done = await this.inflight;
      this.inflight = null;
      this.commitBatch(done);
    }
  }

  /**
   * Commits a batch to the store, and the lexical index with it: the terms of the batch's chunks
   * are logged (and fsynced) first, so every committed chunk has its terms.
   */
  private commit(fresh: { hash: string; vector: Float32Array }[], ops: JournalOp[]): void {
    const { store, lexical } = this.deps;
    lexical.persist(ops.flatMap((op) => (op.op === 'put' ? op.file.chunks : [])));
    store.commit(fresh, ops);
    lexical.sync(
      ops.map((op) => op.path),
      store.files,
    );
  }
}
