/**
 * The engine's vocabulary and its ports. Everything native (tree-sitter, llama.cpp, hnswlib,
 * chokidar) is reached through these interfaces, implemented in `src/adapters`.
 */

/** A piece of a source file that is embedded and searched as one unit. */
export interface Chunk {
  /** Path relative to the indexed root, with `/` separators. */
  path: string;
  /** First line, 1-based, inclusive. */
  startLine: number;
  /** Last line, 1-based, inclusive. */
  endLine: number;
  /** Enclosing symbol path such as `Class.method`, or null for line-window chunks. */
  symbol: string | null;
  /** Language id (`typescript`, `python`, …, or `text`). */
  language: string;
  /** The chunk's source text (exact lines startLine..endLine). */
  text: string;
}

/** Splits one file into chunks. */
export interface ChunkerPort {
  /**
   * Identifies the chunking rules (grammar queries, options, algorithm). A file chunked under
   * another version is chunked again at the next index run; chunks whose text and name did not
   * change keep their vectors.
   */
  readonly version: string;
  /** Language id for a relative path, or `text` when no grammar applies. */
  languageFor(relPath: string): string;
  /** Chunks of one file's text. Never throws on bad syntax: falls back to line windows. */
  chunkFile(relPath: string, text: string): Promise<Chunk[]>;
  /** Frees grammars and parsers. */
  dispose(): void;
}

/** How a model wants its inputs dressed and how long they may be. */
export interface ModelProfile {
  /** Prepended to queries (e.g. `query: `). */
  queryPrefix: string;
  /** Prepended to documents. */
  documentPrefix: string;
  /** Hard limit on input tokens (the model's context, minus room for specials). */
  maxTokens: number;
  /**
   * Sizes the model was trained to be cut to (Matryoshka representation learning), largest
   * first; absent for models whose vectors must be used whole.
   */
  matryoshkaDims?: number[];
  /**
   * Hybrid search's dense weight when the ranking stage applies, for a model whose own tuning run
   * chose another than RANKED_FUSION's (chosen on tuning questions only; docs/ranking.md).
   */
  rankedFusionDense?: number;
}

/** Turns texts into L2-normalised vectors. */
export interface EmbedderPort {
  /** Identity of the model file and profile; vectors of two ids never share an index. */
  readonly modelId: string;
  /** Human-readable name of the model. */
  readonly modelName: string;
  readonly dimensions: number;
  readonly profile: ModelProfile;
  /** Where the work runs, e.g. `CPU`, `GPU: Vulkan`. */
  readonly computeUnit: string;
  /** Token count of a text as the model will see it (document prefix included). */
  countTokens(text: string): number;
  /** Embeds documents; vectors are L2-normalised, one per input, in order. */
  embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
  /** Embeds a search query (query prefix applied). */
  embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** An approximate nearest-neighbour index over unit vectors (inner-product space). */
export interface AnnIndexPort {
  readonly dimensions: number;
  /** Live points. */
  size(): number;
  add(label: number, vector: Float32Array): void;
  remove(label: number): void;
  /** Labels and cosine similarities, best first. */
  search(vector: Float32Array, k: number): { label: number; score: number }[];
  /** Writes the index to `file` (caller handles atomic rename and checksums). */
  save(file: string): void;
}

/** Creates and loads ANN indexes; loading is only ever attempted on checksum-verified files. */
export interface AnnFactoryPort {
  readonly name: string;
  create(dimensions: number, capacity: number): AnnIndexPort;
  /**
   * Loads a graph whose live points are exactly `liveLabels` (the rest of its points are deleted
   * ones). `bytes` are the file's contents as the caller verified them (read here when absent): the factory checks the
   * graph's structure in them before its library reads the file, and throws for a malformed one.
   */
  load(file: string, dimensions: number, liveLabels: Iterable<number>, bytes?: Uint8Array): AnnIndexPort;
}

/** One search hit as the CLI contract prints it. */
export interface SearchResult {
  path: string;
  startLine: number;
  endLine: number;
  symbol: string | null;
  language: string;
  score: number;
  /** Content kind of the file: code, tests, docs, examples or config. */
  kind?: 'code' | 'tests' | 'docs' | 'examples' | 'config';
  /** Cosine similarity to the query (dense retriever), when it found this hit: comparable across folders. */
  dense?: number;
  /** BM25 score (lexical retriever), when it found this hit. */
  lexical?: number;
  /** What the ranking stage added to the fused score. */
  boost?: number;
}

/** The engine's state; UIs only render it. */
export type EngineState =
  | { kind: 'idle' }
  | { kind: 'scanning' }
  | { kind: 'indexing'; done: number; total: number }
  | { kind: 'ready'; chunks: number; files: number }
  | { kind: 'paused'; reason: string }
  | { kind: 'backingOff'; reason: string }
  | { kind: 'error'; message: string };

/** Progress of an index run. */
export interface IndexProgress {
  phase: 'scan' | 'chunk' | 'embed' | 'commit' | 'done';
  filesDone: number;
  filesTotal: number;
  chunksEmbedded: number;
  chunksCached: number;
  /** Chunks of the files chunked so far (each is embedded or taken from the cache). */
  chunksSeen?: number;
  /** Estimate of the chunks of all files of the run, by bytes: equals `chunksSeen` once every file is chunked. */
  chunksEstimated?: number;
  /** Chunks found so far that need embedding (embedded ones included); grows as files are read. */
  chunksFound?: number;
}

/** Summary of one index run. */
export interface IndexSummary {
  files: number;
  filesChanged: number;
  filesDeleted: number;
  filesSkipped: number;
  chunks: number;
  embedded: number;
  cached: number;
  seconds: number;
  warnings: string[];
}

/** Minimal logger port; the VS Code layer backs it with a LogOutputChannel. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** An error meant for the user: its message says what happened and what to do. */
export class LoupeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'LoupeError';
  }
}

/** A coalesced batch of file-system changes under the watched root (relative paths). */
export interface FileChangeBatch {
  changed: string[];
  deleted: string[];
  /** Set when events may have been lost (e.g. the OS watch limit was reached): re-scan the whole tree. */
  rescan?: boolean;
}

/** Watches a tree and reports coalesced batches of changes. */
export interface WatcherPort {
  /** Starts watching; `onBatch` is never called concurrently with itself. */
  start(onBatch: (batch: FileChangeBatch) => Promise<void>): Promise<void>;
  /** How the tree is watched (`events, 312 folders` or `polling every 30 s: watch limit reached`). */
  describe(): string;
  close(): Promise<void>;
}

/** What the pacer is doing to embedding work right now. */
export type PacerState =
  | { kind: 'running'; batchSize: number }
  | { kind: 'paused'; reason: string }
  | { kind: 'backingOff'; reason: string; batchSize: number };

/**
 * Decides how much embedding work runs next and when. The engine asks before every unit of
 * work and reports after it; a contention-aware scheduler implements it to back off or pause.
 */
export interface PacerPort {
  /** Waits while paused (or pausing between units); resolves with the chunks for the next unit. */
  acquire(signal?: AbortSignal): Promise<number>;
  /** Reports a finished unit of work. */
  release(done: { chunks: number; ms: number }): void;
  /** The current state. */
  readonly state: PacerState;
  /** Subscribes to state changes; returns an unsubscribe function. */
  onChange(listener: (s: PacerState) => void): () => void;
}
