/**
 * The data model of one `loupe bench` run (what `--json` writes and the report draws), and the
 * recommendations that follow from it. Pure.
 */
import type { CohesionReport, NormReport } from './cohesion.js';
import type { DevicePeak, EncoderShape, FlopsBreakdown, RooflinePoint } from './flops.js';
import type { LatencySummary } from './stats.js';

export const BENCH_SCHEMA = 'loupe-bench/1';

/** A section that could not be measured, and why (shown as such in the report). */
export interface NotMeasured {
  status: 'not-measured';
  reason: string;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  ramGiB: number;
  platform: string;
  node: string;
  nodeLlamaCpp: string;
  /** node-llama-cpp's GPU backend (`metal`, `cuda`, `vulkan`) or null for CPU only. */
  gpuBackend: string | null;
  gpus: string[];
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

export interface ModelInfo {
  path: string;
  name: string;
  architecture: string;
  dimensions: number;
  maxTokens: number;
  fileBytes: number;
  /** Bytes of weights one forward pass reads (layers, not the token table). */
  weightBytesPerPass: number;
  shape: EncoderShape | null;
  /** Why the FLOPs model does not apply, when shape is null. */
  shapeMissing?: string[];
  computeUnit: string;
  contexts: number;
  threadsPerContext: number;
  /** Dimensions the model was trained to be truncated to (Matryoshka), or null. */
  matryoshkaDims: number[] | null;
  loadSeconds: number;
}

export interface ThroughputResult {
  texts: number;
  tokens: number;
  seconds: number;
  rounds: number;
  tokensPerSec: number;
  chunksPerSec: number;
  /** FLOPs of all texts (the model's shape and each text's tokens) / seconds. */
  achievedGflops: number | null;
}

export interface CacheResult {
  files: number;
  chunks: number;
  coldSeconds: number;
  cachedSeconds: number;
  /** Chunks embedded on the cached run (0: every vector came from the content-hash cache). */
  embeddedOnCachedRun: number;
  speedup: number;
}

export interface BatchPoint {
  batchSize: number;
  seconds: number;
  chunksPerSec: number;
  tokensPerSec: number;
  /** Process RSS growth while this batch size ran (MiB). */
  rssDeltaMiB: number;
}

export interface SeqLenPoint {
  tokens: number;
  latency: LatencySummary;
  /** RSS growth from creating a context of this size and running it (MiB); GPU memory in vramDeltaMiB. */
  memoryMiB: number;
  vramDeltaMiB: number | null;
  /** node-llama-cpp's estimate of that context's memory (RAM + VRAM, MiB), steadier than RSS. */
  estimatedMiB: number | null;
  flops: number | null;
  achievedGflops: number | null;
}

export interface DimensionPoint {
  dims: number;
  /** Truncated to the first `dims` components and renormalised. */
  trained: boolean;
  cohesionGap: number;
  nearestSameCategory: number;
  /** Exact bytes of the vectors of `points` chunks (float32). */
  vectorBytes: number;
  /** hnswlib graph file size for `points` chunks. */
  hnswBytes: number;
  /** RSS growth while building that graph (MiB). */
  hnswRssDeltaMiB: number;
  searchP50Ms: number;
  points: number;
}

export interface RooflineResult {
  peak: DevicePeak;
  ridge: number;
  breakdownAtMaxTokens: FlopsBreakdown & { seqLen: number };
  points: RooflinePoint[];
  /** One sentence: which bound the workload is under, and where it changes. */
  verdict: string;
}

export interface AnswerModelResult {
  status: 'measured';
  name: string;
  where: string;
  promptTokens: number;
  /** Prompt tokens / time to first token. */
  promptTokensPerSec: number;
  firstTokenMs: number;
  generatedTokens: number;
  generationTokensPerSec: number;
  parallel: { requests: number; seconds: number; tokens: number; tokensPerSec: number }[];
}

export interface ContentionResult {
  status: 'measured';
  /** Where the figures come from (a committed `npm run bench:contention` file). */
  source: string;
  date: string;
  /** Points of the frontier: workload throughput kept vs Loupe's indexing speed. */
  frontier: { label: string; workloadKept: number; loupeSpeed: number }[];
}

export interface BenchResults {
  schema: typeof BENCH_SCHEMA;
  startedAt: string;
  seconds: number;
  quick: boolean;
  machine: MachineInfo;
  model: ModelInfo;
  corpus: { source: string; files: number; texts: number; tokens: number };
  throughput: ThroughputResult;
  latency: { singleText: LatencySummary; queryTokensMean: number };
  cache: CacheResult | NotMeasured;
  sweeps: {
    batch: BatchPoint[];
    seqLen: SeqLenPoint[];
    dimension: DimensionPoint[];
  };
  roofline: RooflineResult | NotMeasured;
  sanity: { norms: NormReport; cohesion: CohesionReport; cohesionSource: string };
  answer: AnswerModelResult | NotMeasured;
  contention: ContentionResult | NotMeasured;
  recommendations: Recommendations;
  notes: string[];
  /** Earlier runs the user asked to compare with (`--compare`), this run first. */
  comparison?: RunSummary[];
}

/** The figures that tell runs apart, for comparing models and settings side by side. */
export interface RunSummary {
  startedAt: string;
  model: string;
  computeUnit: string;
  setup: string;
  tokensPerSec: number;
  chunksPerSec: number;
  queryP50Ms: number;
  cohesionGap: number;
  nearestSameCategory: number;
  batchSize: number | null;
  loadAverage: number;
}

export function runSummary(
  r: Pick<BenchResults, 'startedAt' | 'model' | 'throughput' | 'latency' | 'sanity' | 'recommendations' | 'machine'>,
): RunSummary {
  return {
    startedAt: r.startedAt,
    model: r.model.name,
    computeUnit: r.model.computeUnit,
    setup: `${r.model.contexts} × ${r.model.threadsPerContext}`,
    tokensPerSec: r.throughput.tokensPerSec,
    chunksPerSec: r.throughput.chunksPerSec,
    queryP50Ms: r.latency.singleText.p50,
    cohesionGap: r.sanity.cohesion.gap,
    nearestSameCategory: r.sanity.cohesion.nearestSameCategory,
    batchSize: r.recommendations.batchSize,
    loadAverage: r.machine.loadAverageAtStart[0],
  };
}

/** Reads an earlier run's JSON (as `--json` wrote it), or throws with the reason. */
export function parseBenchResults(json: unknown, source: string): BenchResults {
  const j = json as Partial<BenchResults> | null;
  if (!j || j.schema !== BENCH_SCHEMA || !j.model || !j.throughput || !j.sanity)
    throw new Error(`${source} is not a loupe bench result (${BENCH_SCHEMA})`);
  return j as BenchResults;
}

/** Which compared run to pick for speed and which for quality (one line each), if more than one model. */
export function compareLines(runs: RunSummary[]): string[] {
  if (runs.length < 2) return [];
  const fastest = [...runs].sort((a, b) => b.chunksPerSec - a.chunksPerSec)[0];
  // Topic separation: leave-one-out nearest-neighbour accuracy first (scale-free), the cosine gap
  // second (it depends on how anisotropic a model's space is, so it compares poorly across models).
  const best = [...runs].sort((a, b) => b.nearestSameCategory - a.nearestSameCategory || b.cohesionGap - a.cohesionGap)[0];
  const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
  if (fastest === best)
    return [
      `Of the ${runs.length} compared runs, ${best.model} (${best.computeUnit}, ${best.setup}) is both the fastest and separates topics best (nearest snippet in the same topic for ${pct(best.nearestSameCategory)}).`,
    ];
  return [
    `Fastest of the compared runs: ${fastest.model} (${fastest.computeUnit}, ${fastest.setup}) at ${fastest.chunksPerSec.toFixed(1)} chunks/s; best topic separation: ${best.model} (nearest snippet in the same topic for ${pct(best.nearestSameCategory)} vs ${pct(fastest.nearestSameCategory)}).`,
  ];
}

export interface Recommendations {
  /** The smallest batch within 5 % of the best throughput. */
  batchSize: number | null;
  lines: string[];
}

/** Smallest batch size whose throughput is within `slack` of the best one (batching stops helping there). */
export function recommendBatchSize(points: { batchSize: number; chunksPerSec: number }[], slack = 0.05): number | null {
  if (!points.length) return null;
  const best = Math.max(...points.map((p) => p.chunksPerSec));
  const ok = points.filter((p) => p.chunksPerSec >= best * (1 - slack)).sort((a, b) => a.batchSize - b.batchSize);
  return ok[0]?.batchSize ?? null;
}

/** Smallest dimension keeping `keep` of the full dimension's cohesion gap, among trained ones. */
export function recommendDimension(points: DimensionPoint[], keep = 0.95): number | null {
  const trained = points.filter((p) => p.trained).sort((a, b) => a.dims - b.dims);
  if (trained.length < 2) return null;
  const full = trained[trained.length - 1];
  return trained.find((p) => p.cohesionGap >= full.cohesionGap * keep)?.dims ?? full.dims;
}

/** Where memory grows with sequence length and where latency does: growth factors over the sweep. */
export function scalingSummary(
  points: SeqLenPoint[],
): { tokensRatio: number; latencyRatio: number; memoryRatio: number; estimatedMemoryRatio: number } | null {
  if (points.length < 2) return null;
  const a = points[0];
  const b = points[points.length - 1];
  return {
    tokensRatio: b.tokens / a.tokens,
    latencyRatio: b.latency.p50 / a.latency.p50,
    memoryRatio: a.memoryMiB > 0 ? b.memoryMiB / a.memoryMiB : NaN,
    estimatedMemoryRatio: a.estimatedMiB && b.estimatedMiB ? b.estimatedMiB / a.estimatedMiB : NaN,
  };
}

/** Human sentences from a run's figures. */
export function recommendationLines(r: Omit<BenchResults, 'recommendations'>): Recommendations {
  const lines: string[] = [];
  const batchSize = recommendBatchSize(r.sweeps.batch);
  if (batchSize !== null) {
    const best = Math.max(...r.sweeps.batch.map((p) => p.chunksPerSec));
    lines.push(
      `Batch size ${batchSize}: the smallest unit of work within 5 % of the best throughput (${best.toFixed(1)} chunks/s); larger batches only delay commits.`,
    );
  }
  const dim = recommendDimension(r.sweeps.dimension);
  if (dim !== null && dim < r.model.dimensions) {
    lines.push(
      `Dimension ${dim} keeps ≥ 95 % of the full ${r.model.dimensions}-d cohesion gap at ${((dim / r.model.dimensions) * 100).toFixed(0)} % of the index memory.`,
    );
  }
  const s = scalingSummary(r.sweeps.seqLen);
  if (s) {
    lines.push(
      `From ${r.sweeps.seqLen[0].tokens} to ${r.sweeps.seqLen[r.sweeps.seqLen.length - 1].tokens} tokens (${s.tokensRatio.toFixed(1)}×), single-text latency grew ${s.latencyRatio.toFixed(1)}× and context memory ${Number.isFinite(s.memoryRatio) ? `${s.memoryRatio.toFixed(1)}× (process RSS)` : 'by an amount RSS could not resolve'}${Number.isFinite(s.estimatedMemoryRatio) ? `, ${s.estimatedMemoryRatio.toFixed(1)}× by node-llama-cpp's estimate` : ''}.`,
    );
  }
  if ('verdict' in r.roofline) lines.push(r.roofline.verdict);
  if ('speedup' in r.cache)
    lines.push(`Re-indexing unchanged content is ${r.cache.speedup.toFixed(1)}× faster than the first index (content-hash cache).`);
  if (!r.sanity.norms.ok)
    lines.push(
      `Warning: some vector norms are outside 1 ± ${r.sanity.norms.tolerance} (min ${r.sanity.norms.min}, max ${r.sanity.norms.max}).`,
    );
  const c = r.sanity.cohesion;
  lines.push(
    c.gap > 0.05
      ? `Same-topic code is closer than cross-topic code (cosine ${c.intra.toFixed(3)} vs ${c.inter.toFixed(3)}; nearest neighbour in the same topic for ${(c.nearestSameCategory * 100).toFixed(0)} % of texts).`
      : `This model barely separates topics (cosine ${c.intra.toFixed(3)} same-topic vs ${c.inter.toFixed(3)} cross-topic): expect weak semantic search.`,
  );
  return { batchSize, lines };
}

/** Reads a `npm run bench:contention` result file's frontier (or says why it cannot). */
export function parseContentionResults(json: unknown, source: string): ContentionResult | NotMeasured {
  const j = json as {
    benchmark?: string;
    date?: string;
    frontier?: { setting?: string; workloadKept?: number; loupeSpeed?: number }[];
  } | null;
  if (!j || j.benchmark !== 'contention' || !Array.isArray(j.frontier))
    return { status: 'not-measured', reason: `${source} is not a contention benchmark result` };
  const frontier = j.frontier
    .filter((p) => typeof p.workloadKept === 'number' && typeof p.loupeSpeed === 'number')
    .map((p) => ({ label: String(p.setting ?? '?'), workloadKept: p.workloadKept!, loupeSpeed: p.loupeSpeed! }));
  if (!frontier.length) return { status: 'not-measured', reason: `${source} holds no frontier points` };
  return { status: 'measured', source, date: String(j.date ?? ''), frontier };
}
