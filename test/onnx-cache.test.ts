/**
 * The optimised-model cache of the ONNX Runtime backend (src/adapters/onnx-cache.ts) on the real
 * pieces: the bundled int8 and fp32 all-MiniLM-L6-v2, onnxruntime-node in worker threads, a cache
 * folder of the test's own. A session from the cache must give the vectors a session optimising
 * the model gives; a damaged or partial entry, or a cache that cannot be written, must never
 * change a vector or fail a load.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { OnnxEmbedder, BUNDLED_ONNX_INT8_MODEL, BUNDLED_ONNX_MODEL } from '../src/adapters/onnx-embedder.js';
import {
  beginCacheWrite,
  CACHE_DATA,
  CACHE_META,
  CACHE_MODEL,
  cacheEntryDir,
  publishCacheEntry,
  readCacheEntry,
  vectorsAgree,
  type CacheMeta,
} from '../src/adapters/onnx-cache.js';
import { REPO, tempDir } from './support/helpers.js';

const INT8 = path.join(REPO, BUNDLED_ONNX_INT8_MODEL);
const FP32 = path.join(REPO, BUNDLED_ONNX_MODEL);

const TEXTS = [
  'read a file line by line',
  'def parse_args(argv):\n    parser = argparse.ArgumentParser()\n    return parser.parse_args(argv)',
  'export async function retry<T>(fn: () => Promise<T>, times = 3): Promise<T> { for (;;) { try { return await fn(); } catch {} } }',
  'Ünïcödé, 中文 and emoji 🚀 in one sentence.',
];

/** Vectors of TEXTS (documents and a query) and where the session came from. */
async function embedWith(modelPath: string, optimizedCacheDir: string | null): Promise<{ vectors: Float32Array[]; source: string }> {
  const e = await OnnxEmbedder.load({ modelPath, contexts: 1, optimizedCacheDir });
  try {
    const vectors = [...(await e.embedDocuments(TEXTS)), await e.embedQuery(TEXTS[0])];
    return { vectors, source: await e.firstLaneSource };
  } finally {
    await e.dispose();
  }
}

/** The largest difference between two sets of vectors, element by element. */
function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  a.forEach((v, i) => v.forEach((x, k) => (m = Math.max(m, Math.abs(x - b[i][k])))));
  return m;
}

/** A folder removed after the test. */
function tmp(t: { after: (fn: () => void) => void }): string {
  const { dir, cleanup } = tempDir('loupe-onnx-cache-');
  t.after(cleanup);
  return dir;
}

/** The one entry in a cache folder. */
function onlyEntry(dir: string): string {
  const entries = readdirSync(dir).filter((n) => !n.includes('.tmp-'));
  assert.equal(entries.length, 1, `entries: ${entries.join(', ')}`);
  return path.join(dir, entries[0]);
}

describe('optimised-model cache (ONNX Runtime)', () => {
  for (const [name, model] of [
    ['int8', INT8],
    ['fp32', FP32],
  ] as const) {
    test(`${name}: written by the first session, used by the next; the vectors are those of a session without the cache`, async (t) => {
      const dir = tmp(t);
      const cache = path.join(dir, 'cache');
      const plain = await embedWith(model, null);
      assert.equal(plain.source, 'model');
      assert.ok(!existsSync(cache), 'no cache folder when the cache is off');

      const writing = await embedWith(model, cache);
      assert.equal(writing.source, 'model, cached');
      const entry = onlyEntry(cache);
      for (const f of [CACHE_MODEL, CACHE_DATA, CACHE_META]) assert.ok(existsSync(path.join(entry, f)), f);
      // The weights are in the data file, the graph file is small.
      assert.ok(statSync(path.join(entry, CACHE_DATA)).size > 10 * statSync(path.join(entry, CACHE_MODEL)).size);
      const meta = JSON.parse(readFileSync(path.join(entry, CACHE_META), 'utf8')) as CacheMeta;
      assert.equal(meta.model, model);
      assert.equal(meta.probe.length, 384);

      const cached = await embedWith(model, cache);
      assert.equal(cached.source, 'cache');
      assert.ok(
        maxDiff(plain.vectors, writing.vectors) < 1e-5,
        `writing session: max difference ${maxDiff(plain.vectors, writing.vectors)}`,
      );
      assert.ok(maxDiff(plain.vectors, cached.vectors) < 1e-5, `cached session: max difference ${maxDiff(plain.vectors, cached.vectors)}`);
      plain.vectors.forEach((v, i) => assert.ok(vectorsAgree(v, cached.vectors[i]), `text ${i}`));
    });
  }

  test('a damaged entry (partial weights, a garbled graph, a wrong probe, unreadable meta) is dropped and written again; vectors unchanged', async (t) => {
    const dir = tmp(t);
    const cache = path.join(dir, 'cache');
    const plain = await embedWith(INT8, null);
    assert.equal((await embedWith(INT8, cache)).source, 'model, cached');
    const entry = onlyEntry(cache);
    const damages: [string, () => void][] = [
      ['partial weights', () => truncateSync(path.join(entry, CACHE_DATA), 1 << 20)],
      [
        'a garbled graph of the same size',
        () => writeFileSync(path.join(entry, CACHE_MODEL), Buffer.alloc(statSync(path.join(entry, CACHE_MODEL)).size, 0x5a)),
      ],
      [
        'a probe that disagrees',
        () => {
          const meta = JSON.parse(readFileSync(path.join(entry, CACHE_META), 'utf8')) as CacheMeta;
          meta.probe = meta.probe.map((x, i) => (i % 2 ? -x : x));
          writeFileSync(path.join(entry, CACHE_META), JSON.stringify(meta));
        },
      ],
      ['unreadable meta', () => writeFileSync(path.join(entry, CACHE_META), '{"format":1,')],
      ['no meta', () => writeFileSync(path.join(entry, CACHE_META), '')],
    ];
    for (const [what, damage] of damages) {
      damage();
      const again = await embedWith(INT8, cache);
      assert.equal(again.source, 'model, cached', what);
      assert.ok(maxDiff(plain.vectors, again.vectors) < 1e-5, what);
      assert.equal(onlyEntry(cache), entry, what);
      assert.equal((await embedWith(INT8, cache)).source, 'cache', `${what}: the entry written again is used`);
    }
  });

  test('a cache folder that cannot be written: the model loads and embeds as without a cache', async (t) => {
    const dir = tmp(t);
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const plain = await embedWith(INT8, null);
    const blocked = await embedWith(INT8, path.join(blocker, 'cache'));
    assert.equal(blocked.source, 'model');
    assert.ok(maxDiff(plain.vectors, blocked.vectors) < 1e-5);
  });

  test('entries: whole or nothing, first writer wins, one entry per model file, stale half-written folders go', (t) => {
    const dir = tmp(t);
    const cache = path.join(dir, 'cache');
    const sha = 'ab'.repeat(32);
    const entry = cacheEntryDir(cache, sha, '1.30.0');
    // The model files the entries name exist (an entry of one that is gone is removed, below).
    const model = path.join(dir, 'model.onnx');
    const other = path.join(dir, 'other.onnx');
    writeFileSync(model, 'a model');
    writeFileSync(other, 'another model');
    const meta = {
      model,
      modelSha256: sha,
      ort: '1.30.0',
      level: 'extended' as const,
      probeIds: [1, 2],
      probe: [0.6, 0.8],
      created: '',
    };
    const write = (): string => {
      const folder = beginCacheWrite(entry)!;
      writeFileSync(path.join(folder, CACHE_MODEL), 'graph');
      writeFileSync(path.join(folder, CACHE_DATA), 'weights');
      return folder;
    };
    const first = write();
    const second = write();
    assert.equal(readCacheEntry(entry, sha, '1.30.0'), null, 'nothing before it is published');
    assert.equal(publishCacheEntry(first, entry, meta), true);
    assert.equal(publishCacheEntry(second, entry, meta), false, 'the second writer finds the entry there');
    assert.ok(!existsSync(second), "the second writer's folder is removed");
    assert.deepEqual(readCacheEntry(entry, sha, '1.30.0')?.files, { [CACHE_MODEL]: 5, [CACHE_DATA]: 7 });
    assert.equal(readCacheEntry(entry, sha, '1.31.0'), null, 'another ONNX Runtime');
    assert.equal(readCacheEntry(entry, 'cd'.repeat(32), '1.30.0'), null, 'another model');
    writeFileSync(path.join(entry, CACHE_DATA), 'weight');
    assert.equal(readCacheEntry(entry, sha, '1.30.0'), null, 'a file of another size');

    // An entry of a model file that is gone (an older extension's folder) goes with the next publish;
    // one of another model file that exists stays.
    const gone = { ...meta, model: path.join(dir, 'gone', 'model.onnx'), modelSha256: 'ef'.repeat(32) };
    const kept = { ...meta, model: other, modelSha256: '01'.repeat(32) };
    for (const m of [gone, kept]) {
      const w = beginCacheWrite(cacheEntryDir(cache, m.modelSha256, '1.30.0'))!;
      writeFileSync(path.join(w, CACHE_MODEL), 'graph');
      assert.equal(publishCacheEntry(w, cacheEntryDir(cache, m.modelSha256, '1.30.0'), m), true);
    }
    assert.ok(!existsSync(cacheEntryDir(cache, gone.modelSha256, '1.30.0')), 'the entry of a model that is gone');
    assert.ok(existsSync(cacheEntryDir(cache, kept.modelSha256, '1.30.0')), 'the entry of another model that exists');
    assert.ok(existsSync(entry), 'the first entry stays');

    // A newer ONNX Runtime's entry for the same model file replaces the old one.
    const newer = cacheEntryDir(cache, sha, '1.31.0');
    const writing = beginCacheWrite(newer)!;
    writeFileSync(path.join(writing, CACHE_MODEL), 'graph');
    assert.equal(publishCacheEntry(writing, newer, { ...meta, ort: '1.31.0' }), true);
    assert.ok(!existsSync(entry) && existsSync(newer));

    // A folder left half-written by a killed process two hours ago goes; one being written now stays.
    const stale = path.join(cache, 'x.tmp-old');
    const fresh = path.join(cache, 'x.tmp-new');
    mkdirSync(stale);
    mkdirSync(fresh);
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, old, old);
    const next = beginCacheWrite(entry)!;
    assert.ok(!existsSync(stale) && existsSync(fresh) && existsSync(next));
  });

  test('vectorsAgree: cosine ≥ 0.9999, same length, finite', () => {
    assert.ok(vectorsAgree([1, 0], [1, 0.01]));
    assert.ok(!vectorsAgree([1, 0], [1, 0.1]));
    assert.ok(!vectorsAgree([1, 0], [1, 0, 0]));
    assert.ok(!vectorsAgree([0, 0], [0, 0]));
    assert.ok(!vectorsAgree([], []));
    assert.ok(!vectorsAgree([1, NaN], [1, 0]));
  });
});
