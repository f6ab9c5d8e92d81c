/**
 * ANN figures at sizes the corpus cannot reach with real embeddings: insert rate, query latency
 * and recall of the engine's own ExactIndex and HNSW index (hnswlib-node) over synthetic
 * vectors made from real embeddings.
 */
import { ExactIndex } from '../../src/core/exact-index.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import type { AnnIndexPort } from '../../src/core/types.js';
import { dot, gaussian, r1, r3, seededRandom, summarize, type LatencySummary } from './stats.js';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fsyncFile, sha256 } from '../../src/core/fsutil.js';
import * as os from 'node:os';
import * as path from 'node:path';

/** How synthetic vectors are made from real ones. */
export interface SynthParams {
  /** Norm of the Gaussian noise added to a unit vector before re-normalising. */
  noise: number;
  /** The second real vector mixed in gets a weight drawn from [0, mixMax]. */
  mixMax: number;
  seed: number;
}

export const DEFAULT_SYNTH: SynthParams = { noise: 0.3, mixMax: 0.5, seed: 20261122 };

/**
 * Embedding-like vectors: normalize(a + w·b + noise), a and b real embeddings picked at random,
 * w uniform in [0, mixMax], isotropic Gaussian noise of norm ≈ `noise`. Mixing spreads points
 * over the real embeddings' region instead of cloning tight clusters around each one.
 */
export function synthesize(base: Float32Array[], n: number, p: SynthParams, rand: () => number): Float32Array[] {
  const d = base[0].length;
  const sd = p.noise / Math.sqrt(d);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = base[Math.floor(rand() * base.length)];
    const b = base[Math.floor(rand() * base.length)];
    const w = rand() * p.mixMax;
    const v = new Float32Array(d);
    let s = 0;
    for (let j = 0; j < d; j++) {
      v[j] = a[j] + w * b[j] + sd * gaussian(rand);
      s += v[j] * v[j];
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < d; j++) v[j] *= inv;
    out.push(v);
  }
  return out;
}

/** Figures for one index size. */
export interface AnnSizeReport {
  points: number;
  /** Points/s while building the HNSW graph up to this size (cumulative, and for the last segment). */
  hnswInsertPerSec: number;
  hnswInsertPerSecLastSegment: number;
  exactInsertPerSec: number;
  /** Search latency (ms) at the k the engine asks for (k·3+10 = 40 for 10 results). */
  exact: LatencySummary;
  hnsw: Record<string, { latency: LatencySummary; recallAt10: number; recallAt10DocQueries: number; recallAt10TextQueries: number }>;
  /** Nearest-neighbour cosine of the queries (p50), to show how crowded the space is. */
  top1CosineP50: number;
  hnswSaveMs?: number;
  hnswFsyncReadChecksumMs?: number;
  /** HnswFactory.load (what a store open does) vs hnswlib's bare readIndex. */
  hnswLoadMs?: number;
  hnswBareReadIndexMs?: number;
  hnswFileMiB?: number;
}

export interface AnnReport {
  dimensions: number;
  baseVectors: number;
  synth: SynthParams;
  k: number;
  queries: { docLike: number; text: number };
  hnswParams: { M: number; efConstruction: number };
  /** p50 nearest-neighbour cosine among the real vectors and among 10k synthetic ones. */
  realNnCosineP50: number;
  synthNnCosineP50: number;
  sizes: AnnSizeReport[];
}

function nnCosineP50(vectors: Float32Array[], sample: number, rand: () => number): number {
  const sims: number[] = [];
  for (let s = 0; s < sample; s++) {
    const i = Math.floor(rand() * vectors.length);
    let best = -Infinity;
    for (let j = 0; j < vectors.length; j++) if (j !== i) best = Math.max(best, dot(vectors[i], vectors[j]));
    sims.push(best);
  }
  sims.sort((a, b) => a - b);
  return r3(sims[Math.floor(sims.length / 2)]);
}

function recall(truth: number[][], got: number[][], from: number, to: number): number {
  let hit = 0;
  let total = 0;
  for (let q = from; q < to; q++) {
    const t = new Set(truth[q]);
    total += t.size;
    for (const l of got[q]) if (t.has(l)) hit++;
  }
  return total ? r3(hit / total) : NaN;
}

/**
 * Builds one HNSW graph incrementally and one exact index, pausing at each size to measure.
 * `textQueries` are real query embeddings; doc-like queries are fresh synthetic vectors.
 */
export function annBench(opts: {
  base: Float32Array[];
  textQueries: Float32Array[];
  sizes: number[];
  efs: number[];
  docQueries: number;
  synth?: SynthParams;
  log?: (msg: string) => void;
}): AnnReport {
  const p = opts.synth ?? DEFAULT_SYNTH;
  const rand = seededRandom(p.seed);
  const log = opts.log ?? (() => {});
  const dims = opts.base[0].length;
  const maxN = Math.max(...opts.sizes);
  const points = synthesize(opts.base, maxN, p, rand);
  const queries = [...synthesize(opts.base, opts.docQueries, p, rand), ...opts.textQueries];
  const nDoc = opts.docQueries;
  const k = 40;
  const M = 16;
  const efConstruction = 200;
  // The engine's own classes, on the same code path a store uses.
  const factory = new HnswFactory({ M, efConstruction, efSearch: opts.efs[0] });
  const hnsw = factory.create(dims, Math.max(1024, maxN));
  const exact = new ExactIndex(dims);
  const report: AnnReport = {
    dimensions: dims,
    baseVectors: opts.base.length,
    synth: p,
    k,
    queries: { docLike: nDoc, text: opts.textQueries.length },
    hnswParams: { M, efConstruction },
    realNnCosineP50: nnCosineP50(opts.base, Math.min(200, opts.base.length), rand),
    synthNnCosineP50: nnCosineP50(points.slice(0, Math.min(10_000, maxN)), 200, rand),
    sizes: [],
  };
  let built = 0;
  let hnswMs = 0;
  let exactMs = 0;
  for (const size of [...opts.sizes].sort((a, b) => a - b)) {
    const t0 = performance.now();
    for (let i = built; i < size; i++) hnsw.add(i, points[i]);
    const segMs = performance.now() - t0;
    hnswMs += segMs;
    const t1 = performance.now();
    for (let i = built; i < size; i++) exact.add(i, points[i]);
    exactMs += performance.now() - t1;
    const segment = size - built;
    built = size;
    log(`ann: ${size} points built (hnsw ${(segMs / 1000).toFixed(1)} s)`);

    const truth: number[][] = [];
    const exactLat: number[] = [];
    for (const q of queries) {
      const t = performance.now();
      const hits = exact.search(q, k);
      exactLat.push(performance.now() - t);
      truth.push(hits.slice(0, 10).map((h) => h.label));
    }
    const top1 = queries.map((q) => exact.search(q, 1)[0]?.score ?? NaN).sort((a, b) => a - b);
    const sizeReport: AnnSizeReport = {
      points: size,
      hnswInsertPerSec: r1(size / (hnswMs / 1000)),
      hnswInsertPerSecLastSegment: r1(segment / (segMs / 1000)),
      exactInsertPerSec: r1(size / (exactMs / 1000)),
      exact: summarize(exactLat),
      hnsw: {},
      top1CosineP50: r3(top1[Math.floor(top1.length / 2)]),
    };
    for (const ef of opts.efs) {
      setEf(hnsw, ef);
      const lat: number[] = [];
      const got: number[][] = [];
      for (const q of queries) {
        const t = performance.now();
        const hits = hnsw.search(q, k);
        lat.push(performance.now() - t);
        got.push(hits.slice(0, 10).map((h) => h.label));
      }
      sizeReport.hnsw[`ef${ef}`] = {
        latency: summarize(lat),
        recallAt10: recall(truth, got, 0, queries.length),
        recallAt10DocQueries: recall(truth, got, 0, nDoc),
        recallAt10TextQueries: recall(truth, got, nDoc, queries.length),
      };
    }
    if (size === maxN) Object.assign(sizeReport, persistFigures(hnsw, factory, dims, size));
    report.sizes.push(sizeReport);
  }
  return report;
}

/** Save and load times of the graph (the store does both on snapshot and open). */
function persistFigures(hnsw: AnnIndexPort, factory: HnswFactory, dims: number, size: number): Partial<AnnSizeReport> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-ann-'));
  try {
    const file = path.join(dir, 'g.hnsw');
    let t = performance.now();
    hnsw.save(file);
    const saveMs = performance.now() - t;
    // The store also fsyncs, reads the file back and checksums it on every snapshot.
    t = performance.now();
    fsyncFile(file);
    sha256(readFileSync(file));
    const checksumMs = performance.now() - t;
    t = performance.now();
    // Labels 0..size-1 are the graph's points (persistFigures is called on a graph built that way).
    factory.load(
      file,
      dims,
      Array.from({ length: size }, (_, i) => i),
    );
    const loadMs = performance.now() - t;
    // hnswlib's own read, for comparison with the factory's load.
    const { HierarchicalNSW } = createRequire(import.meta.url)('hnswlib-node') as typeof import('hnswlib-node');
    t = performance.now();
    new HierarchicalNSW('ip', dims).readIndexSync(file, true);
    const bareReadMs = performance.now() - t;
    return {
      hnswSaveMs: r1(saveMs),
      hnswFsyncReadChecksumMs: r1(checksumMs),
      hnswLoadMs: r1(loadMs),
      hnswBareReadIndexMs: r1(bareReadMs),
      hnswFileMiB: r1(statSync(file).size / 1048576),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The port fixes ef per factory; the benchmark sweeps it on one graph, so it sets the
 * index's private field (the value `search` passes to hnswlib's setEf).
 */
function setEf(index: AnnIndexPort, ef: number): void {
  (index as unknown as { efSearch: number }).efSearch = ef;
}
