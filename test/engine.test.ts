import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Engine } from '../src/core/engine.js';
import { TreeSitterChunker } from '../src/adapters/treesitter-chunker.js';
import { SAMPLE_PROJECT, openTestEngine, tempDir, writeTree } from './support/helpers.js';

describe('engine on real adapters (tiny BERT, tree-sitter, hnswlib)', () => {
  let root: string;
  let cleanup: () => void;
  let engine: Engine;

  before(async () => {
    ({ dir: root, cleanup } = tempDir());
    writeTree(root, SAMPLE_PROJECT);
    engine = await openTestEngine(root);
  });
  after(async () => {
    await engine.close();
    cleanup();
  });

  test('a cold index embeds every chunk and reports a summary', async () => {
    const progress: string[] = [];
    const s = await engine.index({ onProgress: (p) => progress.push(p.phase) });
    assert.equal(s.files, 5);
    assert.equal(s.filesChanged, 5);
    assert.ok(s.chunks >= 8, `expected at least 8 chunks, got ${s.chunks}`);
    assert.equal(s.embedded + s.cached, s.chunks);
    assert.ok(s.embedded > 0);
    assert.equal(progress[0], 'scan');
    assert.equal(progress.at(-1), 'done');
    assert.deepEqual(engine.state, { kind: 'ready', chunks: engine.store.chunkCount, files: 5 });
  });

  test('a query in plain words finds the function that does it', async () => {
    const cases: [string, string, string][] = [
      ['parse config file', 'src/config.ts', 'parseConfigFile'],
      ['fetch a web page body', 'src/http/client.py', 'download_url'],
      ['sort integers quickly', 'src/sort.go', 'QuickSort'],
      ['authenticate user with password', 'src/auth.rs', 'Session'], // a small impl block stays one chunk,
    ];
    for (const [query, file, symbol] of cases) {
      const results = await engine.search(query, { k: 3 });
      assert.ok(results.length > 0, query);
      assert.equal(results[0].path, file, `${query} → ${JSON.stringify(results[0])}`);
      assert.equal(results[0].symbol, symbol, `${query} → ${JSON.stringify(results[0])}`);
    }
    // A small class stays one chunk (methods included); the hit must cover the method's lines.
    const [top] = await engine.search('remove account preferences', { k: 3 });
    assert.equal(top.path, 'src/config.ts');
    assert.ok(top.symbol?.startsWith('ConfigStore') && top.startLine <= 16 && top.endLine >= 20, JSON.stringify(top));
  });

  test('results follow the CLI contract: relative paths, 1-based inclusive lines, best first', async () => {
    const results = await engine.search('parse config file', { k: 10 });
    const top = results[0];
    // The contract's fields, plus only the fields added since (never renamed).
    const keys = Object.keys(top);
    for (const f of ['endLine', 'language', 'path', 'score', 'startLine', 'symbol']) assert.ok(keys.includes(f), f);
    assert.deepEqual(
      keys.filter((f) => !['endLine', 'language', 'path', 'score', 'startLine', 'symbol', 'kind', 'dense', 'lexical', 'boost'].includes(f)),
      [],
    );
    assert.equal(top.kind, 'code');
    assert.equal(top.language, 'typescript');
    // parseConfigFile spans lines 3-7 of the fixture (JSDoc + function); the hit must cover the function.
    assert.ok(top.startLine <= 4 && top.endLine >= 7 && top.endLine <= 8, JSON.stringify(top));
    for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].score >= results[i].score);
    for (const r of results) assert.ok(!path.isAbsolute(r.path) && !r.path.includes('\\'));
  });

  test('a warm re-index with nothing changed embeds nothing', async () => {
    const s = await engine.index();
    assert.equal(s.filesChanged, 0);
    assert.equal(s.embedded, 0);
  });

  test('an edit re-embeds only the changed chunks and is searchable at once', async () => {
    const file = path.join(root, 'src/sort.go');
    writeFileSync(
      file,
      SAMPLE_PROJECT['src/sort.go'] +
        `
// BubbleSort sorts a slice of strings slowly.
func BubbleSort(words []string) {
\tfor i := range words {
\t\tfor j := 0; j < len(words)-1-i; j++ {
\t\t\tif words[j] > words[j+1] {
\t\t\t\twords[j], words[j+1] = words[j+1], words[j]
\t\t\t}
\t\t}
\t}
}
`,
    );
    const s = await engine.updatePaths(['src/sort.go'], []);
    assert.equal(s.filesChanged, 1);
    assert.ok(s.embedded >= 1 && s.embedded <= 2, `embedded ${s.embedded}`);
    assert.ok(s.cached >= 1, 'QuickSort chunk should come from the cache');
    // The query avoids `sort`: the one-line `package sort` chunk would share it with the path header.
    const r = await engine.search('swap adjacent words', { k: 1 });
    assert.equal(r[0].symbol, 'BubbleSort');
  });

  test('a renamed file costs no embedding and moves in the results', async () => {
    mkdirSync(path.join(root, 'lib'), { recursive: true });
    renameSync(path.join(root, 'src/auth.rs'), path.join(root, 'lib/session.rs'));
    const s = await engine.index();
    assert.equal(s.filesDeleted, 1);
    assert.equal(s.filesChanged, 1);
    assert.equal(s.embedded, 0, 'renamed content must come from the cache');
    const r = await engine.search('authenticate user with password', { k: 1 });
    assert.equal(r[0].path, 'lib/session.rs');
    assert.ok(!engine.store.files.has('src/auth.rs'));
  });

  test('a deleted file disappears from results', async () => {
    rmSync(path.join(root, 'src/http/client.py'));
    const s = await engine.index();
    assert.equal(s.filesDeleted, 1);
    const r = await engine.search('fetch a web page body', { k: 10 });
    assert.ok(r.every((x) => x.path !== 'src/http/client.py'));
  });

  test('a branch switch and back costs no embedding (content-hash cache)', async () => {
    const cfg = path.join(root, 'src/config.ts');
    const original = SAMPLE_PROJECT['src/config.ts'];
    writeFileSync(cfg, original.replace('parseConfigFile', 'loadYamlSettings').replace('JSON.parse(text)', 'parseYaml(text)'));
    const onBranch = await engine.index();
    assert.ok(onBranch.embedded >= 1);
    writeFileSync(cfg, original);
    const back = await engine.index();
    assert.equal(back.filesChanged, 1);
    assert.equal(back.embedded, 0, 'switching back must reuse cached vectors');
  });

  test('an index survives reopening: same results after a restart', async () => {
    const before = await engine.search('parse config file', { k: 5 });
    await engine.close();
    engine = await openTestEngine(root);
    assert.equal(engine.store.report.warnings.length, 0, engine.store.report.warnings.join('\n'));
    const afterResults = await engine.search('parse config file', { k: 5 });
    assert.deepEqual(afterResults, before);
    const s = await engine.index();
    assert.equal(s.embedded, 0);
  });

  test('new chunking rules re-chunk unchanged files at the next run; unchanged chunks keep their vectors', async () => {
    const { dir, cleanup: done } = tempDir();
    try {
      writeTree(dir, {
        'a.go': 'package a\n\nfunc one() int {\n\treturn 1\n}\n\nfunc two() int {\n\treturn 2\n}\n',
        'b.py': `def parse_config(path):\n${'    x = 1\n'.repeat(6)}    return path\n`,
      });
      let e = await openTestEngine(dir);
      await e.index();
      const before = new Map([...e.store.files].map(([p, f]) => [p, f.chunks.map((c) => [c.startLine, c.endLine, c.symbol])]));
      await e.close();
      // Same files, other rules (no merging of small definitions): every file is chunked again.
      e = await openTestEngine(dir, { chunker: new TreeSitterChunker({ minChunkLines: 1 }) });
      const s = await e.index();
      assert.equal(s.filesChanged, 2, 'both files are re-chunked');
      assert.equal(s.embedded + s.cached, s.chunks);
      assert.ok(s.cached >= 1, 'b.py cuts the same chunk: its vector comes from the cache');
      const after = new Map([...e.store.files].map(([p, f]) => [p, f.chunks.map((c) => [c.startLine, c.endLine, c.symbol])]));
      assert.deepEqual(after.get('b.py'), before.get('b.py'));
      assert.notDeepEqual(after.get('a.go'), before.get('a.go'));
      assert.equal((await e.index()).filesChanged, 0, 'and then it is up to date');
      await e.close();
    } finally {
      done();
    }
  });

  test('cancelling an index run keeps the committed batches and the next run finishes', async () => {
    const { dir, cleanup: done } = tempDir();
    try {
      for (let i = 0; i < 40; i++) {
        writeTree(dir, {
          [`m${i}.py`]: `def handler_${i}(request):\n    return process_order_${i}(request.user, ${i})\n\n\ndef helper_${i}(value):\n    return value * ${i} + ${i * 7}\n`,
        });
      }
      const e = await openTestEngine(dir, { batchSize: 4 });
      const ac = new AbortController();
      let batches = 0;
      await assert.rejects(
        e.index({
          signal: ac.signal,
          onProgress: (p) => {
            if (p.phase === 'embed' && ++batches === 3) ac.abort();
          },
        }),
        (err: Error) => err.name === 'AbortError',
      );
      const kept = e.store.files.size;
      assert.ok(kept > 0 && kept < 40, `kept ${kept}`);
      const s = await e.index();
      assert.equal(e.store.files.size, 40);
      assert.ok(s.filesChanged <= 40 - kept + 1, `re-did ${s.filesChanged} files`);
      await e.close();
    } finally {
      done();
    }
  });
});

describe('engine: pause and resume', () => {
  test('pausing stops embedding after the unit in flight; resuming finishes the run', async () => {
    const { dir, cleanup } = tempDir();
    try {
      for (let i = 0; i < 12; i++)
        writeTree(dir, {
          [`f${i}.js`]: `function compute${i}(x) {\n  return x * ${i} + ${i * 3};\n}\n\nfunction other${i}(y) {\n  return y - ${i};\n}\n`,
        });
      const e = await openTestEngine(dir, { batchSize: 2 });
      const states: string[] = [];
      e.onState((s) => states.push(s.kind));
      let embeddedAtPause = -1;
      const run = e.index({
        onProgress: (p) => {
          if (p.phase === 'embed' && embeddedAtPause < 0) {
            embeddedAtPause = p.chunksEmbedded;
            e.pause('test pause');
          }
        },
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(e.state, { kind: 'paused', reason: 'test pause' });
      const frozen = e.store.cachedVectors;
      await new Promise((r) => setTimeout(r, 300));
      // At most the unit that was already in flight lands while paused.
      assert.ok(e.store.cachedVectors - frozen <= 2, `${e.store.cachedVectors} vs ${frozen}`);
      e.resume();
      const s = await run;
      assert.equal(e.store.files.size, 12);
      assert.equal(s.embedded + s.cached, s.chunks);
      assert.ok(states.includes('paused') && states.at(-1) === 'ready', states.join(','));
      await e.close();
    } finally {
      cleanup();
    }
  });
});

describe('engine: bad input is skipped with a reason, nothing is lost', () => {
  test('binary, huge and non-UTF-8 files', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, {
        'ok.js': 'function addNumbers(a, b) {\n  return a + b;\n}\n',
        'blob.dat': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]),
        'big.js': '// ' + 'x'.repeat(2 * 1024 * 1024),
        'latin1.py': Buffer.from('# caf\xe9 cr\xe8me\ndef brew_coffee():\n    return "caf\xe9"\n', 'latin1'),
      });
      const e = await openTestEngine(dir);
      const s = await e.index();
      const indexed = [...e.store.files.keys()].sort();
      assert.ok(indexed.includes('ok.js'));
      assert.ok(indexed.includes('latin1.py'), 'non-UTF-8 text is read, not dropped');
      assert.ok(!indexed.includes('blob.dat') && !indexed.includes('big.js'));
      assert.ok(
        s.warnings.some((w) => w.startsWith('big.js') && w.includes('too-large')),
        s.warnings.join('\n'),
      );
      assert.ok(
        s.warnings.some((w) => w.startsWith('blob.dat') && w.includes('binary')),
        s.warnings.join('\n'),
      );
      const r = await e.search('brew coffee', { k: 1 });
      assert.equal(r[0].path, 'latin1.py');
      await e.close();
    } finally {
      cleanup();
    }
  });

  test(
    'an unreadable folder is skipped with a warning (not as root: root reads every folder)',
    { skip: process.getuid?.() === 0 && 'running as root, which reads every folder' },
    async () => {
      const { dir, cleanup } = tempDir();
      const locked = path.join(dir, 'secret');
      try {
        writeTree(dir, { 'ok.js': 'function addNumbers(a, b) {\n  return a + b;\n}\n', 'secret/locked.ts': 'export const x = 1;\n' });
        chmodSync(locked, 0);
        const e = await openTestEngine(dir);
        const s = await e.index();
        assert.deepEqual([...e.store.files.keys()], ['ok.js']);
        assert.ok(
          s.warnings.some((w) => w.startsWith('secret') && w.includes('unreadable')),
          s.warnings.join('\n'),
        );
        await e.close();
      } finally {
        if (existsSync(locked)) chmodSync(locked, 0o755);
        cleanup();
      }
    },
  );

  test('the store folder is the only place written in the tree, and a custom store keeps the tree untouched', async () => {
    const { dir, cleanup } = tempDir();
    const { dir: store, cleanup: cleanStore } = tempDir();
    try {
      writeTree(dir, { 'a.ts': 'export function greet(name: string) {\n  return `hi ${name}`;\n}\n' });
      const { readdirSync } = await import('node:fs');
      const before = readdirSync(dir).sort();
      const e = await openTestEngine(dir, { storeDir: store });
      await e.index();
      await e.close();
      assert.deepEqual(readdirSync(dir).sort(), before);
      assert.ok(readdirSync(store).includes('manifest.json'));
      const e2 = await openTestEngine(dir);
      await e2.index();
      await e2.close();
      assert.deepEqual(readdirSync(dir).sort(), [...before, '.loupe'].sort());
    } finally {
      cleanup();
      cleanStore();
    }
  });

  test('a store copied to another root still maps results to relative paths', async () => {
    const { dir, cleanup } = tempDir();
    const { dir: copy, cleanup: c2 } = tempDir();
    try {
      writeTree(dir, SAMPLE_PROJECT);
      const e = await openTestEngine(dir);
      await e.index();
      await e.close();
      cpSync(dir, copy, { recursive: true });
      const e2 = await openTestEngine(copy);
      const r = await e2.search('parse config file', { k: 1 });
      assert.equal(r[0].path, 'src/config.ts');
      await e2.close();
    } finally {
      cleanup();
      c2();
    }
  });
});
