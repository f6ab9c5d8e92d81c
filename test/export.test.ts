/**
 * `loupe export --projector`: the files' shapes against a real index (tiny BERT, real chunker and
 * store): row counts, dimension, vectors equal to the store's, metadata escaping of tabs and
 * newlines; the CLI's errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { firstCodeLine, metadataLine, PROJECTOR_COLUMNS, tsvEscape, tsvUnescape, vectorLine } from '../src/core/bench/projector.js';
import { exportProjector } from '../src/cli/export.js';
import { EngineSession } from '../src/extension/engine-session.js';
import { LoupeError } from '../src/core/types.js';
import { REPO, SAMPLE_PROJECT, openTestEngine, tempDir, tinyBertPath, writeTree } from './support/helpers.js';

const BIN = path.join(REPO, 'bin/loupe.js');

describe('projector TSV (pure)', () => {
  test('tabs, newlines, carriage returns and backslashes are escaped and round-trip', () => {
    const raw = 'a\tb\nc\\d\re';
    assert.equal(tsvEscape(raw), 'a\\tb\\nc\\\\d\\re');
    assert.equal(tsvUnescape(tsvEscape(raw)), raw);
    assert.equal(tsvEscape('x\u0000y\u0007z'), 'xyz');
    const line = metadataLine({
      path: 'we\tird\nname.ts',
      symbol: null,
      language: 'typescript',
      startLine: 3,
      endLine: 9,
      firstLine: 'const s = "a\tb";',
    });
    assert.equal(line.split('\t').length, PROJECTOR_COLUMNS.length);
    assert.ok(!line.includes('\n'));
    assert.equal(tsvUnescape(line.split('\t')[0]), 'we\tird\nname.ts');
  });

  test('vector lines and first code lines', () => {
    assert.equal(vectorLine(new Float32Array([0.5, -0.25, NaN])), '0.5\t-0.25\t0');
    assert.equal(firstCodeLine(['', '  ', '  def f():', 'x'], 1, 4), 'def f():');
    assert.equal(firstCodeLine(['a'], 5, 9), '');
    assert.equal(firstCodeLine(['x'.repeat(300)], 1, 1).length, 160);
  });
});

describe('loupe export --projector on a real index', () => {
  let root: string;
  let cleanup: () => void;
  let chunkCount = 0;
  let dims = 0;
  const vectorsByRow: Float32Array[] = [];

  before(async () => {
    ({ dir: root, cleanup } = tempDir());
    writeTree(root, {
      ...SAMPLE_PROJECT,
      // A tab and a newline can be in a file name on Linux; the row must stay one line of 5 fields.
      'odd/tab\there.py': 'def tabbed():\n\treturn "a\\tb"\n',
      'odd/new\nline.py': 'def newline():\n    return 1\n',
    });
    const engine = await openTestEngine(root);
    await engine.index();
    chunkCount = engine.store.chunkCount;
    dims = engine.store.identity.dimensions;
    for (const p of [...engine.store.files.keys()].sort())
      for (const c of engine.store.files.get(p)!.chunks) vectorsByRow.push(engine.store.getVector(c.hash)!);
    await engine.close();
  });
  after(() => cleanup());

  test('row counts match the index, dimension right, vectors equal the store', async () => {
    const out = path.join(root, '..', path.basename(root) + '-projector');
    const s = await exportProjector(root, path.join(root, '.loupe'), out);
    assert.equal(s.rows, chunkCount);
    assert.ok(chunkCount >= 8, `sample project gave ${chunkCount} chunks`);
    assert.equal(s.dimensions, dims);
    const vec = readFileSync(s.files.vectors, 'utf8').trimEnd().split('\n');
    assert.equal(vec.length, chunkCount);
    for (const [i, l] of vec.entries()) {
      const xs = l.split('\t').map(Number);
      assert.equal(xs.length, dims);
      for (let j = 0; j < dims; j++) assert.ok(Math.abs(xs[j] - vectorsByRow[i][j]) <= 1e-6, `row ${i} dim ${j}`);
    }
    const meta = readFileSync(s.files.metadata, 'utf8').trimEnd().split('\n');
    assert.equal(meta[0], 'path\tsymbol\tlanguage\tlines\tfirst_line');
    assert.equal(meta.length, chunkCount + 1);
    for (const l of meta) assert.equal(l.split('\t').length, 5, l);
    const tab = meta.find((l) => l.startsWith('odd/tab\\there.py'));
    assert.ok(tab, 'the tab in the file name is escaped');
    assert.equal(tsvUnescape(tab.split('\t')[0]), 'odd/tab\there.py');
    assert.equal(tab.split('\t')[1], 'tabbed');
    assert.equal(tab.split('\t')[4], 'def tabbed():');
    assert.ok(
      meta.some((l) => l.startsWith('odd/new\\nline.py\tnewline\t')),
      'the newline in the file name is escaped',
    );
    const cfg = JSON.parse(readFileSync(s.files.config, 'utf8')) as {
      embeddings: { tensorShape: number[]; tensorPath: string; metadataPath: string }[];
    };
    assert.deepEqual(cfg.embeddings[0].tensorShape, [chunkCount, dims]);
    assert.equal(cfg.embeddings[0].tensorPath, 'vectors.tsv');
    assert.equal(cfg.embeddings[0].metadataPath, 'metadata.tsv');
  });

  test('the engine process (the VS Code command) writes the same files from its own store; an empty index is a clear error', async () => {
    const { dir: out, cleanup: c2 } = tempDir();
    const { dir: empty, cleanup: c3 } = tempDir();
    const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
    const session = new EngineSession({
      root,
      name: 'sample',
      params: { root, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 },
      logger: quiet,
      onChange: () => {},
    });
    const fresh = new EngineSession({
      root: empty,
      name: 'empty',
      params: { root: empty, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 },
      logger: quiet,
      onChange: () => {},
    });
    try {
      const cli = await exportProjector(root, path.join(root, '.loupe'), path.join(out, 'cli'));
      assert.equal((await session.open()).chunks, chunkCount);
      const viaEngine = await session.exportProjector(path.join(out, 'engine'));
      assert.deepEqual({ ...viaEngine, files: undefined }, { ...cli, files: undefined });
      assert.equal(viaEngine.files.vectors, path.join(out, 'engine', 'vectors.tsv'));
      for (const k of ['vectors', 'metadata', 'config'] as const)
        assert.equal(readFileSync(viaEngine.files[k], 'utf8'), readFileSync(cli.files[k], 'utf8'), `${k} file`);

      await fresh.open();
      await assert.rejects(
        fresh.exportProjector(path.join(out, 'none')),
        (e: unknown) => e instanceof LoupeError && e.code === 'empty-index' && /indexed yet/.test(e.message),
      );
    } finally {
      await session.dispose();
      await fresh.dispose();
      c2();
      c3();
    }
  });

  test('CLI: writes the files; clear errors without an index or --projector', () => {
    const { dir: out, cleanup: c2 } = tempDir();
    try {
      const ok = spawnSync(process.execPath, [BIN, 'export', root, '--projector', out], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`^${chunkCount} chunks × ${dims} dimensions → `));
      const none = spawnSync(process.execPath, [BIN, 'export', out, '--projector', path.join(out, 'p')], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /has no index in .*run `loupe index/);
      const missing = spawnSync(process.execPath, [BIN, 'export', root], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /missing --projector <outdir>/);
    } finally {
      c2();
    }
  });
});
