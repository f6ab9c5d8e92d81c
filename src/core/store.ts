import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir, fsyncFile, readVerified, sha256, writeFileAtomic } from './fsutil.js';
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
 */

export const STORE_FORMAT = 1;
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
  /** Load files and chunks only (no search structure): for status reports. */
  metadataOnly?: boolean;
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

/** Reads the manifest of a store folder without opening it (for `status`), or null. */
export function readManifest(dir: string): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    return m && m.format === STORE_FORMAT ? m : null;
  } catch {
    return null;
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
  readonly report: StoreReport = { warnings: [], annRebuilt: false };
  private readonly logger: Logger;
  private readonly threshold: number;

  private constructor(readonly dir: string, readonly identity: StoreIdentity, private readonly opts: StoreOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.threshold = opts.annThreshold ?? 10_000;
  }

  /** Opens (or creates) the store in `dir` for `identity`. Throws `model-mismatch` for another model's index. */
  static open(dir: string, identity: StoreIdentity, opts: StoreOptions = {}): Store {
    mkdirSync(dir, { recursive: true });
    const store = new Store(dir, identity, opts);
    // Readers of metadata take no lock and repair nothing; everyone else is the one writer.
    if (!opts.metadataOnly) {
      store.lock();
      // Keeps the index out of the user's `git status` when it lives inside their tree.
      const gi = path.join(dir, '.gitignore');
      if (!existsSync(gi)) writeFileAtomic(gi, "# Loupe's index: not for version control\n*\n");
    }
    try {
      store.load();
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  private locked = false;

  /**
   * Takes the store's writer lock (a file holding our PID). A lock whose process is gone is
   * stale and taken over; a live one means another Loupe (an `index --watch`, VS Code) owns it.
   */
  private lock(): void {
    const file = path.join(this.dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        this.locked = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new LoupeError(
          `The index in ${this.dir} is in use by another Loupe process (PID ${pid}: a \`loupe index --watch\` or VS Code). ` +
            'Stop it, or use another --store.',
          'store-locked',
        );
      }
      rmSync(file, { force: true });
    }
    throw new LoupeError(`Could not take the lock on ${this.dir}.`, 'store-locked');
  }

  private warn(msg: string): void {
    this.report.warnings.push(msg);
    this.logger.warn(msg);
  }

  private load(): void {
    const manifestPath = path.join(this.dir, 'manifest.json');
    let manifest: Manifest | null = null;
    if (!this.opts.rebuild && existsSync(manifestPath)) {
      manifest = readManifest(this.dir);
      if (!manifest) this.warn('The index manifest is unreadable or of another format; rebuilding the index.');
    }
    if (manifest && manifest.modelId !== this.identity.modelId) {
      throw new LoupeError(
        `This index was built with model "${manifest.modelName}" (${manifest.modelId.slice(0, 12)}), not "${this.identity.modelName}" ` +
          `(${this.identity.modelId.slice(0, 12)}). Vectors of two models cannot be mixed: run \`loupe index --rebuild\` to re-index with the new model.`,
        'model-mismatch',
      );
    }
    if (manifest && manifest.dimensions !== this.identity.dimensions) {
      this.warn(`The index holds ${manifest.dimensions}-dimensional vectors but the model gives ${this.identity.dimensions}; rebuilding.`);
      manifest = null;
    }
    if (!manifest) {
      this.wipe();
      this.createFresh();
      return;
    }
    this.manifest = manifest;
    this.loadVectors();
    this.loadMeta();
    this.replayJournal();
    this.dropFilesWithoutVectors();
    for (let l = 0; l < this.nextLabel; l++) if (!this.byLabel.has(l)) this.freeLabels.push(l);
    this.freeLabels.reverse();
    if (this.opts.metadataOnly) {
      this.ann = new ExactIndex(this.identity.dimensions);
    } else {
      this.removeStale();
      this.loadAnn();
      // Write what was repaired back as a new generation, so the damage is not met (and the
      // graph rebuilt) again on every open.
      if (this.report.warnings.length) {
        try {
          this.snapshot();
        } catch (e) {
          // Still usable as loaded; the repair is redone on the next open.
          this.warn(`The repaired index could not be written (${(e as Error).message}).`);
        }
      }
    }
  }

  /** Removes every file this store owns (never anything else in the folder). */
  /** Removes leftovers of an interrupted snapshot: temp files and generations the manifest does not name. */
  private removeStale(): void {
    const m = this.manifest;
    const live = new Set(['manifest.json', 'lock', m.meta.name, m.ann?.name, m.vectors.name, m.journal.name]);
    for (const name of readdirSync(this.dir)) {
      if (live.has(name)) continue;
      if (/^(manifest\.json|meta-\d+\.json|ann-\d+\.hnsw|journal-\d+\.log|vectors-\d+\.bin)(\.tmp-\d+)?$/.test(name)) {
        rmSync(path.join(this.dir, name), { force: true });
      }
    }
  }

  private wipe(): void {
    for (const name of readdirSync(this.dir)) {
      if (/^(manifest\.json|meta-\d+\.json|ann-\d+\.hnsw|journal-\d+\.log|vectors-\d+\.bin)(\.tmp-\d+)?$/.test(name)) {
        rmSync(path.join(this.dir, name), { force: true });
      }
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
    };
    this.vecFd = this.createVectorFile(path.join(this.dir, this.manifest.vectors.name));
    this.journalFd = openSync(path.join(this.dir, this.manifest.journal.name), 'w+');
    writeFileAtomic(path.join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1));
    this.ann = new ExactIndex(this.identity.dimensions);
  }

  private createVectorFile(file: string): number {
    const fd = openSync(file, 'w+');
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
    let fd: number;
    try {
      fd = openSync(file, 'r+');
    } catch {
      this.warn('The vector cache is missing; chunks will be embedded again.');
      this.vecFd = this.createVectorFile(file);
      return;
    }
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(VEC_HEADER);
    if (size < VEC_HEADER || readSync(fd, header, 0, VEC_HEADER, 0) !== VEC_HEADER ||
        header.readUInt32LE(0) !== VEC_MAGIC || header.readUInt32LE(8) !== this.identity.dimensions) {
      closeSync(fd);
      this.warn('The vector cache is damaged; chunks will be embedded again.');
      this.vecFd = this.createVectorFile(file);
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
    if (good < size && !this.opts.metadataOnly) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
      if (damaged) this.warn(`The vector cache had a damaged tail (${size - good} bytes); it was cut back to the last whole batch.`);
    }
    this.vecFd = fd;
  }

  private loadMeta(): void {
    const m = this.manifest.meta;
    const buf = readVerified(path.join(this.dir, m.name), m.sha256);
    let snap: MetaSnapshot | null = null;
    if (buf) {
      try {
        snap = JSON.parse(buf.toString('utf8')) as MetaSnapshot;
      } catch {
        snap = null;
      }
    }
    if (!snap) {
      this.metaLost = true;
      this.warn('The index metadata failed its checksum; files will be re-scanned (cached vectors are reused).');
      return;
    }
    this.nextLabel = snap.nextLabel;
    for (const [p, rec] of Object.entries(snap.files)) this.applyPut(p, rec);
  }

  private replayJournal(): void {
    const file = path.join(this.dir, this.manifest.journal.name);
    let fd: number;
    try {
      fd = openSync(file, 'r+');
    } catch {
      this.journalFd = openSync(file, 'w+');
      return;
    }
    const data = readFileSync(fd);
    let good = 0;
    // Each line: 8 hex digits of CRC32, a space, the JSON op, a newline. A line without its
    // newline or with a bad CRC is the torn tail of a batch that never committed.
    while (good < data.length) {
      const nl = data.indexOf(0x0a, good);
      if (nl < 0) break;
      const line = data.subarray(good, nl);
      if (line.length < 10 || line[8] !== 0x20) break;
      const body = line.subarray(9);
      if (parseInt(line.subarray(0, 8).toString('latin1'), 16) !== crc32(body)) break;
      let op: JournalOp;
      try {
        op = JSON.parse(body.toString('utf8')) as JournalOp;
      } catch {
        break;
      }
      if (op.op === 'put') this.applyPut(op.path, op.file);
      else this.applyDel(op.path);
      this.journalOps++;
      good = nl + 1;
    }
    const size = fstatSync(fd).size;
    if (good < size && !this.opts.metadataOnly) {
      ftruncateSync(fd, good);
      fsyncSync(fd);
      this.warn(`The index journal had a damaged tail (${size - good} bytes); the last batch in flight was dropped.`);
    }
    this.journalFd = fd;
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
      // Checksum first: hnswlib segfaults on some corrupt files instead of throwing.
      const ok = readVerified(file, a.sha256) !== null;
      if (!ok) {
        this.warn('The HNSW index file failed its checksum; rebuilding it from cached vectors.');
      } else {
        try {
          const snapLabels = this.snapshotLabels();
          if (snapLabels.size !== a.count) throw new Error(`the manifest counts ${a.count} points, the metadata ${snapLabels.size}`);
          this.ann = factory.load(file, this.identity.dimensions, snapLabels.keys());
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

  /** label → hash of the current snapshot's metadata (re-read; it was verified when loaded). */
  private snapshotLabels(): Map<number, string> {
    const out = new Map<number, string>();
    const buf = readVerified(path.join(this.dir, this.manifest.meta.name), this.manifest.meta.sha256);
    if (!buf) return out;
    const snap = JSON.parse(buf.toString('utf8')) as MetaSnapshot;
    for (const rec of Object.values(snap.files)) for (const c of rec.chunks) out.set(c.label, c.hash);
    return out;
  }

  private buildAnn(live: number): AnnIndexPort {
    const useHnsw = this.opts.annFactory && live >= this.threshold;
    const ann = useHnsw ? this.opts.annFactory!.create(this.identity.dimensions, Math.max(1024, live * 2)) : new ExactIndex(this.identity.dimensions);
    for (const [label, { chunk }] of this.byLabel) ann.add(label, this.vectors.get(chunk.hash)!);
    return ann;
  }

  private applyPut(p: string, rec: FileRecord): void {
    this.applyDel(p);
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
      this.ann.save(file);
      fsyncFile(file);
      const bytes = readFileSync(file);
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
    const newJournal = openSync(path.join(this.dir, journalName), 'w+');
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
    };
    writeFileAtomic(path.join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1));
    closeSync(this.journalFd);
    this.journalFd = newJournal;
    this.journalOps = 0;
    for (const old of [prev.meta.name, prev.ann?.name, prev.journal.name, prev.vectors.name !== vectorsName ? prev.vectors.name : undefined]) {
      if (old && old !== metaName && old !== ann?.name) rmSync(path.join(this.dir, old), { force: true });
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
    for (const name of readdirSync(this.dir)) {
      try {
        total += statSync(path.join(this.dir, name)).size;
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
    if (this.locked) rmSync(path.join(this.dir, 'lock'), { force: true });
    this.locked = false;
  }
}

/** True when a process with this PID exists (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
