/**
 * manifest.json: which generation is current, with the checksums of its files, and who wrote it.
 * Replaced atomically; every field is validated on read and only the known fields are kept.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { readRegular } from '../fsutil.js';
import {
  isObj,
  isSha,
  isStr,
  isUint,
  MAX_BM25_BYTES,
  MAX_HNSW_BYTES,
  MAX_JSON_BYTES,
  MAX_LABEL,
  MAX_MANIFEST_BYTES,
  NAME_PATTERN,
  STORE_FORMAT,
  type StoreIdentity,
} from './format.js';

export interface Manifest {
  format: number;
  modelId: string;
  modelName: string;
  dimensions: number;
  generation: number;
  createdAt: string;
  updatedAt: string;
  meta: { name: string; sha256: string; bytes: number };
  ann: { name: string; sha256: string; bytes: number; count: number; factory: string } | null;
  vectors: { name: string };
  journal: { name: string };
  /**
   * The BM25 snapshot of this generation's files (see core/lexical/snapshot.ts); absent in stores
   * written before it existed, and then BM25 is rebuilt from the term log by the first search.
   */
  bm25?: { name: string; sha256: string; bytes: number } | null;
  /** Who wrote the store (see `currentWriter`); a store of another user or machine is not used. */
  writer?: Writer;
}

/** The user and machine a store belongs to. */
export interface Writer {
  user: string;
  machine: string;
}

let writerCache: Writer | undefined;

/**
 * This process's user (uid, or the name where there are no uids) and machine (the OS machine id
 * where there is one, else the host name). A `.loupe/` that arrived with a clone or an archive
 * carries someone else's, so it is rebuilt rather than trusted.
 */
export function currentWriter(): Writer {
  if (writerCache) return writerCache;
  let machine = '';
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const b = readRegular(f, 4096);
      if (b && b.toString('latin1').trim()) {
        machine = b.toString('latin1').trim();
        break;
      }
    } catch {
      // not there
    }
  }
  let user: string;
  try {
    const u = os.userInfo();
    user = u.uid >= 0 ? `uid:${u.uid}` : `name:${u.username}`;
  } catch {
    user = `name:${process.env.USER ?? process.env.USERNAME ?? ''}`;
  }
  writerCache = { user, machine: machine || `host:${os.hostname()}` };
  return writerCache;
}

/** Reads the manifest of a store folder without opening it (for `status`), or null when absent or invalid. */
export function readManifest(dir: string): Manifest | null {
  const r = loadManifest(dir);
  return typeof r === 'object' && r ? r : null;
}

/** The manifest, null when there is none, or why it is refused. */
export function loadManifest(dir: string): Manifest | null | string {
  let buf: Buffer | null;
  try {
    buf = readRegular(path.join(dir, 'manifest.json'), MAX_MANIFEST_BYTES);
  } catch (e) {
    return (e as Error).message;
  }
  if (!buf) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    return 'manifest.json is not valid JSON';
  }
  return validateManifest(raw);
}

/** Checks every field of a parsed manifest; returns it, or why it is refused. */
export function validateManifest(m: unknown): Manifest | string {
  if (!isObj(m)) return 'manifest.json is not an object';
  if (m.format !== STORE_FORMAT) return `manifest.json is of format ${JSON.stringify(m.format)}, not ${STORE_FORMAT}`;
  if (!isStr(m.modelId, 256) || !m.modelId) return 'manifest.json has no valid modelId';
  if (!isStr(m.modelName, 1024)) return 'manifest.json has no valid modelName';
  if (!isUint(m.dimensions, 65536) || m.dimensions < 1) return 'manifest.json has invalid dimensions';
  if (!isUint(m.generation) || m.generation < 1) return 'manifest.json has an invalid generation';
  if (!isStr(m.createdAt, 64) || !isStr(m.updatedAt, 64)) return 'manifest.json has invalid dates';
  const meta = m.meta;
  if (
    !isObj(meta) ||
    !isStr(meta.name) ||
    !NAME_PATTERN.meta.test(meta.name) ||
    !isSha(meta.sha256) ||
    !isUint(meta.bytes, MAX_JSON_BYTES)
  ) {
    return 'manifest.json has an invalid meta entry';
  }
  const ann = m.ann;
  if (ann !== null) {
    if (
      !isObj(ann) ||
      !isStr(ann.name) ||
      !NAME_PATTERN.ann.test(ann.name) ||
      !isSha(ann.sha256) ||
      !isUint(ann.bytes, MAX_HNSW_BYTES) ||
      !isUint(ann.count, MAX_LABEL) ||
      !isStr(ann.factory, 64)
    ) {
      return 'manifest.json has an invalid ann entry';
    }
  }
  if (!isObj(m.vectors) || !isStr(m.vectors.name) || !NAME_PATTERN.vectors.test(m.vectors.name))
    return 'manifest.json has an invalid vectors entry';
  if (!isObj(m.journal) || !isStr(m.journal.name) || !NAME_PATTERN.journal.test(m.journal.name))
    return 'manifest.json has an invalid journal entry';
  const bm = m.bm25;
  if (
    bm !== undefined &&
    bm !== null &&
    (!isObj(bm) || !isStr(bm.name) || !NAME_PATTERN.bm25.test(bm.name) || !isSha(bm.sha256) || !isUint(bm.bytes, MAX_BM25_BYTES))
  )
    return 'manifest.json has an invalid bm25 entry';
  const w = m.writer;
  if (w !== undefined && (!isObj(w) || !isStr(w.user, 256) || !isStr(w.machine, 256))) return 'manifest.json has an invalid writer';
  // Only the known fields are kept: nothing else in the file is ever used.
  return {
    format: STORE_FORMAT,
    modelId: m.modelId,
    modelName: m.modelName,
    dimensions: m.dimensions,
    generation: m.generation,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    meta: { name: meta.name, sha256: meta.sha256, bytes: meta.bytes },
    ann:
      ann === null
        ? null
        : {
            name: ann.name as string,
            sha256: ann.sha256 as string,
            bytes: ann.bytes as number,
            count: ann.count as number,
            factory: ann.factory as string,
          },
    vectors: { name: m.vectors.name },
    journal: { name: m.journal.name },
    ...(isObj(bm) ? { bm25: { name: bm.name as string, sha256: bm.sha256 as string, bytes: bm.bytes as number } } : {}),
    ...(isObj(w) ? { writer: { user: w.user as string, machine: w.machine as string } } : {}),
  };
}

/** The manifest a reader reports for a missing or damaged store (generation 0, no files). */
export function emptyManifest(identity: StoreIdentity): Manifest {
  const now = new Date(0).toISOString();
  return {
    format: STORE_FORMAT,
    modelId: identity.modelId,
    modelName: identity.modelName,
    dimensions: identity.dimensions,
    generation: 0,
    createdAt: now,
    updatedAt: '',
    meta: { name: 'meta-0.json', sha256: '', bytes: 0 },
    ann: null,
    vectors: { name: 'vectors-0.bin' },
    journal: { name: 'journal-0.log' },
  };
}
