import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { globTest, rankedFusionFor, type Engine } from '../src/core/engine.js';
import { mergeAcrossFolders } from '../src/core/fusion.js';
import { analyseQuery, contentKind, rerank, DEFAULT_RANKING, RANKED_FUSION, type RankCandidate } from '../src/core/ranking.js';
import { profileFor } from '../src/core/model-profiles.js';
import type { EmbedderPort } from '../src/core/types.js';
import { mergeResults, type RootedResult } from '../src/extension/passages.js';
import { openTestEngine, tempDir, writeTree } from './support/helpers.js';

describe('content kinds, from path conventions', () => {
  test('tests, docs, examples, config and code', () => {
    const cases: [string, string][] = [
      ['src/config.ts', 'code'],
      ['lib/router/index.js', 'code'],
      ['test/config.test.ts', 'tests'],
      ['src/config.spec.js', 'tests'],
      ['pkg/mux_test.go', 'tests'],
      ['tests/test_utils.py', 'tests'],
      ['src/test/java/org/x/FooTest.java', 'tests'],
      ['spec/thor_spec.rb', 'tests'],
      ['README.md', 'docs'],
      ['docs/guide/intro.rst', 'docs'],
      ['docs/conf.py', 'docs'],
      ['LICENSE', 'docs'],
      ['examples/basic/main.go', 'examples'],
      ['package.json', 'config'],
      ['.github/workflows/ci.yml', 'config'],
      ['Cargo.toml', 'config'],
      ['scripts/build.sh', 'code'],
    ];
    for (const [p, kind] of cases) assert.equal(contentKind(p), kind, p);
  });

  test('path globs: segments, **, braces, plain folders, file names', () => {
    assert.ok(globTest('src/**')('src/a/b.ts'));
    assert.ok(!globTest('src/**')('lib/src.ts'));
    assert.ok(globTest('*.go')('x/y.go'));
    assert.ok(!globTest('*.go')('x/y.gox'));
    assert.ok(globTest('**/*.test.ts')('b.test.ts'));
    assert.ok(globTest('lib/*.{js,ts}')('lib/a.ts'));
    assert.ok(!globTest('lib/*.{js,ts}')('lib/x/a.ts'));
    assert.ok(globTest('src/core')('src/core/ranking.ts'));
    assert.ok(!globTest('src/core')('src/corelib/x.ts'));
  });
});

describe('ranking stage (pure)', () => {
  const cand = (path: string, symbol: string | null, score: number): RankCandidate => ({
    path,
    chunk: { startLine: 1, endLine: 5, symbol, language: 'typescript' },
    score,
  });

  test('a definition whose name has the query words outranks a slightly better fused score', () => {
    const out = rerank('parse the config file', [cand('src/a.ts', 'loadUser', 0.9), cand('src/b.ts', 'ConfigParser.parseFile', 0.8)]);
    assert.equal(out[0].chunk.symbol, 'ConfigParser.parseFile');
    // Without the stage the fused order stands.
    const zero = { ...DEFAULT_RANKING, symbol: 0, symbolCover: 0, path: 0, file: 0, noSymbol: 0 };
    assert.equal(
      rerank('parse the config file', [cand('src/a.ts', 'loadUser', 0.9), cand('src/b.ts', 'ConfigParser.parseFile', 0.8)], zero)[0].chunk
        .symbol,
      'loadUser',
    );
  });

  test('tests and docs step back for code questions, not when the question asks for them', () => {
    const list = () => [
      cand('test/config.test.ts', 'parseConfig', 0.95),
      cand('src/config.ts', 'parseConfig', 0.9),
      cand('README.md', null, 0.97),
    ];
    assert.equal(rerank('parse config', list())[0].path, 'src/config.ts');
    assert.equal(rerank('tests for parse config', list())[0].path, 'test/config.test.ts');
    assert.ok(analyseQuery('where is the readme documentation').asksFor.has('docs'));
    assert.ok(analyseQuery('parseConfig').symbolLike);
    assert.ok(!analyseQuery('parse the config').symbolLike);
  });
});

describe('multi-root merge on one scale', () => {
  const hit = (root: string, path: string, score: number, dense: number, lexical: number, boost = 0): RootedResult => ({
    path,
    startLine: 1,
    endLine: 3,
    symbol: null,
    language: 'typescript',
    score,
    dense,
    lexical,
    boost,
    root,
    rootName: root,
  });

  test("a weak folder's best does not beat a strong folder's second", () => {
    // Per-folder min-max: each folder's best scores 1.0 whatever its raw scores.
    const strong = [hit('/a', 'one.ts', 1.0, 0.82, 14.0), hit('/a', 'two.ts', 0.8, 0.78, 11.0), hit('/a', 'three.ts', 0.1, 0.4, 2.0)];
    const weak = [hit('/b', 'x.ts', 1.0, 0.31, 1.5), hit('/b', 'y.ts', 0.2, 0.2, 0.5)];
    const merged = mergeAcrossFolders([strong, weak], 4);
    assert.deepEqual(
      merged.map((h) => `${h.root}/${h.path}`),
      ['/a/one.ts', '/a/two.ts', '/a/three.ts', '/b/x.ts'],
    );
    assert.deepEqual(
      mergeResults([strong, weak], 2).map((h) => h.path),
      ['one.ts', 'two.ts'],
    );
  });
});

describe('filters and content kinds on the real engine (tiny BERT, tree-sitter, hnswlib)', () => {
  let root: string;
  let cleanup: () => void;
  let engine: Engine;
  const TREE: Record<string, string> = {
    'src/config.ts':
      'export function parseConfigFile(path: string): Record<string, string> {\n  const text = readText(path);\n  return parseConfigText(text);\n}\n\nexport function parseConfigText(text: string): Record<string, string> {\n  const out: Record<string, string> = {};\n  for (const line of text.split("\\n")) {\n    const [k, v] = line.split("=");\n    out[k.trim()] = v.trim();\n  }\n  return out;\n}\n',
    'src/sort.go':
      'package sort\n\n// QuickSort sorts integers.\nfunc QuickSort(xs []int) []int {\n\tif len(xs) < 2 {\n\t\treturn xs\n\t}\n\treturn xs\n}\n',
    'test/config.test.ts':
      'import { parseConfigFile, parseConfigText } from "../src/config";\n\ntest("parse config file", () => {\n  expect(parseConfigText("a=b")).toEqual({ a: "b" });\n  expect(parseConfigFile("x.conf")).toBeDefined();\n});\n',
    'docs/config.md':
      '# Parse config file\n\nCall parseConfigFile to parse a config file: each line is key=value.\nThe parse config file function returns a record.\n',
    'examples/config/main.ts':
      'import { parseConfigFile } from "../../src/config";\n\nexport function exampleParseConfigFile(): void {\n  console.log(parseConfigFile("app.conf"));\n}\n',
  };

  before(async () => {
    ({ dir: root, cleanup } = tempDir());
    writeTree(root, TREE);
    engine = await openTestEngine(root);
    await engine.index();
  });
  after(async () => {
    await engine.close();
    cleanup();
  });

  test("with the ranking stage, hybrid fuses at the model profile's dense weight (EmbeddingGemma 0.8), else RANKED_FUSION", async () => {
    assert.deepEqual(rankedFusionFor(undefined), RANKED_FUSION);
    assert.deepEqual(rankedFusionFor(profileFor('all-MiniLM-L6-v2')), RANKED_FUSION);
    const gemma = rankedFusionFor(profileFor('embeddinggemma-300m'));
    assert.equal(gemma.kind, 'weighted');
    assert.ok(gemma.kind === 'weighted' && gemma.weights?.[0] === 0.8 && Math.abs(gemma.weights[1] - 0.2) < 1e-9, JSON.stringify(gemma));
    // On the real engine: the profile's weight is what search uses when none is given.
    const profile = (engine as unknown as { opts: { embedder: EmbedderPort } }).opts.embedder.profile;
    const keep = profile.rankedFusionDense;
    const order = (rs: { path: string; chunk: { startLine: number } }[]) => rs.map((r) => `${r.path}:${r.chunk.startLine}`).join(' ');
    const weighted = (d: number) => ({ kind: 'weighted' as const, weights: [d, 1 - d], norm: 'minmax' as const });
    const queries = ['parse config file', 'sort integers', 'example of reading the app settings', 'key value lines'];
    let differs = false;
    try {
      for (const q of queries) {
        const byWeight: string[] = [];
        for (const d of [0, 1]) {
          profile.rankedFusionDense = d;
          const implicit = order(await engine.rank(q, 'hybrid', 20));
          assert.equal(implicit, order(await engine.rank(q, 'hybrid', 20, { fusion: weighted(d) })), `${q} at dense weight ${d}`);
          byWeight.push(implicit);
        }
        if (byWeight[0] !== byWeight[1]) differs = true;
      }
      delete profile.rankedFusionDense;
      assert.equal(
        order(await engine.rank(queries[0], 'hybrid', 20)),
        order(await engine.rank(queries[0], 'hybrid', 20, { fusion: RANKED_FUSION })),
      );
    } finally {
      if (keep === undefined) delete profile.rankedFusionDense;
      else profile.rankedFusionDense = keep;
    }
    assert.ok(differs, 'the weight changes some ranking, so the check above can fail');
  });

  test('every result carries its content kind', async () => {
    const results = await engine.search('parse config file', { k: 10 });
    const kinds = new Map(results.map((r) => [r.path, r.kind]));
    assert.equal(kinds.get('src/config.ts'), 'code');
    assert.equal(kinds.get('test/config.test.ts'), 'tests');
    assert.equal(kinds.get('docs/config.md'), 'docs');
  });

  test('a code question ranks the implementation first; docs and tests still answer', async () => {
    const results = await engine.search('parse config file', { k: 10 });
    assert.equal(results[0].path, 'src/config.ts', JSON.stringify(results.slice(0, 3)));
    assert.ok(results.some((r) => r.kind === 'docs') && results.some((r) => r.kind === 'tests'));
    // Without the ranking stage the docs page, which repeats the words, can win.
    const plain = await engine.search('parse config file', { k: 10, ranking: false });
    assert.ok(plain.length >= results.length - 1);
  });

  test('content, language and path filters keep only what they name', async () => {
    const tests = await engine.search('parse config file', { k: 10, filter: { content: ['tests'] } });
    assert.ok(tests.length > 0);
    assert.ok(
      tests.every((r) => r.path === 'test/config.test.ts'),
      JSON.stringify(tests),
    );
    const docs = await engine.search('parse config file', { k: 10, filter: { content: ['docs', 'examples'] } });
    assert.deepEqual([...new Set(docs.map((r) => r.path))].sort(), ['docs/config.md', 'examples/config/main.ts']);
    const go = await engine.search('parse config file', { k: 10, filter: { language: ['go'] } });
    assert.ok(go.length > 0 && go.every((r) => r.language === 'go'));
    const under = await engine.search('parse config file', { k: 10, filter: { path: 'src/**' } });
    assert.ok(under.length > 0 && under.every((r) => r.path.startsWith('src/')));
    const none = await engine.search('parse config file', { k: 10, filter: { path: 'nowhere/**' } });
    assert.deepEqual(none, []);
  });
});

describe('multi-root search on two real engines', () => {
  let a: { root: string; cleanup: () => void; engine: Engine };
  let b: { root: string; cleanup: () => void; engine: Engine };
  const open = async (files: Record<string, string>) => {
    const { dir, cleanup } = tempDir();
    writeTree(dir, files);
    const engine = await openTestEngine(dir);
    await engine.index();
    return { root: dir, cleanup, engine };
  };
  before(async () => {
    // A strong folder: two functions about the question. A weak one: nothing about it.
    a = await open({
      'src/config.ts':
        'export function parseConfigFile(path: string): Record<string, string> {\n  return parseConfigText(readConfigText(path));\n}\n',
      'src/config-text.ts':
        'export function parseConfigText(text: string): Record<string, string> {\n  const config: Record<string, string> = {};\n  for (const line of text.split("\\n")) config[line] = line;\n  return config;\n}\n',
      'src/other.ts': 'export function renderButton(label: string): string {\n  return `<button>${label}</button>`;\n}\n',
    });
    b = await open({
      'lib/sort.go': 'package sort\n\nfunc QuickSort(xs []int) []int {\n\treturn xs\n}\n',
      'lib/notes.go': 'package sort\n\nfunc Notes() string {\n\treturn "text"\n}\n',
      'lib/math.go': 'package sort\n\nfunc Sum(xs []int) int {\n\ts := 0\n\tfor _, x := range xs {\n\t\ts += x\n\t}\n\treturn s\n}\n',
    });
  });
  after(async () => {
    for (const f of [a, b]) {
      await f.engine.close();
      f.cleanup();
    }
  });

  test("the weak folder's best ranks below the strong folder's second", async () => {
    const q = 'parse config file text';
    // Fusion alone (no ranking stage), so that only the merge decides the order.
    const rooted = async (f: typeof a): Promise<RootedResult[]> =>
      (await f.engine.search(q, { k: 5, ranking: false })).map((r) => ({ ...r, root: f.root, rootName: f.root }));
    const [la, lb] = [await rooted(a), await rooted(b)];
    assert.ok(la.length >= 2 && lb.length >= 1);
    // Each folder's best has the top score of its own folder.
    assert.equal(lb[0].path, 'lib/notes.go');
    assert.ok(lb[0].score >= la[1].score, `${lb[0].score} vs ${la[1].score}`);
    const merged = mergeResults([la, lb], 10);
    const firstWeak = merged.findIndex((h) => h.root === b.root);
    assert.ok(firstWeak >= 0);
    const configHits = merged.filter((h) => h.root === a.root && h.path.startsWith('src/config'));
    assert.equal(configHits.length, 2);
    assert.ok(firstWeak > merged.indexOf(configHits[1]), merged.map((h) => `${h.path} ${h.score}`).join(', '));
  });
});
