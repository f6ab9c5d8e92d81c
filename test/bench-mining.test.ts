/**
 * The mined benchmark's pair miner (test/bench/quality/mining.ts) on small files: doc comments
 * leave the indexed copy, targets point at the definitions in that copy, queries are first
 * sentences, junk is named; and the frozen set still hashes to what it says.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { disposeMining, docSummary, junkReason, mineFile, namedIdentifiers, textIdentifiers } from './bench/quality/mining.js';
import { assignHalves, loadMinedSet, MINED_CORPORA } from './bench/quality/mine.js';

after(() => disposeMining());

/** The lines of `text` from a mined definition. */
const linesOf = (text: string, d: { startLine: number; endLine: number }) =>
  text
    .split('\n')
    .slice(d.startLine - 1, d.endLine)
    .join('\n');

describe('mineFile', () => {
  test('Go: the comment above a function leaves the copy; the target is the function there', async () => {
    const src = [
      'package p',
      '',
      '// Sum adds the numbers.',
      '// Longer text.',
      'func Sum(xs []int) int {',
      '\t// inside stays',
      '\treturn 0',
      '}',
      '',
    ].join('\n');
    const m = await mineFile(src, 'go');
    assert.ok(!m.stripped.includes('adds the numbers'));
    assert.ok(m.stripped.includes('// inside stays'));
    const d = m.defs.find((x) => x.name === 'Sum')!;
    assert.equal(linesOf(m.stripped, d), 'func Sum(xs []int) int {\n\t// inside stays\n\treturn 0\n}');
    assert.equal(docSummary(d.doc!, d.name, 'go'), 'adds the numbers.');
  });

  test('Python: docstrings go (a body left empty gets pass); decorators belong to the target', async () => {
    const src = [
      '"""Module doc."""',
      '',
      '@cache',
      'def area(r):',
      '    """Compute the area of a circle.',
      '',
      '    Args: r',
      '    """',
      '    return 3.14 * r * r',
      '',
      'def stub():',
      '    """Nothing here at all."""',
      '',
    ].join('\n');
    const m = await mineFile(src, 'python');
    assert.ok(!m.stripped.includes('"""'));
    const area = m.defs.find((x) => x.name === 'area')!;
    assert.equal(linesOf(m.stripped, area), '@cache\ndef area(r):\n    return 3.14 * r * r');
    assert.equal(docSummary(area.doc!, 'area', 'python'), 'Compute the area of a circle.');
    const stub = m.defs.find((x) => x.name === 'stub')!;
    assert.equal(linesOf(m.stripped, stub), 'def stub():\n    pass');
  });

  test('JavaScript: JSDoc (also across one blank line and on fields) leaves; line comments above a definition too', async () => {
    const src = [
      '/**',
      ' * Parses the {@link Config} file. More text.',
      ' * @param p path',
      ' */',
      '',
      'export function parse(p) {',
      '  return p;',
      '}',
      'class A {',
      '  /** the field */',
      '  x = 1;',
      '  // helper',
      '  run() { return 1; }',
      '}',
      '',
    ].join('\n');
    const m = await mineFile(src, 'javascript');
    assert.ok(!/Parses|the field|helper/.test(m.stripped));
    const d = m.defs.find((x) => x.name === 'parse')!;
    assert.equal(linesOf(m.stripped, d), 'export function parse(p) {\n  return p;\n}');
    assert.equal(docSummary(d.doc!, 'parse', 'javascript'), 'Parses the Config file.');
    assert.equal(m.defs.find((x) => x.name === 'run')!.doc, null);
  });

  test('Rust: /// docs above attributes leave; the attribute stays', async () => {
    const src = [
      '/// Returns the `len` of [`Vec`], e.g. zero.',
      '#[inline]',
      'pub fn size(v: &Vec<u8>) -> usize {',
      '    v.len()',
      '}',
      '',
    ].join('\n');
    const m = await mineFile(src, 'rust');
    assert.equal(m.stripped, '#[inline]\npub fn size(v: &Vec<u8>) -> usize {\n    v.len()\n}\n');
    const d = m.defs[0];
    assert.deepEqual([d.startLine, d.endLine], [2, 4]);
    assert.equal(docSummary(d.doc!, d.name, 'rust'), 'Returns the len of Vec, e.g. zero.');
  });
});

describe('queries', () => {
  test('junk is named', () => {
    assert.equal(junkReason('Returns it.'), 'short');
    assert.equal(junkReason('TODO: make this faster somehow please'), 'marker');
    assert.equal(junkReason('{@inheritDoc} for the whole thing here'), 'marker');
    assert.equal(junkReason('See the other method for all details'), 'marker');
    assert.equal(junkReason('x1 = foo(a2) + bar(b3) * baz(c4) - qux(d5) / 100000'), 'code-like');
    assert.equal(junkReason('Reads the next token from the stream.'), null);
  });

  test('a leading name is dropped only when it is the name', () => {
    assert.equal(docSummary('// Round rounds the decimal.', 'Round', 'go'), 'rounds the decimal.');
    assert.equal(docSummary('"""Update sorted list by adding values."""', 'update', 'python'), 'Update sorted list by adding values.');
    assert.equal(docSummary('/* luaH_get: get a value from a table */', 'luaH_get', 'c'), 'get a value from a table');
  });

  test('identifier-free: the target name or a compound identifier of its lines counts', () => {
    const ids = textIdentifiers('def join!(uri)\n  replace_self(uri)\nend', ['join!']);
    assert.deepEqual(namedIdentifiers('Destructive form of join.', ids), ['join']);
    assert.deepEqual(namedIdentifiers('calls replace_self on it', ids), ['replace_self']);
    assert.deepEqual(namedIdentifiers('Destructive form of a merge.', ids), []);
  });
});

describe('the frozen set', () => {
  test('hashes to what it says, and its halves are the ones the split rule gives', () => {
    const set = loadMinedSet();
    const halves = assignHalves(MINED_CORPORA);
    for (const c of set.corpora) if (c.half !== 'extra') assert.equal(c.half, halves.get(c.name), c.name);
    assert.ok(set.queries.filter((q) => q.corpus !== 'humaneval').length >= 1000);
    assert.ok(new Set(set.corpora.map((c) => c.language)).size >= 8);
  });
});
