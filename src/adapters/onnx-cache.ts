/**
 * A per-user cache of ONNX models as ONNX Runtime optimises them, so a session starts without
 * optimising again (issue 17: a cold `loupe search` waited ~300 ms for the first session).
 *
 * An entry holds the graph after ONNX Runtime's `extended` optimisations (fusions that do not
 * depend on the CPU), with its weights in a file of their own (`model.data`): ONNX Runtime maps
 * that file instead of copying the weights, and a session made from the entry with optimisation
 * off starts in about a third of the time and gives the same vectors (docs/performance.md).
 *
 * An entry is trusted only while it is whole and still agrees with the model: it is keyed by the
 * model file's sha256 and the ONNX Runtime version, published by an atomic rename of a folder
 * written beside it, its files must have the sizes its meta records, and a probe embedded by the
 * writing session must come out the same (cosine ≥ 0.9999) from a session made from the entry.
 * Anything else removes the entry and the model is loaded as before (and the entry written again).
 *
 * Plain file work, no ONNX Runtime here (src/adapters/onnx-worker.ts runs the sessions).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cosine } from '../core/vector-math.js';

/** The optimised graph, its weights and what the entry was made from, inside an entry's folder. */
export const CACHE_MODEL = 'model.onnx';
export const CACHE_DATA = 'model.data';
export const CACHE_META = 'meta.json';
/** Folders being written (`<entry>.tmp-…`): older than this, left by a killed process, and removed. */
const STALE_TMP_MS = 60 * 60 * 1000;
/** The lowest cosine between a probe's vectors from the model and from its entry. */
export const PROBE_MIN_COSINE = 0.9999;

/** What an entry was made from and what its files and probe must be. */
export interface CacheMeta {
  format: 1;
  /** The model file the entry was made from (other entries of it are removed when one is published). */
  model: string;
  modelSha256: string;
  /** ONNX Runtime version that optimised it (an entry is used only by the same version). */
  ort: string;
  level: 'extended';
  /** Sizes in bytes of the entry's files. */
  files: Record<string, number>;
  /** Token ids of the probe and its vector from the session that wrote the entry. */
  probeIds: number[];
  probe: number[];
  created: string;
}

/** `<XDG_CACHE_HOME or ~/.cache>/loupe/onnx-optimized`. */
export function defaultOptimizedCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'loupe', 'onnx-optimized');
}

/** The folder of the entry for a model (by sha256) under one ONNX Runtime version on this platform. */
export function cacheEntryDir(cacheDir: string, modelSha256: string, ortVersion: string): string {
  const ver = ortVersion.replace(/[^0-9A-Za-z.]/g, '_');
  return path.join(cacheDir, `${modelSha256.slice(0, 32)}-ort${ver}-${process.platform}-${process.arch}`);
}

/** The entry's meta when the entry is whole and made from this model by this runtime; else null. */
export function readCacheEntry(entryDir: string, modelSha256: string, ortVersion: string): CacheMeta | null {
  let meta: CacheMeta;
  try {
    meta = JSON.parse(readFileSync(path.join(entryDir, CACHE_META), 'utf8')) as CacheMeta;
  } catch {
    return null;
  }
  if (
    meta?.format !== 1 ||
    meta.modelSha256 !== modelSha256 ||
    meta.ort !== ortVersion ||
    !Array.isArray(meta.probeIds) ||
    !Array.isArray(meta.probe) ||
    !meta.probe.length ||
    typeof meta.files !== 'object' ||
    meta.files === null ||
    typeof meta.files[CACHE_MODEL] !== 'number'
  )
    return null;
  for (const [name, size] of Object.entries(meta.files)) {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) return null;
    const st = statSync(path.join(entryDir, name), { throwIfNoEntry: false });
    if (!st?.isFile() || st.size !== size) return null;
  }
  return meta;
}

/**
 * A new folder beside the entry to write it into, or null when the cache cannot be written (a
 * read-only home, a file where the folder should be). Removes folders left half-written long ago.
 */
export function beginCacheWrite(entryDir: string): string | null {
  const cacheDir = path.dirname(entryDir);
  try {
    mkdirSync(cacheDir, { recursive: true });
    removeStaleTmp(cacheDir);
    return mkdtempSync(`${entryDir}.tmp-`);
  } catch {
    return null;
  }
}

function removeStaleTmp(cacheDir: string): void {
  const now = Date.now();
  for (const name of readdirSync(cacheDir)) {
    if (!name.includes('.tmp-')) continue;
    const p = path.join(cacheDir, name);
    try {
      if (now - statSync(p).mtimeMs > STALE_TMP_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // Another process removed it, or it cannot be removed: left alone.
    }
  }
}

/**
 * Publishes a folder written by `beginCacheWrite` as the entry: records the files' sizes in its
 * meta, then renames it into place (atomic). False when another process published the entry first
 * (this folder is removed). Other entries made from the same model file (an older ONNX Runtime, a
 * model since replaced) or from a model file that no longer exists (an older extension's folder)
 * are removed, so the cache holds one entry per model file there is.
 */
export function publishCacheEntry(tmpDir: string, entryDir: string, meta: Omit<CacheMeta, 'files' | 'format'>): boolean {
  const files: Record<string, number> = {};
  for (const name of readdirSync(tmpDir)) if (name !== CACHE_META) files[name] = statSync(path.join(tmpDir, name)).size;
  if (files[CACHE_MODEL] === undefined) throw new Error(`ONNX Runtime wrote no ${CACHE_MODEL}`);
  const full: CacheMeta = { format: 1, ...meta, files };
  writeFileSync(path.join(tmpDir, CACHE_META), JSON.stringify(full));
  try {
    renameSync(tmpDir, entryDir);
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true });
    if (existsSync(entryDir)) return false;
    throw e;
  }
  const cacheDir = path.dirname(entryDir);
  for (const name of readdirSync(cacheDir)) {
    const other = path.join(cacheDir, name);
    if (other === entryDir || name.includes('.tmp-')) continue;
    try {
      const m = JSON.parse(readFileSync(path.join(other, CACHE_META), 'utf8')) as Partial<CacheMeta>;
      if (m.model === meta.model || (typeof m.model === 'string' && !existsSync(m.model))) rmSync(other, { recursive: true, force: true });
    } catch {
      // Not an entry, or being written: left alone.
    }
  }
  return true;
}

/** Removes an entry that failed its checks (best effort: a session elsewhere may still map its weights). */
export function discardCacheEntry(entryDir: string): void {
  try {
    rmSync(entryDir, { recursive: true, force: true });
  } catch {
    // Left for the next writer to replace.
  }
}

/** Whether two vectors agree: same length, finite, cosine ≥ `min`. */
export function vectorsAgree(a: ArrayLike<number>, b: ArrayLike<number>, min = PROBE_MIN_COSINE): boolean {
  if (a.length !== b.length || !a.length) return false;
  const cos = cosine(a, b);
  return Number.isFinite(cos) && cos >= min;
}
