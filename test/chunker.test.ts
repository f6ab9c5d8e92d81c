/**
 * The syntax-aware chunker on real web-tree-sitter grammars: symbols and line ranges per
 * language, the coverage property, splitting, merging, fallbacks, token budgets, memory.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TreeSitterChunker } from '../src/adapters/treesitter-chunker.js';
import {
  boundedHeader,
  chunkHeader,
  chunkLineWindows,
  chunkOutline,
  fitToTokenBudget,
  resolveChunkingOptions,
  shortenMiddle,
  splitLines,
} from '../src/core/chunking.js';
import { languageForPath } from '../src/core/languages.js';
import type { Chunk } from '../src/core/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'chunker');
const chunker = new TreeSitterChunker();
after(() => chunker.dispose());

function fixture(name: string): string {
  return readFileSync(path.join(fixtures, name), 'utf8');
}

/** Every non-blank line is in a chunk; chunks are ordered and overlap by at most `overlap` lines; text is exact. */
function assertWellFormed(text: string, chunks: Chunk[], overlap = 0, exactText = true): void {
  const lines = splitLines(text);
  const covered = new Array<boolean>(lines.length + 1).fill(false);
  let prevEnd = 0;
  for (const c of chunks) {
    assert.ok(c.startLine >= 1 && c.endLine <= lines.length && c.startLine <= c.endLine, `range ${c.startLine}-${c.endLine}`);
    assert.ok(
      c.startLine > prevEnd - overlap,
      `chunk ${c.startLine}-${c.endLine} overlaps previous ending at ${prevEnd} by more than ${overlap}`,
    );
    prevEnd = c.endLine;
    if (exactText) assert.equal(c.text, lines.slice(c.startLine - 1, c.endLine).join('\n'));
    for (let i = c.startLine; i <= c.endLine; i++) covered[i] = true;
  }
  lines.forEach((l, i) => assert.ok(l.trim() === '' || covered[i + 1], `line ${i + 1} not covered: ${l}`));
}

function find(chunks: Chunk[], symbol: string): Chunk {
  const c = chunks.find((x) => x.symbol === symbol);
  assert.ok(c, `no chunk ${symbol}; got ${chunks.map((x) => `${x.symbol}@${x.startLine}-${x.endLine}`).join(', ')}`);
  return c;
}

/** Expected [symbol, startLine, endLine] per fixture. */
const EXPECTED: Record<string, { language: string; chunks: [string, number, number][] }> = {
  'sample.ts': {
    language: 'typescript',
    chunks: [
      ['Library', 6, 9],
      ['Library.constructor', 11, 15],
      ['Library.add', 17, 24],
      ['Library.list', 26, 32],
      ['Shelf', 34, 37],
      ['loadLibrary', 39, 46],
      ['countWords', 48, 53],
    ],
  },
  'sample.tsx': {
    language: 'tsx',
    chunks: [
      ['BookList', 8, 16],
      ['Shelf', 18, 32],
    ],
  },
  'sample.jsx': {
    language: 'javascript',
    chunks: [
      ['BookList', 1, 10],
      ['Shelf.constructor', 13, 18],
      ['Shelf.toggle', 20, 25],
      ['Shelf.render', 27, 32],
    ],
  },
  'sample.py': {
    language: 'python',
    chunks: [
      ['Library', 7, 10],
      ['Library.__init__', 12, 16],
      ['Library.normalize', 18, 23],
      ['Library.add', 25, 30],
      ['load_library.clean', 36, 40],
    ],
  },
  'sample.go': {
    language: 'go',
    chunks: [
      ['Library', 8, 12],
      ['Library.Add', 14, 23],
      ['Library.Count', 25, 30],
      ['NewLibrary', 32, 38],
    ],
  },
  'sample.rs': {
    language: 'rust',
    chunks: [
      ['Library', 1, 9],
      ['Library.new', 12, 17],
      ['Library.add', 19, 26],
      ['load_library', 37, 43],
    ],
  },
  'Sample.java': {
    language: 'java',
    chunks: [
      ['Library', 6, 9],
      ['Library.Library', 11, 16],
      ['Library.add', 18, 25],
      ['Library.countWords', 27, 33],
      ['Shelf', 35, 38],
    ],
  },
  'sample.c': {
    language: 'c',
    chunks: [
      ['library', 1, 11],
      ['library_add', 13, 21],
      ['library_name', 23, 29],
      ['main', 31, 38],
    ],
  },
  'sample.cpp': {
    language: 'cpp',
    chunks: [
      ['Library', 7, 9],
      ['Library.Library', 10, 15],
      ['Library.add', 17, 23],
      ['Library.size', 33, 40],
      ['countWords', 42, 47],
    ],
  },
  'Sample.cs': {
    language: 'csharp',
    chunks: [
      ['Library', 6, 10],
      ['Library.Library', 12, 17],
      ['Library.Add', 19, 28],
      ['Words', 30, 40],
    ],
  },
  'sample.rb': {
    language: 'ruby',
    chunks: [
      ['Library', 5, 7],
      ['Library.initialize', 9, 14],
      ['Library.add', 16, 22],
      ['Library.load', 24, 30],
      ['count_words', 32, 37],
    ],
  },
  'sample.php': {
    language: 'php',
    chunks: [
      ['Library', 7, 10],
      ['Library.__construct', 12, 17],
      ['Library.add', 19, 27],
      ['count_words', 29, 35],
    ],
  },
};

describe('languages', () => {
  test('extension table', () => {
    const cases: [string, string][] = [
      ['a/b.ts', 'typescript'],
      ['x.mts', 'typescript'],
      ['x.tsx', 'tsx'],
      ['x.js', 'javascript'],
      ['x.jsx', 'javascript'],
      ['x.mjs', 'javascript'],
      ['x.cjs', 'javascript'],
      ['x.py', 'python'],
      ['x.go', 'go'],
      ['x.rs', 'rust'],
      ['X.java', 'java'],
      ['x.c', 'c'],
      ['x.h', 'c'],
      ['x.cc', 'cpp'],
      ['x.hpp', 'cpp'],
      ['X.cs', 'csharp'],
      ['x.rb', 'ruby'],
      ['Rakefile', 'ruby'],
      ['x.php', 'php'],
      ['README.md', 'text'],
      ['x.json', 'text'],
      ['Makefile', 'text'],
      ['.ts', 'text'],
      ['dir.ts/file', 'text'],
      ['C:\\src\\A.TS', 'typescript'],
    ];
    for (const [p, lang] of cases) assert.equal(languageForPath(p), lang, p);
    assert.equal(chunker.languageFor('src/x.py'), 'python');
  });
});

// A file's short preamble (imports, includes) joins the first definition when both fit: see mergeTinyPieces.
describe('syntax-aware chunks per language', () => {
  for (const [file, exp] of Object.entries(EXPECTED)) {
    test(file, async () => {
      const text = fixture(file);
      const chunks = await chunker.chunkFile(`src/${file}`, text);
      assertWellFormed(text, chunks);
      for (const c of chunks) {
        assert.equal(c.language, exp.language);
        assert.equal(c.path, `src/${file}`);
      }
      for (const [symbol, start, end] of exp.chunks) {
        const c = find(chunks, symbol);
        assert.deepEqual([c.startLine, c.endLine], [start, end], `${file} ${symbol}`);
      }
    });
  }

  test('every fixture in the folder is checked', () => {
    assert.deepEqual(
      readdirSync(fixtures)
        .filter((f) => !f.endsWith('.md'))
        .sort(),
      Object.keys(EXPECTED).sort(),
    );
  });
});

describe('splitting and merging', () => {
  test('a huge function is split at statement boundaries and keeps its symbol', async () => {
    const body: string[] = [];
    for (let i = 0; i < 80; i++) {
      body.push(`  if (value > ${i}) {`, `    total += compute(${i}, value);`, `    log('step ${i}');`, '  }');
    }
    const text = [
      'import { compute, log } from "./x";',
      '',
      'export function huge(value: number): number {',
      '  let total = 0;',
      ...body,
      '  return total;',
      '}',
      '',
    ].join('\n');
    const chunks = await chunker.chunkFile('huge.ts', text);
    assertWellFormed(text, chunks);
    const parts = chunks.filter((c) => c.symbol === 'huge');
    assert.ok(parts.length >= 6, `expected several windows, got ${parts.length}`);
    for (const p of parts) {
      assert.ok(p.endLine - p.startLine + 1 <= 60, 'line budget');
      assert.ok(p.text.length <= 2400, 'character budget');
    }
    // Windows after the first start at an `if` statement (never inside a block or at its `}`).
    for (const p of parts.slice(1)) assert.match(p.text.split('\n')[0], /^ {2}if \(/);
    assert.equal(parts[parts.length - 1].endLine, text.split('\n').length - 1);
  });

  test('a large class: methods become chunks, the class chunk keeps header and fields', async () => {
    const methods = Array.from({ length: 4 }, (_, i) =>
      [
        `  method${i}(x: number): number {`,
        '    const a = x + 1;',
        '    const b = a * 2;',
        '    const c = b - 3;',
        '    return a + b + c;',
        '  }',
        '',
      ].join('\n'),
    );
    const text = ['class Big {', '  private a = 1;', '  private b = 2;', '', ...methods, '}', ''].join('\n');
    const chunks = await chunker.chunkFile('big.ts', text);
    assertWellFormed(text, chunks);
    assert.deepEqual(
      chunks.map((c) => [c.symbol, c.startLine, c.endLine]),
      [
        ['Big', 1, 3],
        ['Big.method0', 5, 10],
        ['Big.method1', 12, 17],
        ['Big.method2', 19, 24],
        ['Big.method3', 26, 33],
      ],
    );
  });

  test('tiny siblings are merged; the merged symbol is the common enclosing scope', async () => {
    const consts = Array.from({ length: 12 }, (_, i) => `export const LIMIT_${i} = ${i};`);
    const fns = Array.from({ length: 6 }, (_, i) => `function f${i}(x: number) {\n  return x + ${i};\n}`);
    const tinyMethods = Array.from({ length: 8 }, (_, i) => `  m${i}() {\n    return ${i};\n  }`);
    const text = [...consts, '', ...fns.join('\n\n').split('\n'), '', 'class Tiny {', ...tinyMethods, '}', ''].join('\n');
    const chunks = await chunker.chunkFile('tiny.ts', text);
    assertWellFormed(text, chunks);
    assert.ok(chunks.length <= 4, `expected few merged chunks, got ${chunks.length}`);
    // Constants and functions at top level merge into chunks without a symbol.
    assert.equal(chunks[0].startLine, 1);
    assert.equal(chunks[0].symbol, null);
    // The methods of Tiny (26 lines) merge into chunks named by the class.
    const tinyChunks = chunks.filter((c) => c.text.includes('m3()'));
    assert.equal(tinyChunks.length, 1);
    assert.equal(tinyChunks[0].symbol, 'Tiny');
  });

  test('a few merged small definitions are named by their names; many by their scope', async () => {
    const two = ['package p', '', 'func a() int {', '\treturn 1', '}', '', 'func b() int {', '\treturn 2', '}', ''].join('\n');
    const chunks = await chunker.chunkFile('two.go', two);
    assertWellFormed(two, chunks);
    assert.deepEqual(
      chunks.map((c) => c.symbol),
      ['a, b'],
    );
    const many = Array.from({ length: 6 }, (_, i) => `func f${i}() int {\n\treturn ${i}\n}`).join('\n\n');
    const manyChunks = await chunker.chunkFile('many.go', many);
    assert.equal(manyChunks.length, 1);
    assert.equal(manyChunks[0].symbol, null);
  });

  test('CommonJS definitions are named, and a doc block one blank line above joins its definition', async () => {
    const body = Array.from({ length: 8 }, (_, i) => `  var x${i} = field + ${i};`);
    const text = [
      '/**',
      ' * Add `field` to the set.',
      ' * @public',
      ' */',
      '',
      'res.vary = function(field){',
      ...body,
      '  return this;',
      '};',
      '',
      '/**',
      ' * Render a view.',
      ' */',
      '',
      'Route.prototype.render = function render(view) {',
      ...body,
      '  return view;',
      '};',
      '',
      '// a plain comment',
      '',
      'exports.load = (name) => {',
      ...body,
      '  return name;',
      '};',
      '',
    ].join('\n');
    const chunks = await chunker.chunkFile('lib/response.js', text);
    assertWellFormed(text, chunks);
    const vary = find(chunks, 'res.vary');
    assert.deepEqual([vary.startLine, vary.endLine], [1, 16], 'the doc block joins res.vary across the blank line');
    const render = find(chunks, 'Route.prototype.render');
    assert.deepEqual([render.startLine, render.endLine], [18, 32]);
    const load = find(chunks, 'exports.load');
    assert.equal(load.endLine, 46);
  });

  test('the chunker version names its rules: other options, another version', () => {
    const a = new TreeSitterChunker();
    const b = new TreeSitterChunker({ maxChunkLines: 31 });
    assert.match(a.version, /^[0-9a-f]{16}$/);
    assert.equal(a.version, chunker.version);
    assert.notEqual(a.version, b.version);
    a.dispose();
    b.dispose();
  });

  test('pure chunkOutline: overlapping and out-of-range definitions are clamped', () => {
    const text = 'a\nb\nc\nd\ne\nf\n';
    const chunks = chunkOutline(
      'x.ts',
      'typescript',
      text,
      [
        { path: ['one'], startLine: 1, endLine: 3, children: [] },
        { path: ['two'], startLine: 3, endLine: 99, children: [] },
      ],
      resolveChunkingOptions({ minChunkLines: 0 }),
    );
    assert.deepEqual(
      chunks.map((c) => [c.symbol, c.startLine, c.endLine]),
      [
        ['one', 1, 3],
        ['two', 4, 6],
      ],
    );
  });

  test('options are validated', () => {
    assert.throws(() => new TreeSitterChunker({ maxChunkLines: 0 }), /maxChunkLines/);
    assert.throws(() => resolveChunkingOptions({ minChunkLines: 100 }), /minChunkLines/);
  });
});

describe('fallbacks', () => {
  test('Markdown splits at headings outside code fences, heading trail as symbol', async () => {
    const long = Array.from({ length: 70 }, (_, i) => (i % 8 === 7 ? '' : `Line ${i} of the usage section, explaining one more thing.`));
    const text = [
      '# Loupe',
      '',
      'Local semantic code search that runs on your machine.',
      'It indexes code with tree-sitter.',
      'Then it embeds chunks.',
      '',
      '## Install',
      '',
      '```sh',
      '# not a heading',
      'npm install loupe',
      '```',
      '',
      'Then run it.',
      'It will index.',
      '',
      '## Usage',
      '',
      ...long,
      '',
    ].join('\n');
    const chunks = await chunker.chunkFile('docs/README.md', text);
    assertWellFormed(text, chunks, 2);
    assert.ok(chunks.every((c) => c.language === 'text'));
    assert.equal(find(chunks, 'Loupe').startLine, 1);
    const install = find(chunks, 'Loupe > Install');
    assert.deepEqual([install.startLine, install.endLine], [7, 15]);
    const usage = chunks.filter((c) => c.symbol === 'Loupe > Usage');
    assert.ok(usage.length >= 2, 'long section split into windows');
    assert.ok(usage.every((c) => c.endLine - c.startLine + 1 <= 40));
    assert.ok(!chunks.some((c) => c.symbol?.includes('not a heading')));
  });

  test('JSON and unknown files become ~40-line windows with small overlap', async () => {
    const obj = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`key${i}`, { value: i, label: `item ${i}` }]));
    const text = JSON.stringify(obj, null, 2);
    const chunks = await chunker.chunkFile('data/config.json', text);
    assertWellFormed(text, chunks, 2);
    assert.ok(chunks.length >= 15);
    assert.ok(chunks.every((c) => c.symbol === null && c.endLine - c.startLine + 1 <= 40 && c.language === 'text'));
  });

  test('bad syntax never throws and still covers the file', async () => {
    const garbage = 'class { def ( }}} <<< fn ::: ;;; \n'.repeat(30) + 'function ok() {\n  return 1;\n}\n' + ')))(((\n'.repeat(10);
    for (const file of [...Object.keys(EXPECTED), 'x.mjs']) {
      const chunks = await chunker.chunkFile(file, garbage);
      assertWellFormed(garbage, chunks);
      assert.ok(chunks.length > 0, file);
    }
    assert.deepEqual(await chunker.chunkFile('empty.ts', ''), []);
    assert.deepEqual(await chunker.chunkFile('blank.py', '\n\n  \n'), []);
  });

  test('a minified file goes to character-capped windows', async () => {
    const statement = 'var a=function(b){return b*2},c=[1,2,3].map(a);console.log(c);';
    const line = statement.repeat(400);
    const text = `${line}\n${line}\n${line}\n`;
    const t0 = performance.now();
    const chunks = await chunker.chunkFile('dist/app.min.js', text);
    assert.ok(performance.now() - t0 < 1000, 'fast');
    assertWellFormed(text, chunks, 0, false);
    assert.equal(chunks.length, 3);
    for (const c of chunks) {
      assert.equal(c.language, 'javascript');
      assert.equal(c.startLine, c.endLine);
      assert.equal(c.text.length, 2400);
      assert.ok(line.startsWith(c.text));
    }
  });

  test('a grammarDir without the grammar falls back to line windows; with it, parses', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'loupe-grammars-'));
    try {
      copyFileSync(path.join(root, 'native', 'grammars', 'tree-sitter-c.wasm'), path.join(dir, 'tree-sitter-c.wasm'));
      const local = new TreeSitterChunker({
        grammarDir: dir,
        webTreeSitterWasm: createRequire(import.meta.url).resolve('web-tree-sitter/tree-sitter.wasm'),
      });
      const c = await local.chunkFile('sample.c', fixture('sample.c'));
      assert.equal(find(c, 'main').startLine, 31);
      const ts = await local.chunkFile('sample.ts', fixture('sample.ts'));
      assertWellFormed(fixture('sample.ts'), ts);
      assert.ok(ts.every((x) => x.symbol === null && x.language === 'typescript'));
      local.dispose();
      // Usable again after dispose: grammars reload lazily.
      assert.equal(find(await local.chunkFile('sample.c', fixture('sample.c')), 'main').endLine, 38);
      local.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('token budget and header', () => {
  const words = (t: string) => t.split(/\s+/).filter(Boolean).length;

  test('chunkHeader', () => {
    assert.equal(chunkHeader({ path: 'src/a.ts', symbol: 'A.b' }), '// src/a.ts · A.b\n');
    assert.equal(chunkHeader({ path: 'src/a.ts', symbol: null }), '// src/a.ts\n');
  });

  test('fitToTokenBudget halves by lines until header + text fits', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `word${i} `.repeat(5).trim());
    const chunk: Chunk = { path: 'a.ts', startLine: 11, endLine: 50, symbol: 'A.b', language: 'typescript', text: lines.join('\n') };
    const header = chunkHeader(chunk);
    const parts = fitToTokenBudget(chunk, words, 30, header);
    assert.ok(parts.length >= 8);
    let next = 11;
    for (const p of parts) {
      assert.ok(words(header + p.text) <= 30);
      assert.equal(p.startLine, next);
      assert.equal(p.text, lines.slice(p.startLine - 11, p.endLine - 10).join('\n'));
      assert.equal(p.symbol, 'A.b');
      next = p.endLine + 1;
    }
    assert.equal(next, 51);
    assert.deepEqual(fitToTokenBudget(chunk, words, 1000, header), [chunk]);
  });

  test('fitToTokenBudget truncates a single over-long line by characters', () => {
    const chunk: Chunk = { path: 'a.js', startLine: 7, endLine: 7, symbol: null, language: 'javascript', text: 'x '.repeat(500).trim() };
    const parts = fitToTokenBudget(chunk, words, 50, '// a.js\n');
    assert.equal(parts.length, 1);
    assert.equal(words('// a.js\n' + parts[0].text), 50);
    assert.deepEqual([parts[0].startLine, parts[0].endLine], [7, 7]);
    // A header that leaves no room is shortened for the fitting, never fatal.
    const tiny = fitToTokenBudget(chunk, words, 2, '// a very long header\n');
    assert.ok(tiny.length >= 1 && tiny.every((p) => p.startLine === 7));
  });

  test('shortenMiddle keeps the first and last segments, else cuts characters', () => {
    assert.equal(shortenMiddle('a/b/c/d/e/f.ts', 100, '/'), 'a/b/c/d/e/f.ts');
    assert.equal(shortenMiddle('a/b/c/d/e/f.ts', 10, '/'), 'a/…/e/f.ts');
    assert.equal(shortenMiddle('abcdefghij', 5, '/'), 'ab…ij');
    assert.ok(shortenMiddle('x'.repeat(1000), 40, '.').length <= 40);
  });

  test('boundedHeader shortens a header that would take over half the budget, from the middle', () => {
    // Roughly a wordpiece tokenizer on paths: one token per 3 characters.
    const tokens = (t: string) => Math.ceil(t.length / 3);
    const normal = { path: 'src/core/engine.ts', symbol: 'Engine.index' };
    assert.equal(boundedHeader(normal, tokens, 256), chunkHeader(normal));
    const deep = {
      path: Array.from({ length: 200 }, (_, i) => `dir${i}`).join('/') + '/leaf.ts',
      symbol: Array.from({ length: 60 }, (_, i) => `Outer${i}`).join('.'),
    };
    const h = boundedHeader(deep, tokens, 256);
    assert.ok(tokens(h) <= 128, `${tokens(h)} tokens: ${h}`);
    assert.ok(h.startsWith('// dir0/…/') && h.includes('leaf.ts'), h);
    assert.ok(h.includes('Outer0.') && h.includes('.Outer59'), h);
    const heading = { path: 'README.md', symbol: 'Intro > ' + 'word '.repeat(3000).trim() };
    assert.ok(tokens(boundedHeader(heading, tokens, 256)) <= 128);
    // The pieces of a chunk with such a header all fit with it.
    const chunk: Chunk = {
      ...deep,
      startLine: 1,
      endLine: 30,
      language: 'typescript',
      text: Array.from({ length: 30 }, (_, i) => `const v${i} = ${i};`).join('\n'),
    };
    for (const p of fitToTokenBudget(chunk, tokens, 256, h)) assert.ok(tokens(h + p.text) <= 256);
  });

  test('pure line windows prefer blank lines', () => {
    const para = (n: number) => Array.from({ length: 12 }, (_, i) => `paragraph ${n} sentence ${i}`);
    const text = [...para(1), '', ...para(2), '', ...para(3), '', ...para(4), ''].join('\n');
    const chunks = chunkLineWindows('notes.txt', 'text', text);
    assertWellFormed(text, chunks);
    assert.deepEqual(
      chunks.map((c) => [c.startLine, c.endLine]),
      [
        [1, 38],
        [40, 51],
      ],
    );
  });
});

describe('resources', () => {
  test('trees are freed: chunking ~1 MB five times keeps RSS flat', async () => {
    const unit = fixture('sample.ts') + '\n' + fixture('sample.ts').replace(/Library/g, 'Archive');
    const text = unit.repeat(Math.ceil(1_000_000 / unit.length));
    // RSS less the V8 heap: the wasm heap and native memory, without JS garbage noise.
    const offHeap = () => {
      const m = process.memoryUsage();
      return m.rss - m.heapTotal;
    };
    await chunker.chunkFile('mem.ts', text);
    const before = offHeap();
    for (let i = 0; i < 5; i++) await chunker.chunkFile('mem.ts', text);
    const grown = (offHeap() - before) / 1e6;
    // Without tree.delete() this grows by ~15 MB per pass.
    assert.ok(grown < 25, `memory outside the JS heap grew ${grown.toFixed(1)} MB`);
  });
});

describe('budgets for slow files', () => {
  const many = (n: number) =>
    Array.from(
      { length: n },
      (_, i) =>
        `export function fn${i}(a: number): number {\n  const b = a * 2;\n  const c = b + ${i};\n  const d = c - 1;\n  return d;\n}\n`,
    ).join('\n');

  test('a file over the line budget is cut into line windows without parsing', async () => {
    const small = new TreeSitterChunker({ maxParseLines: 100 });
    try {
      const text = many(60);
      const chunks = await small.chunkFile('src/many.ts', text);
      assert.deepEqual(chunks, chunkLineWindows('src/many.ts', 'typescript', text));
      // Under the budget the same file is parsed: chunks are named after functions.
      assert.ok((await chunker.chunkFile('src/many.ts', text)).some((c) => c.symbol?.startsWith('fn')));
    } finally {
      small.dispose();
    }
  });

  test('a parse over the time budget is cancelled, the file gets line windows, and the parser works on', async () => {
    const hasty = new TreeSitterChunker({ parseTimeoutMs: 0 });
    try {
      const text = many(3000);
      const t0 = performance.now();
      const chunks = await hasty.chunkFile('src/big.ts', text);
      assert.ok(performance.now() - t0 < 5000);
      assert.deepEqual(chunks, chunkLineWindows('src/big.ts', 'typescript', text));
      // The cancelled parse is not resumed into the next file's tree.
      const ok = new TreeSitterChunker({ parseTimeoutMs: 10_000 });
      const after = await ok.chunkFile('src/small.ts', many(3));
      assert.deepEqual(
        after.map((c) => c.symbol),
        ['fn0', 'fn1', 'fn2'],
      );
      ok.dispose();
    } finally {
      hasty.dispose();
    }
  });

  test('symbols of deeply nested definitions are shortened from the middle', async () => {
    let text = '';
    for (let i = 0; i < 200; i++) text += `class Level${i}WithADescriptiveName {\n  inner${i}() {\n`;
    text += '    return 1;\n' + '  }\n}\n'.repeat(200);
    const chunks = await chunker.chunkFile('src/nested.ts', text);
    const deepest = chunks.find((c) => c.text.includes('return 1;'));
    assert.ok(deepest?.symbol, JSON.stringify(deepest));
    assert.ok(chunks.every((c) => (c.symbol ?? '').length <= 256));
    // The outermost name, then the innermost levels (the last few small levels stay one chunk).
    assert.match(deepest.symbol, /^Level0WithADescriptiveName\.…\..*\.(inner|Level)19\d(WithADescriptiveName)?$/);
  });

  test('a 100k-line function and a file of newlines stay quick', async () => {
    const huge = `function huge() {\n${Array.from({ length: 100_000 }, (_, i) => `  step(${i});`).join('\n')}\n}\n`;
    let t0 = performance.now();
    const chunks = await chunker.chunkFile('src/huge.js', huge);
    const hugeMs = performance.now() - t0;
    assert.ok(chunks.length > 1000 && chunks.every((c) => c.endLine - c.startLine < 60));
    t0 = performance.now();
    const blank = await chunker.chunkFile('src/blank.py', '\n'.repeat(1_000_000));
    const blankMs = performance.now() - t0;
    assert.deepEqual(blank, []);
    console.log(`100k-line function: ${chunks.length} chunks in ${Math.round(hugeMs)} ms; 1M newlines: ${Math.round(blankMs)} ms`);
    assert.ok(hugeMs < 20_000 && blankMs < 10_000);
  });
});
