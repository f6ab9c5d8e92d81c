import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isSafeRelPath } from './fsutil.js';
import { IndexRun } from './index-run.js';
import { IgnoreRules, scanTree, BUILTIN_EXCLUDES, DEFAULT_MAX_FILE_BYTES, type ScannedFile } from './scanner.js';
import { FixedPacer } from './pacer.js';
import { fuse, type FusionMethod } from './fusion.js';
import { contentKind, DEFAULT_RANKING, RANKED_FUSION, rerank, type ContentKind, type RankingParams } from './ranking.js';
import { LexicalIndex } from './lexical/index.js';
import { checkStoreDir, Store, type ChunkRecord, type FileRecord } from './store.js';
import {
  silentLogger,
  type AnnFactoryPort,
  type ChunkerPort,
  type EmbedderPort,
  type EngineState,
  type IndexProgress,
  type IndexSummary,
  type Logger,
  type ModelProfile,
  type PacerPort,
  type PacerState,
  type SearchResult,
} from './types.js';
import { DEFAULT_BATCH_SIZE, storeDirFor } from './defaults.js';

export interface EngineOptions {
  /** Folder to index. */
  root: string;
  /** Store folder; default `<root>/.loupe`. */
  storeDir?: string;
  chunker: ChunkerPort;
  embedder: EmbedderPort;
  annFactory?: AnnFactoryPort;
  logger?: Logger;
  maxFileBytes?: number;
  /** Extra gitignore-style exclude patterns. */
  excludes?: string[];
  /** Chunks per unit of embedding work (and per committed batch) when no pacer is given. */
  batchSize?: number;
  /** Sets the size of each unit of embedding work and pauses between units (default: fixed size). */
  pacer?: PacerPort;
  /** Live chunks from which HNSW replaces exact search. */
  annThreshold?: number;
  /** Discard the existing index (e.g. after a model change). */
  rebuild?: boolean;
  /** A reader (one-shot search, ask): no writer lock, nothing written; may run beside the writer. */
  readOnly?: boolean;
  /** How hybrid search fuses the dense and lexical rankings (default: DEFAULT_FUSION, chosen by `npm run bench:quality`). */
  fusion?: FusionMethod;
}

/** Which retriever answers a search: vectors, BM25, or both fused. */
export type SearchMode = 'dense' | 'lexical' | 'hybrid';
export const SEARCH_MODES: readonly SearchMode[] = ['dense', 'lexical', 'hybrid'];

/**
 * Hybrid fusion without the ranking stage (`ranking: false`; with it, RANKED_FUSION in
 * ranking.ts), chosen on the retrieval-quality benchmark (test/bench/quality, README):
 * min-max normalised scores, 0.7 dense + 0.3 BM25, over the top 50 of each. Of the variants
 * measured it had the best nDCG@10 and MRR overall (0.828 / 0.828 vs 0.816 / 0.800 for RRF k=60),
 * and beat both single retrievers on every corpus.
 */
export const DEFAULT_FUSION: FusionMethod = { kind: 'weighted', weights: [0.7, 0.3], norm: 'minmax' };
/**
 * The fusion hybrid search uses with the ranking stage for a model: RANKED_FUSION, or the dense
 * weight its profile names (chosen for that model on tuning questions only).
 */
export function rankedFusionFor(profile: Pick<ModelProfile, 'rankedFusionDense'> | undefined): FusionMethod {
  const d = profile?.rankedFusionDense;
  return d === undefined ? RANKED_FUSION : { kind: 'weighted', weights: [d, 1 - d], norm: 'minmax' };
}
/** The mode `search` uses when none is given. */
export const DEFAULT_SEARCH_MODE: SearchMode = 'hybrid';
/** Candidates each retriever contributes to a hybrid ranking. */
const FUSION_DEPTH = 50;

export interface IndexOptions {
  signal?: AbortSignal;
  onProgress?: (p: IndexProgress) => void;
}

export interface SearchOptions {
  k?: number;
  signal?: AbortSignal;
  /** Default DEFAULT_SEARCH_MODE. */
  mode?: SearchMode;
  /** The code-aware ranking stage after hybrid fusion (default DEFAULT_RANKING; `false`: fusion only). */
  ranking?: RankingParams | false;
  /** Only chunks that pass (content kind, language, path glob). */
  filter?: SearchFilter;
}

/** What a search may be limited to; an absent field does not limit. */
export interface SearchFilter {
  /** Content kinds to keep (code, tests, docs, examples, config). */
  content?: readonly ContentKind[];
  /** Language ids to keep (`typescript`, `python`, …, `text`). */
  language?: readonly string[];
  /** A glob over the relative path (`src/**`, `*.go`); a plain folder path keeps what is under it. */
  path?: string;
}

/** A ranked chunk with the scores it was ranked by (raw retriever scores travel for cross-folder merging). */
export interface RankedHit {
  path: string;
  chunk: ChunkRecord;
  score: number;
  /** Cosine similarity to the query, when the dense retriever returned it. */
  dense?: number;
  /** BM25 score, when the lexical retriever returned it. */
  lexical?: number;
  /** What the ranking stage added to the fused score. */
  boost?: number;
}

/** A path glob as a test: `*` and `?` within a segment, `**` across segments, `{a,b}`; no wildcard: the path or a folder of it; no `/`: the file name. */
export function globTest(glob: string): (relPath: string) => boolean {
  const g = glob.trim().replace(/\\/g, '/').replace(/^\.\//, '');
  if (!/[*?{[]/.test(g)) {
    const prefix = g.replace(/\/+$/, '');
    return (p) => p === prefix || p.startsWith(prefix + '/') || (!prefix.includes('/') && p.split('/').includes(prefix));
  }
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') {
      // `**/` matches zero or more folders.
      if (g[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      re += '(?:';
    } else if (c === '}') {
      re += ')';
    } else if (c === ',' && re.lastIndexOf('(?:') > re.lastIndexOf(')')) re += '|';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  const rx = new RegExp(`^${re}$`);
  return g.includes('/') ? (p) => rx.test(p) : (p) => rx.test(p.slice(p.lastIndexOf('/') + 1));
}

/** The filter as one test of a chunk, or null when it limits nothing. */
export function filterTest(f: SearchFilter | undefined): ((path: string, chunk: { language: string }) => boolean) | null {
  if (!f || (!f.content?.length && !f.language?.length && !f.path)) return null;
  const kinds = f.content?.length ? new Set(f.content) : null;
  const langs = f.language?.length ? new Set(f.language.map((l) => l.toLowerCase())) : null;
  const glob = f.path ? globTest(f.path) : null;
  return (p, c) => (!kinds || kinds.has(contentKind(p))) && (!langs || langs.has(c.language)) && (!glob || glob(p));
}

/** What `status` reports. */
export interface EngineStatus {
  root: string;
  storeDir: string;
  model: { name: string; id: string; dimensions: number; maxTokens: number; computeUnit: string };
  files: number;
  chunks: number;
  cachedVectors: number;
  searchStructure: string;
  updatedAt: string;
  diskBytes: number;
  state: EngineState;
  warnings: string[];
}

/** Journal entries after which a watcher update writes a snapshot. */
const SNAPSHOT_AFTER_OPS = 1000;

export { chunkKey } from './index-run.js';

/**
 * The headless engine: scans a folder, chunks changed files, embeds what the cache lacks in
 * batches, commits each batch to the store, and answers searches. Index runs are serialised;
 * searches may run at any time and see every committed batch.
 */
export class Engine {
  readonly root: string;
  readonly storeDir: string;
  private readonly logger: Logger;
  /** Paces embedding work; pause/resume go through it. */
  readonly pacer: PacerPort;
  private rules: IgnoreRules;
  private _state: EngineState = { kind: 'idle' };
  private readonly listeners = new Set<(s: EngineState) => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private running = false;
  private lastProgress: EngineState = { kind: 'idle' };

  private constructor(
    private readonly opts: EngineOptions,
    readonly store: Store,
    readonly lexical: LexicalIndex,
  ) {
    this.root = path.resolve(opts.root);
    this.storeDir = storeDirFor(this.root, opts.storeDir);
    this.logger = opts.logger ?? silentLogger;
    this.pacer = opts.pacer ?? new FixedPacer(opts.batchSize ?? DEFAULT_BATCH_SIZE);
    this.pacer.onChange((p) => this.onPacer(p));
    this.rules = new IgnoreRules(BUILTIN_EXCLUDES, this.root);
    if (store.chunkCount) this.setState({ kind: 'ready', chunks: store.chunkCount, files: store.files.size });
  }

  /** Opens the engine's store for the embedder's model (throws `model-mismatch` for another model's index). */
  static async open(opts: EngineOptions): Promise<Engine> {
    const root = path.resolve(opts.root);
    const st = await fsp.stat(root).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`Not a folder: ${root}`);
    const storeDir = storeDirFor(root, opts.storeDir);
    checkStoreDir(storeDir, root);
    const e = opts.embedder;
    const store = Store.open(
      storeDir,
      { modelId: e.modelId, modelName: e.modelName, dimensions: e.dimensions },
      {
        annFactory: opts.annFactory,
        annThreshold: opts.annThreshold,
        logger: opts.logger,
        rebuild: opts.rebuild,
        readOnly: opts.readOnly,
      },
    );
    let lexical: LexicalIndex;
    try {
      lexical = LexicalIndex.open(storeDir, {
        logger: opts.logger,
        readOnly: opts.readOnly,
        // Read by the first lexical search: a one-shot search then rebuilds nothing from the log.
        snapshot: () => {
          const s = store.bm25Snapshot();
          return s && { ...s, chunkAt: (label) => store.chunkAt(label) };
        },
      });
    } catch (err) {
      store.close();
      throw err;
    }
    return new Engine(opts, store, lexical);
  }

  get state(): EngineState {
    return this._state;
  }

  /** Subscribes to state changes; returns an unsubscribe function. */
  onState(listener: (s: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setState(s: EngineState): void {
    this._state = s;
    for (const l of this.listeners) l(s);
  }

  /** While a run is going, pacer pauses and back-offs show in the engine's state. */
  private onPacer(p: PacerState): void {
    if (!this.running) return;
    if (p.kind === 'paused') this.setState({ kind: 'paused', reason: p.reason });
    else if (p.kind === 'backingOff') this.setState({ kind: 'backingOff', reason: p.reason });
    else this.setState(this.lastProgress);
  }

  /** Pauses embedding (after the unit in flight); only works with the default pacer or one that supports it. */
  pause(reason?: string): void {
    if (this.pacer instanceof FixedPacer) this.pacer.pause(reason);
  }

  /** Resumes embedding. */
  resume(): void {
    if (this.pacer instanceof FixedPacer) this.pacer.resume();
  }

  private readyState(): EngineState {
    return { kind: 'ready', chunks: this.store.chunkCount, files: this.store.files.size };
  }

  /** Runs index jobs one after another. */
  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** True when the scanner's rules exclude `rel` (for the watcher). */
  isIgnored(rel: string, isDir: boolean): boolean {
    if (rel === '' || rel === '.') return false;
    const storeRel = path.relative(this.root, this.storeDir).split(path.sep).join('/');
    if (rel === storeRel || rel.startsWith(storeRel + '/')) return true;
    return this.rules.isIgnored(rel, isDir);
  }

  /** Brings the index up to date with the whole folder. */
  index(opts: IndexOptions = {}): Promise<IndexSummary> {
    return this.serial(() => this.fullRun(opts));
  }

  private async fullRun(opts: IndexOptions): Promise<IndexSummary> {
    {
      const t0 = performance.now();
      this.setState({ kind: 'scanning' });
      opts.onProgress?.({ phase: 'scan', filesDone: 0, filesTotal: 0, chunksEmbedded: 0, chunksCached: 0 });
      let scan;
      try {
        scan = await scanTree(this.root, {
          maxFileBytes: this.opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
          excludes: this.opts.excludes,
          storeDir: this.storeDir,
          signal: opts.signal,
        });
      } catch (e) {
        this.setState(opts.signal?.aborted ? this.readyState() : { kind: 'error', message: (e as Error).message });
        throw e;
      }
      this.rules = scan.rules;
      const seen = new Set(scan.files.map((f) => f.rel));
      const deleted = [...this.store.files.keys()].filter((p) => !seen.has(p));
      const changed = scan.files.filter((f) => {
        const rec = this.store.files.get(f.rel);
        return !this.upToDate(rec, f.size, f.mtimeMs);
      });
      const warnings = [
        ...scan.rules.warnings,
        ...scan.skipped.map((s) => `${s.rel}: skipped (${s.reason}${s.detail ? `: ${s.detail}` : ''})`),
      ];
      for (const w of warnings) this.logger.info(`Index: ${w}`);
      // A file that became too large or unreadable leaves the index.
      const summary = await this.process(changed, deleted, opts, warnings, true);
      summary.files = this.store.files.size;
      summary.filesSkipped = scan.skipped.length + summary.filesSkipped;
      summary.seconds = (performance.now() - t0) / 1000;
      return summary;
    }
  }

  /**
   * Whether a file's indexed record still stands for a file of this size and mtime: same chunking
   * rules, and lexical terms for every chunk (an index from before the lexical retriever, or a
   * damaged term log, is re-chunked; its vectors come from the cache).
   */
  private upToDate(rec: FileRecord | undefined, size: number, mtimeMs: number): boolean {
    return (
      !!rec && rec.size === size && rec.mtimeMs === mtimeMs && rec.chunker === this.opts.chunker.version && this.lexical.covers(rec.chunks)
    );
  }

  /** Updates the given paths (relative), e.g. from the watcher; missing or ignored ones are removed. */
  updatePaths(changed: string[], deleted: string[], opts: IndexOptions = {}): Promise<IndexSummary> {
    return this.serial(async () => {
      // New ignore rules can include or exclude anything: re-scan the whole tree.
      if ([...changed, ...deleted].some((p) => /(^|\/)\.(git|loupe)ignore$/.test(p))) return this.fullRun(opts);
      const t0 = performance.now();
      const files: ScannedFile[] = [];
      const gone = new Set(deleted.filter((p) => this.store.files.has(p)));
      const maxBytes = this.opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
      const warnings: string[] = [];
      for (const rel of new Set(changed)) {
        if (this.isIgnored(rel, false)) continue;
        const abs = path.join(this.root, rel);
        const st = await fsp.stat(abs).catch(() => null);
        if (!st || !st.isFile() || st.size > maxBytes) {
          if (st && st.size > maxBytes) warnings.push(`${rel}: skipped (too-large: ${st.size} bytes > ${maxBytes})`);
          if (this.store.files.has(rel)) gone.add(rel);
          continue;
        }
        gone.delete(rel);
        const rec = this.store.files.get(rel);
        if (this.upToDate(rec, st.size, st.mtimeMs)) continue;
        files.push({ rel, abs, size: st.size, mtimeMs: st.mtimeMs });
      }
      const summary = await this.process(files, [...gone], opts, warnings, false);
      summary.files = this.store.files.size;
      summary.seconds = (performance.now() - t0) / 1000;
      return summary;
    });
  }

  /** One index run (see IndexRun), with the engine's state around it and a snapshot after it. */
  private async process(
    files: ScannedFile[],
    deleted: string[],
    opts: IndexOptions,
    warnings: string[],
    fullRun: boolean,
  ): Promise<IndexSummary> {
    const run = new IndexRun(
      {
        root: this.root,
        maxFileBytes: this.opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
        store: this.store,
        lexical: this.lexical,
        chunker: this.opts.chunker,
        embedder: this.opts.embedder,
        pacer: this.pacer,
        logger: this.logger,
        signal: opts.signal,
        onProgress: opts.onProgress,
        onIndexing: (s) => {
          this.lastProgress = s;
          if (this.pacer.state.kind === 'running') this.setState(s);
        },
      },
      files,
      deleted,
      warnings,
    );
    this.running = true;
    this.lastProgress = { kind: 'indexing', done: 0, total: files.length };
    this.setState(this.pacer.state.kind === 'paused' ? { kind: 'paused', reason: this.pacer.state.reason } : this.lastProgress);
    try {
      const summary = await run.run();
      // A full run ends in a snapshot; small watcher updates stay in the journal (cheap to replay,
      // as crash-safe) until it grows, instead of rewriting the whole index on every save. Each
      // snapshot saves BM25 with it; a full run writes one for a store from before they existed.
      if (this.store.pendingOps > (fullRun ? 0 : SNAPSHOT_AFTER_OPS) || (fullRun && !this.store.hasBm25Snapshot)) {
        this.store.snapshot({ bm25: (metaSha256) => this.lexical.encodeSnapshot(this.store.files, metaSha256) });
        this.lexical.compact(this.liveHashes());
      }
      run.progress('done');
      this.running = false;
      this.setState(this.readyState());
      return summary;
    } catch (e) {
      this.running = false;
      // Whatever batches committed stay committed; the batch in flight is dropped.
      await run.abandon();
      if (opts.signal?.aborted) {
        this.setState(this.readyState());
      } else {
        this.setState({ kind: 'error', message: (e as Error).message });
      }
      throw e;
    }
  }

  private liveHashes(): Set<string> {
    const live = new Set<string>();
    for (const rec of this.store.files.values()) for (const c of rec.chunks) live.add(c.hash);
    return live;
  }

  /**
   * Ranked chunks for a query, best first, before merging: `n` candidates from one retriever, or
   * the fusion of `depth` from each (with the ranking stage unless `ranking` is false). The scores
   * of a hybrid ranking are fusion scores (plus the ranking stage's boost); each hit keeps its
   * raw cosine and BM25 scores.
   */
  async rank(
    query: string,
    mode: SearchMode,
    n: number,
    opts: { signal?: AbortSignal; fusion?: FusionMethod; depth?: number; ranking?: RankingParams | false; filter?: SearchFilter } = {},
  ): Promise<RankedHit[]> {
    if (!query.trim() || !this.store.chunkCount) return [];
    if (!SEARCH_MODES.includes(mode)) throw new Error(`Unknown search mode "${mode}" (use ${SEARCH_MODES.join(', ')})`);
    const keep = filterTest(opts.filter);
    // A filter is applied to each retriever's list; they look deeper so that enough pass.
    const deeper = (m: number) => (keep ? Math.min(this.store.chunkCount, Math.max(m * 8, 400)) : m);
    const pass = <H extends { path: string; chunk: ChunkRecord }>(hs: H[], m: number): H[] =>
      keep ? hs.filter((h) => keep(h.path, h.chunk)).slice(0, m) : hs;
    const dense = async (m: number): Promise<RankedHit[]> =>
      pass(this.store.search(await this.opts.embedder.embedQuery(query, opts.signal), deeper(m)), m).map((h) => ({ ...h, dense: h.score }));
    const lexical = (m: number): RankedHit[] => {
      if (!this.lexical.built) this.lexical.build(this.store.files);
      return pass(this.lexical.search(query, deeper(m)) as { path: string; chunk: ChunkRecord; score: number }[], m).map((h) => ({
        ...h,
        lexical: h.score,
      }));
    };
    if (mode === 'dense') return dense(n);
    if (mode === 'lexical') return lexical(n);
    const depth = Math.max(n, opts.depth ?? FUSION_DEPTH);
    const ranking = opts.ranking === undefined ? DEFAULT_RANKING : opts.ranking;
    // The query is embedded off this thread (a worker, or llama.cpp's threads): BM25 (built on the
    // first search of a process) runs meanwhile, so a one-shot search pays the longer of the two.
    const densePending = dense(depth);
    densePending.catch(() => undefined);
    const lexicalHits = lexical(depth);
    const denseHits = await densePending;
    const raw = new Map<number, { dense?: number; lexical?: number }>();
    for (const h of denseHits) raw.set(h.chunk.label, { dense: h.score });
    for (const h of lexicalHits) raw.set(h.chunk.label, { ...raw.get(h.chunk.label), lexical: h.score });
    const lists = [denseHits, lexicalHits].map((l) => l.map((h) => ({ key: h.chunk.label, item: h, score: h.score })));
    const method = opts.fusion ?? this.opts.fusion ?? (ranking ? rankedFusionFor(this.opts.embedder.profile) : DEFAULT_FUSION);
    const fused: RankedHit[] = fuse(lists, method).map((r) => ({
      path: r.item.path,
      chunk: r.item.chunk,
      score: r.score,
      ...raw.get(r.item.chunk.label),
    }));
    if (!ranking) return fused.slice(0, n);
    const before = new Map(fused.map((h) => [h.chunk.label, h.score]));
    return rerank(query, fused, ranking)
      .slice(0, n)
      .map((h) => ({ ...h, boost: h.score - (before.get(h.chunk.label) ?? h.score) }));
  }

  /** Ranked locations for a plain-words query; overlapping hits within a file are merged. */
  async search(query: string, opts: SearchOptions = {}): Promise<SearchResult[]> {
    const k = Math.max(1, opts.k ?? 10);
    const hits = await this.rank(query, opts.mode ?? DEFAULT_SEARCH_MODE, k * 3 + 10, {
      signal: opts.signal,
      ranking: opts.ranking,
      filter: opts.filter,
    });
    // The store refuses unsafe paths when it loads; a hit outside the folder is never returned all the same.
    return mergeHits(
      hits.filter((h) => isSafeRelPath(h.path)),
      k,
    );
  }

  /** What the index holds. */
  status(): EngineStatus {
    const e = this.opts.embedder;
    return {
      root: this.root,
      storeDir: this.storeDir,
      model: { name: e.modelName, id: e.modelId, dimensions: e.dimensions, maxTokens: e.profile.maxTokens, computeUnit: e.computeUnit },
      files: this.store.files.size,
      chunks: this.store.chunkCount,
      cachedVectors: this.store.cachedVectors,
      searchStructure: this.store.annKind,
      updatedAt: this.store.updatedAt,
      diskBytes: this.store.diskBytes(),
      state: this._state,
      warnings: [...this.store.report.warnings, ...this.lexical.warnings],
    };
  }

  /** Waits for running jobs, then closes the store. */
  async close(): Promise<void> {
    await this.queue;
    this.store.close();
    this.lexical.close();
  }
}

/**
 * Merges hits that overlap or touch within one file into one location (best score, widest
 * range), then keeps the k best.
 */
export function mergeHits(hits: RankedHit[], k: number): SearchResult[] {
  const out: SearchResult[] = [];
  for (const h of [...hits].sort((a, b) => b.score - a.score)) {
    const c = h.chunk;
    const near = out.find((r) => r.path === h.path && c.startLine <= r.endLine + 1 && c.endLine >= r.startLine - 1);
    if (near) {
      near.startLine = Math.min(near.startLine, c.startLine);
      near.endLine = Math.max(near.endLine, c.endLine);
      continue;
    }
    const r: SearchResult = {
      path: h.path,
      startLine: c.startLine,
      endLine: c.endLine,
      symbol: c.symbol,
      language: c.language,
      score: Math.round(h.score * 1e4) / 1e4,
      kind: contentKind(h.path),
    };
    const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
    if (h.dense !== undefined) r.dense = r4(h.dense);
    if (h.lexical !== undefined) r.lexical = r4(h.lexical);
    if (h.boost !== undefined) r.boost = r4(h.boost);
    out.push(r);
  }
  return out.slice(0, k);
}
