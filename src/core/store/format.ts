/**
 * The store's on-disk vocabulary: file names and their patterns, size limits, the record shapes
 * kept in metadata and journal, and the checks every record read from disk must pass (a store
 * folder is untrusted input).
 */
import { lstatSync, rmSync } from 'node:fs';
import { isSafeRelPath } from '../fsutil.js';
import type { AnnFactoryPort, Logger } from '../types.js';

export const STORE_FORMAT = 1;
/** The file that marks a folder as a Loupe store (written when the store is created). */
export const STORE_MARKER = '.loupe-store';
/** Files a store may own: what `wipe` and `removeStale` may delete, and what a legacy store may hold. */
export const OWNED_FILE =
  /^(manifest\.json|meta-\d{1,15}\.json|ann-\d{1,15}\.hnsw|journal-\d{1,15}\.log|vectors-\d{1,15}\.bin|bm25-\d{1,15}\.bin|lexical\.log)(\.tmp-\d+)?$/;
export const OTHER_OWNED = /^(lock(\..*)?|\.gitignore|\.loupe-store|ane-parity\.json(\.tmp-\d+)?)$/;
export const NAME_PATTERN = {
  meta: /^meta-\d{1,15}\.json$/,
  ann: /^ann-\d{1,15}\.hnsw$/,
  vectors: /^vectors-\d{1,15}\.bin$/,
  journal: /^journal-\d{1,15}\.log$/,
  bm25: /^bm25-\d{1,15}\.bin$/,
};
export const MAX_MANIFEST_BYTES = 1 << 20;
/** JSON files and logs are read whole: bounded well below what a string or Buffer can hold. */
export const MAX_JSON_BYTES = 512 * 1024 * 1024;
export const MAX_VECTOR_BYTES = 64 * 1024 * 1024 * 1024;
export const MAX_HNSW_BYTES = 16 * 1024 * 1024 * 1024;
/** A BM25 snapshot's sections are addressed by u32 offsets; read whole. */
export const MAX_BM25_BYTES = 2 * 1024 * 1024 * 1024 - 1;
export const MAX_LABEL = 0x7fffffff;
export const VEC_MAGIC = 0x4356504c; // 'LPVC'
export const VEC_HEADER = 16;
export const HASH_BYTES = 16;

/** One chunk as the index records it. */
export interface ChunkRecord {
  label: number;
  startLine: number;
  endLine: number;
  symbol: string | null;
  language: string;
  /** Content hash (hex, 32 chars): the key of its vector in the cache. */
  hash: string;
}

/** One indexed file. */
export interface FileRecord {
  size: number;
  mtimeMs: number;
  /** sha256 of the file's bytes. */
  fileHash: string;
  /** The chunker version (ChunkerPort.version) that cut these chunks; absent in older indexes. */
  chunker?: string;
  chunks: ChunkRecord[];
}

/** What the vectors belong to; two identities never share a store. */
export interface StoreIdentity {
  modelId: string;
  modelName: string;
  dimensions: number;
}

export interface StoreOptions {
  annFactory?: AnnFactoryPort;
  /** Live chunks from which an HNSW graph replaces exact search (default 10,000: there exact search costs about as much as embedding the query; see test/bench/results/engine-*.json). */
  annThreshold?: number;
  logger?: Logger;
  /** Discard whatever is there and start empty. */
  rebuild?: boolean;
  /** Load files and chunks only (no search structure): for status reports. Implies `readOnly`. */
  metadataOnly?: boolean;
  /**
   * A reader (search, status, export): takes no lock, writes and repairs nothing, and sees a
   * missing or damaged store as empty (the next `loupe index` rebuilds it). It reads committed
   * state only, so it may run beside the writer.
   */
  readOnly?: boolean;
}

export type JournalOp = { op: 'put'; path: string; file: FileRecord } | { op: 'del'; path: string };

export interface MetaSnapshot {
  files: Record<string, FileRecord>;
  nextLabel: number;
}

/** What `open` found and did, for status and logs. */
export interface StoreReport {
  warnings: string[];
  annRebuilt: boolean;
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
export const isSha = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
export const isStr = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length <= max;

/** Checks a file record read from the store; returns why it is refused, or null. */
export function fileRecordProblem(p: unknown, rec: unknown): string | null {
  if (!isSafeRelPath(p)) return `an indexed path that is not inside the folder (${JSON.stringify(String(p).slice(0, 80))})`;
  if (
    !isObj(rec) ||
    !isUint(rec.size) ||
    typeof rec.mtimeMs !== 'number' ||
    !Number.isFinite(rec.mtimeMs) ||
    typeof rec.fileHash !== 'string' ||
    !/^[0-9a-f]{1,128}$/.test(rec.fileHash) ||
    (rec.chunker !== undefined && !isStr(rec.chunker, 256)) ||
    !Array.isArray(rec.chunks)
  ) {
    return `an invalid record for ${p}`;
  }
  for (const c of rec.chunks as unknown[]) {
    if (
      !isObj(c) ||
      !isUint(c.label, MAX_LABEL) ||
      !isUint(c.startLine) ||
      !isUint(c.endLine) ||
      c.endLine < c.startLine ||
      (c.symbol !== null && !isStr(c.symbol, 65536)) ||
      !isStr(c.language, 64) ||
      typeof c.hash !== 'string' ||
      !/^[0-9a-f]{32}$/.test(c.hash)
    ) {
      return `an invalid chunk record in ${p}`;
    }
  }
  return null;
}

/** The store is damaged in a way only a rebuild repairs. */
export class StoreDamaged extends Error {}

/** Removes a store-owned entry; one a corrupt or hostile store put in place of a file (a folder, a FIFO, a link) too, never what it points at. */
export function removeOwned(file: string): void {
  try {
    const st = lstatSync(file);
    rmSync(file, { force: true, recursive: st.isDirectory() });
  } catch {
    // already gone
  }
}

export function lstatExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
