// Stronger models: profiles (prefixes, Matryoshka sizes), cut vectors through the real runtime,
// installing an offline-built GGUF as a catalogue model, and `--model <id>`.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LlamaEmbedder } from '../src/adapters/llama-embedder.js';
import { checkDimensions, profileFor } from '../src/core/model-profiles.js';
import { CATALOG, ModelManager, resolveModelArg, type CatalogEntry } from '../src/core/models/manager.js';
import { sha256File } from '../src/core/fsutil.js';
import { LoupeError } from '../src/core/types.js';
import { truncateNormalize } from '../src/core/vector-math.js';
import { describeModel, modelTier, tierAdvice } from '../src/core/models/tiers.js';
import { renderStatus } from '../src/extension/status-view.js';
import { runModelsCli } from '../src/cli/models.js';
import { main } from '../src/cli/main.js';
import { TINY_BERT_DIMENSIONS } from '../src/tools/tiny-bert.js';
import { SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { installedModelOfIndex } from '../src/adapters/open-engine.js';
import { Store } from '../src/core/store.js';

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

describe('Matryoshka cut', () => {
  test('truncateNormalize keeps the prefix direction and unit length; bad sizes throw', () => {
    const v = new Float32Array([3, 4, 12, 0]);
    const cut = truncateNormalize(v, 2);
    assert.deepEqual(Array.from(cut), [Math.fround(0.6), Math.fround(0.8)]);
    assert.ok(Math.abs(norm(cut) - 1) < 1e-6);
    assert.deepEqual(Array.from(truncateNormalize(new Float32Array([0, 0, 1]), 2)), [0, 0]);
    assert.throws(() => truncateNormalize(v, 5), RangeError);
    assert.throws(() => truncateNormalize(v, 0), RangeError);
    assert.throws(() => truncateNormalize(v, 1.5), RangeError);
  });

  test('checkDimensions: whole size passes, trained sizes cut, others refused with the reason', () => {
    const gemma = profileFor('embeddinggemma-300m');
    assert.equal(checkDimensions('g', 768, gemma, undefined), undefined);
    assert.equal(checkDimensions('g', 768, gemma, 768), undefined);
    assert.equal(checkDimensions('g', 768, gemma, 256), 256);
    assert.throws(() => checkDimensions('g', 768, gemma, 300), /trained for 768, 512, 256, 128/);
    assert.throws(() => checkDimensions('m', 384, profileFor('all-MiniLM-L6-v2'), 128), /not trained to be cut/);
  });

  test('profiles: EmbeddingGemma and nomic prefixes and sizes; the catalogue shares them', () => {
    const g = profileFor('embeddinggemma-300m');
    assert.equal(g.queryPrefix, 'task: code retrieval | query: ');
    assert.equal(g.documentPrefix, 'title: none | text: ');
    assert.deepEqual(g.matryoshkaDims, [768, 512, 256, 128]);
    // A copy: changing one profile does not change the table.
    g.matryoshkaDims!.pop();
    assert.deepEqual(profileFor('x', 'embeddinggemma-300m.Q8_0.gguf').matryoshkaDims, [768, 512, 256, 128]);
    const n = profileFor('nomic-embed-text-v1.5');
    assert.deepEqual([n.queryPrefix, n.documentPrefix], ['search_query: ', 'search_document: ']);
    const entry = CATALOG.find((c) => c.id === 'nomic-embed-text-v1.5')!;
    assert.equal(entry.profile.documentPrefix, 'search_document: ');
    for (const c of CATALOG) for (const b of c.builds ?? []) assert.match(b.sha256, /^[0-9a-f]{64}$/, `${c.id} ${b.file}`);
  });
});

describe('LlamaEmbedder: prefixes and cut vectors through node-llama-cpp (generated tiny BERT)', () => {
  test('the profile prefixes are what the model sees: a query equals its prefix embedded as a document', async () => {
    const e = await LlamaEmbedder.load({
      modelPath: tinyBertPath(),
      gpu: false,
      contexts: 1,
      threadsPerContext: 1,
      profile: { queryPrefix: 'parse config ', documentPrefix: '' },
    });
    try {
      const q = await e.embedQuery('file');
      const [d] = await e.embedDocuments(['parse config file']);
      const [bare] = await e.embedDocuments(['file']);
      assert.deepEqual(Array.from(q), Array.from(d));
      assert.notDeepEqual(Array.from(q), Array.from(bare));
    } finally {
      await e.dispose();
    }
  });

  test('dimensions: vectors cut to a trained size and renormalised; a new model id; untrained sizes refused', async () => {
    const opts = { modelPath: tinyBertPath(), gpu: false as const, contexts: 1, threadsPerContext: 1 };
    const whole = await LlamaEmbedder.load({ ...opts, profile: { matryoshkaDims: [TINY_BERT_DIMENSIONS, 64] } });
    const cut = await LlamaEmbedder.load({ ...opts, profile: { matryoshkaDims: [TINY_BERT_DIMENSIONS, 64] }, dimensions: 64 });
    try {
      assert.equal(cut.dimensions, 64);
      assert.notEqual(cut.modelId, whole.modelId);
      const text = 'function parseConfigFile(path) { return readJson(path) }';
      const [w] = await whole.embedDocuments([text]);
      const [c] = await cut.embedDocuments([text]);
      assert.equal(c.length, 64);
      assert.ok(Math.abs(norm(c) - 1) < 1e-5, `norm ${norm(c)}`);
      const expected = truncateNormalize(w, 64);
      for (let i = 0; i < 64; i++) assert.ok(Math.abs(c[i] - expected[i]) < 1e-6);
      assert.equal((await cut.embedQuery('parse config')).length, 64);
    } finally {
      await whole.dispose();
      await cut.dispose();
    }
    await assert.rejects(
      LlamaEmbedder.load({ ...opts, dimensions: 64 }),
      (e: unknown) => e instanceof LoupeError && e.code === 'model-dimensions' && /not trained to be cut/.test(e.message),
    );
  });
});

describe('installing an offline-built GGUF as a catalogue model', () => {
  const t = tempDir('loupe-tiers-');
  after(() => t.cleanup());

  test('known build recognised by sha256; unknown refused unless allowed; not-GGUF refused; --model <id> resolves', async () => {
    const src = path.join(t.dir, 'built.gguf');
    copyFileSync(tinyBertPath(), src);
    const sha = await sha256File(src);
    const entry: CatalogEntry = {
      ...CATALOG.find((c) => c.id === 'embeddinggemma-300m')!,
      builds: [{ sha256: sha, file: 'tiny.Q8_0.gguf', bytes: 1, quantisation: 'Q8_0', source: 'test build' }],
    };
    const mm = new ModelManager({ dir: path.join(t.dir, 'models'), catalog: [entry] });

    const notGguf = path.join(t.dir, 'model.safetensors');
    writeFileSync(notGguf, '{"not": "a gguf"}');
    await assert.rejects(
      mm.installFromFile(entry.id, notGguf),
      (e: unknown) => e instanceof LoupeError && e.code === 'model-not-gguf' && /not a GGUF model file/.test(e.message),
    );
    assert.throws(() => resolveModelArg(entry.id, mm), /not installed: loupe models install embeddinggemma-300m/);

    const rec = await mm.installFromFile(entry.id, src);
    assert.equal(rec.file, 'tiny.Q8_0.gguf');
    assert.equal(rec.sha256, sha);
    assert.equal(rec.source, 'test build');
    assert.ok(existsSync(rec.path) && !existsSync(`${rec.path}.part`));
    assert.equal(await sha256File(rec.path), sha);
    assert.equal(JSON.parse(readFileSync(`${rec.path}.loupe.json`, 'utf8')).source, 'test build');
    assert.equal(resolveModelArg('EmbeddingGemma-300M', mm), rec.path);
    assert.equal(resolveModelArg(src, mm), src);

    const other = path.join(t.dir, 'other.gguf');
    writeFileSync(other, Buffer.concat([readFileSync(src), Buffer.from([0])]));
    await assert.rejects(
      mm.installFromFile(entry.id, other),
      (e: unknown) => e instanceof LoupeError && e.code === 'unknown-build' && /--allow-unknown/.test(e.message),
    );
    const unverified = await mm.installFromFile(entry.id, other, { allowUnknown: true });
    assert.match(unverified.source!, /^unverified local file/);
    assert.equal(mm.installed().length, 1, 'the new file replaces the old one');
    assert.ok(!existsSync(rec.path));
  });

  test('CLI: models install --from, then index --model <id> --dims refused for an uncut model, and a bad --dims', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false };
    const dir = path.join(t.dir, 'cli-models');
    assert.equal(await runModelsCli(['install', 'embeddinggemma-300m', '--from', path.join(t.dir, 'nope.gguf'), '--dir', dir], io), 1);
    assert.match(err.join('\n'), /No such file/);
    const fake = path.join(t.dir, 'fake.gguf');
    writeFileSync(fake, 'GGUF not really');
    assert.equal(await runModelsCli(['install', 'embeddinggemma-300m', '--from', fake, '--dir', dir], io), 1);
    assert.match(err.join('\n'), /not a known build of EmbeddingGemma-300M/);
    const prev = process.env.LOUPE_MODELS_DIR;
    process.env.LOUPE_MODELS_DIR = dir;
    try {
      err.length = 0;
      assert.equal(await main(['index', t.dir, '--model', 'nomic-embed-text-v1.5'], io), 1);
      assert.match(err.join('\n'), /nomic-embed-text-v1\.5 is not installed: loupe models install nomic-embed-text-v1\.5/);
      err.length = 0;
      assert.equal(await main(['index', t.dir, '--dims', 'x'], io), 2);
      assert.match(err.join('\n'), /--dims must be a positive integer/);
      err.length = 0;
      assert.equal(await main(['index', t.dir, '--model', tinyBertPath(), '--dims', '64', '--store', path.join(t.dir, 'store')], io), 1);
      assert.match(err.join('\n'), /not trained to be cut/);
    } finally {
      if (prev === undefined) delete process.env.LOUPE_MODELS_DIR;
      else process.env.LOUPE_MODELS_DIR = prev;
    }
  });
});

describe('an index built by an installed model is searched with it when no --model is given', () => {
  test('loupe index --model <installed id>, then loupe search and loupe status name no model; nothing installed that matches gives advice', async (t) => {
    const { dir, cleanup } = tempDir('loupe-own-model-');
    t.after(cleanup);
    const models = path.join(dir, 'models');
    const root = path.join(dir, 'repo');
    writeTree(root, SAMPLE_PROJECT);
    const store = path.join(dir, 'store');
    // The tiny BERT installed under a catalogue id (unverified): its id and file name are not the
    // name the index records (its GGUF general.name), so the match reads the installed file's header.
    await new ModelManager({ dir: models }).installFromFile('embeddinggemma-300m', tinyBertPath(), { allowUnknown: true });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false };
    const prev = { dir: process.env.LOUPE_MODELS_DIR, engine: process.env.LOUPE_NO_ENGINE };
    process.env.LOUPE_MODELS_DIR = models;
    process.env.LOUPE_NO_ENGINE = '1';
    try {
      assert.equal(await main(['index', root, '--model', 'embeddinggemma-300m', '--cpu', '--store', store], io), 0, err.join('\n'));
      out.length = 0;
      assert.equal(
        await main(['search', root, 'parse config file', '-k', '3', '--json', '--cpu', '--store', store], io),
        0,
        err.join('\n'),
      );
      const hits = JSON.parse(out.join('\n')) as { path: string; symbol: string | null }[];
      assert.equal(hits[0]?.symbol, 'parseConfigFile', JSON.stringify(hits));
      // The model removed: the bundled one cannot search it, and the error says how to go on.
      rmSync(models, { recursive: true });
      err.length = 0;
      assert.equal(await main(['search', root, 'parse config file', '--cpu', '--store', store], io), 1);
      assert.match(err.join('\n'), /built with model "loupe-tiny-bert".*give that model with --model, or run `loupe index --rebuild`/);
    } finally {
      for (const [k, v] of [
        ['LOUPE_MODELS_DIR', prev.dir],
        ['LOUPE_NO_ENGINE', prev.engine],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  test('an index of the bundled model is never matched against installed models', async (t) => {
    const { dir, cleanup } = tempDir('loupe-own-model-');
    t.after(cleanup);
    const storeDir = path.join(dir, '.loupe');
    Store.open(storeDir, { modelId: 'bundled-id', modelName: 'all-MiniLM-L6-v2', dimensions: 384 }).close();
    const models = path.join(dir, 'models');
    await new ModelManager({ dir: models }).installFromFile('embeddinggemma-300m', tinyBertPath(), { allowUnknown: true });
    assert.equal(await installedModelOfIndex({ root: dir }, new ModelManager({ dir: models })), null);
    Store.open(path.join(dir, 'other'), { modelId: 'tiny-id', modelName: 'loupe-tiny-bert', dimensions: TINY_BERT_DIMENSIONS }).close();
    const own = await installedModelOfIndex({ root: dir, storeDir: path.join(dir, 'other') }, new ModelManager({ dir: models }));
    assert.equal(own?.dimensions, TINY_BERT_DIMENSIONS);
    assert.ok(own && existsSync(own.modelPath) && own.modelPath.startsWith(models), JSON.stringify(own));
    assert.equal(await installedModelOfIndex({ root: path.join(dir, 'nothing-here') }, new ModelManager({ dir: models })), null);
  });
});

describe('tiers: which model is active, said by loupe status and the status bar', () => {
  test('modelTier, describeModel and the GPU advice', () => {
    assert.equal(modelTier('all-MiniLM-L6-v2'), 'default');
    assert.equal(modelTier('embeddinggemma-300m'), 'quality');
    assert.equal(modelTier('nomic-embed-text-v1.5'), 'other');
    assert.equal(describeModel('embeddinggemma-300m'), 'embeddinggemma-300m (quality tier)');
    assert.equal(describeModel('all-MiniLM-L6-v2'), 'all-MiniLM-L6-v2 (bundled default)');
    assert.equal(tierAdvice('all-MiniLM-L6-v2', 'cpu', false), undefined, 'no advice on a CPU: the quality tier costs ~10× there');
    assert.match(tierAdvice('all-MiniLM-L6-v2', 'gpu', false)!, /loupe models install embeddinggemma-300m/);
    assert.match(tierAdvice('all-MiniLM-L6-v2', 'gpu', true)!, /is installed; use it with --model embeddinggemma-300m/);
    assert.equal(tierAdvice('embeddinggemma-300m', 'gpu', true), undefined);
  });

  test('status bar tooltip names the model and its tier; advises the quality tier only on a GPU', () => {
    const ready = { kind: 'ready' as const, chunks: 10, files: 2 };
    const cpu = renderStatus([{ name: 'a', state: ready, computeUnit: 'CPU', modelName: 'all-MiniLM-L6-v2' }], undefined);
    assert.match(cpu.tooltip, /Model: all-MiniLM-L6-v2 \(bundled default\)/);
    assert.doesNotMatch(cpu.tooltip, /A GPU is available/);
    const gpu = renderStatus([{ name: 'a', state: ready, computeUnit: 'GPU: CUDA', modelName: 'all-MiniLM-L6-v2' }], undefined);
    assert.match(gpu.tooltip, /A GPU is available: the quality tier \(EmbeddingGemma-300M/);
    const quality = renderStatus([{ name: 'a', state: ready, computeUnit: 'GPU: CUDA', modelName: 'embeddinggemma-300m' }], undefined);
    assert.match(quality.tooltip, /Model: embeddinggemma-300m \(quality tier\)/);
    assert.doesNotMatch(quality.tooltip, /A GPU is available/);
  });
});
