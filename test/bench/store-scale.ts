/**
 * What one saved file costs the store at a large chunk count, without embedding: the commit
 * (vector log + journal, both fsynced) and the snapshot that every update run ends with
 * (metadata of every file rewritten and checksummed).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256 } from '../../src/core/fsutil.js';
import { Store, type FileRecord } from '../../src/core/store.js';
import { r1, r3, seededRandom, summarize, type LatencySummary } from './stats.js';

export interface StoreScaleReport {
  chunks: number;
  files: number;
  fillSeconds: number;
  metaMiB: number;
  firstSnapshotMs: number;
  /** One file's put with one new vector, then the snapshot, as `updatePaths` does. */
  saveOneFile: { commit: LatencySummary; snapshot: LatencySummary };
  reopenMs: number;
}

function unitVector(d: number, rand: () => number): Float32Array {
  const v = new Float32Array(d);
  let s = 0;
  for (let i = 0; i < d; i++) {
    v[i] = rand() - 0.5;
    s += v[i] * v[i];
  }
  for (let i = 0; i < d; i++) v[i] /= Math.sqrt(s);
  return v;
}

/** A store of `chunks` chunks in files of `perFile`, exact search (HNSW costs are measured in ann.ts). */
export function storeScaleBench(chunks: number, dims: number, perFile = 10, saves = 5): StoreScaleReport {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-store-'));
  const rand = seededRandom(7);
  const identity = { modelId: 'bench', modelName: 'bench', dimensions: dims };
  // The threshold is set above the size so no HNSW graph is built here.
  const opts = { annThreshold: chunks * 10 };
  try {
    let store = Store.open(dir, identity, opts);
    const fileRecord = (f: number, salt = ''): { rec: FileRecord; vectors: { hash: string; vector: Float32Array }[] } => {
      const rec: FileRecord = { size: 1000 + f, mtimeMs: 1.7e12 + f, fileHash: sha256(`file${f}${salt}`), chunks: [] };
      const vectors: { hash: string; vector: Float32Array }[] = [];
      for (let c = 0; c < perFile; c++) {
        const hash = sha256(`chunk${f}.${c}${c === 0 ? salt : ''}`).slice(0, 32);
        rec.chunks.push({ label: -1, startLine: c * 20 + 1, endLine: c * 20 + 20, symbol: `fn${c}`, language: 'typescript', hash });
        vectors.push({ hash, vector: unitVector(dims, rand) });
      }
      return { rec, vectors };
    };
    const files = Math.ceil(chunks / perFile);
    const t0 = performance.now();
    // Batches of 32 chunks, as the engine commits them.
    const filesPerBatch = Math.max(1, Math.floor(32 / perFile));
    for (let f = 0; f < files; f += filesPerBatch) {
      const vecs: { hash: string; vector: Float32Array }[] = [];
      const ops = [];
      for (let g = f; g < Math.min(files, f + filesPerBatch); g++) {
        const { rec, vectors } = fileRecord(g);
        vecs.push(...vectors);
        ops.push({ op: 'put' as const, path: `src/file${g}.ts`, file: rec });
      }
      store.commit(vecs, ops);
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    let t = performance.now();
    store.snapshot();
    const firstSnapshotMs = performance.now() - t;
    const metaName = readdirSync(dir).find((n) => /^meta-\d+\.json$/.test(n))!;
    const metaMiB = statSync(path.join(dir, metaName)).size / 1048576;
    const commit: number[] = [];
    const snap: number[] = [];
    for (let i = 0; i < saves; i++) {
      const { rec, vectors } = fileRecord(i, `-edit${i}`);
      t = performance.now();
      store.commit([vectors[0]], [{ op: 'put', path: `src/file${i}.ts`, file: rec }]);
      commit.push(performance.now() - t);
      t = performance.now();
      store.snapshot();
      snap.push(performance.now() - t);
    }
    store.close();
    t = performance.now();
    store = Store.open(dir, identity, opts);
    const reopenMs = performance.now() - t;
    store.close();
    return {
      chunks: files * perFile,
      files,
      fillSeconds: r3(fillSeconds),
      metaMiB: r3(metaMiB),
      firstSnapshotMs: r1(firstSnapshotMs),
      saveOneFile: { commit: summarize(commit), snapshot: summarize(snap) },
      reopenMs: r1(reopenMs),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
