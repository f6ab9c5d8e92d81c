import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, fsyncFile, openRegular, readRegular, readVerified, sha256, writeFileAtomic } from './fsutil.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import { ExactIndex } from './exact-index.js';
import { LoupeError, silentLogger, type AnnIndexPort, type Logger } from './types.js';
import {
  fileRecordProblem,
  MAX_BM25_BYTES,
  MAX_HNSW_BYTES,
  MAX_JSON_BYTES,
  MAX_VECTOR_BYTES,
  removeOwned,
  STORE_FORMAT,
  StoreDamaged,
  type ChunkRecord,
  type FileRecord,
  type JournalOp,
  type StoreIdentity,
  type StoreOptions,
  type StoreReport,
} from './store/format.js';
import { currentWriter, emptyManifest, loadManifest, type Manifest } from './store/manifest.js';
import { claimStoreDir, writeStoreGitignore } from './store/folder.js';
import { diskBytes, removeStale, wipe } from './store/gc.js';
import { createVectorFile, encodeVectorRecords, readVectorRecords, vectorHeaderOk } from './store/vector-log.js';
import { encodeJournalOps, readWhole, replayJournalBytes } from './store/journal.js';
import { encodeMeta, parseMeta } from './store/meta.js';

/**
 * The on-disk index. Layout of the store folder:
 *
 *   manifest.json        which generation is current, with checksums; replaced atomically
 *   meta-<g>.json        files → chunks snapshot of generation g
 *   ann-<g>.hnsw         HNSW snapshot of generation g (only above the exact-search threshold)
 *   journal-<g>.log      file puts/deletes since snapshot g, one CRC-checked JSON line each
 *   vectors-<v>.bin      append-only content-hash → vector cache, fixed-size CRC-checked records
 *   bm25-<g>.bin         BM25 snapshot of generation g's files (see core/lexical/snapshot.ts)
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
 *
 * One file per concern under `store/`: format (names, limits, record checks), manifest, folder
 * (claiming a store folder), gc, vector-log, journal, meta. This file is the Store itself.
 */

export {
  STORE_FORMAT,
  STORE_MARKER,
  type ChunkRecord,
  type FileRecord,
  type JournalOp,
  type StoreIdentity,
  type StoreOptions,
  type StoreReport,
} from './store/format.js';
export { currentWriter, readManifest, validateManifest, type Writer } from './store/manifest.js';
export { checkStoreDir } from './store/folder.js';

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
  /** `files` are exactly the current generation's metadata snapshot (no journal line, nothing dropped). */
  private asSnapshot = false;
  /** label → hash of the current generation's metadata snapshot (for reconciling its HNSW graph). */
  private snapLabels = new Map<number, string>();
  readonly report: StoreReport = { warnings: [], annRebuilt: false };
  private readonly logger: Logger;
  private readonly threshold: number;
  private readonly readOnly: boolean;
  private writerLock: WriterLock | null = null;

  private constructor(
    readonly dir: string,
    readonly identity: StoreIdentity,
    private readonly opts: StoreOptions,
  ) {
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
      writeStoreGitignore(dir);
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
      // A reader beside a writer meets its snapshots: the manifest replaced while being opened,
      // or a generation's files removed once the next one is current. Up to 5 tries for a reader
      // to load one generation that stayed current throughout, before calling what it found damage.
      const retry = this.readOnly && attempt < 5;
      const warned = this.report.warnings.length;
      const m = this.opts.rebuild && !this.readOnly ? null : loadManifest(this.dir);
      if (typeof m === 'string') {
        if (retry) continue;
        this.damaged(m);
        return;
      }
      if (!m) {
        this.startEmpty();
        return;
      }
      const me = currentWriter();
      if (!m.writer || m.writer.user !== me.user || m.writer.machine !== me.machine) {
        this.damaged(
          'it was written by another user or machine, or by a Loupe that did not record its writer; an index that came with a clone or a copy is not used',
        );
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
            `(${this.identity.modelId.slice(0, 12)}). Vectors of two models cannot be mixed: give that model with --model, or run \`loupe index --rebuild\` to re-index with the new one.`,
          'model-mismatch',
        );
      }
      if (m.dimensions !== this.identity.dimensions) {
        this.damaged(`it holds ${m.dimensions}-dimensional vectors but the model gives ${this.identity.dimensions}`);
        return;
      }
      const replaced = (): boolean => {
        const now = loadManifest(this.dir);
        return typeof now !== 'object' || now?.generation !== m.generation;
      };
      try {
        this.loadGeneration(m);
      } catch (e) {
        if (e instanceof LoupeError) throw e;
        this.resetMemory();
        // A reader may have met a snapshot replacing this generation's files: read the new one.
        if (retry && replaced()) continue;
        this.damaged((e as Error).message);
        return;
      }
      // Files gone under a reader read as missing or damaged (and a missing journal as empty):
      // what it loaded is not that generation if the manifest moved on meanwhile.
      if (retry && replaced()) {
        this.report.warnings.length = warned;
        this.report.annRebuilt = false;
        this.resetMemory();
        continue;
      }
      return;
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
    const dropped = this.dropFilesWithoutVectors();
    this.asSnapshot = !this.metaLost && this.journalOps === 0 && !dropped;
    for (let l = 0; l < this.nextLabel; l++) if (!this.byLabel.has(l)) this.freeLabels.push(l);
    this.freeLabels.reverse();
    if (this.opts.metadataOnly) {
      this.ann = new ExactIndex(this.identity.dimensions);
      return;
    }
    if (!this.readOnly) removeStale(this.dir, this.manifest);
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
      this.manifest = emptyManifest(this.identity);
      this.ann = new ExactIndex(this.identity.dimensions);
      return;
    }
    this.warn(`The index in ${this.dir} is damaged (${why}); rebuilding it.`);
    wipe(this.dir);
    this.createFresh();
  }

  /** No store yet: a writer creates one, a reader sees an empty index. */
  private startEmpty(): void {
    if (this.readOnly) {
      this.manifest = emptyManifest(this.identity);
      this.ann = new ExactIndex(this.identity.dimensions);
      return;
    }
    wipe(this.dir);
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
    this.asSnapshot = false;
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
    this.vecFd = createVectorFile(path.join(this.dir, this.manifest.vectors.name), this.identity.dimensions);
    removeOwned(path.join(this.dir, this.manifest.journal.name));
    this.journalFd = openSync(path.join(this.dir, this.manifest.journal.name), 'wx+');
    writeFileAtomic(path.join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1));
    this.ann = new ExactIndex(this.identity.dimensions);
  }

  /** Loads the vector cache, truncating a torn tail at the last whole, CRC-valid record. */
  private loadVectors(): void {
    const file = path.join(this.dir, this.manifest.vectors.name);
    const h = openRegular(file, this.readOnly ? 'r' : 'r+', MAX_VECTOR_BYTES);
    if (!h) {
      if (this.files.size) this.warn('The vector cache is missing; chunks will be embedded again.');
      if (!this.readOnly) this.vecFd = createVectorFile(file, this.identity.dimensions);
      return;
    }
    const { fd, size } = h;
    if (!vectorHeaderOk(fd, size, this.identity.dimensions)) {
      closeSync(fd);
      this.warn('The vector cache is damaged; chunks will be embedded again.');
      if (!this.readOnly) this.vecFd = createVectorFile(file, this.identity.dimensions);
      return;
    }
    const { good, damaged } = readVectorRecords(fd, size, this.identity.dimensions, (hash, vec) => {
      this.vectors.set(hash, vec);
      this.vecRecords++;
    });
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
    const snap = parseMeta(buf);
    if (!snap) {
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
    const { data, got } = readWhole(fd, size);
    const good = replayJournalBytes(data, got, (op) => {
      if (op.op === 'put') this.applyPut(op.path, op.file);
      else this.applyDel(op.path);
      this.journalOps++;
    });
    if (good < size && !this.readOnly) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
      this.warn(`The index journal had a damaged tail (${size - good} bytes); the last batch in flight was dropped.`);
    }
    if (this.readOnly) closeSync(fd);
    else this.journalFd = fd;
  }

  /** Files whose chunk vectors are gone (cache damaged) are forgotten so the next index run redoes them. */
  private dropFilesWithoutVectors(): number {
    let dropped = 0;
    for (const [p, rec] of [...this.files]) {
      if (rec.chunks.some((c) => !this.vectors.has(c.hash))) {
        this.applyDel(p);
        dropped++;
      }
    }
    if (dropped) this.warn(`${dropped} file(s) lost their cached vectors and will be indexed again.`);
    return dropped;
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
    const ann = useHnsw
      ? this.opts.annFactory!.create(this.identity.dimensions, Math.max(1024, live * 2))
      : new ExactIndex(this.identity.dimensions);
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
    return encodeMeta(this.files, this.nextLabel);
  }

  /** A live chunk by label. */
  chunkAt(label: number): { path: string; chunk: ChunkRecord } | undefined {
    return this.byLabel.get(label);
  }

  /** Whether the current generation has a BM25 snapshot (stores written before there were none). */
  get hasBm25Snapshot(): boolean {
    return !!this.manifest.bm25;
  }

  /**
   * The current generation's BM25 snapshot, checksum verified, with the sha256 of the metadata
   * it was built from, while the files are still exactly those (null after a journal commit, or
   * when there is none). A damaged one is reported once; null then too (BM25 is rebuilt).
   */
  bm25Snapshot(): { bytes: Buffer; metaSha256: string } | null {
    const b = this.manifest.bm25;
    if (!b || !this.asSnapshot) return null;
    const bytes = readVerified(path.join(this.dir, b.name), b.sha256, b.bytes);
    if (bytes) return { bytes, metaSha256: this.manifest.meta.sha256 };
    // A reader beside a writer: a snapshot since removed this generation's file; not damage.
    const now = this.readOnly ? loadManifest(this.dir) : null;
    if (typeof now === 'object' && now && now.generation !== this.manifest.generation) return null;
    this.warn('The BM25 snapshot is missing, not a file, or failed its checksum; BM25 is rebuilt from the term log.');
    return null;
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
      const out = encodeVectorRecords(newVectors, this.identity.dimensions);
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
    const buf = encodeJournalOps(ops);
    const at = fstatSync(this.journalFd).size;
    writeSync(this.journalFd, buf, 0, buf.length, at);
    fsyncSync(this.journalFd);
    this.journalOps += ops.length;
    this.asSnapshot = false;
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
   * threshold), a compacted vector cache when stale vectors dominate, a BM25 snapshot when
   * `bm25` makes one (given the metadata's sha256), a fresh journal; then switches the manifest
   * atomically and removes the previous generation's files.
   */
  snapshot(extra: { bm25?: (metaSha256: string) => Buffer } = {}): void {
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
      const fd = createVectorFile(path.join(this.dir, vectorsName), this.identity.dimensions);
      const keep = [...liveHashes].map((hash) => ({ hash, vector: this.vectors.get(hash)! }));
      const oldFd = this.vecFd;
      this.vecFd = fd;
      this.vectors.clear();
      this.vecRecords = 0;
      this.commit(keep, []);
      closeSync(oldFd);
    }

    let bm25: Manifest['bm25'] = null;
    const metaSha = sha256(meta);
    if (extra.bm25) {
      const bytes = extra.bm25(metaSha);
      // Beyond what its u32 offsets address: not saved, BM25 is rebuilt by the first search.
      if (bytes.length <= MAX_BM25_BYTES) {
        const name = `bm25-${g}.bin`;
        writeFileAtomic(path.join(this.dir, name), bytes);
        bm25 = { name, sha256: sha256(bytes), bytes: bytes.length };
      }
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
      meta: { name: metaName, sha256: metaSha, bytes: meta.length },
      ann,
      vectors: { name: vectorsName },
      journal: { name: journalName },
      bm25,
      writer: currentWriter(),
    };
    writeFileAtomic(path.join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1));
    closeSync(this.journalFd);
    this.journalFd = newJournal;
    this.journalOps = 0;
    this.asSnapshot = true;
    for (const old of [
      prev.meta.name,
      prev.ann?.name,
      prev.journal.name,
      prev.bm25?.name,
      prev.vectors.name !== vectorsName ? prev.vectors.name : undefined,
    ]) {
      if (old && old !== metaName && old !== ann?.name && old !== bm25?.name) removeOwned(path.join(this.dir, old));
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
    return diskBytes(this.dir);
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

export { processAlive } from './lock.js';
