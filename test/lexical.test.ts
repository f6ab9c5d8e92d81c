import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../src/core/store.js';
import * as path from 'node:path';
import { Bm25Index } from '../src/core/lexical/bm25.js';
import { LexicalIndex, LEXICAL_LOG, splitIdentifier, tokenize, queryTerms, pathTerms, type LexicalChunk } from '../src/core/lexical/index.js';
import { openTestEngine, SAMPLE_PROJECT, tempDir, writeTree } from './support/helpers.js';

const SELF = fileURLToPath(import.meta.url);

/** A tree of many small files, each with a distinct word (`alpha0`, `alpha1`, …). */
function manyFiles(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`src/f${i}.ts`] = `export function handler${i}(x: number): number {\n  // alpha${i} marker\n  return x + ${i};\n}\n`;
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
    assert.deepEqual(pathTerms('src/http_client/RetryPolicy.ts'), ['src', 'http_client', 'http', 'client', 'retrypolicy', 'retri', 'polici']);
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
    assert.deepEqual(b.search(['lib'], 5).map(([k]) => k).sort(), [5000, 5001], 'path field');
    const before = b.search(['seven'], 1)[0][1];
    for (let i = 0; i < 1400; i++) b.remove(i); // triggers compaction
    assert.equal(b.size, 102);
    assert.ok(b.search(['seven'], 1)[0][1] < before, 'fewer documents: a term in 1 of 7 is less rare relative to N');
    assert.ok(b.search(['seven'], 200).every(([k]) => k >= 1400), 'removed documents never come back');
    b.add(5000, ['replaced'], []);
    assert.deepEqual(b.search(['rare'], 5).map(([k]) => k), [5001]);
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
      const child = spawn(process.execPath, [SELF], { env: { ...process.env, LOUPE_LEXICAL_CHILD: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const m = JSON.parse(readFileSync(path.join(storeDir, 'manifest.json'), 'utf8')) as { modelId: string; modelName: string; dimensions: number };
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

      // Losing the term log (or an index from before it existed): the next run re-chunks the
      // files, embeds nothing (vectors are cached) and lexical search works again.
      rmSync(path.join(dir, '.loupe', LEXICAL_LOG));
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
});
