import { closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir, fsyncFile, isSafeRelPath, openRegular, readRegular, readVerified, sha256, writeFileAtomic } from './fsutil.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import { ExactIndex } from './exact-index.js';
import { LoupeError, silentLogger, type AnnFactoryPort, type AnnIndexPort, type Logger } from './types.js';

/**
 * The on-disk index. Layout of the store folder:
 *
 *   manifest.json        which generation is current, with checksums; replaced atomically
 *   meta-<g>.json        files → chunks snapshot of generation g
 *   ann-<g>.hnsw         HNSW snapshot of generation g (only above the exact-search threshold)
 *   journal-<g>.log      file puts/deletes since snapshot g, one CRC-checked JSON line each
 *   vectors-<v>.bin      append-only content-hash → vector cache, fixed-size CRC-checked records
 *
 * Every batch is committed by appending to the vector log and the journal and fsyncing both,
 * so a crash loses at most the batch in flight. Snapshots are written beside the old ones and
 * become current only when the manifest is renamed over. Any checksum mismatch degrades to a
 * rebuild of what was damaged (the HNSW graph from cached vectors, or metadata by re-scanning),
 * never to loading a bad file: hnswlib crashes the process on some corrupt files.
 *
 * The folder is untrusted input (a cloned repository can ship a `.loupe/`): every manifest field
 * is validated, file names must match the layout above, only regular files of bounded size are
 * opened, and every indexed path must be relative and normalised. A store that fails any of this
 * is rebuilt by a writer, with one warning; readers (search, status, export) never write and see
 * it as empty until then. A folder becomes a store only if it is new or empty, and is marked by
 * STORE_MARKER; Loupe deletes only files of its own naming pattern there.
 */

export const STORE_FORMAT = 1;
/** The file that marks a folder as a Loupe store (written when the store is created). */
export const STORE_MARKER = '.loupe-store';
/** Files a store may own: what `wipe` and `removeStale` may delete, and what a legacy store may hold. */
const OWNED_FILE = /^(manifest\.json|meta-\d{1,15}\.json|ann-\d{1,15}\.hnsw|journal-\d{1,15}\.log|vectors-\d{1,15}\.bin|lexical\.log)(\.tmp-\d+)?$/;
const OTHER_OWNED = /^(lock(\..*)?|\.gitignore|\.loupe-store|ane-parity\.json(\.tmp-\d+)?)$/;
const NAME_PATTERN = {
  meta: /^meta-\d{1,15}\.json$/,
  ann: /^ann-\d{1,15}\.hnsw$/,
  vectors: /^vectors-\d{1,15}\.bin$/,
  journal: /^journal-\d{1,15}\.log$/,
};
const MAX_MANIFEST_BYTES = 1 << 20;
/** JSON files and logs are read whole: bounded well below what a string or Buffer can hold. */
const MAX_JSON_BYTES = 512 * 1024 * 1024;
const MAX_VECTOR_BYTES = 64 * 1024 * 1024 * 1024;
const MAX_HNSW_BYTES = 16 * 1024 * 1024 * 1024;
const MAX_LABEL = 0x7fffffff;
const VEC_MAGIC = 0x4356504c; // 'LPVC'
const VEC_HEADER = 16;
const HASH_BYTES = 16;

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

interface Manifest {
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

interface MetaSnapshot {
  files: Record<string, FileRecord>;
  nextLabel: number;
}

/** What `open` found and did, for status and logs. */
export interface StoreReport {
  warnings: string[];
  annRebuilt: boolean;
}

/** Reads the manifest of a store folder without opening it (for `status`), or null when absent or invalid. */
export function readManifest(dir: string): Manifest | null {
  const r = loadManifest(dir);
  return typeof r === 'object' && r ? r : null;
}

/** The manifest, null when there is none, or why it is refused. */
function loadManifest(dir: string): Manifest | null | string {
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

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isSha = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isStr = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length <= max;

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
  if (!isObj(meta) || !isStr(meta.name) || !NAME_PATTERN.meta.test(meta.name) || !isSha(meta.sha256) || !isUint(meta.bytes, MAX_JSON_BYTES)) {
    return 'manifest.json has an invalid meta entry';
  }
  const ann = m.ann;
  if (ann !== null) {
    if (!isObj(ann) || !isStr(ann.name) || !NAME_PATTERN.ann.test(ann.name) || !isSha(ann.sha256) || !isUint(ann.bytes, MAX_HNSW_BYTES) ||
        !isUint(ann.count, MAX_LABEL) || !isStr(ann.factory, 64)) {
      return 'manifest.json has an invalid ann entry';
    }
  }
  if (!isObj(m.vectors) || !isStr(m.vectors.name) || !NAME_PATTERN.vectors.test(m.vectors.name)) return 'manifest.json has an invalid vectors entry';
  if (!isObj(m.journal) || !isStr(m.journal.name) || !NAME_PATTERN.journal.test(m.journal.name)) return 'manifest.json has an invalid journal entry';
  const w = m.writer;
  if (w !== undefined && (!isObj(w) || !isStr(w.user, 256) || !isStr(w.machine, 256))) return 'manifest.json has an invalid writer';
  // Only the known fields are kept: nothing else in the file is ever used.
  return {
    format: STORE_FORMAT, modelId: m.modelId, modelName: m.modelName, dimensions: m.dimensions, generation: m.generation,
    createdAt: m.createdAt, updatedAt: m.updatedAt,
    meta: { name: meta.name, sha256: meta.sha256, bytes: meta.bytes },
    ann: ann === null ? null : { name: ann.name as string, sha256: ann.sha256 as string, bytes: ann.bytes as number, count: ann.count as number, factory: ann.factory as string },
    vectors: { name: m.vectors.name }, journal: { name: m.journal.name },
    ...(isObj(w) ? { writer: { user: w.user as string, machine: w.machine as string } } : {}),
  };
}

/** Checks a file record read from the store; returns why it is refused, or null. */
function fileRecordProblem(p: unknown, rec: unknown): string | null {
  if (!isSafeRelPath(p)) return `an indexed path that is not inside the folder (${JSON.stringify(String(p).slice(0, 80))})`;
  if (!isObj(rec) || !isUint(rec.size) || typeof rec.mtimeMs !== 'number' || !Number.isFinite(rec.mtimeMs) || typeof rec.fileHash !== 'string' || !/^[0-9a-f]{1,128}$/.test(rec.fileHash) ||
      (rec.chunker !== undefined && !isStr(rec.chunker, 256)) || !Array.isArray(rec.chunks)) {
    return `an invalid record for ${p}`;
  }
  for (const c of rec.chunks as unknown[]) {
    if (!isObj(c) || !isUint(c.label, MAX_LABEL) || !isUint(c.startLine) || !isUint(c.endLine) || c.endLine < c.startLine ||
        (c.symbol !== null && !isStr(c.symbol, 65536)) || !isStr(c.language, 64) || typeof c.hash !== 'string' || !/^[0-9a-f]{32}$/.test(c.hash)) {
      return `an invalid chunk record in ${p}`;
    }
  }
  return null;
}

/** The store is damaged in a way only a rebuild repairs. */
class StoreDamaged extends Error {}

/**
 * Refuses store folders that would put user files at risk: `/`, the home folder and the indexed
 * folder itself (Loupe deletes the files of its naming pattern in its store folder).
 */
export function checkStoreDir(storeDir: string, root?: string): void {
  const dir = path.resolve(storeDir);
  const refuse = (why: string) => {
    throw new LoupeError(`Refusing to use ${dir} as the index folder: ${why}. Choose a new or empty folder for --store.`, 'bad-store');
  };
  if (dir === path.parse(dir).root) refuse('it is the root of the file system');
  if (dir === path.resolve(os.homedir())) refuse('it is the home folder');
  if (root && dir === path.resolve(root)) refuse('it is the folder being indexed');
}

/**
 * Makes sure `dir` is a Loupe store folder a writer may use: creates it (marked) when missing,
 * marks it when empty or when it is a store of an older Loupe (a valid manifest and only files of
 * the store's own names); refuses any other folder, so its files are never deleted or overwritten.
 */
function claimStoreDir(dir: string): void {
  checkStoreDir(dir);
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(path.join(dir, STORE_MARKER), 'This folder is a Loupe index. Loupe may delete the files it wrote here.\n');
    return;
  }
  if (st.isSymbolicLink()) {
    // A link (e.g. `.loupe` in a cloned repository) is followed only to a folder Loupe marked.
    try {
      st = lstatSync(path.join(dir, STORE_MARKER));
      if (st.isFile()) return;
    } catch {
      // not marked
    }
    throw new LoupeError(`Refusing to use ${dir} as the index folder: it is a link to a folder Loupe did not create.`, 'bad-store');
  }
  if (!st.isDirectory()) throw new LoupeError(`Refusing to use ${dir} as the index folder: it is not a folder.`, 'bad-store');
  const names = readdirSync(dir);
  if (names.includes(STORE_MARKER)) return;
  const legacy = names.includes('manifest.json') && readManifest(dir) !== null && names.every((n) => OWNED_FILE.test(n) || OTHER_OWNED.test(n));
  if (names.length && !legacy) {
    throw new LoupeError(
      `Refusing to use ${dir} as the index folder: it holds files Loupe did not write (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}). ` +
        'Choose a new or empty folder for --store.',
      'bad-store',
    );
  }
  writeFileAtomic(path.join(dir, STORE_MARKER), 'This folder is a Loupe index. Loupe may delete the files it wrote here.\n');
}

/** Removes a store-owned entry; one a corrupt or hostile store put in place of a file (a folder, a FIFO, a link) too, never what it points at. */
function removeOwned(file: string): void {
  try {
    const st = lstatSync(file);
    rmSync(file, { force: true, recursive: st.isDirectory() });
  } catch {
    // already gone
  }
}

export class Store {
  readonly files = new Map<string, FileRecord>();
  private readonly byLabel = new Map<number, { path: string; chunk: ChunkRecord }>();
  private readonly vectors = new Map<string, Float32Array>();
  private freeLabels: number[] = [];
  private nextLabel = 0;
  private ann!: AnnIndexPort;
  private manifest!: Manifest;
  private vecFd = -1;
  private journalFd = -1;
  private journalOps = 0;
  private vecRecords = 0;
  /** The metadata snapshot failed its checksum: the HNSW snapshot's labels cannot be reconciled. */
  private metaLost = false;
  /** label → hash of the current generation's metadata snapshot (for reconciling its HNSW graph). */
  private snapLabels = new Map<number, string>();
  readonly report: StoreReport = { warnings: [], annRebuilt: false };
  private readonly logger: Logger;
  private readonly threshold: number;
  private readonly readOnly: boolean;
  private writerLock: WriterLock | null = null;

  private constructor(readonly dir: string, readonly identity: StoreIdentity, private readonly opts: StoreOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.threshold = opts.annThreshold ?? 10_000;
    this.readOnly = !!(opts.readOnly || opts.metadataOnly);
  }

  /**
   * Opens (or creates) the store in `dir` for `identity`. Throws `model-mismatch` for another
   * model's index, `bad-store` for a folder that is not Loupe's, `store-locked` when another
   * writer holds it.
   */
  static open(dir: string, identity: StoreIdentity, opts: StoreOptions = {}): Store {
    const store = new Store(dir, identity, opts);
    if (!store.readOnly) {
      claimStoreDir(dir);
      store.writerLock = acquireWriterLock(dir);
      // Keeps the index out of the user's `git status` when it lives inside their tree (only ever
      // inside the store's own folder, and only when absent).
      try {
        const gi = path.join(dir, '.gitignore');
        if (!lstatExists(gi)) writeFileAtomic(gi, "# Loupe's index: not for version control\n*\n");
      } catch {
        // not essential
      }
    }
    try {
      store.load();
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  private warn(msg: string): void {
    this.report.warnings.push(msg);
    this.logger.warn(msg);
  }

  private load(): void {
    for (let attempt = 0; ; attempt++) {
      const m = this.opts.rebuild && !this.readOnly ? null : loadManifest(this.dir);
      if (typeof m === 'string') {
        this.damaged(m);
        return;
      }
      if (!m) {
        this.startEmpty();
        return;
      }
      const me = currentWriter();
      if (!m.writer || m.writer.user !== me.user || m.writer.machine !== me.machine) {
        this.damaged('it was written by another user or machine, or by a Loupe that did not record its writer; an index that came with a clone or a copy is not used');
        return;
      }
      if (m.modelId !== this.identity.modelId) {
        // A manifest that does not match its own files (swapped in from another store, or forged)
        // is damage, rebuilt; a whole index of another model is the user's to discard.
        if (!readVerified(path.join(this.dir, m.meta.name), m.meta.sha256, m.meta.bytes)) {
          this.damaged('its manifest does not match its files');
          return;
        }
        throw new LoupeError(
          `This index was built with model "${m.modelName}" (${m.modelId.slice(0, 12)}), not "${this.identity.modelName}" ` +
            `(${this.identity.modelId.slice(0, 12)}). Vectors of two models cannot be mixed: run \`loupe index --rebuild\` to re-index with the new model.`,
          'model-mismatch',
        );
      }
      if (m.dimensions !== this.identity.dimensions) {
        this.damaged(`it holds ${m.dimensions}-dimensional vectors but the model gives ${this.identity.dimensions}`);
        return;
      }
      try {
        this.loadGeneration(m);
        return;
      } catch (e) {
        if (e instanceof LoupeError) throw e;
        this.resetMemory();
        // A reader may have met a snapshot replacing this generation's files: read the new one.
        const now = loadManifest(this.dir);
        if (this.readOnly && attempt < 5 && typeof now === 'object' && now && now.generation !== m.generation) continue;
        this.damaged((e as Error).message);
        return;
      }
    }
  }

  /** Loads one generation's files (throws on damage that needs a rebuild). */
  private loadGeneration(m: Manifest): void {
    this.manifest = m;
    this.loadMeta();
    // Journal before vectors: every vector a journal line names was appended (and fsynced) before
    // that line, so a reader beside a writer finds all of them.
    this.replayJournal();
    this.loadVectors();
    this.dropFilesWithoutVectors();
    for (let l = 0; l < this.nextLabel; l++) if (!this.byLabel.has(l)) this.freeLabels.push(l);
    this.freeLabels.reverse();
    if (this.opts.metadataOnly) {
      this.ann = new ExactIndex(this.identity.dimensions);
      return;
    }
    if (!this.readOnly) this.removeStale();
    this.loadAnn();
    // Write what was repaired back as a new generation, so the damage is not met (and the
    // graph rebuilt) again on every open.
    if (this.report.warnings.length && !this.readOnly) {
      try {
        this.snapshot();
      } catch (e) {
        // Still usable as loaded; the repair is redone on the next open.
        this.warn(`The repaired index could not be written (${(e as Error).message}).`);
      }
    }
  }

  /** One warning for a store that must be rebuilt; a writer starts it afresh, a reader sees it empty. */
  private damaged(why: string): void {
    this.resetMemory();
    if (this.readOnly) {
      this.warn(`The index in ${this.dir} is damaged (${why}); run \`loupe index\` to rebuild it.`);
      this.manifest = this.emptyManifest();
      this.ann = new ExactIndex(this.identity.dimensions);
      return;
    }
    this.warn(`The index in ${this.dir} is damaged (${why}); rebuilding it.`);
    this.wipe();
    this.createFresh();
  }

  /** No store yet: a writer creates one, a reader sees an empty index. */
  private startEmpty(): void {
    if (this.readOnly) {
      this.manifest = this.emptyManifest();
      this.ann = new ExactIndex(this.identity.dimensions);
      return;
    }
    this.wipe();
    this.createFresh();
  }

  private resetMemory(): void {
    for (const fd of [this.vecFd, this.journalFd]) if (fd >= 0) closeSync(fd);
    this.vecFd = this.journalFd = -1;
    this.files.clear();
    this.byLabel.clear();
    this.vectors.clear();
    this.snapLabels.clear();
    this.freeLabels = [];
    this.nextLabel = 0;
    this.journalOps = 0;
    this.vecRecords = 0;
    this.metaLost = false;
  }

  private emptyManifest(): Manifest {
    const now = new Date(0).toISOString();
    return {
      format: STORE_FORMAT, modelId: this.identity.modelId, modelName: this.identity.modelName, dimensions: this.identity.dimensions,
      generation: 0, createdAt: now, updatedAt: '', meta: { name: 'meta-0.json', sha256: '', bytes: 0 }, ann: null,
      vectors: { name: 'vectors-0.bin' }, journal: { name: 'journal-0.log' },
    };
  }

  /** Removes leftovers of an interrupted snapshot: temp files and generations the manifest does not name. */
  private removeStale(): void {
    const m = this.manifest;
    const live = new Set(['manifest.json', m.meta.name, m.ann?.name, m.vectors.name, m.journal.name]);
    for (const name of readdirSync(this.dir)) {
      if (!live.has(name) && OWNED_FILE.test(name) && name !== 'lexical.log') removeOwned(path.join(this.dir, name));
    }
  }

  /** Removes every file of the vector store's naming pattern (never anything else in the folder). */
  private wipe(): void {
    for (const name of readdirSync(this.dir)) {
      if (OWNED_FILE.test(name) && name !== 'lexical.log') removeOwned(path.join(this.dir, name));
    }
    // The lexical log is keyed by content and checked line by line: kept, unless it is not a file.
    const lex = path.join(this.dir, 'lexical.log');
    try {
      if (!lstatSync(lex).isFile()) removeOwned(lex);
    } catch {
      // none
    }
  }

  private createFresh(): void {
    const now = new Date().toISOString();
    const meta = this.metaBytes();
    const g = 1;
    writeFileAtomic(path.join(this.dir, `meta-${g}.json`), meta);
    this.manifest = {
      format: STORE_FORMAT,
      modelId: this.identity.modelId,
      modelName: this.identity.modelName,
      dimensions: this.identity.dimensions,
      generation: g,
      createdAt: now,
      updatedAt: now,
      meta: { name: `meta-${g}.json`, sha256: sha256(meta), bytes: meta.length },
      ann: null,
      vectors: { name: `vectors-${g}.bin` },
      journal: { name: `journal-${g}.log` },
      writer: currentWriter(),
    };
    this.vecFd = this.createVectorFile(path.join(this.dir, this.manifest.vectors.name));
    removeOwned(path.join(this.dir, this.manifest.journal.name));
    this.journalFd = openSync(path.join(this.dir, this.manifest.journal.name), 'wx+');
    writeFileAtomic(path.join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1));
    this.ann = new ExactIndex(this.identity.dimensions);
  }

  private createVectorFile(file: string): number {
    removeOwned(file);
    const fd = openSync(file, 'wx+');
    const header = Buffer.alloc(VEC_HEADER);
    header.writeUInt32LE(VEC_MAGIC, 0);
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(this.identity.dimensions, 8);
    writeSync(fd, header, 0, header.length, 0);
    fsyncSync(fd);
    return fd;
  }

  private get recordBytes(): number {
    return HASH_BYTES + this.identity.dimensions * 4 + 4;
  }

  /** Loads the vector cache, truncating a torn tail at the last whole, CRC-valid record. */
  private loadVectors(): void {
    const file = path.join(this.dir, this.manifest.vectors.name);
    const h = openRegular(file, this.readOnly ? 'r' : 'r+', MAX_VECTOR_BYTES);
    if (!h) {
      if (this.files.size) this.warn('The vector cache is missing; chunks will be embedded again.');
      if (!this.readOnly) this.vecFd = this.createVectorFile(file);
      return;
    }
    const { fd, size } = h;
    const header = Buffer.alloc(VEC_HEADER);
    if (size < VEC_HEADER || readSync(fd, header, 0, VEC_HEADER, 0) !== VEC_HEADER ||
        header.readUInt32LE(0) !== VEC_MAGIC || header.readUInt32LE(8) !== this.identity.dimensions) {
      closeSync(fd);
      this.warn('The vector cache is damaged; chunks will be embedded again.');
      if (!this.readOnly) this.vecFd = this.createVectorFile(file);
      return;
    }
    const rb = this.recordBytes;
    const dims = this.identity.dimensions;
    const chunkRecords = 4096;
    const buf = Buffer.alloc(rb * chunkRecords);
    let pos = VEC_HEADER;
    let good = VEC_HEADER;
    let damaged = false;
    outer: while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      const whole = Math.floor(n / rb);
      for (let i = 0; i < whole; i++) {
        const rec = buf.subarray(i * rb, (i + 1) * rb);
        if (crc32(rec.subarray(0, rb - 4)) !== rec.readUInt32LE(rb - 4)) {
          damaged = true;
          break outer;
        }
        const hash = rec.subarray(0, HASH_BYTES).toString('hex');
        const vec = new Float32Array(dims);
        Buffer.from(vec.buffer).set(rec.subarray(HASH_BYTES, HASH_BYTES + dims * 4));
        this.vectors.set(hash, vec);
        this.vecRecords++;
        good += rb;
      }
      if (whole < chunkRecords) {
        if (n % rb) damaged = true;
        break;
      }
      pos += n;
    }
    if (good < size && !this.readOnly) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
      if (damaged) this.warn(`The vector cache had a damaged tail (${size - good} bytes); it was cut back to the last whole batch.`);
    }
    if (this.readOnly) closeSync(fd);
    else this.vecFd = fd;
  }

  private loadMeta(): void {
    const m = this.manifest.meta;
    let buf: Buffer | null = null;
    try {
      buf = readVerified(path.join(this.dir, m.name), m.sha256, m.bytes);
    } catch {
      buf = null;
    }
    let snap: unknown = null;
    if (buf) {
      try {
        snap = JSON.parse(buf.toString('utf8'));
      } catch {
        snap = null;
      }
    }
    if (!isObj(snap) || !isObj(snap.files) || !isUint(snap.nextLabel, MAX_LABEL + 1)) {
      if (buf) throw new StoreDamaged('its metadata is malformed');
      this.metaLost = true;
      this.warn('The index metadata failed its checksum; files will be re-scanned (cached vectors are reused).');
      return;
    }
    this.nextLabel = snap.nextLabel;
    for (const [p, rec] of Object.entries(snap.files)) {
      const problem = fileRecordProblem(p, rec);
      if (problem) throw new StoreDamaged(`its metadata holds ${problem}`);
      this.applyPut(p, rec as FileRecord);
      for (const c of (rec as FileRecord).chunks) this.snapLabels.set(c.label, c.hash);
    }
  }

  private replayJournal(): void {
    const file = path.join(this.dir, this.manifest.journal.name);
    const h = openRegular(file, this.readOnly ? 'r' : 'r+', MAX_JSON_BYTES);
    if (!h) {
      if (!this.readOnly) this.journalFd = openSync(file, 'wx+');
      return;
    }
    const { fd, size } = h;
    const data = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, data, got, size - got, got);
      if (!n) break;
      got += n;
    }
    let good = 0;
    // Each line: 8 hex digits of CRC32, a space, the JSON op, a newline. A line without its
    // newline or with a bad CRC is the torn tail of a batch that never committed.
    while (good < got) {
      const nl = data.indexOf(0x0a, good);
      if (nl < 0 || nl >= got) break;
      const line = data.subarray(good, nl);
      if (line.length < 10 || line[8] !== 0x20) break;
      const body = line.subarray(9);
      if (parseInt(line.subarray(0, 8).toString('latin1'), 16) !== crc32(body)) break;
      let op: unknown;
      try {
        op = JSON.parse(body.toString('utf8'));
      } catch {
        break;
      }
      // A line with a valid CRC but an unsafe path or record was written by someone else.
      if (!isObj(op)) throw new StoreDamaged('its journal holds an invalid entry');
      if (op.op === 'put') {
        const problem = fileRecordProblem(op.path, op.file);
        if (problem) throw new StoreDamaged(`its journal holds ${problem}`);
        this.applyPut(op.path as string, op.file as FileRecord);
      } else if (op.op === 'del' && isSafeRelPath(op.path)) {
        this.applyDel(op.path);
      } else {
        throw new StoreDamaged('its journal holds an invalid entry');
      }
      this.journalOps++;
      good = nl + 1;
    }
    if (good < size && !this.readOnly) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
      this.warn(`The index journal had a damaged tail (${size - good} bytes); the last batch in flight was dropped.`);
    }
    if (this.readOnly) closeSync(fd);
    else this.journalFd = fd;
  }

  /** Files whose chunk vectors are gone (cache damaged) are forgotten so the next index run redoes them. */
  private dropFilesWithoutVectors(): void {
    let dropped = 0;
    for (const [p, rec] of [...this.files]) {
      if (rec.chunks.some((c) => !this.vectors.has(c.hash))) {
        this.applyDel(p);
        dropped++;
      }
    }
    if (dropped) this.warn(`${dropped} file(s) lost their cached vectors and will be indexed again.`);
  }

  private loadAnn(): void {
    const a = this.manifest.ann;
    const live = this.byLabel.size;
    const factory = this.opts.annFactory;
    // Without its metadata the graph's points cannot be told live from stale, so it is rebuilt.
    if (a && factory && a.factory === factory.name && !this.metaLost) {
      const file = path.join(this.dir, a.name);
      // Checksum first, then the factory validates the graph before its library reads it: hnswlib
      // segfaults on some malformed files instead of throwing, and a checksum is no trust boundary.
      const bytes = readVerified(file, a.sha256, a.bytes);
      if (!bytes) {
        this.warn('The HNSW index file failed its checksum; rebuilding it from cached vectors.');
      } else {
        try {
          const snapLabels = this.snapLabels;
          if (snapLabels.size !== a.count) throw new Error(`the manifest counts ${a.count} points, the metadata ${snapLabels.size}`);
          this.ann = factory.load(file, this.identity.dimensions, snapLabels.keys(), bytes);
          this.syncAnnToMeta(snapLabels);
          return;
        } catch (e) {
          this.warn(`The HNSW index file could not be loaded (${(e as Error).message}); rebuilding it from cached vectors.`);
        }
      }
    }
    this.ann = this.buildAnn(live);
    if (a) this.report.annRebuilt = true;
  }

  /**
   * Brings a loaded HNSW snapshot up to the replayed metadata: the snapshot's labels are those of
   * its generation's metadata; the journal may have changed some since.
   */
  private syncAnnToMeta(snapLabels: Map<number, string>): void {
    for (const [label, hash] of snapLabels) {
      const cur = this.byLabel.get(label);
      if (!cur || cur.chunk.hash !== hash) this.ann.remove(label);
    }
    for (const [label, { chunk }] of this.byLabel) {
      if (snapLabels.get(label) !== chunk.hash) this.ann.add(label, this.vectors.get(chunk.hash)!);
    }
  }

  private buildAnn(live: number): AnnIndexPort {
    const useHnsw = this.opts.annFactory && live >= this.threshold;
    const ann = useHnsw ? this.opts.annFactory!.create(this.identity.dimensions, Math.max(1024, live * 2)) : new ExactIndex(this.identity.dimensions);
    for (const [label, { chunk }] of this.byLabel) ann.add(label, this.vectors.get(chunk.hash)!);
    return ann;
  }

  private applyPut(p: string, rec: FileRecord): void {
    this.applyDel(p);
    for (const c of rec.chunks) {
      const other = this.byLabel.get(c.label);
      if (other) throw new StoreDamaged(`chunk label ${c.label} is claimed by ${other.path} and ${p}`);
    }
    this.files.set(p, rec);
    for (const c of rec.chunks) {
      this.byLabel.set(c.label, { path: p, chunk: c });
      if (c.label >= this.nextLabel) this.nextLabel = c.label + 1;
    }
  }

  private applyDel(p: string): void {
    const old = this.files.get(p);
    if (!old) return;
    for (const c of old.chunks) this.byLabel.delete(c.label);
    this.files.delete(p);
  }

  private metaBytes(): Buffer {
    const snap: MetaSnapshot = { files: Object.fromEntries(this.files), nextLabel: this.nextLabel };
    return Buffer.from(JSON.stringify(snap));
  }

  /** Number of live chunks. */
  get chunkCount(): number {
    return this.byLabel.size;
  }

  /** Which search structure is in use. */
  get annKind(): string {
    return this.ann instanceof ExactIndex ? 'exact' : (this.opts.annFactory?.name ?? 'ann');
  }

  /** When the index was last committed. */
  get updatedAt(): string {
    return this.manifest.updatedAt;
  }

  /** Cached vectors (live and stale). */
  get cachedVectors(): number {
    return this.vectors.size;
  }

  /** The cached vector for a content hash. */
  getVector(hash: string): Float32Array | undefined {
    return this.vectors.get(hash);
  }

  /** A fresh label, reusing those of deleted chunks. */
  private takeLabel(): number {
    return this.freeLabels.pop() ?? this.nextLabel++;
  }

  /**
   * Commits one batch: new vectors, then file puts/deletes, each log fsynced. Chunk labels in
   * `put` records are assigned here (the caller's are ignored).
   */
  commit(newVectors: { hash: string; vector: Float32Array }[], ops: JournalOp[]): void {
    if (this.readOnly) throw new Error('a read-only store cannot commit');
    if (newVectors.length) {
      const rb = this.recordBytes;
      const out = Buffer.alloc(rb * newVectors.length);
      newVectors.forEach(({ hash, vector }, i) => {
        if (vector.length !== this.identity.dimensions) throw new Error(`vector of ${vector.length} dims, expected ${this.identity.dimensions}`);
        const rec = out.subarray(i * rb, (i + 1) * rb);
        rec.write(hash, 0, HASH_BYTES, 'hex');
        Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(rec, HASH_BYTES);
        rec.writeUInt32LE(crc32(rec.subarray(0, rb - 4)), rb - 4);
      });
      const at = fstatSync(this.vecFd).size;
      writeSync(this.vecFd, out, 0, out.length, at);
      fsyncSync(this.vecFd);
      for (const { hash, vector } of newVectors) this.vectors.set(hash, vector);
      this.vecRecords += newVectors.length;
    }
    if (!ops.length) return;
    // Labels are decided before the journal line is written, so replay reproduces them.
    const released: number[] = [];
    for (const op of ops) {
      const old = this.files.get(op.path);
      if (old) released.push(...old.chunks.map((c) => c.label));
      if (op.op === 'put') {
        for (const c of op.file.chunks) {
          if (!this.vectors.has(c.hash)) throw new Error(`no vector for chunk ${c.hash} of ${op.path}`);
          c.label = this.takeLabel();
        }
      }
    }
    const lines = ops.map((op) => {
      const body = JSON.stringify(op);
      return `${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}\n`;
    }).join('');
    const buf = Buffer.from(lines);
    const at = fstatSync(this.journalFd).size;
    writeSync(this.journalFd, buf, 0, buf.length, at);
    fsyncSync(this.journalFd);
    this.journalOps += ops.length;
    for (const op of ops) {
      const old = this.files.get(op.path);
      if (old) for (const c of old.chunks) this.ann.remove(c.label);
      if (op.op === 'put') {
        this.applyPut(op.path, op.file);
        for (const c of op.file.chunks) this.ann.add(c.label, this.vectors.get(c.hash)!);
      } else {
        this.applyDel(op.path);
      }
    }
    // Labels freed in this batch become reusable only after it is durable.
    this.freeLabels.push(...released.filter((l) => !this.byLabel.has(l)));
  }

  /** Journal lines since the last snapshot (a hint for when to snapshot). */
  get pendingOps(): number {
    return this.journalOps;
  }

  /**
   * Writes a new generation: metadata, the HNSW graph (built now if the corpus crossed the
   * threshold), a compacted vector cache when stale vectors dominate, a fresh journal; then
   * switches the manifest atomically and removes the previous generation's files.
   */
  snapshot(): void {
    if (this.readOnly) throw new Error('a read-only store cannot write a snapshot');
    const g = this.manifest.generation + 1;
    const live = this.byLabel.size;
    const wantHnsw = !!this.opts.annFactory && live >= this.threshold;
    if (wantHnsw && this.ann instanceof ExactIndex) this.ann = this.buildAnn(live);
    if (!wantHnsw && !(this.ann instanceof ExactIndex)) this.ann = this.buildAnn(live);

    const meta = this.metaBytes();
    const metaName = `meta-${g}.json`;
    writeFileAtomic(path.join(this.dir, metaName), meta);

    let ann: Manifest['ann'] = null;
    if (wantHnsw) {
      const annName = `ann-${g}.hnsw`;
      const file = path.join(this.dir, annName);
      removeOwned(file);
      this.ann.save(file);
      fsyncFile(file);
      const bytes = readRegular(file, MAX_HNSW_BYTES)!;
      ann = { name: annName, sha256: sha256(bytes), bytes: bytes.length, count: this.ann.size(), factory: this.opts.annFactory!.name };
    }

    let vectorsName = this.manifest.vectors.name;
    const liveHashes = new Set<string>();
    for (const { chunk } of this.byLabel.values()) liveHashes.add(chunk.hash);
    // Stale vectors are what makes a branch switch and back free; keep them until they dominate.
    if (this.vectors.size > 3 * liveHashes.size + 10_000) {
      vectorsName = `vectors-${g}.bin`;
      const fd = this.createVectorFile(path.join(this.dir, vectorsName));
      const keep = [...liveHashes].map((hash) => ({ hash, vector: this.vectors.get(hash)! }));
      const oldFd = this.vecFd;
      this.vecFd = fd;
      this.vectors.clear();
      this.vecRecords = 0;
      this.commit(keep, []);
      closeSync(oldFd);
    }

    const journalName = `journal-${g}.log`;
    removeOwned(path.join(this.dir, journalName));
    const newJournal = openSync(path.join(this.dir, journalName), 'wx+');
    fsyncSync(newJournal);
    fsyncDir(this.dir);

    const prev = this.manifest;
    this.manifest = {
      ...prev,
      generation: g,
      updatedAt: new Date().toISOString(),
      meta: { name: metaName, sha256: sha256(meta), bytes: meta.length },
      ann,
      vectors: { name: vectorsName },
      journal: { name: journalName },
      writer: currentWriter(),
    };
    writeFileAtomic(path.join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1));
    closeSync(this.journalFd);
    this.journalFd = newJournal;
    this.journalOps = 0;
    for (const old of [prev.meta.name, prev.ann?.name, prev.journal.name, prev.vectors.name !== vectorsName ? prev.vectors.name : undefined]) {
      if (old && old !== metaName && old !== ann?.name) removeOwned(path.join(this.dir, old));
    }
  }

  /** Nearest chunks to a unit query vector, best first. */
  search(vector: Float32Array, k: number): { path: string; chunk: ChunkRecord; score: number }[] {
    const hits = this.ann.search(vector, Math.min(k, this.byLabel.size));
    const out: { path: string; chunk: ChunkRecord; score: number }[] = [];
    for (const h of hits) {
      const entry = this.byLabel.get(h.label);
      // A label the metadata does not know would be a bug; never return it.
      if (entry) out.push({ ...entry, score: h.score });
    }
    return out;
  }

  /** Exact top-k by brute force (for recall measurements). */
  exactSearch(vector: Float32Array, k: number): { label: number; score: number }[] {
    const exact = new ExactIndex(this.identity.dimensions);
    for (const [label, { chunk }] of this.byLabel) exact.add(label, this.vectors.get(chunk.hash)!);
    return exact.search(vector, k);
  }

  /** Bytes on disk of the store's files. */
  diskBytes(): number {
    let total = 0;
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      try {
        total += lstatSync(path.join(this.dir, name)).size;
      } catch {
        // raced with a snapshot's cleanup
      }
    }
    return total;
  }

  close(): void {
    for (const fd of [this.vecFd, this.journalFd]) {
      if (fd >= 0) closeSync(fd);
    }
    this.vecFd = this.journalFd = -1;
    this.writerLock?.release();
    this.writerLock = null;
  }
}

function lstatExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

export { processAlive } from './lock.js';
