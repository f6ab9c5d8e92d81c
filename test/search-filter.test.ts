// The search quick pick's filter (src/extension/search-filter.ts): the state its buttons change,
// turned into the engine's SearchFilter and applied by the engine's own test (filterTest), the
// words the title shows, the checks on a typed path glob, and a filtered search through the
// extension's engine session and the real engine process (what the quick pick sends).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { filterTest } from '../src/core/engine.js';
import { CODE_LANGUAGES } from '../src/core/languages.js';
import { contentKind } from '../src/core/ranking.js';
import { EngineSession } from '../src/extension/engine-session.js';
import { SAMPLE_PROJECT, tempDir, writeTree, tinySessionParams } from './support/helpers.js';
import {
  CONTENT_CHOICES,
  describeFilter,
  isFiltered,
  LANGUAGE_CHOICES,
  nextContent,
  NO_FILTER,
  pathGlobProblem,
  toSearchFilter,
  type FilterState,
} from '../src/extension/search-filter.js';

/** A small tree as (path, language) pairs, as the engine's chunks carry them. */
const FILES: [string, string][] = [
  ['src/net/retry.ts', 'typescript'],
  ['src/net/retry.test.ts', 'typescript'],
  ['src/geometry/area.go', 'go'],
  ['src/geometry/area_test.go', 'go'],
  ['src/auth/password.py', 'python'],
  ['tests/test_password.py', 'python'],
  ['README.md', 'text'],
  ['docs/guide.md', 'text'],
  ['package.json', 'text'],
];

/** The files a state keeps, through the engine's own filter. */
function kept(s: FilterState): string[] {
  const t = filterTest(toSearchFilter(s));
  return FILES.filter(([p, language]) => !t || t(p, { language })).map(([p]) => p);
}

const state = (over: Partial<FilterState>): FilterState => ({ ...NO_FILTER, ...over });

describe('filter state → SearchFilter', () => {
  test('no filter limits nothing: no SearchFilter is sent', () => {
    assert.equal(toSearchFilter(NO_FILTER), undefined);
    assert.equal(isFiltered(NO_FILTER), false);
    assert.equal(toSearchFilter(state({ path: '   ' })), undefined, 'a blank path is no limit');
    assert.deepEqual(
      kept(NO_FILTER),
      FILES.map(([p]) => p),
    );
  });

  test('code, tests and docs keep what the engine calls by that kind', () => {
    assert.deepEqual(toSearchFilter(state({ content: 'code' })), { content: ['code'] });
    assert.deepEqual(kept(state({ content: 'code' })), ['src/net/retry.ts', 'src/geometry/area.go', 'src/auth/password.py']);
    assert.deepEqual(kept(state({ content: 'tests' })), ['src/net/retry.test.ts', 'src/geometry/area_test.go', 'tests/test_password.py']);
    assert.deepEqual(kept(state({ content: 'docs' })), ['README.md', 'docs/guide.md']);
  });

  test('languages and a path glob combine with the content kind', () => {
    const s = state({ content: 'tests', languages: ['go', 'python'], path: ' src/** ' });
    assert.deepEqual(toSearchFilter(s), { content: ['tests'], language: ['go', 'python'], path: 'src/**' });
    assert.deepEqual(kept(s), ['src/geometry/area_test.go']);
    assert.deepEqual(kept(state({ path: '*.py' })), ['src/auth/password.py', 'tests/test_password.py']);
    assert.deepEqual(
      kept(state({ path: 'src/geometry' })),
      ['src/geometry/area.go', 'src/geometry/area_test.go'],
      'a plain folder keeps what is under it',
    );
  });

  test('the SearchFilter is a copy: changing it does not change the state', () => {
    const s = state({ languages: ['go'] });
    (toSearchFilter(s)!.language as string[]).push('rust');
    assert.deepEqual(s.languages, ['go']);
  });
});

describe('the buttons and the title', () => {
  test('the content button cycles all → code → tests → docs → all', () => {
    const seen = [NO_FILTER.content];
    for (let i = 0; i < CONTENT_CHOICES.length; i++) seen.push(nextContent(seen.at(-1)!));
    assert.deepEqual(seen, ['all', 'code', 'tests', 'docs', 'all']);
  });

  test('the title says what the search is limited to', () => {
    assert.equal(describeFilter(NO_FILTER), '');
    assert.equal(describeFilter(state({ content: 'code' })), 'code only');
    assert.equal(describeFilter(state({ content: 'docs', languages: ['cpp', 'csharp'], path: 'src/**' })), 'docs only · C++, C# · src/**');
  });

  test('every language the CLI accepts is offered, and only those', () => {
    assert.deepEqual(LANGUAGE_CHOICES.map((l) => l.id).sort(), [...CODE_LANGUAGES, 'text'].sort());
    assert.equal(new Set(LANGUAGE_CHOICES.map((l) => l.label)).size, LANGUAGE_CHOICES.length, 'labels are distinct');
  });
});

describe('a typed path glob', () => {
  test('globs the engine takes are accepted; empty clears', () => {
    for (const g of ['', 'src/**', '*.go', 'test/', 'src/{api,db}/**', 'src\\net\\*.ts', 'a?c.ts'])
      assert.equal(pathGlobProblem(g), undefined, g);
  });

  test('what can never match a relative path is refused with a reason', () => {
    for (const g of ['/home/me/src/**', 'C:\\src\\**', '../other/**', 'src/../x', '[abc].ts', 'src/{api,db/**', 'src/}']) {
      const why = pathGlobProblem(g);
      assert.ok(why && why.length > 10, `${g}: ${why}`);
    }
  });
});

describe('a filtered search through the engine process (what the quick pick sends)', () => {
  const cleanups: (() => void)[] = [];
  after(() => {
    for (const c of cleanups) c();
  });

  test('each filter state keeps only what it names; no filter finds all kinds', async () => {
    const { dir, cleanup } = tempDir('loupe-filter-');
    cleanups.push(cleanup);
    writeTree(dir, {
      ...SAMPLE_PROJECT,
      'src/config.test.ts':
        "import { parseConfigFile } from './config';\n\ntest('parses the settings file', () => {\n  expect(parseConfigFile('a.json')).toEqual({});\n});\n",
      'docs/config.md': '# Configuration\n\nThe settings file is parsed when the program starts. Keys are case sensitive.\n',
    });
    const session = new EngineSession({
      root: dir,
      name: 'filter',
      params: tinySessionParams(dir),
      logger: { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} },
      onChange: () => {},
    });
    cleanups.push(() => void session.dispose());
    await session.open();
    assert.ok((await session.index(() => {}).done)?.chunks, 'indexed');
    const query = 'parse the settings config file';
    const search = (s: FilterState) => session.search(query, 20, undefined, toSearchFilter(s));

    const all = await search(NO_FILTER);
    const kinds = new Set(all.map((h) => contentKind(h.path)));
    for (const k of ['code', 'tests', 'docs'])
      assert.ok(kinds.has(k as never), `unfiltered search finds ${k}: ${all.map((h) => h.path).join(', ')}`);

    for (const content of ['code', 'tests', 'docs'] as const) {
      const hits = await search(state({ content }));
      assert.ok(hits.length > 0, `${content}: something found`);
      assert.deepEqual([...new Set(hits.map((h) => contentKind(h.path)))], [content], `${content}: ${hits.map((h) => h.path).join(', ')}`);
    }
    const goOnly = await search(state({ languages: ['go'] }));
    assert.deepEqual([...new Set(goOnly.map((h) => h.path))], ['src/sort.go']);
    const underSrc = await search(state({ content: 'code', path: 'src/http/**' }));
    assert.deepEqual([...new Set(underSrc.map((h) => h.path))], ['src/http/client.py']);
    assert.deepEqual(await search(state({ content: 'docs', languages: ['go'] })), [], 'nothing is both');
  });
});
