/**
 * `loupe bench`: measures the user's own model on the user's own machine — embedding throughput
 * and latency, the content-hash cache, sweeps over batch size, sequence length and dimension,
 * FLOPs against the device's roofline, vector norms and semantic cohesion, and the answer model
 * when one is configured — and writes JSON and a self-contained HTML report.
 *
 * `runBench(options, onProgress)` is the entry point for the CLI and for VS Code's
 * "Loupe: Run Benchmark" (which shows `reportPath` or `html` in a webview).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cohesion, normReport, truncateVector } from '../../core/bench/cohesion.js';
import { matryoshkaDims, sweepDims } from '../../core/bench/dimensions.js';
import { activationBytes, encoderFlops, ridgePoint, roofline, type DevicePeak, type RooflinePoint } from '../../core/bench/flops.js';
import { renderReport } from '../../core/bench/report.js';
import {
  BENCH_SCHEMA,
  compareLines,
  parseBenchResults,
  parseContentionResults,
  recommendationLines,
  runSummary,
  type AnswerModelResult,
  type BatchPoint,
  type BenchResults,
  type CacheResult,
  type ContentionResult,
  type DimensionPoint,
  type MachineInfo,
  type ModelInfo,
  type NotMeasured,
  type RooflineResult,
  type SeqLenPoint,
} from '../../core/bench/results.js';
import { round, sig, summarize, syntheticNeighbours } from '../../core/bench/stats.js';
import { Engine } from '../../core/engine.js';
import { ForwardingEmbedder } from '../../core/forwarding-embedder.js';
import { LoupeError, silentLogger, type Logger } from '../../core/types.js';
import type { ChatModelPort } from '../../core/answer/types.js';
import { HnswFactory } from '../hnsw-index.js';
import { LlamaEmbedder } from '../llama-embedder.js';
import { defaultModelPath } from '../open-engine.js';
import { TreeSitterChunker } from '../treesitter-chunker.js';
import { cohesionDir, loadCohesionSet, loadReportAssets } from './assets.js';
import { cpuFacts, devicePeak, measureCopyBandwidth, packageVersion } from './machine.js';
import { readModelFacts, type GgufModelFacts } from './model-info.js';
import { DEFAULT_BATCH_SIZE } from '../../core/defaults.js';

export interface BenchOptions {
  /** GGUF embedding model (default: the bundled one). */
  modelPath?: string;
  /** Smaller sweeps and fewer repetitions: about a minute on a small model. */
  quick?: boolean;
  /** Folder whose code is the corpus for throughput and the cache (default: the shipped cohesion set). */
  corpusDir?: string;
  /** Write the results here as JSON. */
  jsonPath?: string;
  /** Write the HTML report here. */
  reportPath?: string;
  /** Embedding contexts × threads per context (default 2 × 1, the product's defaults). */
  contexts?: number;
  threadsPerContext?: number;
  /** false: CPU only. */
  gpu?: 'auto' | false;
  /**
   * The answer model to measure: an already open one, or settings for openAnswerModel. Omitted:
   * not measured (a bench never starts a server or downloads a model on its own).
   */
  answerModel?: ChatModelPort | import('../llm/open-answer-model.js').AnswerModelConfig;
  /** A `npm run bench:contention` result to include (default: none; product code reads no committed test results). */
  contentionFile?: string;
  /** Earlier runs' JSON files (as --json wrote them) to compare with in the report. */
  compareWith?: string[];
  /** A VS Code webview's cspSource, if the HTML will be shown there. */
  cspSource?: string;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface BenchProgress {
  /** Short name of the current step. */
  step: string;
  /** 0–1 over the whole run. */
  fraction: number;
  detail?: string;
}

export interface BenchOutput {
  results: BenchResults;
  /** The report's HTML (also written to reportPath when given). */
  html: string;
  reportPath?: string;
  jsonPath?: string;
}

/** Natural-language queries for single-text latency. */
const QUERIES = [
  'read a file line by line',
  'send an HTTP request and parse JSON',
  'sort a list of numbers',
  'format a date',
  'hash a password',
  'run a SQL query',
  'start worker threads',
  'compute the median',
  'retry a failed request',
  'parse command line arguments',
  'open a database transaction',
  'count words in a string',
];

const STEPS: [string, number][] = [
  ['model', 0.05],
  ['cache', 0.12],
  ['throughput', 0.12],
  ['latency', 0.06],
  ['batch', 0.15],
  ['seqlen', 0.2],
  ['sanity', 0.05],
  ['dimension', 0.12],
  ['answer', 0.1],
  ['report', 0.03],
];

const mibOf = (bytes: number): number => round(bytes / 1048576, 1);

function rssNow(): number {
  return process.memoryUsage().rss;
}

/** Records the texts the engine embeds (the corpus exactly as the pipeline sees it). */
class RecordingEmbedder extends ForwardingEmbedder {
  readonly texts: string[] = [];
  embedded = 0;
  override async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    this.texts.push(...texts);
    this.embedded += texts.length;
    return this.inner.embedDocuments(texts, signal);
  }
}

function newChunker(logger: Logger): TreeSitterChunker {
  // Inside a bundle (dist/), grammars and web-tree-sitter's wasm are copied beside it.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundled = existsSync(path.join(here, 'grammars'));
  return new TreeSitterChunker(
    bundled ? { grammarDir: path.join(here, 'grammars'), webTreeSitterWasm: path.join(here, 'tree-sitter.wasm'), logger } : { logger },
  );
}

type Llama = import('node-llama-cpp').Llama;

/** The loaded model and what the steps after `model` read from it. */
interface LoadedModel {
  modelPath: string;
  embedder: LlamaEmbedder;
  facts: GgufModelFacts;
  llama: Llama;
  gpuNames: string[];
  threads: number;
  machine: MachineInfo;
  model: ModelInfo;
}

/** One run's shared state: its options, the loaded model, a scratch folder and the notes for the report. */
interface BenchRun extends LoadedModel {
  opts: BenchOptions;
  quick: boolean;
  signal?: AbortSignal;
  logger: Logger;
  work: string;
  notes: string[];
  /** Reports progress within the current step: `within` is 0–1 of the step's weight. */
  progress: (within: number, detail: string) => void;
}

/** The corpus exactly as the pipeline embeds it. */
interface Corpus {
  root: string;
  files: number;
  texts: string[];
  /** Tokens per text. */
  tokens: number[];
  tokenSum: number;
}

/** Announces steps of the STEPS table; `within` reports progress inside the current one. */
function progressTracker(onProgress: (p: BenchProgress) => void, logger: Logger, signal?: AbortSignal) {
  let current = 0;
  let doneWeight = 0;
  return {
    step(name: string, detail?: string): void {
      signal?.throwIfAborted();
      current = STEPS.findIndex(([n]) => n === name);
      doneWeight = STEPS.slice(0, current).reduce((a, [, w]) => a + w, 0);
      onProgress({ step: name, fraction: round(doneWeight, 3), detail });
      logger.info(`bench: ${name}${detail ? ` (${detail})` : ''}`);
    },
    within(within: number, detail: string): void {
      const [name, weight] = STEPS[current];
      onProgress({ step: name, fraction: round(doneWeight + weight * within, 3), detail });
    },
  };
}

/** Runs every measurement, one function per step of STEPS; see BenchOptions. */
export async function runBench(opts: BenchOptions = {}, onProgress: (p: BenchProgress) => void = () => {}): Promise<BenchOutput> {
  const logger = opts.logger ?? silentLogger;
  const started = new Date();
  const t0 = performance.now();
  const tracker = progressTracker(onProgress, logger, opts.signal);
  const notes: string[] = [];

  tracker.step('model', 'reading the GGUF header and loading the model');
  const loaded = await loadModel(opts, notes, logger);
  const work = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
  try {
    const run: BenchRun = { ...loaded, opts, quick: !!opts.quick, signal: opts.signal, logger, work, notes, progress: tracker.within };

    tracker.step('cache', 'indexing the corpus, then again with the metadata lost');
    const { cache, corpus } = await measureCache(run);

    tracker.step('throughput', `${corpus.texts.length} texts`);
    const { throughput, corpusVectors } = await measureThroughput(run, corpus);

    tracker.step('latency', 'one query at a time');
    const { latency, queryVectors } = await measureLatency(run);

    tracker.step('batch', 'units of 8, 16, 32, 64 chunks');
    const batch = await sweepBatch(run, corpus);

    tracker.step('seqlen', 'one text per length on a fresh context');
    const seqLen = await sweepSeqLen(run, corpus);
    const roofline = await measureRoofline(run, seqLen);

    tracker.step('sanity', 'norms and cohesion on the labelled set');
    const { sanity, set, setVectors } = await measureSanity(run, queryVectors, corpusVectors);

    tracker.step('dimension', 'index memory and cohesion per dimension');
    const dimension = sweepDimension(run, set, setVectors, corpusVectors);

    tracker.step('answer', 'prompt processing, generation, parallel requests');
    const answer = await benchAnswerModel(opts, run.quick, notes, logger);
    const contention = readContention(opts.contentionFile);

    tracker.step('report');
    loaded.machine.loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
    if (loaded.machine.loadAverageAtStart[0] > loaded.machine.cores)
      notes.push(
        `The machine was busy (load average ${loaded.machine.loadAverageAtStart[0]} on ${loaded.machine.cores} cores): absolute figures are lower than on an idle machine; ratios within this run hold better.`,
      );
    const partial: Omit<BenchResults, 'recommendations'> = {
      schema: BENCH_SCHEMA,
      startedAt: started.toISOString(),
      seconds: round((performance.now() - t0) / 1000, 1),
      quick: run.quick,
      machine: loaded.machine,
      model: loaded.model,
      corpus: {
        source: opts.corpusDir ? corpus.root : 'the shipped cohesion set',
        files: corpus.files,
        texts: corpus.texts.length,
        tokens: corpus.tokenSum,
      },
      throughput,
      latency,
      cache,
      sweeps: { batch, seqLen, dimension },
      roofline,
      sanity,
      answer,
      contention,
      notes,
    };
    const out = writeReport(opts, partial);
    onProgress({ step: 'done', fraction: 1 });
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
    await loaded.embedder.dispose();
  }
}

/** Step `model`: loads the embedder and reads the GGUF header and the machine's facts. */
async function loadModel(opts: BenchOptions, notes: string[], logger: Logger): Promise<LoadedModel> {
  const modelPath = path.resolve(opts.modelPath ?? defaultModelPath());
  if (!existsSync(modelPath)) throw new LoupeError(`Model file not found: ${modelPath}`, 'model-missing');
  const contexts = Math.max(1, opts.contexts ?? Math.min(2, os.availableParallelism()));
  const threads = Math.max(1, opts.threadsPerContext ?? 1);
  const loadAverageAtStart = os.loadavg().map((x) => round(x, 2));
  const tLoad = performance.now();
  const embedder = await LlamaEmbedder.load({ modelPath, gpu: opts.gpu ?? 'auto', contexts, threadsPerContext: threads, logger });
  const loadSeconds = (performance.now() - tLoad) / 1000;
  let facts: GgufModelFacts;
  try {
    facts = await readModelFacts(modelPath);
  } catch (e) {
    await embedder.dispose();
    throw new LoupeError(`Cannot read the GGUF header of ${modelPath}: ${(e as Error).message}`, 'model-not-gguf');
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const mod = await import('node-llama-cpp');
  const llama = await mod.getLlama({ gpu: opts.gpu ?? 'auto', build: 'never', logLevel: mod.LlamaLogLevel.error });
  const gpuNames = llama.gpu ? await llama.getGpuDeviceNames().catch(() => [] as string[]) : [];
  const machine: MachineInfo = {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    ramGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    node: process.version,
    nodeLlamaCpp: packageVersion('node-llama-cpp', here),
    gpuBackend: llama.gpu || null,
    gpus: gpuNames,
    loadAverageAtStart,
    loadAverageAtEnd: [],
  };
  const model: ModelInfo = {
    path: modelPath,
    name: embedder.modelName,
    architecture: facts.architecture,
    dimensions: embedder.dimensions,
    maxTokens: embedder.profile.maxTokens,
    fileBytes: facts.fileBytes,
    weightBytesPerPass: facts.weightBytesPerPass,
    shape: facts.shape,
    shapeMissing: facts.shapeMissing,
    computeUnit: embedder.computeUnit,
    contexts,
    threadsPerContext: threads,
    matryoshkaDims: matryoshkaDims(facts.name, path.basename(modelPath)),
    loadSeconds: round(loadSeconds, 3),
  };
  if (facts.unknownTensorTypes.length)
    notes.push(`Tensor types ${facts.unknownTensorTypes.join(', ')} are not in the byte table; counted as 1 byte per weight.`);
  return { modelPath, embedder, facts, llama, gpuNames, threads, machine, model };
}

/** Step `cache`: indexes the corpus, then again with the metadata lost; records the corpus as the pipeline embeds it. */
async function measureCache(run: BenchRun): Promise<{ cache: CacheResult | NotMeasured; corpus: Corpus }> {
  const { opts, logger, embedder, signal } = run;
  const corpusRoot = opts.corpusDir ? path.resolve(opts.corpusDir) : cohesionDir();
  if (!existsSync(corpusRoot) || !statSync(corpusRoot).isDirectory())
    throw new LoupeError(`--corpus ${corpusRoot}: not a folder`, 'bad-args');
  const storeDir = path.join(run.work, 'store');
  const recorder = new RecordingEmbedder(embedder);
  const chunker = newChunker(logger);
  let cache: CacheResult | NotMeasured;
  let texts: string[];
  let files = 0;
  try {
    // The metadata is deleted on purpose: the store's warning about it is expected, not news.
    const quiet: Logger = { ...logger, warn: (m) => logger.debug(`(expected) ${m}`) };
    const open = (): Promise<Engine> =>
      Engine.open({
        root: corpusRoot,
        storeDir,
        chunker,
        embedder: recorder,
        annFactory: new HnswFactory(),
        logger: quiet,
        batchSize: DEFAULT_BATCH_SIZE,
      });
    let engine = await open();
    const tc = performance.now();
    const cold = await engine.index({ signal });
    const coldMs = performance.now() - tc;
    await engine.close();
    texts = [...new Set(recorder.texts)];
    files = cold.files;
    for (const f of readdirSync(storeDir)) if (/^meta-\d+\.json$/.test(f)) rmSync(path.join(storeDir, f));
    engine = await open();
    const before = recorder.embedded;
    const tw = performance.now();
    await engine.index({ signal });
    const cachedMs = performance.now() - tw;
    await engine.close();
    cache = cold.embedded
      ? {
          files: cold.files,
          chunks: cold.chunks,
          coldSeconds: round(coldMs / 1000, 4),
          cachedSeconds: round(cachedMs / 1000, 4),
          embeddedOnCachedRun: recorder.embedded - before,
          speedup: round(coldMs / cachedMs, 1),
        }
      : { status: 'not-measured', reason: `the corpus ${corpusRoot} produced no chunks` };
  } finally {
    chunker.dispose();
  }
  if (!texts.length) throw new LoupeError(`The corpus ${corpusRoot} has no indexable code.`, 'bad-args');
  const tokens = texts.map((t) => embedder.countTokens(t));
  return { cache, corpus: { root: corpusRoot, files, texts, tokens, tokenSum: tokens.reduce((a, b) => a + b, 0) } };
}

/** Step `throughput`: embeds the whole corpus for at least a few seconds. */
async function measureThroughput(
  run: BenchRun,
  corpus: Corpus,
): Promise<{ throughput: BenchResults['throughput']; corpusVectors: Float32Array[] }> {
  const { embedder, facts, signal } = run;
  const minSeconds = run.quick ? 1.5 : 6;
  let rounds = 0;
  let ms = 0;
  let corpusVectors: Float32Array[] = [];
  while (rounds < 50 && (rounds < 1 || ms < minSeconds * 1000)) {
    const t = performance.now();
    corpusVectors = await embedder.embedDocuments(corpus.texts, signal);
    ms += performance.now() - t;
    rounds++;
  }
  const totalFlops = facts.shape ? corpus.tokens.reduce((a, n) => a + encoderFlops(facts.shape!, n).total, 0) * rounds : null;
  const throughput = {
    texts: corpus.texts.length,
    tokens: corpus.tokenSum,
    seconds: round(ms / 1000, 3),
    rounds,
    tokensPerSec: round((corpus.tokenSum * rounds) / (ms / 1000), 1),
    chunksPerSec: round((corpus.texts.length * rounds) / (ms / 1000), 2),
    achievedGflops: totalFlops === null ? null : round(totalFlops / (ms / 1000) / 1e9, 3),
  };
  return { throughput, corpusVectors };
}

/** Step `latency`: one query at a time. */
async function measureLatency(run: BenchRun): Promise<{ latency: BenchResults['latency']; queryVectors: Float32Array[] }> {
  const { embedder, signal } = run;
  const nq = run.quick ? 30 : 200;
  await embedder.embedQuery(QUERIES[0], signal); // warm-up
  const ms: number[] = [];
  const queryVectors: Float32Array[] = [];
  for (let i = 0; i < nq; i++) {
    const t = performance.now();
    const v = await embedder.embedQuery(QUERIES[i % QUERIES.length], signal);
    ms.push(performance.now() - t);
    if (i < QUERIES.length) queryVectors.push(v);
  }
  const queryTokensMean = round(QUERIES.reduce((a, q) => a + embedder.countTokens(q), 0) / QUERIES.length, 1);
  return { latency: { singleText: summarize(ms), queryTokensMean }, queryVectors };
}

/** Step `batch`: the same texts in units of 8, 16, 32 and 64 chunks. */
async function sweepBatch(run: BenchRun, corpus: Corpus): Promise<BatchPoint[]> {
  const { embedder, signal } = run;
  const texts: string[] = [];
  const n = run.quick ? 128 : 192;
  for (let i = 0; texts.length < n; i++) texts.push(corpus.texts[i % corpus.texts.length]);
  const tokens = texts.reduce((a, t) => a + embedder.countTokens(t), 0);
  const batch: BatchPoint[] = [];
  for (const b of [8, 16, 32, 64]) {
    signal?.throwIfAborted();
    const r0 = rssNow();
    const t = performance.now();
    for (let i = 0; i < texts.length; i += b) await embedder.embedDocuments(texts.slice(i, i + b), signal);
    const s = (performance.now() - t) / 1000;
    batch.push({
      batchSize: b,
      seconds: round(s, 3),
      chunksPerSec: round(texts.length / s, 2),
      tokensPerSec: round(tokens / s, 1),
      rssDeltaMiB: mibOf(rssNow() - r0),
    });
    run.progress(batch.length / 4, `batch ${b}`);
  }
  return batch;
}

/** Step `seqlen`: one text per length, each on a fresh context, with its memory and FLOPs. */
async function sweepSeqLen(run: BenchRun, corpus: Corpus): Promise<SeqLenPoint[]> {
  const { embedder, facts, llama, signal, threads } = run;
  const seqLen: SeqLenPoint[] = [];
  const lm = await llama.loadModel({ modelPath: run.modelPath });
  try {
    const pool = lm.tokenize(
      corpus.texts.join('\n').repeat(Math.ceil((embedder.profile.maxTokens * 4) / Math.max(1, corpus.tokenSum)) + 1),
    );
    const max = embedder.profile.maxTokens;
    const lens: number[] = [];
    for (let n = run.quick ? 64 : 8; n < max; n *= 2) lens.push(n);
    lens.push(max);
    const reps = run.quick ? 3 : 10;
    for (const n of lens) {
      signal?.throwIfAborted();
      const vram0 = llama.gpu ? (await llama.getVramState()).used : 0;
      const r0 = rssNow();
      const ctx = await lm.createEmbeddingContext({ contextSize: n + 1, batchSize: n + 1, threads });
      try {
        const specials = ctx.calculateInputLength([pool[0]]) - 1;
        const tokens = pool.slice(0, Math.max(1, n - specials));
        await ctx.getEmbeddingFor(tokens); // warm-up; touches the compute buffers
        const memoryMiB = mibOf(rssNow() - r0);
        const vram = llama.gpu ? mibOf((await llama.getVramState()).used - vram0) : null;
        const ms: number[] = [];
        for (let i = 0; i < reps; i++) {
          const t = performance.now();
          await ctx.getEmbeddingFor(tokens);
          ms.push(performance.now() - t);
        }
        const lat = summarize(ms);
        const fl = facts.shape ? encoderFlops(facts.shape, n).total : null;
        let estimatedMiB: number | null = null;
        try {
          const est = lm.fileInsights.estimateContextResourceRequirements({
            contextSize: n + 1,
            batchSize: n + 1,
            modelGpuLayers: lm.gpuLayers,
            sequences: 1,
            isEmbeddingContext: true,
          });
          estimatedMiB = mibOf(est.cpuRam + est.gpuVram);
        } catch {
          /* no estimate for this architecture */
        }
        seqLen.push({
          tokens: n,
          latency: lat,
          memoryMiB,
          vramDeltaMiB: vram,
          estimatedMiB,
          flops: fl,
          achievedGflops: fl === null ? null : round(fl / (lat.p50 / 1000) / 1e9, 3),
        });
      } finally {
        await ctx.dispose();
      }
      run.progress(seqLen.length / lens.length, `${n} tokens`);
    }
  } finally {
    await lm.dispose();
  }
  return seqLen;
}

/** Part of step `seqlen`: places the sequence-length points on the device's roofline. */
async function measureRoofline(run: BenchRun, seqLen: SeqLenPoint[]): Promise<RooflineResult | NotMeasured> {
  const { facts, embedder, gpuNames, threads } = run;
  if (!facts.shape) return { status: 'not-measured', reason: `the GGUF metadata lacks ${(facts.shapeMissing ?? []).join(', ')}` };
  const cpu = await cpuFacts();
  const bandwidth = embedder.computeUnit.startsWith('GPU') ? 0 : measureCopyBandwidth();
  const peak = devicePeak({
    computeUnit: embedder.computeUnit,
    gpuNames: gpuNames.length ? gpuNames : [cpu.model],
    cpu,
    threads,
    bandwidth,
  });
  if ('unknown' in peak) return { status: 'not-measured', reason: `${peak.unknown}; achieved GFLOP/s are in the sequence-length table` };
  const points: RooflinePoint[] = seqLen.map((p) =>
    roofline(p.tokens, p.flops!, facts.weightBytesPerPass + activationBytes(facts.shape!, p.tokens), p.latency.p50 / 1000, peak),
  );
  const maxN = seqLen[seqLen.length - 1].tokens;
  return {
    peak: { ...peak, flops: sig(peak.flops), bytesPerSec: sig(peak.bytesPerSec) },
    ridge: round(ridgePoint(peak), 2),
    breakdownAtMaxTokens: { ...encoderFlops(facts.shape, maxN), seqLen: maxN },
    points: points.map((p) => ({
      ...p,
      intensity: round(p.intensity, 2),
      achievedFlops: sig(p.achievedFlops),
      fractionOfPeakFlops: round(p.fractionOfPeakFlops, 4),
      fractionOfPeakBandwidth: round(p.fractionOfPeakBandwidth, 4),
      seconds: round(p.seconds, 6),
    })),
    verdict: rooflineVerdict(points, peak),
  };
}

type CohesionSet = ReturnType<typeof loadCohesionSet>;

/** Step `sanity`: vector norms, and cohesion on the labelled set. */
async function measureSanity(
  run: BenchRun,
  queryVectors: Float32Array[],
  corpusVectors: Float32Array[],
): Promise<{ sanity: BenchResults['sanity']; set: CohesionSet; setVectors: Float32Array[] }> {
  const set = loadCohesionSet();
  const setVectors = await run.embedder.embedDocuments(
    set.map((s) => s.text),
    run.signal,
  );
  const norms = normReport([...setVectors, ...queryVectors, ...corpusVectors]);
  const coh = cohesion(set.map((s, i) => ({ category: s.category, vector: setVectors[i] })));
  return { sanity: { norms, cohesion: coh, cohesionSource: 'shipped with Loupe: 40 functions, 8 topics, 6 languages' }, set, setVectors };
}

/** Step `dimension`: index memory, search time and cohesion per (truncated) dimension. */
function sweepDimension(run: BenchRun, set: CohesionSet, setVectors: Float32Array[], corpusVectors: Float32Array[]): DimensionPoint[] {
  const { embedder, model, signal } = run;
  const dimension: DimensionPoint[] = [];
  const points = run.quick ? 1000 : 5000;
  const synth = syntheticNeighbours([...corpusVectors, ...setVectors], points, 11);
  const queries = syntheticNeighbours([...corpusVectors, ...setVectors], 50, 12);
  for (const { dims, trained } of sweepDims(embedder.dimensions, model.matryoshkaDims, run.quick)) {
    signal?.throwIfAborted();
    const c = cohesion(set.map((s, i) => ({ category: s.category, vector: truncateVector(setVectors[i], dims) })));
    const vecs = synth.map((v) => truncateVector(v, dims));
    const r0 = rssNow();
    const idx = new HnswFactory().create(dims, points);
    for (let i = 0; i < vecs.length; i++) idx.add(i, vecs[i]);
    const rssDelta = rssNow() - r0;
    const file = path.join(run.work, `dim-${dims}.hnsw`);
    idx.save(file);
    const ms: number[] = [];
    for (const q of queries) {
      const qv = truncateVector(q, dims);
      const t = performance.now();
      idx.search(qv, 10);
      ms.push(performance.now() - t);
    }
    dimension.push({
      dims,
      trained,
      cohesionGap: c.gap,
      nearestSameCategory: c.nearestSameCategory,
      vectorBytes: points * dims * 4,
      hnswBytes: statSync(file).size,
      hnswRssDeltaMiB: mibOf(rssDelta),
      searchP50Ms: summarize(ms).p50,
      points,
    });
    rmSync(file, { force: true });
  }
  if (!model.matryoshkaDims)
    run.notes.push(
      `${model.name} is not known to be trained for truncated dimensions; the cut sizes in the dimension sweep show memory and cohesion only.`,
    );
  return dimension;
}

/** Part of step `answer`: the contention benchmark's result, when one was passed. */
function readContention(file: string | undefined): ContentionResult | NotMeasured {
  if (!file)
    return {
      status: 'not-measured',
      reason:
        'no contention benchmark result (run `npm run bench:contention` in the Loupe sources and pass its JSON with --contention <file.json>)',
    };
  try {
    return parseContentionResults(JSON.parse(readFileSync(file, 'utf8')), path.basename(file));
  } catch (e) {
    return { status: 'not-measured', reason: `cannot read ${file}: ${(e as Error).message}` };
  }
}

/** Step `report`: recommendations, the comparison with earlier runs, the HTML, and the files asked for. */
function writeReport(opts: BenchOptions, partial: Omit<BenchResults, 'recommendations'>): BenchOutput {
  const results: BenchResults = { ...partial, recommendations: recommendationLines(partial) };
  if (opts.compareWith?.length) {
    const earlier = opts.compareWith.map((f) => {
      try {
        return parseBenchResults(JSON.parse(readFileSync(f, 'utf8')), f);
      } catch (e) {
        throw new LoupeError(`--compare ${f}: ${(e as Error).message}`, 'bad-args');
      }
    });
    results.comparison = [runSummary(results), ...earlier.map(runSummary)];
    results.recommendations.lines.push(...compareLines(results.comparison));
  }
  const html = renderReport(results, loadReportAssets(), randomBytes(18).toString('base64url'), opts.cspSource);
  const out: BenchOutput = { results, html };
  if (opts.jsonPath) {
    mkdirSync(path.dirname(path.resolve(opts.jsonPath)), { recursive: true });
    writeFileSync(opts.jsonPath, JSON.stringify(results, null, 1) + '\n');
    out.jsonPath = path.resolve(opts.jsonPath);
  }
  if (opts.reportPath) {
    mkdirSync(path.dirname(path.resolve(opts.reportPath)), { recursive: true });
    writeFileSync(opts.reportPath, html);
    out.reportPath = path.resolve(opts.reportPath);
  }
  return out;
}

/** One sentence on where the workload sits on the roofline. */
export function rooflineVerdict(points: RooflinePoint[], peak: DevicePeak): string {
  if (!points.length) return 'No measurements.';
  const first = points[0];
  const last = points[points.length - 1];
  const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;
  const memory = points.filter((p) => p.bound === 'memory').map((p) => p.seqLen);
  const compute = points.filter((p) => p.bound === 'compute').map((p) => p.seqLen);
  const where =
    !memory.length || !compute.length
      ? `At every measured length (${first.seqLen}–${last.seqLen} tokens) the encoder is ${last.bound}-bound on ${peak.label}`
      : `The encoder is memory-bound at ${memory.join(', ')} tokens (the weights are read again for few tokens) and compute-bound at ${compute.join(', ')} tokens on ${peak.label}`;
  return `${where}: at ${last.seqLen} tokens it does ${(last.achievedFlops / 1e9).toFixed(2)} GFLOP/s, ${pct(last.fractionOfPeakFlops)} of the FP32 peak (llama.cpp's quantised kernels and the attention overheads explain the gap).`;
}

async function benchAnswerModel(
  opts: BenchOptions,
  quick: boolean,
  notes: string[],
  logger: Logger,
): Promise<AnswerModelResult | NotMeasured> {
  const a = opts.answerModel;
  if (!a)
    return {
      status: 'not-measured',
      reason: 'no answer model (pass --llm-model <chat.gguf> or --llm-url <server>, or set LOUPE_CHAT_MODEL)',
    };
  let model: ChatModelPort;
  let owned = false;
  const maxParallel = quick ? 4 : 8;
  try {
    if ('generate' in a) {
      model = a;
    } else {
      const { openAnswerModel } = await import('../llm/open-answer-model.js');
      model = (await openAnswerModel({ contextSize: 2048, sequences: maxParallel, ...a, logger })).model;
      owned = true;
    }
  } catch (e) {
    return { status: 'not-measured', reason: `no answer model: ${(e as Error).message}` };
  }
  try {
    const context = QUERIES.map((q, i) => `Snippet ${i + 1}: a function that does this: ${q}.`).join('\n');
    const messages = [
      { role: 'system' as const, content: 'You answer questions about code briefly.' },
      { role: 'user' as const, content: `${context}\n\nWhich snippets deal with files or databases? Answer in one paragraph.` },
    ];
    const maxTokens = quick ? 32 : 128;
    await model.generate(messages, { maxTokens: 4, signal: opts.signal }); // warm-up
    const t = performance.now();
    const one = await model.generate(messages, { maxTokens, signal: opts.signal });
    const total = performance.now() - t;
    const promptTokens = one.promptTokens ?? model.countTokens(messages.map((m) => m.content).join('\n'));
    const first = one.firstTokenMs ?? total;
    const generated = one.completionTokens ?? model.countTokens(one.text);
    const parallel: AnswerModelResult['parallel'] = [];
    for (let n = 1; n <= maxParallel; n *= 2) {
      opts.signal?.throwIfAborted();
      const tp = performance.now();
      const rs = await Promise.all(Array.from({ length: n }, () => model.generate(messages, { maxTokens, signal: opts.signal })));
      const s = (performance.now() - tp) / 1000;
      const tokens = rs.reduce((acc, r) => acc + (r.completionTokens ?? model.countTokens(r.text)), 0);
      parallel.push({ requests: n, seconds: round(s, 3), tokens, tokensPerSec: round(tokens / s, 2) });
    }
    if (generated < maxTokens)
      notes.push(
        `The answer model stopped after ${generated} tokens (before the ${maxTokens}-token limit): generation figures cover short answers.`,
      );
    return {
      status: 'measured',
      name: model.info.name,
      where: model.info.where,
      promptTokens,
      promptTokensPerSec: round(promptTokens / (first / 1000), 1),
      firstTokenMs: round(first, 1),
      generatedTokens: generated,
      generationTokensPerSec: round(Math.max(0, generated - 1) / Math.max(1e-6, (total - first) / 1000), 2),
      parallel,
    };
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    logger.warn(`bench: the answer model failed: ${(e as Error).message}`);
    return { status: 'not-measured', reason: `the answer model failed: ${(e as Error).message}` };
  } finally {
    if (owned) await model.dispose().catch(() => undefined);
  }
}
