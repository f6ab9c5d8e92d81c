import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Store } from '../src/core/store.js';
import * as path from 'node:path';
import { Bm25Index } from '../src/core/lexical/bm25.js';
import { TermDict } from '../src/core/lexical/terms.js';
import {
  LexicalIndex,
  LEXICAL_LOG,
  splitIdentifier,
  tokenize,
  queryTerms,
  pathTerms,
  type LexicalChunk,
} from '../src/core/lexical/index.js';
import { seededRandom } from '../src/core/bench/stats.js';
import { openTestEngine, REPO, SAMPLE_PROJECT, tempDir, writeTree } from './support/helpers.js';

const SELF = fileURLToPath(import.meta.url);

/** A tree of many small files, each with a distinct word (`alpha0`, `alpha1`, …). */
function manyFiles(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++)
    files[`src/f${i}.ts`] = `export function handler${i}(x: number): number {\n  // alpha${i} marker\n  return x + ${i};\n}\n`;
  return files;
}

// Child mode: index the folder given in the environment one chunk per commit, reporting each
// commit on stdout, until the parent kills it.
if (process.env.LOUPE_LEXICAL_CHILD) {
  const engine = await openTestEngine(process.env.LOUPE_LEXICAL_CHILD, { batchSize: 1 });
  await engine.index({ onProgress: (p) => p.phase === 'embed' && process.stdout.write(`commit ${p.chunksEmbedded}\n`) });
  process.stdout.write('finished\n');
  process.exit(0);
}

function chunk(label: number, hash: string, startLine = 1, endLine = 5): LexicalChunk {
  return { label, hash, startLine, endLine, symbol: null, language: 'typescript' };
}

/** Real source files of this repository (src/core/**.ts), relative path → text. */
function realSources(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(REPO, rel)).sort()) {
      const r = `${rel}/${name}`;
      if (statSync(path.join(REPO, r)).isDirectory()) walk(r);
      else if (name.endsWith('.ts')) out[r] = readFileSync(path.join(REPO, r), 'utf8');
    }
  };
  walk('src/core');
  return out;
}

interface RefDoc {
  key: number;
  text: string[];
  path: string[];
}

/**
 * BM25 computed the plain way, document by document, from term lists: the definition the index
 * must reproduce bit for bit (text field, then path field; query terms in order; tf capped at
 * 65,535; ties by insertion order, which is the order of `docs`).
 */
function referenceSearch(docs: RefDoc[], query: string[], n: number, k1 = 1.2, b = 0.75, pathBoost = 0.5): [number, number][] {
  const N = docs.length;
  if (!N || !query.length) return [];
  const tf = (terms: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const t of terms) if (t) m.set(t, (m.get(t) ?? 0) + 1);
    return m;
  };
  const fields = [docs.map((d) => tf(d.text)), docs.map((d) => tf(d.path))];
  const lens = [docs.map((d) => d.text.filter(Boolean).length), docs.map((d) => d.path.filter(Boolean).length)];
  const avgs = lens.map((l) => l.reduce((a, x) => a + x, 0) / N || 1);
  const terms = [...new Set(query)];
  const dfs = fields.map((docsTf) => terms.map((t) => docsTf.filter((m) => m.has(t)).length));
  const out: [number, number, number][] = [];
  for (let i = 0; i < N; i++) {
    let score = 0;
    let hit = false;
    for (let f = 0; f < 2; f++) {
      const boost = f === 0 ? 1 : pathBoost;
      if (!boost) continue;
      for (let j = 0; j < terms.length; j++) {
        const df = dfs[f][j];
        const c = fields[f][i].get(terms[j]);
        if (!df || !c) continue;
        const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
        const x = Math.min(c, 65535);
        score += (boost * idf * x * (k1 + 1)) / (x + k1 * (1 - b + (b * lens[f][i]) / avgs[f]));
        hit = true;
      }
    }
    if (hit) out.push([docs[i].key, score, i]);
  }
  out.sort((x, y) => y[1] - x[1] || x[2] - y[2]);
  return out.slice(0, n).map(([k, sc]) => [k, sc]);
}

/** hash → terms, read from a term log the plain way (every line's CRC checked). */
function readLog(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(path.join(dir, LEXICAL_LOG), 'utf8').split('\n')) {
    if (!line) continue;
    const [crc, hash, ...terms] = line.split(' ');
    if (parseInt(crc, 16) !== crc32(Buffer.from(line.slice(9)))) continue;
    out.set(hash, terms);
  }
  return out;
}

/** Reference documents for the live chunks of a store's files, in the order a build adds them. */
function refDocs(files: ReadonlyMap<string, { chunks: LexicalChunk[] }>, terms: Map<string, string[]>): RefDoc[] {
  const docs: RefDoc[] = [];
  for (const [p, rec] of files)
    for (const c of rec.chunks) if (terms.has(c.hash)) docs.push({ key: c.label, text: terms.get(c.hash)!, path: pathTerms(p) });
  return docs;
}

const QUERIES = [
  'parse the config file',
  'how are retries handled when the connection drops',
  'BM25 postings term frequency',
  'journal replay snapshot generation',
  'write file atomically fsync',
  'tokenize identifier camelCase',
  'lexical index lexical index',
  'zebra',
];

function hitsOf(ix: LexicalIndex, q: string, n: number): [number, number][] {
  return ix.search(q, n).map((h) => [h.chunk.label, h.score]);
}

describe('lexical: code-aware tokenisation', () => {
  test('identifiers are split at camelCase, PascalCase, snake_case, kebab-case and digits, and kept whole', () => {
    assert.deepEqual(splitIdentifier('parseHTTPRequest_v2'), ['parse', 'http', 'request', 'v', '2']);
    assert.deepEqual(splitIdentifier('MAX_RETRY_COUNT'), ['max', 'retry', 'count']);
    assert.deepEqual(splitIdentifier('x-forwarded-for'), ['x', 'forwarded', 'for']);
    const t = tokenize('const maxRetries = getUser(user_id);');
    assert.ok(t.includes('maxretries'), 'whole identifier');
    assert.ok(t.includes('retri') && t.includes('max'), 'stemmed parts');
    assert.ok(t.includes('user_id') && t.includes('getuser'));
    assert.ok(t.includes('get'), 'a stop word inside an identifier stays');
    assert.ok(!t.includes('const'), 'bare keywords are dropped');
  });

  test('a question and the code share stems; question words are dropped', () => {
    assert.deepEqual(queryTerms('How are retries handled when the connection drops?'), ['retri', 'connect', 'drop']);
    const code = tokenize('def retry(self, connection): self.dropped = True');
    for (const q of ['retri', 'connect', 'drop']) assert.ok(code.includes(q), q);
  });

  test('paths give their folder and file names', () => {
    assert.deepEqual(pathTerms('lib/router/layer.js'), ['lib', 'router', 'layer']);
    assert.deepEqual(pathTerms('src/http_client/RetryPolicy.ts'), [
      'src',
      'http_client',
      'http',
      'client',
      'retrypolicy',
      'retri',
      'polici',
    ]);
  });
});

describe('lexical: BM25 index and its log', () => {
  test('BM25: rare terms outweigh common ones, term frequency saturates, removal and compaction keep scores right', () => {
    const b = new Bm25Index({ pathBoost: 0.5 });
    for (let i = 0; i < 1500; i++) b.add(i, ['common', 'filler', i % 7 === 0 ? 'seven' : 'other'], ['src']);
    b.add(5000, ['common', 'rare'], ['lib']);
    b.add(5001, ['rare', 'rare', 'rare', 'rare', 'rare', 'rare', 'rare', 'rare', 'common', 'x', 'y', 'z'], ['lib']);
    const [top] = b.search(['rare', 'common'], 3);
    assert.ok(top[0] === 5000 || top[0] === 5001);
    const hits = b.search(['rare'], 10);
    assert.equal(hits.length, 2);
    assert.ok(hits[0][1] < 3 * hits[1][1], 'tf saturates');
    assert.deepEqual(
      b
        .search(['lib'], 5)
        .map(([k]) => k)
        .sort(),
      [5000, 5001],
      'path field',
    );
    const before = b.search(['seven'], 1)[0][1];
    for (let i = 0; i < 1400; i++) b.remove(i); // triggers compaction
    assert.equal(b.size, 102);
    assert.ok(b.search(['seven'], 1)[0][1] < before, 'fewer documents: a term in 1 of 7 is less rare relative to N');
    assert.ok(
      b.search(['seven'], 200).every(([k]) => k >= 1400),
      'removed documents never come back',
    );
    b.add(5000, ['replaced'], []);
    assert.deepEqual(
      b.search(['rare'], 5).map(([k]) => k),
      [5001],
    );
    assert.equal(b.remove(123456), false);
  });

  test('ranks by BM25, follows store updates, and survives a reopen', () => {
    const { dir, cleanup } = tempDir();
    try {
      let ix = LexicalIndex.open(dir);
      ix.add('h1', 'function retryRequest(req) { backoff(); retry(req) }', 'retryRequest');
      ix.add('h2', 'function parseCookies(header) { return header.split(";") }', 'parseCookies');
      ix.add('h3', 'function renderTemplate(view, locals) { }', null);
      const files = new Map([
        ['src/http.ts', { chunks: [chunk(0, 'h1'), chunk(1, 'h2', 6, 9)] }],
        ['src/view.ts', { chunks: [chunk(2, 'h3')] }],
      ]);
      assert.equal(ix.covers(files.get('src/http.ts')!.chunks), true, 'pending terms count as known');
      ix.persist([{ hash: 'h1' }, { hash: 'h2' }, { hash: 'h3' }]);
      ix.build(files);
      assert.equal(ix.search('retries with backoff', 5)[0].chunk.hash, 'h1');
      assert.equal(ix.search('cookie header parsing', 5)[0].chunk.hash, 'h2');
      assert.equal(ix.search('how are views rendered', 5)[0].path, 'src/view.ts', 'path and text terms');
      assert.deepEqual(ix.search('zebra', 5), []);

      // A commit that deletes a file and changes another.
      ix.add('h4', 'function parseSetCookie(line) { }', null);
      ix.persist([{ hash: 'h4' }]);
      files.delete('src/view.ts');
      files.set('src/http.ts', { chunks: [chunk(3, 'h4')] });
      ix.sync(['src/view.ts', 'src/http.ts'], files);
      assert.equal(ix.chunkCount, 1);
      assert.deepEqual(ix.search('render template', 5), []);
      assert.deepEqual(ix.search('retry', 5), [], 'the replaced chunk is gone');
      assert.equal(ix.search('set cookie', 5)[0].chunk.label, 3);
      ix.close();

      ix = LexicalIndex.open(dir);
      assert.equal(ix.size, 4);
      assert.deepEqual(ix.warnings, []);
      ix.build(files);
      assert.equal(ix.search('set cookie', 5)[0].chunk.hash, 'h4');
      // Compaction keeps the live terms only, and the log still reads back.
      assert.equal(ix.compact(new Set(['h4']), true), true);
      ix.close();
      ix = LexicalIndex.open(dir);
      assert.equal(ix.size, 1);
      assert.equal(ix.has('h4'), true);
      assert.equal(ix.has('h1'), false);
      ix.close();
    } finally {
      cleanup();
    }
  });

  test('a torn last record is truncated and a corrupt one dropped; covers() reports the loss', () => {
    const { dir, cleanup } = tempDir();
    try {
      const ix = LexicalIndex.open(dir);
      for (const h of ['a1', 'a2', 'a3']) ix.add(h, `alpha beta ${h}`, null);
      ix.persist([{ hash: 'a1' }, { hash: 'a2' }, { hash: 'a3' }]);
      ix.close();
      const file = path.join(dir, LEXICAL_LOG);
      // Flip a byte inside the second record, and tear a fourth one half-way.
      const buf = readFileSync(file);
      const second = buf.indexOf(0x0a) + 12;
      buf[second] ^= 0x01;
      writeFileSync(file, buf);
      appendFileSync(file, '0000abcd a4 gamma');
      const size = statSync(file).size;
      const re = LexicalIndex.open(dir);
      assert.equal(re.has('a1'), true);
      assert.equal(re.has('a2'), false, 'the corrupt record is not trusted');
      assert.equal(re.has('a3'), true);
      assert.equal(re.covers([{ hash: 'a1' }, { hash: 'a2' }]), false);
      assert.equal(re.warnings.length, 2, re.warnings.join('\n'));
      assert.ok(statSync(file).size < size, 'torn tail truncated');
      re.add('a2', 'alpha beta a2', null);
      re.persist([{ hash: 'a2' }]);
      re.close();
      const again = LexicalIndex.open(dir);
      assert.equal(again.has('a2'), true, 'appended after the truncation, readable');
      again.close();
      truncateSync(file, 0);
      const empty = LexicalIndex.open(dir);
      assert.equal(empty.size, 0);
      empty.close();
    } finally {
      cleanup();
    }
  });
});

describe('lexical: term ids and the compact BM25 structure', () => {
  test('term ids: bytes and strings of a term meet at one id; terms whose 32-bit hashes collide stay apart', () => {
    const d = new TermDict();
    const fromBytes = d.countBytes(Buffer.from('alpha  beta alpha café '), 0, 23);
    assert.deepEqual(
      [...fromBytes],
      [d.lookup('alpha'), 2, d.lookup('beta'), 1, d.lookup('café'), 1],
      'empty terms skipped, repeats counted',
    );
    assert.equal(d.intern('café'), d.lookup('café'));
    const fromStrings = d.countTerms(['beta', 'café', '', 'beta']);
    assert.deepEqual([...fromStrings], [d.lookup('beta'), 2, d.lookup('café'), 1]);
    // "yaczf" and "glbpp" have the same FNV-1a hash: found by search, kept here as the collision case.
    const c = d.countBytes(Buffer.from('yaczf glbpp yaczf'), 0, 17);
    assert.equal(c.length, 4);
    assert.deepEqual([d.term(c[0]), c[1], d.term(c[2]), c[3]], ['yaczf', 2, 'glbpp', 1]);
    assert.equal(d.intern('glbpp'), c[2]);
    // Invalid UTF-8 reads as U+FFFD, as a decoded string would.
    const bad = d.countBytes(Buffer.from([0x61, 0xff, 0x20, 0x61, 0xfe]), 0, 5);
    assert.deepEqual([bad.length, bad[1], d.term(bad[0])], [2, 2, 'a\ufffd']);
    // Many terms: the table grows; every term keeps its id.
    const words = Array.from({ length: 50_000 }, (_, i) => `w${i.toString(36)}`);
    const ids = words.map((w) => d.intern(w));
    const again = d.countBytes(Buffer.from(words.join(' ')), 0, Buffer.byteLength(words.join(' ')));
    assert.deepEqual(
      Array.from({ length: words.length }, (_, i) => again[2 * i]),
      ids,
    );
    assert.ok(words.every((w, i) => d.term(ids[i]) === w));
  });

  test('scores are bit for bit those of the plain BM25 computation, through bulk builds, tail appends, replacements, removals and compaction', () => {
    // Documents: 40-line pieces of real source files, with their real paths.
    const pieces: { path: string; text: string[] }[] = [];
    for (const [p, text] of Object.entries(realSources())) {
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i += 40) pieces.push({ path: p, text: tokenize(lines.slice(i, i + 40).join('\n')) });
    }
    assert.ok(pieces.length > 150, `${pieces.length} pieces`);
    const rand = seededRandom(11);
    const bm = new Bm25Index({ pathBoost: 0.5 });
    let ref: RefDoc[] = [];
    let key = 0;
    const add = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const p = pieces[Math.floor(rand() * pieces.length)];
        const doc = { key: key++, text: p.text.filter(() => rand() < 0.9), path: pathTerms(p.path) };
        bm.add(doc.key, doc.text, doc.path);
        ref.push(doc);
      }
    };
    const remove = (k: number): void => {
      assert.equal(bm.remove(k), true);
      ref = ref.filter((d) => d.key !== k);
    };
    const queries = [...QUERIES, 'index', 'lexical', 'store engine'].map(queryTerms);
    queries.push(['unknownterm', 'lexic', 'lexic', 'core'], []);
    const check = (stage: string): void => {
      assert.equal(bm.size, ref.length, stage);
      for (const q of queries) {
        const got = bm.search(q, 50);
        const want = referenceSearch(ref, q, 50);
        assert.deepEqual(got, want, `${stage}: ${q.join(' ')}`);
      }
    };
    add(2500);
    check('bulk build');
    add(40);
    check('appended to tails');
    for (let i = 0; i < 30; i++) {
      // Replace a document: its key moves to the end of the insertion order.
      const k = ref[Math.floor(rand() * ref.length)].key;
      const p = pieces[Math.floor(rand() * pieces.length)];
      bm.add(k, p.text, pathTerms(p.path));
      ref = ref.filter((d) => d.key !== k);
      ref.push({ key: k, text: p.text, path: pathTerms(p.path) });
    }
    check('replacements');
    for (const d of ref.slice(0, 400)) remove(d.key);
    check('removals (dead postings skipped)');
    for (const d of ref.slice(0, 1200)) remove(d.key);
    check('compaction');
    add(1500);
    check('rebuilt after many additions');
    // A term repeated past the Uint16 cap: tf is capped, the length is not.
    const huge = { key: key++, text: [...Array.from({ length: 70_000 }, () => 'flood'), 'lexic'], path: ['src'] };
    bm.add(huge.key, huge.text, huge.path);
    ref.push(huge);
    queries.push(['flood', 'lexic']);
    check('capped tf');
    assert.equal(bm.remove(-1), false);
  });

  test('LexicalIndex over real files: the reference scores in session, after a reopen (terms read from the log bytes) and after the log is compacted', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sources = Object.entries(realSources());
      const files = new Map<string, { chunks: LexicalChunk[] }>();
      let ix = LexicalIndex.open(dir);
      let label = 0;
      for (const [p, text] of sources) {
        const lines = text.split('\n');
        const chunks: LexicalChunk[] = [];
        for (let i = 0; i < lines.length; i += 40) {
          const hash = `h${label}`;
          ix.add(hash, lines.slice(i, i + 40).join('\n'), null);
          chunks.push(chunk(label++, hash, i + 1, i + 40));
        }
        files.set(p, { chunks });
      }
      // Half logged before the build, half pending (counts taken at add).
      const all = [...files.values()].flatMap((f) => f.chunks);
      ix.persist(all.slice(0, all.length >> 1));
      ix.build(files);
      ix.persist(all.slice(all.length >> 1));
      const compare = (stage: string): Map<string, [number, number][]> => {
        const docs = refDocs(files, readLog(dir));
        assert.equal(docs.length, all.length, stage);
        const out = new Map<string, [number, number][]>();
        for (const q of QUERIES) {
          const got = hitsOf(ix, q, 30);
          assert.deepEqual(got, referenceSearch(docs, queryTerms(q), 30), `${stage}: ${q}`);
          out.set(q, got);
        }
        return out;
      };
      const first = compare('in session');
      ix.close();
      ix = LexicalIndex.open(dir);
      ix.build(files);
      assert.deepEqual(compare('reopened'), first);
      // Stale lines, then a compaction: live lines are copied byte for byte.
      ix.add('stale', 'function staleThing() {}', null);
      ix.persist([{ hash: 'stale' }]);
      const before = readFileSync(path.join(dir, LEXICAL_LOG), 'utf8');
      assert.equal(ix.compact(new Set(all.map((c) => c.hash)), true), true);
      const after = readFileSync(path.join(dir, LEXICAL_LOG), 'utf8');
      assert.ok(before.split('\n').some((l) => l.split(' ')[1] === 'stale'));
      assert.ok(!after.split('\n').some((l) => l.split(' ')[1] === 'stale') && after.length < before.length);
      assert.deepEqual(compare('compacted'), first);
      // Chunks logged in this session are written back by compaction as their grouped terms.
      ix.add('fresh', 'function freshWidget(widget) { return widget.fresh(widget) }', null);
      ix.persist([{ hash: 'fresh' }]);
      files.set('src/fresh.ts', { chunks: [chunk(label++, 'fresh')] });
      ix.sync(['src/fresh.ts'], files);
      assert.equal(ix.compact(new Set([...all.map((c) => c.hash), 'fresh']), true), true);
      const freshLine = readFileSync(path.join(dir, LEXICAL_LOG), 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[1] === 'fresh')!;
      assert.deepEqual(
        freshLine.split(' ').slice(2).sort(),
        tokenize('function freshWidget(widget) { return widget.fresh(widget) }').sort(),
      );
      all.push(files.get('src/fresh.ts')!.chunks[0]);
      const compacted = compare('compacted with a session chunk');
      ix.close();
      ix = LexicalIndex.open(dir);
      assert.deepEqual(ix.warnings, []);
      ix.build(files);
      assert.deepEqual(compare('reopened after compaction'), compacted);
      assert.equal(ix.search('fresh widget', 1)[0].chunk.hash, 'fresh');
      ix.close();
    } finally {
      cleanup();
    }
  });
});

describe('lexical: in the engine', () => {
  test('a failure writing the terms stops the batch before the store commits it (the order the invariant rests on)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, manyFiles(12));
      let engine = await openTestEngine(dir, { batchSize: 1 });
      const real = engine.lexical.persist.bind(engine.lexical);
      let calls = 0;
      engine.lexical.persist = (chunks) => {
        if (++calls === 4) throw new Error('disk full (injected)');
        real(chunks);
      };
      await assert.rejects(engine.index(), /disk full/);
      const committed = [...engine.store.files.values()].flatMap((f) => f.chunks);
      assert.ok(committed.length > 0 && engine.store.files.size < 12, `${engine.store.files.size} files committed`);
      await engine.close();
      const lex = LexicalIndex.open(path.join(dir, '.loupe'));
      assert.equal(lex.covers(committed), true, 'no committed chunk lacks its terms');
      lex.close();
      engine = await openTestEngine(dir);
      await engine.index();
      assert.equal((await engine.search('alpha11', { k: 1, mode: 'lexical' }))[0].path, 'src/f11.ts');
      await engine.close();
    } finally {
      cleanup();
    }
  });

  test('SIGKILL mid-index: every chunk the store committed has its terms; the next run completes the lexical index', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, manyFiles(150));
      const child = spawn(process.execPath, [SELF], {
        env: { ...process.env, LOUPE_LEXICAL_CHILD: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if ((out.match(/commit /g) ?? []).length >= 8 && child.exitCode === null) child.kill('SIGKILL');
      });
      assert.equal(await exited, 'SIGKILL', `the child finished before it was killed: ${out.slice(-200)} ${err}`);

      const storeDir = path.join(dir, '.loupe');
      const m = JSON.parse(readFileSync(path.join(storeDir, 'manifest.json'), 'utf8')) as {
        modelId: string;
        modelName: string;
        dimensions: number;
      };
      const store = Store.open(storeDir, m, { metadataOnly: true });
      const lex = LexicalIndex.open(storeDir);
      const committed = [...store.files.values()].flatMap((f) => f.chunks);
      assert.ok(committed.length >= 1 && store.files.size < 150, `${store.files.size} files committed before the kill`);
      assert.equal(lex.covers(committed), true, 'terms are fsynced before the store commits the chunks that use them');
      store.close();
      lex.close();

      const engine = await openTestEngine(dir);
      const s = await engine.index();
      assert.equal(engine.store.files.size, 150, JSON.stringify(s));
      assert.equal((await engine.search('alpha149', { k: 1, mode: 'lexical' }))[0].path, 'src/f149.ts');
      assert.equal((await engine.search('alpha0', { k: 1, mode: 'lexical' }))[0].path, 'src/f0.ts');
      await engine.close();
    } finally {
      cleanup();
    }
  });

  test('index, edit, delete and search --mode lexical|dense|hybrid; an index without terms is repaired', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, SAMPLE_PROJECT);
      let engine = await openTestEngine(dir);
      await engine.index();
      const lexical = await engine.search('parse the config file', { k: 3, mode: 'lexical' });
      assert.equal(lexical[0].path, 'src/config.ts');
      const dense = await engine.search('parse the config file', { k: 3, mode: 'dense' });
      assert.ok(dense.length > 0);
      const hybrid = await engine.search('parse the config file', { k: 3 });
      assert.equal(hybrid[0].path, 'src/config.ts');
      await assert.rejects(engine.search('x', { mode: 'fuzzy' as never }), /Unknown search mode/);

      // An edit and a delete reach the lexical index at once.
      writeTree(dir, { 'src/zebra.ts': 'export function feedTheZebras(count: number) { return count * 2; }\n' });
      await engine.updatePaths(['src/zebra.ts'], []);
      assert.equal((await engine.search('zebras feeding', { k: 1, mode: 'lexical' }))[0].path, 'src/zebra.ts');
      rmSync(path.join(dir, 'src/zebra.ts'));
      await engine.updatePaths([], ['src/zebra.ts']);
      assert.deepEqual(await engine.search('zebras', { k: 5, mode: 'lexical' }), []);
      await engine.close();

      // Losing the term log (or an index from before it existed, which has no BM25 snapshot
      // either): the next run re-chunks the files, embeds nothing (vectors are cached) and lexical
      // search works again.
      rmSync(path.join(dir, '.loupe', LEXICAL_LOG));
      const manifestFile = path.join(dir, '.loupe', 'manifest.json');
      const m = JSON.parse(readFileSync(manifestFile, 'utf8'));
      rmSync(path.join(dir, '.loupe', m.bm25.name));
      delete m.bm25;
      writeFileSync(manifestFile, JSON.stringify(m));
      engine = await openTestEngine(dir);
      assert.deepEqual(await engine.search('parse the config file', { k: 3, mode: 'lexical' }), []);
      const s = await engine.index();
      assert.equal(s.embedded, 0);
      assert.ok(s.filesChanged > 0);
      assert.equal((await engine.search('parse the config file', { k: 3, mode: 'lexical' }))[0].path, 'src/config.ts');
      const again = await engine.index();
      assert.equal(again.filesChanged, 0, 'covered now: nothing to redo');
      await engine.close();
    } finally {
      cleanup();
    }
  });

  test("edits, deletions and renames left in the journal: after a reopen, lexical results are the reference over the store's live chunks", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const sources = realSources();
      const names = Object.keys(sources).filter(
        (p) => p.startsWith('src/core/lexical/') || /\/(fsutil|debounce|fusion|vector-math)\.ts$/.test(p),
      );
      assert.ok(names.length >= 6, names.join());
      writeTree(dir, Object.fromEntries(names.map((p) => [p, sources[p]])));
      let engine = await openTestEngine(dir);
      await engine.index();
      const storeDir = path.join(dir, '.loupe');
      const check = async (stage: string): Promise<Map<string, [number, number][]>> => {
        await engine.search('warm', { k: 1, mode: 'lexical' }); // the engine builds its BM25 structure (once)
        assert.equal(engine.lexical.built, true);
        const docs = refDocs(engine.store.files, readLog(storeDir));
        assert.equal(docs.length, engine.store.chunkCount, `${stage}: every live chunk has terms`);
        const out = new Map<string, [number, number][]>();
        for (const q of QUERIES) {
          const got = hitsOf(engine.lexical, q, 20);
          assert.deepEqual(got, referenceSearch(docs, queryTerms(q), 20), `${stage}: ${q}`);
          out.set(q, got);
        }
        return out;
      };
      await check('indexed');
      // After the snapshot: an edit, a deletion, a rename and a new file, through the watcher's path.
      const [edited, deleted, renamed] = names;
      const moved = `src/moved/${path.basename(renamed)}`;
      writeTree(dir, {
        [edited]: `${sources[edited]}\nexport function zebraCrossingSignal() { return 'zebra'; }\n`,
        'src/new/zebra-park.ts': 'export const zebraPark = () => "zebra";\n',
      });
      rmSync(path.join(dir, deleted));
      mkdirSync(path.join(dir, 'src/moved'));
      renameSync(path.join(dir, renamed), path.join(dir, moved));
      await engine.updatePaths([edited, 'src/new/zebra-park.ts', moved], [deleted, renamed]);
      assert.ok(engine.store.pendingOps > 0, 'the changes are in the journal, not a snapshot');
      const live = await check('updated in session');
      assert.ok(live.get('zebra')!.length >= 2);
      await engine.close();

      engine = await openTestEngine(dir);
      assert.ok(engine.store.pendingOps > 0, 'the reopened store replayed its journal');
      assert.ok(!engine.store.files.has(deleted) && !engine.store.files.has(renamed) && engine.store.files.has(moved));
      const reopened = await check('reopened');
      // The same chunks with the same scores (ties may list in another order: the build follows the store's order).
      for (const q of QUERIES) assert.deepEqual(new Map(reopened.get(q)), new Map(live.get(q)), q);
      assert.deepEqual(engine.lexical.warnings, []);
      await engine.close();
    } finally {
      cleanup();
    }
  });
});
