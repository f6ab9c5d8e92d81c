/**
 * One `loupe search` result per line, whatever the file is called (src/cli/quick.ts `resultLine`,
 * used by the full CLI and the running-engine fast path alike).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resultLine } from '../src/cli/quick.js';

test('a result line: score, path:lines, symbol; a newline or tab in a name is quoted so the line stays one line', () => {
  assert.equal(resultLine({ score: 1.2, path: 'src/a.py', startLine: 1, endLine: 3, symbol: 'add' }), '1.200  src/a.py:1-3  add');
  assert.equal(resultLine({ score: 0.5, path: 'src/b.ts', startLine: 4, endLine: 9, symbol: null }), '0.500  src/b.ts:4-9');
  const odd = resultLine({ score: 0.6, path: 'src/new\nline.js', startLine: 1, endLine: 1, symbol: 'a\tb' });
  assert.equal(odd.split('\n').length, 1);
  assert.equal(odd, '0.600  "src/new\\nline.js":1-1  "a\\tb"');
  assert.equal(
    resultLine({ score: 0, path: 'src/héllo wörld.js', startLine: 2, endLine: 2, symbol: null }),
    '0.000  src/héllo wörld.js:2-2',
  );
});
