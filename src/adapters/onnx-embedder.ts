/**
 * Embeds text with an ONNX BERT encoder through ONNX Runtime (onnxruntime-node): Loupe's default
 * CPU backend for models that have ONNX weights (the bundled all-MiniLM-L6-v2, fp32). Measured here
 * against node-llama-cpp on the same model: test/bench/results/ and README (Benchmarks).
 *
 * Loaded only in the engine process (and the CLI, which is one): onnxruntime-node is imported
 * dynamically inside worker threads (src/adapters/onnx-worker.ts), never by src/core or the
 * extension host (lint). Each lane is one worker with its own single-thread session; the number of
 * lanes running is re-decided before every group of chunks (src/core/compute/lanes.ts).
 *
 * Identity: an index built here never mixes with one built by llama.cpp from a GGUF of the same
 * model (Q8_0 vs fp32 vectors differ, below the 0.999 parity gate on some texts): the model id
 * includes the backend, the file's hash, the tokenizer's hash and the prefixes.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { sha256 } from '../core/fsutil.js';
import { profileFor } from '../core/model-profiles.js';
import { planLanes, type LanePlan } from '../core/compute/lanes.js';
import { WordPieceTokenizer, type TokenizerJson } from '../core/tokenizers/wordpiece.js';
import { LoupeError, type EmbedderPort, type Logger, type ModelProfile, silentLogger } from '../core/types.js';
import { modelFileHash, modelFileHashSync } from './model-hash.js';
import type { EmbedMessage, InitMessage, SessionSource, WorkerOut } from './onnx-worker.js';
import { defaultOptimizedCacheDir } from './onnx-cache.js';
import { nativeLoadSettled, newOnnxWorker, takePrestartedWorker } from './onnx-prestart.js';

export interface OnnxEmbedderOptions {
  /** The `.onnx` file; `tokenizer.json` (and optionally `manifest.json`) beside it. */
  modelPath: string;
  /** Lanes (worker sessions). Default: planned from the cores (planLanes). */
  contexts?: number;
  threadsPerContext?: number;
  /** Sequences per ONNX Runtime pass (padded, masked). Default 1: fastest per token on CPU (issue 17). */
  batch?: number;
  /** Benchmarks only: lanes × threads exactly as given, to measure what the guard-rail prevents. */
  exactLanes?: boolean;
  /** Lanes to use for the next group (the scheduler's say); default all. */
  activeLanes?: () => number;
  profile?: Partial<ModelProfile>;
  logger?: Logger;
  /**
   * Folder of the optimised-model cache (src/adapters/onnx-cache.ts); null: no cache, each
   * session optimises the model itself. Default: `~/.cache/loupe/onnx-optimized`.
   */
  optimizedCacheDir?: string | null;
}

/** Embedded once by a session that writes the optimised-model cache, and again by one made from it: the two must agree. */
const CACHE_PROBE = 'def parse_args(argv):\n    # Parse command line options and arguments.\n    return Loupe.search(query, k=10)';

const SOURCE_TEXT: Record<SessionSource, string> = {
  cache: 'optimised model from the cache',
  'model, cached': 'optimised model written to the cache',
  model: 'model optimised in this session',
};

/** Where the worker script is: beside this module (out/) or beside the bundle (dist/onnx-worker.mjs). */
function workerUrl(): URL {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const f of ['onnx-worker.js', 'onnx-worker.mjs']) {
    const p = path.join(here, f);
    if (existsSync(p)) return new URL(`file://${p}`);
  }
  throw new LoupeError(`The ONNX Runtime worker script is missing beside ${here}: run \`npm run build\`.`, 'model-load-failed');
}

const noop = (): void => undefined;

/** One worker thread holding one session. */
class Lane {
  private readonly pending = new Map<number, { resolve: (v: Float32Array) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  readonly ready: Promise<{ dims: number; ms: number; source: SessionSource }>;
  /** onnxruntime-node finished loading on the thread (or the thread ended): only then may it be terminated. */
  private readonly loaded: Promise<void>;
  private dead: Error | null = null;
  /** The init message was posted: the thread is (or was) creating its session. */
  private started = false;

  /**
   * Starts the worker thread now; `init` (when given) is posted now, else by `start`. `loadedBefore`:
   * a prestarted thread's load signal, listened for since that thread started (its message may have
   * been delivered before this lane existed).
   */
  constructor(
    readonly worker: Worker,
    init?: InitMessage,
    loadedBefore?: Promise<void>,
  ) {
    this.loaded = loadedBefore ?? nativeLoadSettled(worker);
    this.ready = new Promise((resolve, reject) => {
      const onMsg = (m: WorkerOut): void => {
        if (m.type === 'ready') resolve({ dims: m.dims, ms: m.ms, source: m.source });
        else if (m.type === 'error' && m.id === undefined) reject(new Error(m.message));
        else if (m.type === 'done') this.settle(m.id, m.vectors, null);
        else if (m.type === 'error') this.settle(m.id!, null, new Error(m.message));
      };
      worker.on('message', onMsg);
      worker.on('error', (e) => {
        this.fail(e);
        reject(e);
      });
      worker.on('exit', (code) => {
        const e = new Error(`ONNX Runtime worker exited (code ${code})`);
        this.fail(e);
        reject(e);
      });
    });
    this.ready.catch(() => undefined);
    if (init) this.start(init);
  }

  /** Posts the init message of a lane created without one. */
  start(init: InitMessage): void {
    this.started = true;
    this.worker.postMessage(init);
  }

  private settle(id: number, v: Float32Array | null, e: Error | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (e) p.reject(e);
    else p.resolve(v!);
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  run(seqs: Int32Array[], batch: number): Promise<Float32Array> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: EmbedMessage = { type: 'embed', id, seqs, batch };
      this.worker.postMessage(msg);
    });
  }

  /**
   * Ends the thread once its native work is over (at most `capMs`): onnxruntime-node's load, and the
   * session's creation once asked for. Terminating it in the middle of either aborts the whole
   * process ("terminate called after throwing an instance of 'Napi::Error'", no exit code), as a
   * one-shot search that found no index did.
   */
  async close(capMs = 5000): Promise<void> {
    const settled = this.started ? this.ready.then(noop, noop) : this.loaded;
    this.fail(new Error('closed'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, capMs)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}

/** The `manifest.json` beside a model (scripts/fetch-onnx-model.mjs), or null. */
function manifestOf(modelPath: string): { model?: string; dimensions?: number; precision?: string } | null {
  try {
    return JSON.parse(readFileSync(path.join(path.dirname(path.resolve(modelPath)), 'manifest.json'), 'utf8')) as {
      model?: string;
      dimensions?: number;
      precision?: string;
    };
  } catch {
    return null;
  }
}

/** The model's name: `model` in the manifest beside it, else its folder's name. */
function modelNameOf(modelPath: string): string {
  return manifestOf(modelPath)?.model ?? path.basename(path.dirname(path.resolve(modelPath)));
}

function profileOf(name: string, modelPath: string, over?: Partial<ModelProfile>): ModelProfile {
  const base = profileFor(name, path.basename(modelPath));
  return { ...base, ...over, maxTokens: over?.maxTokens ?? base.maxTokens };
}

/** The weights' precision (`fp32`, or `int8` for scripts/make-int8-model.mjs's model), from the manifest. */
function precisionOf(modelPath: string): string {
  const p = manifestOf(modelPath)?.precision;
  return p && /^[a-z0-9]+$/.test(p) ? p : 'fp32';
}

/**
 * Backend (with the precision), weights, tokenizer and prefixes: two indexes share vectors only
 * when all match, so an int8 index never takes fp32 vectors (the file hashes differ too).
 */
function onnxModelId(precision: string, fileHash: string, tokenizerJson: string, profile: ModelProfile): string {
  return sha256(`onnxruntime-${precision}|${fileHash}|${sha256(tokenizerJson)}|${profile.queryPrefix}|${profile.documentPrefix}`).slice(
    0,
    32,
  );
}

/** Sequences sent to a lane per message: fewer hand-offs between threads, still fine-grained enough to balance lanes. */
const GROUP = 4;

export class OnnxEmbedder implements EmbedderPort {
  private readonly lanes: Lane[] = [];
  private starting: Promise<void> | null = null;
  private readonly firstReady: Lane['ready'];

  private constructor(
    readonly modelId: string,
    readonly modelName: string,
    readonly dimensions: number,
    readonly profile: ModelProfile,
    readonly plan: LanePlan,
    private readonly modelPath: string,
    private readonly tokenizer: WordPieceTokenizer,
    first: Lane,
    private readonly opts: OnnxEmbedderOptions,
    /** Milliseconds to start the first lane (import + session + warm-up), once it is ready. */
    readonly firstLaneMs: Promise<number>,
    private readonly cache: InitMessage['cache'],
  ) {
    this.lanes.push(first);
    this.firstReady = first.ready;
  }

  readonly computeUnit = 'CPU';
  /** The backend, as it appears in the model identity and the logs (`onnxruntime-fp32`, `onnxruntime-int8`). */
  get backend(): string {
    return `onnxruntime-${precisionOf(this.modelPath)}`;
  }

  /** Loads the tokenizer and starts one lane; the others start on the first document batch. */
  static async load(opts: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const logger = opts.logger ?? silentLogger;
    const modelPath = path.resolve(opts.modelPath);
    const dir = path.dirname(modelPath);
    const tokPath = path.join(dir, 'tokenizer.json');
    if (!existsSync(modelPath)) throw new LoupeError(`Model file not found: ${modelPath}`, 'model-missing');
    if (!existsSync(tokPath)) throw new LoupeError(`No tokenizer.json beside ${modelPath}`, 'model-missing');
    // The first lane's thread starts (and imports ONNX Runtime) while this thread reads the tokenizer,
    // unless a one-shot search started it already (src/adapters/onnx-prestart.ts).
    const prestarted = takePrestartedWorker();
    const first = prestarted ? new Lane(prestarted.worker, undefined, prestarted.loaded) : new Lane(newOnnxWorker(workerUrl()));
    let tokText: string;
    let tokenizer: WordPieceTokenizer;
    try {
      tokText = readFileSync(tokPath, 'utf8');
      tokenizer = new WordPieceTokenizer(JSON.parse(tokText) as TokenizerJson);
    } catch (e) {
      await first.close();
      throw new LoupeError(`${tokPath}: ${(e as Error).message}`, 'model-load-failed');
    }
    const name = modelNameOf(modelPath);
    const profile = profileOf(name, modelPath, opts.profile);
    const plan: LanePlan = opts.exactLanes
      ? {
          lanes: Math.max(1, opts.contexts ?? 1),
          threadsPerLane: Math.max(1, opts.threadsPerContext ?? 1),
          reason: 'exactly as given (benchmark)',
        }
      : planLanes({ cores: os.availableParallelism(), contexts: opts.contexts, threadsPerContext: opts.threadsPerContext });
    let fileHash: string;
    try {
      fileHash = await modelFileHash(modelPath);
    } catch (e) {
      await first.close();
      throw e;
    }
    const cacheDir = opts.optimizedCacheDir === undefined ? defaultOptimizedCacheDir() : opts.optimizedCacheDir;
    const cache = cacheDir ? { dir: cacheDir, modelSha256: fileHash, probeIds: tokenizer.encode(CACHE_PROBE, 64) } : undefined;
    first.start(OnnxEmbedder.initFor(modelPath, plan.threadsPerLane, tokenizer, cache));
    // The manifest of a bundled model gives the width: the engine opens its store and BM25 while
    // the lane's session loads (a one-shot search overlaps the two). Otherwise, wait for the lane.
    const known = manifestOf(modelPath)?.dimensions;
    const ready = first.ready.then((r) => {
      if (known !== undefined && r.dims !== known) throw new Error(`the model gives ${r.dims} dimensions, its manifest says ${known}`);
      return r;
    });
    ready.catch(() => undefined);
    let dims = known;
    if (dims === undefined) {
      try {
        dims = (await ready).dims;
      } catch (e) {
        await first.close();
        throw new LoupeError(`The model ${modelPath} could not be loaded by ONNX Runtime: ${(e as Error).message}`, 'model-load-failed');
      }
    }
    const firstLaneMs = ready.then((r) => r.ms);
    firstLaneMs.catch(() => undefined);
    const embedder = new OnnxEmbedder(
      onnxModelId(precisionOf(modelPath), fileHash, tokText, profile),
      name,
      dims,
      profile,
      plan,
      modelPath,
      tokenizer,
      first,
      opts,
      firstLaneMs,
      cache,
    );
    logger.info(
      `Embedding model ${name}: ${dims} dims, ${profile.maxTokens} tokens, ONNX Runtime ${precisionOf(modelPath)} on CPU, ${plan.reason}, batch ${opts.batch ?? 1}`,
    );
    void ready.then(
      (r) => logger.info(`ONNX Runtime: first lane ready in ${Math.round(r.ms)} ms (${SOURCE_TEXT[r.source]})`),
      (e: Error) => logger.error(`ONNX Runtime could not load ${modelPath}: ${e.message}`),
    );
    return embedder;
  }

  /** The model id `load` would give, without loading (null when the files are not there). */
  static modelIdFor(this: void, modelPath: string): string | null {
    const tok = path.join(path.dirname(modelPath), 'tokenizer.json');
    if (!existsSync(modelPath) || !existsSync(tok)) return null;
    return onnxModelId(
      precisionOf(modelPath),
      modelFileHashSync(modelPath),
      readFileSync(tok, 'utf8'),
      profileOf(modelNameOf(modelPath), modelPath),
    );
  }

  /** How an index built by this model says which runtime embeds it: `ONNX Runtime int8`, `ONNX Runtime fp32`. */
  static runtimeOf(this: void, modelPath: string): string {
    return `ONNX Runtime ${precisionOf(modelPath)}`;
  }

  private static initFor(modelPath: string, threads: number, tok: WordPieceTokenizer, cache: InitMessage['cache']): InitMessage {
    return { type: 'init', modelPath, threads, warmIds: [tok.clsId, tok.sepId], cache };
  }

  private static startLane(modelPath: string, threads: number, tok: WordPieceTokenizer, cache: InitMessage['cache']): Lane {
    return new Lane(newOnnxWorker(workerUrl()), OnnxEmbedder.initFor(modelPath, threads, tok, cache));
  }

  /** Where the first lane's session came from (the optimised-model cache or the model), once it is ready. */
  get firstLaneSource(): Promise<SessionSource> {
    return this.firstReady.then((r) => r.source);
  }

  /** Starts the lanes not yet running (in the background; callers use those that are ready). */
  private startRest(): void {
    if (this.starting || this.lanes.length >= this.plan.lanes) return;
    this.starting = (async () => {
      while (this.lanes.length < this.plan.lanes) {
        const lane = OnnxEmbedder.startLane(this.modelPath, this.plan.threadsPerLane, this.tokenizer, this.cache);
        try {
          await lane.ready;
          this.lanes.push(lane);
        } catch (e) {
          this.opts.logger?.warn(`ONNX Runtime lane not started: ${(e as Error).message}`);
          await lane.close();
          return;
        }
      }
    })();
  }

  /** Lanes running now (for tests and the bench). */
  get laneCount(): number {
    return this.lanes.length;
  }

  /** Waits until every planned lane has started (the bench uses this to time steady state). */
  async warmUp(): Promise<void> {
    this.startRest();
    await this.starting;
  }

  countTokens(text: string): number {
    return this.tokenizer.encode(this.profile.documentPrefix + text).length;
  }

  /** Token ids as the model sees them, cut to the profile's budget. */
  tokenize(text: string): Int32Array {
    return Int32Array.from(this.tokenizer.encode(text, this.profile.maxTokens));
  }

  private split(v: Float32Array, n: number): Float32Array[] {
    const d = this.dimensions;
    const out: Float32Array[] = [];
    for (let i = 0; i < n; i++) out.push(v.slice(i * d, (i + 1) * d));
    return out;
  }

  /**
   * Embeds sequences already tokenized. `batch` > 1: sequences sorted by length so each pass pads
   * little, `batch` per pass (the batched path; identical vectors within float rounding).
   */
  async embedTokens(seqs: Int32Array[], signal?: AbortSignal, batch = this.opts.batch ?? 1): Promise<Float32Array[]> {
    await this.lanes[0]?.ready;
    const out: Float32Array[] = new Array(seqs.length);
    const order = seqs.map((_, i) => i);
    if (batch > 1) order.sort((a, b) => seqs[a].length - seqs[b].length);
    const group = Math.max(GROUP, batch);
    if (seqs.length > group) this.startRest();
    let next = 0;
    const worker = async (k: number): Promise<void> => {
      while (next < order.length) {
        signal?.throwIfAborted();
        // Re-decided per group: a lane beyond the current share waits for the next call.
        const active = Math.max(1, Math.min(this.lanes.length, this.opts.activeLanes?.() ?? this.lanes.length));
        if (k >= active) return;
        const idx = order.slice(next, next + group);
        next += idx.length;
        const v = await this.lanes[k].run(
          idx.map((i) => seqs[i]),
          batch,
        );
        const vs = this.split(v, idx.length);
        idx.forEach((i, j) => (out[i] = vs[j]));
      }
    };
    // Every lane is awaited (not just the first to fail) so no run is in flight after a cancel.
    const results = await Promise.allSettled(this.lanes.map((_, k) => worker(k)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return out;
  }

  async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.embedTokens(
      texts.map((t) => this.tokenize(this.profile.documentPrefix + t)),
      signal,
    );
  }

  async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    signal?.throwIfAborted();
    const [v] = await this.embedTokens([this.tokenize(this.profile.queryPrefix + text)], signal, 1);
    return v;
  }

  async dispose(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await Promise.all(this.lanes.map((l) => l.close()));
    this.lanes.length = 0;
  }
}

/** The bundled ONNX model (models/onnx/…/model.onnx under the package root), if fetched. */
export const BUNDLED_ONNX_MODEL = 'models/onnx/all-MiniLM-L6-v2/model.onnx';
/**
 * Its dynamic-int8 quantization (scripts/make-int8-model.mjs; optional, needs Python at build):
 * 2.6× fp32's speed here with bench:quality's held-out sets unchanged within noise
 * (test/bench/results/quality-int8-2026-12-03.json), so the default where it was built.
 */
export const BUNDLED_ONNX_INT8_MODEL = 'models/onnx/all-MiniLM-L6-v2-int8/model.onnx';
