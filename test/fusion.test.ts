import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuse, rrf, weightedSum, type Ranked } from '../src/core/fusion.js';

const list = (keys: string[], scores?: number[]): Ranked<string>[] =>
  keys.map((k, i) => ({ key: k, item: k, score: scores?.[i] ?? keys.length - i }));

test('rrf: agreement wins, a single strong list still counts, weights tilt it', () => {
  const dense = list(['a', 'b', 'c']);
  const lexical = list(['c', 'd', 'a']);
  const out = rrf([dense, lexical], 60);
  assert.deepEqual(
    out.map((r) => r.key),
    ['a', 'c', 'b', 'd'],
  );
  assert.ok(Math.abs(out[0].score - (1 / 61 + 1 / 63)) < 1e-12);
  assert.deepEqual(
    rrf([dense, lexical], 60, [0.01, 1])
      .map((r) => r.key)
      .slice(0, 3),
    ['c', 'd', 'a'],
  );
  assert.deepEqual(rrf([], 60), []);
});

test('weighted sum: min-max and z-score normalisation, missing items get the floor', () => {
  const dense = list(['a', 'b', 'c'], [0.9, 0.5, 0.4]);
  const lexical = list(['b', 'd'], [20, 2]);
  const mm = weightedSum([dense, lexical], [0.5, 0.5], 'minmax');
  assert.equal(mm[0].key, 'b'); // 0.5·0.2 + 0.5·1
  assert.ok(Math.abs(mm[0].score - 0.6) < 1e-9);
  assert.equal(mm.find((r) => r.key === 'd')!.score, 0);
  const z = weightedSum([dense, lexical], [1, 0], 'zscore');
  assert.deepEqual(z.map((r) => r.key).slice(0, 3), ['a', 'b', 'c']);
  assert.deepEqual(fuse([dense, lexical], { kind: 'weighted', weights: [0, 1] })[0].key, 'b');
  assert.deepEqual(fuse([dense, lexical], { kind: 'rrf' })[0].key, 'b');
});
