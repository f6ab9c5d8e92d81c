import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { openRegular, writeFileAtomic } from '../fsutil.js';
import type { ChunkRecord } from '../store.js';
import { silentLogger, type Logger } from '../types.js';
import { Bm25Index } from './bm25.js';
import { Bm25Snapshot, encodeBm25Snapshot, SnapshotRefused, type Bm25Params } from './snapshot.js';
import { TermDict, type TermCounts } from './terms.js';
import { pathTerms, queryTerms, stripExtension, tokenize } from './tokenize.js';

export { tokenize, queryTerms, pathTerms, splitIdentifier } from './tokenize.js';

/** The chunk fields the lexical index needs: those the store records. */
export type LexicalChunk = ChunkRecord;

export interface LexicalHit<C extends LexicalChunk = LexicalChunk> {
  path: string;
  chunk: C;
  score: number;
}

/** BM25 parameters and the weight of a chunk's file path against its text. */
export interface LexicalOptions {
  logger?: Logger;
  /** Boost of the path field (folder and file names) relative to the chunk text; default 0.5. */
  pathBoost?: number;
  /** BM25 k1 (term saturation) and b (length normalisation). */
  k1?: number;
  b?: number;
  /**
   * A reader's view: the log is read, never written or repaired (see StoreOptions.readOnly), and
   * only when something needs it (a search served by the BM25 snapshot does not).
   */
  readOnly?: boolean;
  /**
   * The BM25 snapshot saved with the store's current generation, asked for by the first `build`:
   * used when it matches the store's files and these parameters, otherwise rebuilt from the log.
   */
  snapshot?: () => SnapshotSource | null;
}

/** A saved BM25 snapshot and what it must match (see Store.bm25Snapshot). */
export interface SnapshotSource {
  /** The file's bytes, checksum verified. */
  bytes: Buffer;
  /** The sha256 of the metadata snapshot whose files the store holds, unchanged since. */
  metaSha256: string;
  /** The store's live chunk of a label. */
  chunkAt: (label: number) => { path: string; chunk: LexicalChunk } | undefined;
}

/** The term log is read whole: bounded well below what a Buffer can hold. */
const MAX_LOG_BYTES = 1024 * 1024 * 1024;

export const LEXICAL_LOG = 'lexical.log';

/**
 * The lexical side of the index: BM25 over every live chunk's text (code-aware terms) and its
 * file path, kept beside the vector store.
 *
 * Persistence: `lexical.log` in the store folder maps a chunk's content hash (the same key as
 * its vector) to its terms, one line per chunk, `<crc32 hex> <hash> <terms…>\n`, appended and
 * fsynced before the store commits the files that use those chunks. Like the vectors, terms are
 * keyed by content, so a rename or a branch switch and back re-tokenises nothing. Which chunks
 * are live is the store's business (its files map); the BM25 structure itself is derived in
 * memory from the two, built on the first lexical search and then updated with every commit.
 * Each store snapshot also saves it as a read-only file (see snapshot.ts), which the first search
 * after a reopen searches in place while the store's files are still exactly that generation's:
 * then the log is not even read (by a reader) and nothing is interned.
 * A torn or corrupt line is dropped when the log is read (the tail is truncated so appends stay
 * well-formed); the chunks that lose their terms are reported by `covers()` and re-tokenised by
 * the next index run. Stale lines are dropped by `compact()`, which rewrites the log atomically.
 *
 * Opening checks every line's CRC but keeps the log's bytes as they are (hash → where its terms
 * are); the terms of a chunk are interned into term ids (`TermDict`) straight from those bytes
 * when the BM25 structure first needs them, so a stale line costs nothing and no string is made
 * per term occurrence. A chunk logged in this session is kept as its term counts, and written
 * back by `compact()` as its terms grouped (the same bag of terms, which is all BM25 reads).
 */
export class LexicalIndex {
  private readonly file: string;
  private fd = -1;
  /** The log as read at open (or as last compacted): the bytes of the lines indexed by `logged`. */
  private raw: Buffer = Buffer.alloc(0);
  /** Where each line of `raw` starts, where its terms start, and where it ends (before `\n`). */
  private lineStart: number[] = [];
  private termsStart: number[] = [];
  private lineEnd: number[] = [];
  /** content hash → its line in `raw`, or −1 for a line logged since (its counts are in `counts`). */
  private logged = new Map<string, number>();
  /** content hash → its term counts, for the chunks interned so far and those logged since `raw` was read. */
  private counts = new Map<string, TermCounts>();
  /** Terms computed for chunks not yet in the log, written by `persist`: the log line's terms and their counts. */
  private readonly pending = new Map<string, { text: string; counts: TermCounts }>();
  private readonly dict = new TermDict();
  private bm25: Bm25Index | null = null;
  /** The saved snapshot serving searches instead of `bm25`, until the store's files change. */
  private snap: { index: Bm25Snapshot; chunkAt: SnapshotSource['chunkAt'] } | null = null;
  /** Whether the log has been read (a reader reads it when it first needs it). */
  private loaded = false;
  private snapshotSource: LexicalOptions['snapshot'];
  /** label → its file and chunk, for the chunks in the BM25 structure. */
  private readonly byLabel = new Map<number, { path: string; chunk: LexicalChunk }>();
  private readonly labelsByPath = new Map<string, number[]>();
  private lines = 0;
  private readonly logger: Logger;
  readonly warnings: string[] = [];

  private constructor(
    readonly dir: string,
    private readonly opts: LexicalOptions,
  ) {
    this.file = path.join(dir, LEXICAL_LOG);
    this.logger = opts.logger ?? silentLogger;
    this.snapshotSource = opts.snapshot;
  }

  /** Opens (or creates) the term log in a store folder. */
  static open(dir: string, opts: LexicalOptions = {}): LexicalIndex {
    const ix = new LexicalIndex(dir, opts);
    if (!opts.readOnly) ix.ensureLoaded();
    return ix;
  }

  private ensureLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    this.load();
  }

  private load(): void {
    let buf: Buffer = Buffer.alloc(0);
    let h: { fd: number; size: number } | null = null;
    const ro = !!this.opts.readOnly;
    try {
      // A regular file of bounded size only: the store folder is untrusted (a link to /dev/zero, a FIFO).
      h = openRegular(this.file, ro ? 'r' : 'r+', MAX_LOG_BYTES);
    } catch (e) {
      this.warn(
        `The lexical index log is unusable (${(e as Error).message}); ${ro ? 'run `loupe index` to rebuild it' : 'it is rebuilt'}.`,
      );
      if (!ro) rmSync(this.file, { force: true, recursive: true });
    }
    if (h) {
      buf = Buffer.alloc(h.size);
      let got = 0;
      while (got < h.size) {
        const n = readSync(h.fd, buf, got, h.size - got, got);
        if (!n) break;
        got += n;
      }
      buf = buf.subarray(0, got);
    }
    let good = 0;
    let bad = 0;
    let off = 0;
    while (off < buf.length) {
      const nl = buf.indexOf(0x0a, off);
      if (nl < 0) break; // a torn last line
      const start = off;
      off = nl + 1;
      const sp = buf.indexOf(0x20, start);
      if (sp !== start + 8 || crc32(buf.subarray(sp + 1, nl)) !== parseInt(buf.toString('latin1', start, sp), 16)) {
        bad++;
        good = off;
        continue;
      }
      this.index(buf, start, nl);
      this.lines++;
      good = off;
    }
    this.raw = buf;
    if (ro) {
      if (h) closeSync(h.fd);
      return;
    }
    this.fd = h ? h.fd : openSync(this.file, 'wx+');
    if (good < buf.length) {
      // Drop the torn tail so the next append starts on a line of its own.
      ftruncateSync(this.fd, good);
      fsyncSync(this.fd);
      this.warn(
        `The lexical index log had a torn last record (${buf.length - good} bytes); the chunks it named are re-tokenised on the next index run.`,
      );
    }
    if (bad) this.warn(`The lexical index log had ${bad} damaged record(s); the chunks they named are re-tokenised on the next index run.`);
  }

  /** Records the line `buf[start, end)` (checked): `<crc> <hash>[ <terms>]`. A later line for a hash wins. */
  private index(buf: Buffer, start: number, end: number): void {
    const body = start + 9;
    let sp = buf.indexOf(0x20, body);
    if (sp < 0 || sp > end) sp = end;
    const hash = buf.toString('utf8', body, sp);
    this.logged.set(hash, this.lineStart.length);
    this.lineStart.push(start);
    this.termsStart.push(Math.min(sp + 1, end));
    this.lineEnd.push(end);
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
    this.logger.warn(msg);
  }

  /** Whether the terms of a content hash are known (logged or pending). */
  has(hash: string): boolean {
    this.ensureLoaded();
    return this.logged.has(hash) || this.pending.has(hash);
  }

  /** True when every chunk's terms are known; false means the file must be re-chunked to index it lexically. */
  covers(chunks: { hash: string }[]): boolean {
    return chunks.every((c) => this.has(c.hash));
  }

  /** Tokenises a chunk's text (and symbol) for a content hash, unless known; kept until `persist`. */
  add(hash: string, text: string, symbol: string | null): void {
    if (this.has(hash)) return;
    const terms = tokenize(symbol ? `${symbol}\n${text}` : text);
    this.pending.set(hash, { text: terms.join(' '), counts: this.dict.countTerms(terms) });
  }

  /**
   * Writes the pending terms of the given chunks to the log and fsyncs it; call before the store
   * commits files that use them, so a committed chunk always has its terms (or is reported by `covers`).
   */
  persist(chunks: Iterable<{ hash: string }>): void {
    const lines: string[] = [];
    for (const { hash } of chunks) {
      const p = this.pending.get(hash);
      if (p === undefined) continue;
      this.pending.delete(hash);
      this.logged.set(hash, -1);
      this.counts.set(hash, p.counts);
      lines.push(line(hash, p.text));
    }
    if (!lines.length) return;
    const buf = Buffer.from(lines.join(''));
    writeSync(this.fd, buf, 0, buf.length, fstatSync(this.fd).size);
    fsyncSync(this.fd);
    this.lines += lines.length;
  }

  /** Logged chunk terms (live and stale). */
  get size(): number {
    this.ensureLoaded();
    return this.logged.size;
  }

  /**
   * Rewrites the log with the live hashes only, atomically, when stale lines dominate
   * (the same policy as the vector cache: stale entries make a branch switch and back free).
   */
  compact(live: Set<string>, force = false): boolean {
    this.ensureLoaded();
    if (!force && this.lines <= 3 * live.size + 10_000) return false;
    const parts: Buffer[] = [];
    const kept: [string, number, number][] = [];
    let at = 0;
    for (const hash of live) {
      const i = this.logged.get(hash);
      if (i === undefined) continue;
      let part: Buffer;
      let terms: number;
      if (i >= 0) {
        part = this.raw.subarray(this.lineStart[i], this.lineEnd[i] + 1);
        terms = this.termsStart[i] - this.lineStart[i];
      } else {
        part = Buffer.from(line(hash, this.dict.text(this.counts.get(hash)!)));
        terms = Math.min(part.length - 1, 10 + Buffer.byteLength(hash));
      }
      parts.push(part);
      kept.push([hash, at, at + terms]);
      at += part.length;
    }
    const buf = Buffer.concat(parts, at);
    closeSync(this.fd);
    writeFileAtomic(this.file, buf);
    this.fd = openSync(this.file, 'r+');
    // The new log is the new `raw`: every live hash now has its line there.
    this.raw = buf;
    this.logged = new Map();
    this.lineStart = [];
    this.termsStart = [];
    this.lineEnd = [];
    for (let k = 0; k < kept.length; k++) {
      const [hash, start, terms] = kept[k];
      this.logged.set(hash, k);
      this.lineStart.push(start);
      this.termsStart.push(terms);
      this.lineEnd.push((k + 1 < kept.length ? kept[k + 1][1] : at) - 1);
    }
    for (const h of [...this.counts.keys()]) if (!live.has(h)) this.counts.delete(h);
    this.lines = kept.length;
    return true;
  }

  /** Whether the BM25 structure is ready (built, or the saved snapshot opened, by the first search). */
  get built(): boolean {
    return this.bm25 !== null || this.snap !== null;
  }

  /** Whether searches are served by the saved snapshot (no BM25 structure built in memory). */
  get fromSnapshot(): boolean {
    return this.snap !== null;
  }

  private get params(): Bm25Params {
    return { k1: this.opts.k1 ?? 1.2, b: this.opts.b ?? 0.75, pathBoost: this.opts.pathBoost ?? 0.5 };
  }

  /**
   * Readies BM25 for the store's live files: the first time, from the saved snapshot when there
   * is one that matches them; otherwise (and after any change) built from the log.
   */
  build(files: ReadonlyMap<string, { chunks: LexicalChunk[] }>): void {
    this.bm25 = null;
    this.snap = null;
    this.byLabel.clear();
    this.labelsByPath.clear();
    const source = this.snapshotSource?.();
    // Asked once: any later build follows a change to the files.
    this.snapshotSource = undefined;
    if (source) {
      try {
        const { chunkAt } = source;
        const index = Bm25Snapshot.open(source.bytes, { params: this.params, metaSha256: source.metaSha256, hasKey: (l) => !!chunkAt(l) });
        this.snap = { index, chunkAt };
        return;
      } catch (e) {
        if (!(e instanceof SnapshotRefused)) throw e;
        this.warn(`The saved BM25 snapshot is unusable (${e.message}); it is rebuilt from the term log.`);
      }
    }
    this.ensureLoaded();
    this.bm25 = new Bm25Index(this.params, this.dict);
    const folders = new Map<string, string[]>();
    for (const [p, rec] of files) this.addFile(p, rec.chunks, folders);
  }

  /**
   * The BM25 snapshot of these files (the store's, about to be written as the metadata whose
   * sha256 is `metaSha256`) to save beside them: their documents in the order a rebuild after a
   * reopen inserts them, so a search over it equals one over the rebuilt index bit for bit.
   */
  encodeSnapshot(files: ReadonlyMap<string, { chunks: LexicalChunk[] }>, metaSha256: string): Buffer {
    this.ensureLoaded();
    const docs = { keys: [] as number[], text: [] as TermCounts[], path: [] as TermCounts[] };
    const folders = new Map<string, string[]>();
    for (const p of reloadOrder(files.keys())) {
      let pt: TermCounts | undefined;
      for (const c of files.get(p)!.chunks) {
        const t = this.countsOf(c.hash);
        if (t === undefined) continue; // as addFile: not indexed until re-tokenised
        pt ??= this.dict.countTerms(cachedPathTerms(p, folders));
        docs.keys.push(c.label);
        docs.text.push(t);
        docs.path.push(pt);
      }
    }
    return encodeBm25Snapshot(this.params, metaSha256, this.dict, docs);
  }

  /** A chunk's term counts: interned from its log line the first time, pending ones included. */
  private countsOf(hash: string): TermCounts | undefined {
    let c = this.counts.get(hash);
    if (c) return c;
    const i = this.logged.get(hash);
    if (i !== undefined && i >= 0) {
      c = this.dict.countBytes(this.raw, this.termsStart[i], this.lineEnd[i]);
      this.counts.set(hash, c);
      return c;
    }
    return this.pending.get(hash)?.counts;
  }

  /** `folders` caches the terms of folders during a build (files of a folder share them). */
  private addFile(p: string, chunks: LexicalChunk[], folders?: Map<string, string[]>): void {
    const labels: number[] = [];
    let pt: TermCounts | undefined;
    for (const c of chunks) {
      const t = this.countsOf(c.hash);
      if (t === undefined) continue; // reported by covers(); indexed after the next run re-tokenises it
      pt ??= this.dict.countTerms(folders ? cachedPathTerms(p, folders) : pathTerms(p));
      this.bm25!.addCounts(c.label, t, pt);
      this.byLabel.set(c.label, { path: p, chunk: c });
      labels.push(c.label);
    }
    if (labels.length) this.labelsByPath.set(p, labels);
  }

  /**
   * Brings the BM25 structure in line with the store after a commit that touched `paths`
   * (a no-op until the structure is built).
   */
  sync(paths: Iterable<string>, files: ReadonlyMap<string, { chunks: LexicalChunk[] }>): void {
    // The snapshot is read-only: the first change builds the whole structure, here (at commit
    // time, not at the next search), from the files as they are now.
    if (this.snap) {
      this.build(files);
      return;
    }
    if (!this.bm25) return;
    const touched = [...new Set(paths)];
    for (const p of touched) {
      for (const l of this.labelsByPath.get(p) ?? []) {
        this.bm25.remove(l);
        this.byLabel.delete(l);
      }
      this.labelsByPath.delete(p);
    }
    for (const p of touched) {
      const rec = files.get(p);
      if (rec) this.addFile(p, rec.chunks);
    }
  }

  /** Chunks in the BM25 structure. */
  get chunkCount(): number {
    return this.snap ? this.snap.index.size : this.byLabel.size;
  }

  /** The best `n` chunks for a query by BM25 (the structure must be built). */
  search(query: string, n: number): LexicalHit[] {
    const out: LexicalHit[] = [];
    if (this.snap) {
      for (const [label, score] of this.snap.index.search(queryTerms(query), n)) {
        const e = this.snap.chunkAt(label);
        if (e) out.push({ ...e, score });
      }
      return out;
    }
    if (!this.bm25) throw new Error('LexicalIndex.search before build()');
    for (const [label, score] of this.bm25.search(queryTerms(query), n)) {
      const e = this.byLabel.get(label);
      if (e) out.push({ ...e, score });
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Paths in the order the store has them after a reopen: its metadata is a JSON object, whose keys
 * come back integer-like ones first (ascending), then the others in the order written.
 */
function reloadOrder(paths: Iterable<string>): string[] {
  const o: Record<string, 0> = {};
  for (const p of paths) o[p] = 0;
  return Object.keys(o);
}

/**
 * `pathTerms(p)`, with the folder's terms taken from (or put in) `folders`: no term spans a `/`,
 * so a path's terms are its folder's followed by its file name's.
 */
function cachedPathTerms(p: string, folders: Map<string, string[]>): string[] {
  const stripped = stripExtension(p);
  const i = stripped.lastIndexOf('/');
  if (i < 0) return pathTerms(p);
  const folder = stripped.slice(0, i);
  let ft = folders.get(folder);
  if (!ft) folders.set(folder, (ft = tokenize(folder)));
  return ft.concat(tokenize(stripped.slice(i + 1)));
}

/** A log line: `<crc32 of the body, 8 hex> <hash>[ <terms>]\n`. */
function line(hash: string, terms: string): string {
  const body = terms ? `${hash} ${terms}` : hash;
  return `${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}\n`;
}
