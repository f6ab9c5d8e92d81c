import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../fsutil.js';
import type { ChunkRecord } from '../store.js';
import { silentLogger, type Logger } from '../types.js';
import { Bm25Index } from './bm25.js';
import { pathTerms, queryTerms, tokenize } from './tokenize.js';

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
}

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
 * A torn or corrupt line is dropped when the log is read (the tail is truncated so appends stay
 * well-formed); the chunks that lose their terms are reported by `covers()` and re-tokenised by
 * the next index run. Stale lines are dropped by `compact()`, which rewrites the log atomically.
 */
export class LexicalIndex {
  private readonly file: string;
  private fd = -1;
  /** content hash → terms joined by spaces. */
  private readonly terms = new Map<string, string>();
  /** Terms computed for chunks not yet in the log: written by `persist`. */
  private readonly pending = new Map<string, string>();
  private bm25: Bm25Index | null = null;
  /** label → its file and chunk, for the chunks in the BM25 structure. */
  private readonly byLabel = new Map<number, { path: string; chunk: LexicalChunk }>();
  private readonly labelsByPath = new Map<string, number[]>();
  private lines = 0;
  private readonly logger: Logger;
  readonly warnings: string[] = [];

  private constructor(readonly dir: string, private readonly opts: LexicalOptions) {
    this.file = path.join(dir, LEXICAL_LOG);
    this.logger = opts.logger ?? silentLogger;
  }

  /** Opens (or creates) the term log in a store folder. */
  static open(dir: string, opts: LexicalOptions = {}): LexicalIndex {
    const ix = new LexicalIndex(dir, opts);
    ix.load();
    return ix;
  }

  private load(): void {
    let buf: Buffer = Buffer.alloc(0);
    if (existsSync(this.file)) buf = readFileSync(this.file);
    let good = 0;
    let bad = 0;
    let off = 0;
    while (off < buf.length) {
      const nl = buf.indexOf(0x0a, off);
      if (nl < 0) break; // a torn last line
      const line = buf.subarray(off, nl);
      off = nl + 1;
      const sp = line.indexOf(0x20);
      const crc = sp === 8 ? parseInt(line.subarray(0, 8).toString('latin1'), 16) : NaN;
      const body = line.subarray(sp + 1);
      if (sp !== 8 || crc32(body) !== crc) {
        bad++;
        good = off;
        continue;
      }
      const s = body.toString('utf8');
      const sp2 = s.indexOf(' ');
      const hash = sp2 < 0 ? s : s.slice(0, sp2);
      this.terms.set(hash, sp2 < 0 ? '' : s.slice(sp2 + 1));
      this.lines++;
      good = off;
    }
    this.fd = openSync(this.file, existsSync(this.file) ? 'r+' : 'w+');
    if (good < buf.length) {
      // Drop the torn tail so the next append starts on a line of its own.
      ftruncateSync(this.fd, good);
      fsyncSync(this.fd);
      this.warn(`The lexical index log had a torn last record (${buf.length - good} bytes); the chunks it named are re-tokenised on the next index run.`);
    }
    if (bad) this.warn(`The lexical index log had ${bad} damaged record(s); the chunks they named are re-tokenised on the next index run.`);
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
    this.logger.warn(msg);
  }

  /** Whether the terms of a content hash are known (logged or pending). */
  has(hash: string): boolean {
    return this.terms.has(hash) || this.pending.has(hash);
  }

  /** True when every chunk's terms are known; false means the file must be re-chunked to index it lexically. */
  covers(chunks: { hash: string }[]): boolean {
    return chunks.every((c) => this.has(c.hash));
  }

  /** Tokenises a chunk's text (and symbol) for a content hash, unless known; kept until `persist`. */
  add(hash: string, text: string, symbol: string | null): void {
    if (this.has(hash)) return;
    this.pending.set(hash, tokenize(symbol ? `${symbol}\n${text}` : text).join(' '));
  }

  /**
   * Writes the pending terms of the given chunks to the log and fsyncs it; call before the store
   * commits files that use them, so a committed chunk always has its terms (or is reported by `covers`).
   */
  persist(chunks: Iterable<{ hash: string }>): void {
    const lines: string[] = [];
    for (const { hash } of chunks) {
      const t = this.pending.get(hash);
      if (t === undefined) continue;
      this.pending.delete(hash);
      this.terms.set(hash, t);
      const body = t ? `${hash} ${t}` : hash;
      lines.push(`${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}\n`);
    }
    if (!lines.length) return;
    const buf = Buffer.from(lines.join(''));
    writeSync(this.fd, buf, 0, buf.length, fstatSync(this.fd).size);
    fsyncSync(this.fd);
    this.lines += lines.length;
  }

  /** Logged chunk terms (live and stale). */
  get size(): number {
    return this.terms.size;
  }

  /**
   * Rewrites the log with the live hashes only, atomically, when stale lines dominate
   * (the same policy as the vector cache: stale entries make a branch switch and back free).
   */
  compact(live: Set<string>, force = false): boolean {
    if (!force && this.lines <= 3 * live.size + 10_000) return false;
    const lines: string[] = [];
    for (const hash of live) {
      const t = this.terms.get(hash);
      if (t === undefined) continue;
      const body = t ? `${hash} ${t}` : hash;
      lines.push(`${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}\n`);
    }
    closeSync(this.fd);
    writeFileAtomic(this.file, lines.join(''));
    this.fd = openSync(this.file, 'r+');
    for (const h of [...this.terms.keys()]) if (!live.has(h)) this.terms.delete(h);
    this.lines = lines.length;
    return true;
  }

  /** Whether the in-memory BM25 structure has been built (it is, lazily, by the first search). */
  get built(): boolean {
    return this.bm25 !== null;
  }

  /** (Re)builds the BM25 structure from the store's live files. */
  build(files: ReadonlyMap<string, { chunks: LexicalChunk[] }>): void {
    this.bm25 = new Bm25Index({ k1: this.opts.k1, b: this.opts.b, pathBoost: this.opts.pathBoost });
    this.byLabel.clear();
    this.labelsByPath.clear();
    for (const [p, rec] of files) this.addFile(p, rec.chunks);
  }

  private addFile(p: string, chunks: LexicalChunk[]): void {
    const labels: number[] = [];
    const pt = pathTerms(p);
    for (const c of chunks) {
      const t = this.terms.get(c.hash) ?? this.pending.get(c.hash);
      if (t === undefined) continue; // reported by covers(); indexed after the next run re-tokenises it
      this.bm25!.add(c.label, t ? t.split(' ') : [], pt);
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
    return this.byLabel.size;
  }

  /** The best `n` chunks for a query by BM25 (the structure must be built). */
  search(query: string, n: number): LexicalHit[] {
    if (!this.bm25) throw new Error('LexicalIndex.search before build()');
    const out: LexicalHit[] = [];
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
