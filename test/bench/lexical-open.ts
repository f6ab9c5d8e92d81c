/**
 * What the first lexical search costs after opening a large index: reading `lexical.log`,
 * building the BM25 structure from it and the store's live chunks, and the first queries.
 *
 *   node --expose-gc out/test/bench/lexical-open.js [--sizes 10000,50000] [--rounds 2] [--out file.json]
 *     [--no-legacy] [--keep]   (--keep leaves each size's temp folder, with its lexical.log, for profiling)
 *
 * Corpus: real source files from node_modules (JS/TS/C/C++/Python/Go/Markdown), cut into chunks
 * of 40 lines (≤ 2,400 characters, the chunker's limits), tokenised with Loupe's tokeniser. When
 * the real chunks run out, they are repeated with variations: a quarter of the identifiers of a
 * repeat get a suffix word chosen by a hash of the identifier and the repeat number, so the
 * vocabulary grows as a larger repository's would, and every chunk has a distinct content hash.
 * Files keep their real relative paths (prefixed by `r<repeat>/` for repeats).
 *
 * `legacy` is the BM25 structure as it was before this benchmark existed (Map of postings of
 * arrays per term, a `split(' ')` of every chunk's terms), kept here only, so both are measured
 * in the same run on the same inputs; `identicalRankings` checks the current one gives the same
 * keys and the same scores, bit for bit.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { LexicalIndex, LEXICAL_LOG, pathTerms, queryTerms, type LexicalChunk } from '../../src/core/lexical/index.js';
import { r1, r3 } from './stats.js';

// ---------------------------------------------------------------------------------------------
// The BM25 structure before this work (src/core/lexical/bm25.ts at 21470ca), verbatim but for
// the class name: the "before" side of the comparison.

interface LegacyField {
  postings: Map<string, { slots: number[]; tfs: number[] }>;
  df: Map<string, number>;
  totalLen: number;
}

interface LegacyDoc {
  key: number;
  alive: boolean;
  terms: [string[], string[]];
  tfs: [Uint16Array, Uint16Array];
  lens: [number, number];
}

function legacyCount(terms: string[]): [string[], Uint16Array, number] {
  const m = new Map<string, number>();
  let n = 0;
  for (const t of terms) {
    if (!t) continue;
    m.set(t, (m.get(t) ?? 0) + 1);
    n++;
  }
  return [[...m.keys()], Uint16Array.from(m.values(), (v) => Math.min(v, 65535)), n];
}

export class LegacyBm25 {
  private readonly fields: [LegacyField, LegacyField] = [this.field(), this.field()];
  private docs: LegacyDoc[] = [];
  private readonly slotOf = new Map<number, number>();
  private live = 0;
  private readonly k1 = 1.2;
  private readonly b = 0.75;
  private readonly pathBoost = 0.5;

  private field(): LegacyField {
    return { postings: new Map(), df: new Map(), totalLen: 0 };
  }

  add(key: number, text: string[], pathTerms: string[]): void {
    const [t0, f0, n0] = legacyCount(text);
    const [t1, f1, n1] = legacyCount(pathTerms);
    this.insert({ key, alive: true, terms: [t0, t1], tfs: [f0, f1], lens: [n0, n1] });
  }

  private insert(doc: LegacyDoc): void {
    const slot = this.docs.length;
    this.docs.push(doc);
    this.slotOf.set(doc.key, slot);
    this.live++;
    for (let f = 0; f < 2; f++) {
      const field = this.fields[f];
      field.totalLen += doc.lens[f];
      const terms = doc.terms[f];
      const tfs = doc.tfs[f];
      for (let i = 0; i < terms.length; i++) {
        const t = terms[i];
        let p = field.postings.get(t);
        if (!p) field.postings.set(t, (p = { slots: [], tfs: [] }));
        p.slots.push(slot);
        p.tfs.push(tfs[i]);
        field.df.set(t, (field.df.get(t) ?? 0) + 1);
      }
    }
  }

  search(terms: string[], n: number): [number, number][] {
    const N = this.live;
    if (!N || !terms.length) return [];
    const scores = new Map<number, number>();
    for (let f = 0; f < 2; f++) {
      const field = this.fields[f];
      const boost = f === 0 ? 1 : this.pathBoost;
      const avg = field.totalLen / N || 1;
      for (const t of new Set(terms)) {
        const p = field.postings.get(t);
        if (!p) continue;
        const df = field.df.get(t) ?? 0;
        const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
        for (let i = 0; i < p.slots.length; i++) {
          const doc = this.docs[p.slots[i]];
          if (!doc.alive) continue;
          const tf = p.tfs[i];
          const s = (boost * idf * tf * (this.k1 + 1)) / (tf + this.k1 * (1 - this.b + (this.b * doc.lens[f]) / avg));
          scores.set(p.slots[i], (scores.get(p.slots[i]) ?? 0) + s);
        }
      }
    }
    const top = [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, n);
    return top.map(([slot, s]) => [this.docs[slot].key, s]);
  }
}

/** LexicalIndex.load as it was: every checked line's body decoded, hash → joined terms. */
function legacyReadLog(file: string): Map<string, string> {
  const terms = new Map<string, string>();
  const buf = readFileSync(file);
  let off = 0;
  while (off < buf.length) {
    const nl = buf.indexOf(0x0a, off);
    if (nl < 0) break;
    const line = buf.subarray(off, nl);
    off = nl + 1;
    const sp = line.indexOf(0x20);
    const crc = sp === 8 ? parseInt(line.subarray(0, 8).toString('latin1'), 16) : NaN;
    const body = line.subarray(sp + 1);
    if (sp !== 8 || crc32(body) !== crc) continue;
    const s = body.toString('utf8');
    const sp2 = s.indexOf(' ');
    terms.set(sp2 < 0 ? s : s.slice(0, sp2), sp2 < 0 ? '' : s.slice(sp2 + 1));
  }
  return terms;
}

/** LexicalIndex.build as it was, over the legacy structure: split every chunk's terms, add. */
function legacyBuild(terms: Map<string, string>, files: Map<string, { chunks: LexicalChunk[] }>): LegacyBm25 {
  const bm = new LegacyBm25();
  for (const [p, rec] of files) {
    const pt = pathTerms(p);
    for (const c of rec.chunks) {
      const t = terms.get(c.hash);
      if (t === undefined) continue;
      bm.add(c.label, t ? t.split(' ') : [], pt);
    }
  }
  return bm;
}

// ---------------------------------------------------------------------------------------------
// Corpus.

const EXTS = ['.js', '.ts', '.cc', '.cpp', '.h', '.py', '.go', '.md'];
const SUFFIXES = ['Cache', 'Handler', 'Impl', 'Async', 'Buffer', 'Options', 'State', 'Result', 'Token', 'Node', 'Writer', 'Reader'];

interface RawChunk {
  rel: string;
  text: string;
}

function realChunks(limit: number): RawChunk[] {
  const root = path.resolve('node_modules');
  const out: RawChunk[] = [];
  const seen = new Set<string>();
  const walk = (d: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return false;
    }
    for (const name of names) {
      if (out.length >= limit) return true;
      const abs = path.join(d, name);
      let st;
      try {
        st = statSync(abs);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (name.startsWith('.')) continue;
        if (walk(abs)) return true;
      } else if (EXTS.some((e) => name.endsWith(e)) && !name.endsWith('.min.js') && !name.endsWith('.map') && st.size < 400_000) {
        const lines = readFileSync(abs, 'utf8').split('\n');
        const rel = path.relative(root, abs).split(path.sep).join('/');
        for (let i = 0; i < lines.length && out.length < limit; i += 40) {
          const text = lines
            .slice(i, i + 40)
            .join('\n')
            .slice(0, 2400);
          if (text.trim().length < 40 || seen.has(text)) continue;
          seen.add(text);
          out.push({ rel, text });
        }
      }
    }
    return false;
  };
  walk(root);
  return out;
}

function h32(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function vary(text: string, r: number): string {
  if (!r) return text;
  return text.replace(/[A-Za-z_$][A-Za-z0-9_$]*/g, (id) => {
    const h = h32(`${id}#${r}`);
    return h % 4 === 0 ? id + SUFFIXES[(h >>> 8) % SUFFIXES.length] : id;
  });
}

interface Corpus {
  files: Map<string, { chunks: LexicalChunk[] }>;
  chunks: number;
  realChunks: number;
  repeats: number;
  termsPerChunk: number;
  vocabulary: number;
  logMiB: number;
  setupSeconds: number;
}

/** Writes a term log of `n` chunks into `dir` through LexicalIndex (add + persist), and the files map a store would hold. */
function makeCorpus(dir: string, n: number, base: RawChunk[]): Corpus {
  const t0 = performance.now();
  const ix = LexicalIndex.open(dir);
  const files = new Map<string, { chunks: LexicalChunk[] }>();
  let label = 0;
  let repeats = 0;
  const hashes: string[] = [];
  for (let r = 0; label < n; r++) {
    repeats = r + 1;
    let batch: { hash: string }[] = [];
    for (const c of base) {
      if (label >= n) break;
      const text = vary(c.text, r);
      const hash = createHash('sha256').update(text).digest('hex').slice(0, 32);
      if (ix.has(hash)) continue;
      const rel = r ? `r${r}/${c.rel}` : c.rel;
      let rec = files.get(rel);
      if (!rec) files.set(rel, (rec = { chunks: [] }));
      const start = rec.chunks.length * 40 + 1;
      rec.chunks.push({ label: label++, hash, startLine: start, endLine: start + 39, symbol: null, language: 'typescript' });
      ix.add(hash, text, null);
      hashes.push(hash);
      batch.push({ hash });
      if (batch.length >= 512) {
        ix.persist(batch);
        batch = [];
      }
    }
    ix.persist(batch);
  }
  ix.close();
  // Figures of the corpus, from the log.
  let termCount = 0;
  const vocab = new Set<string>();
  for (const line of readFileSync(path.join(dir, LEXICAL_LOG), 'utf8').split('\n')) {
    if (!line) continue;
    const body = line.slice(9);
    const sp = body.indexOf(' ');
    const t = sp < 0 ? '' : body.slice(sp + 1);
    if (t)
      for (const w of t.split(' ')) {
        termCount++;
        vocab.add(w);
      }
  }
  return {
    files,
    chunks: label,
    realChunks: Math.min(base.length, n),
    repeats,
    termsPerChunk: r1(termCount / label),
    vocabulary: vocab.size,
    logMiB: r1(statSync(path.join(dir, LEXICAL_LOG)).size / 1048576),
    setupSeconds: r1((performance.now() - t0) / 1000),
  };
}

const QUERIES = [
  'parse the config file',
  'how are retries handled when the connection drops',
  'token scanner for identifiers',
  'resolve module path',
  'emit diagnostics for type errors',
  'hash table resize',
  'read file buffer utf8',
  'walk the syntax tree and visit nodes',
];

function ms(t0: number): number {
  return r1(performance.now() - t0);
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function heapMiB(): number {
  return r1(process.memoryUsage().heapUsed / 1048576);
}

interface Round {
  openMs: number;
  buildMs: number;
  firstQueryMs: number;
  /** Median over QUERIES after the first. */
  queryMs: number;
  heapDeltaMiB: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

function roundCurrent(dir: string, files: Corpus['files']): { round: Round; ix: LexicalIndex } {
  gc();
  const h0 = heapMiB();
  let t = performance.now();
  const ix = LexicalIndex.open(dir);
  const openMs = ms(t);
  t = performance.now();
  ix.build(files);
  const buildMs = ms(t);
  t = performance.now();
  ix.search(QUERIES[0], 40);
  const firstQueryMs = ms(t);
  const qs: number[] = [];
  for (const q of QUERIES.slice(1)) {
    t = performance.now();
    ix.search(q, 40);
    qs.push(performance.now() - t);
  }
  gc();
  return { round: { openMs, buildMs, firstQueryMs, queryMs: r3(median(qs)), heapDeltaMiB: r1(heapMiB() - h0) }, ix };
}

function roundLegacy(dir: string, files: Corpus['files']): { round: Round; bm: LegacyBm25 } {
  gc();
  const h0 = heapMiB();
  let t = performance.now();
  const terms = legacyReadLog(path.join(dir, LEXICAL_LOG));
  const openMs = ms(t);
  t = performance.now();
  const bm = legacyBuild(terms, files);
  const buildMs = ms(t);
  t = performance.now();
  bm.search(queryTerms(QUERIES[0]), 40);
  const firstQueryMs = ms(t);
  const qs: number[] = [];
  for (const q of QUERIES.slice(1)) {
    t = performance.now();
    bm.search(queryTerms(q), 40);
    qs.push(performance.now() - t);
  }
  gc();
  return { round: { openMs, buildMs, firstQueryMs, queryMs: r3(median(qs)), heapDeltaMiB: r1(heapMiB() - h0) }, bm };
}

function best(rounds: Round[]): Round {
  const pick = (k: keyof Round): number => Math.min(...rounds.map((r) => r[k]));
  return {
    openMs: pick('openMs'),
    buildMs: pick('buildMs'),
    firstQueryMs: pick('firstQueryMs'),
    queryMs: pick('queryMs'),
    heapDeltaMiB: pick('heapDeltaMiB'),
  };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const sizes = (arg('--sizes') ?? '10000,50000').split(',').map(Number);
  const rounds = Number(arg('--rounds') ?? 2);
  const skipLegacy = process.argv.includes('--no-legacy');
  const out = arg('--out');
  const keep = process.argv.includes('--keep');
  const t0 = performance.now();
  const base = realChunks(Math.max(...sizes));
  process.stderr.write(`${base.length} real chunks read in ${r1((performance.now() - t0) / 1000)} s\n`);
  const report: Record<string, unknown> = {
    bench: 'lexical-open',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverageAtStart: os.loadavg().map(r1) },
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    notes:
      'Per size: current = LexicalIndex.open (read + CRC-check the log) → build(files) → first search (includes building the postings); ' +
      'legacy = the reader and BM25 build as of 21470ca (copied into this file), same log, same files, same process, rounds alternating. ' +
      'best = the minimum of each figure over the rounds. heapDeltaMiB = V8 heap after minus before (gc() first when exposed), structures alive. ' +
      'identicalRankings: the top 100 of every query, keys and scores, compared with ===.',
    rounds,
    sizes: [] as unknown[],
  };
  for (const n of sizes) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-lexical-'));
    try {
      const corpus = makeCorpus(dir, n, base);
      process.stderr.write(`${n}: corpus ready (${corpus.setupSeconds} s, ${corpus.logMiB} MiB log)\n`);
      const cur: Round[] = [];
      const leg: Round[] = [];
      let identical: boolean | null = null;
      let compared = 0;
      for (let r = 0; r < rounds; r++) {
        // Alternate the two sides; compare rankings once, from the first round's structures.
        const c = roundCurrent(dir, corpus.files);
        cur.push(c.round);
        process.stderr.write(`${n} current round ${r}: ${JSON.stringify(c.round)}\n`);
        if (!skipLegacy) {
          const l = roundLegacy(dir, corpus.files);
          leg.push(l.round);
          process.stderr.write(`${n} legacy round ${r}: ${JSON.stringify(l.round)}\n`);
          if (identical === null) {
            identical = true;
            for (const q of QUERIES) {
              const a = c.ix.search(q, 100).map((h) => [h.chunk.label, h.score]);
              const b = l.bm.search(queryTerms(q), 100);
              compared += a.length;
              if (JSON.stringify(a) !== JSON.stringify(b)) {
                identical = false;
                process.stderr.write(`rankings differ for "${q}"\n`);
              }
            }
          }
        }
        c.ix.close();
      }
      const entry: Record<string, unknown> = {
        chunks: corpus.chunks,
        files: corpus.files.size,
        realChunks: corpus.realChunks,
        repeats: corpus.repeats,
        termsPerChunk: corpus.termsPerChunk,
        vocabulary: corpus.vocabulary,
        logMiB: corpus.logMiB,
        current: { best: best(cur), rounds: cur },
      };
      if (leg.length) {
        const bc = best(cur);
        const bl = best(leg);
        entry.legacy = { best: bl, rounds: leg };
        entry.buildSpeedup = r1(bl.buildMs / bc.buildMs);
        entry.openBuildFirstQuery = {
          current: r1(bc.openMs + bc.buildMs + bc.firstQueryMs),
          legacy: r1(bl.openMs + bl.buildMs + bl.firstQueryMs),
        };
        entry.identicalRankings = identical;
        entry.hitsCompared = compared;
      }
      (report.sizes as unknown[]).push(entry);
    } finally {
      if (keep) process.stderr.write(`kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  (report.machine as Record<string, unknown>).loadAverageAtEnd = os.loadavg().map(r1);
  const json = JSON.stringify(report, null, 2);
  if (out) writeFileSync(out, json + '\n');
  process.stdout.write(json + '\n');
}

await main();
