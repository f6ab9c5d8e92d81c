// The GGUF writer and the two generated models, checked through the real node-llama-cpp runtime.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getLlama,
  LlamaChatSession,
  LlamaLogLevel,
  readGgufFileInfo,
  type Llama,
  type LlamaEmbeddingContext,
  type LlamaModel,
} from 'node-llama-cpp';
import { float16BitsToFloat32, float32ToFloat16Bits, GgufWriter } from '../src/tools/gguf-writer.js';
import { makeModels, TINY_BERT_FILE, TINY_LLAMA_FILE } from '../src/tools/make-models.js';
import { buildTinyBertVocab, TINY_BERT_DIMENSIONS, WORD_START } from '../src/tools/tiny-bert.js';
import { TINY_LLAMA_SENTENCE } from '../src/tools/tiny-llama.js';

const dir = mkdtempSync(join(tmpdir(), 'loupe-gguf-'));
let llama: Llama;

before(async () => {
  makeModels(dir);
  llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
});

after(async () => {
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function unit(v: readonly number[]): number[] {
  const n = Math.hypot(...v);
  assert.ok(n > 0 && Number.isFinite(n), `vector norm ${n} is not positive and finite`);
  return v.map((x) => x / n);
}

function cosine(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, x, i) => s + x * b[i]!, 0);
}

describe('GgufWriter', () => {
  test('converts float32 to float16 with rounding, subnormals and overflow', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up past the largest half → +inf
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -26, 0x0000], // below half of it → zero
      [1 + 2 ** -11, 0x3c00], // tie → even
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
    ];
    for (const [value, bits] of cases) {
      assert.equal(float32ToFloat16Bits(value), bits, `f16(${value})`);
    }
    for (const v of [0.5, -1.25, 3.140625, 1e-3, -7e-6]) {
      const back = float16BitsToFloat32(float32ToFloat16Bits(v));
      // Half a unit in the last place: relative for normals, absolute (2^-25) for subnormals.
      assert.ok(Math.abs(back - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -25), `${v} round-trips to ${back}`);
    }
  });

  test('rejects duplicate tensor names, duplicate keys and shape/data mismatches', () => {
    const w = new GgufWriter();
    w.addTensor('a.weight', [2, 2], new Float32Array(4));
    assert.throws(() => w.addTensor('a.weight', [4], new Float32Array(4)), /"a\.weight" was added twice/);
    assert.throws(() => w.addTensor('b.weight', [2, 3], new Float32Array(4)), /needs 6 values, got 4/);
    assert.throws(() => w.addTensor('c.weight', [0], new Float32Array(0)), /bad dimension/);
    assert.throws(() => w.addTensor('d.weight', [1], new Float32Array([NaN])), /not finite/);
    w.addU32('k', 1);
    assert.throws(() => w.addString('k', 'x'), /"k" was added twice/);
    assert.throws(() => w.addU32('neg', -1), /not a valid u32/);
    assert.throws(() => w.addI8('big', 200), /not a valid i8/);
  });

  test('writes every supported value type so that node-llama-cpp reads it back', async () => {
    const w = new GgufWriter();
    w.addString('general.architecture', 'llama');
    w.addU8('test.u8', 250);
    w.addI8('test.i8', -5);
    w.addU32('test.u32', 4_000_000_000);
    w.addI32('test.i32', -123456);
    w.addF32('test.f32', 0.5);
    w.addBool('test.bool', true);
    w.addString('test.string', 'héllo ▁');
    w.addStringArray('test.strings', ['a', '', 'ç']);
    w.addI32Array('test.i32s', [-1, 0, 7]);
    w.addU32Array('test.u32s', [1, 2]);
    w.addF32Array('test.f32s', [0.25, -1]);
    w.addTensor('t.f32', [3], new Float32Array([1, 2, 3]));
    w.addTensor('t.f16', [5, 2], new Float32Array(10).fill(0.5), 'F16');
    const file = join(dir, 'all-types.gguf');
    const bytes = w.toBuffer();
    writeFileSync(file, bytes);

    const info = await readGgufFileInfo(file, { logWarnings: false });
    assert.equal(info.version, 3);
    const meta = info.metadata as unknown as { test: Record<string, unknown> };
    assert.deepEqual(
      { ...meta.test },
      {
        u8: 250,
        i8: -5,
        u32: 4_000_000_000,
        i32: -123456,
        f32: 0.5,
        bool: true,
        string: 'héllo ▁',
        strings: ['a', '', 'ç'],
        i32s: [-1, 0, 7],
        u32s: [1, 2],
        f32s: [0.25, -1],
      },
    );
    const tensors = info.tensorInfo ?? [];
    assert.deepEqual(
      tensors.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)]),
      [
        ['t.f32', [3], 0, 0],
        ['t.f16', [5, 2], 1, 32], // 12 bytes of F32 data, padded to the 32-byte alignment
      ],
    );
    // The data section starts aligned; the F16 tensor holds 0.5 (0x3800) little-endian.
    const dataStart = info.infoEndOffset!;
    assert.equal(dataStart % 32, 0);
    assert.equal(bytes.readFloatLE(dataStart + 8), 3);
    assert.equal(bytes.readUInt16LE(dataStart + 32), 0x3800);
    assert.equal(bytes.length, dataStart + 32 + 20);
  });

  test('a file that is not GGUF fails to load with an error, not a crash', async () => {
    const file = join(dir, 'not-a-model.gguf');
    writeFileSync(file, 'this is a text file, not a model\n'.repeat(100));
    await assert.rejects(llama.loadModel({ modelPath: file }));
    // The process survived; loading a real model still works afterwards.
    const model = await llama.loadModel({ modelPath: join(dir, TINY_LLAMA_FILE) });
    await model.dispose();
  });
});

describe('generated models on disk', () => {
  test('make-models skips files whose content is unchanged', () => {
    const before = statSync(join(dir, TINY_BERT_FILE)).mtimeMs;
    const second = makeModels(dir);
    assert.deepEqual(
      second.map((m) => m.action),
      ['unchanged', 'unchanged', 'unchanged'],
    );
    assert.equal(statSync(join(dir, TINY_BERT_FILE)).mtimeMs, before);
    assert.ok(second[0]!.bytes < 10e6, `tiny BERT is ${second[0]!.bytes} bytes`);
  });

  test('the BERT vocabulary has no duplicates and covers letters, digits and specials', () => {
    const vocab = buildTinyBertVocab();
    assert.equal(new Set(vocab.tokens).size, vocab.tokens.length);
    assert.ok(vocab.tokens.length > 4000, `${vocab.tokens.length} tokens`);
    for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789') {
      assert.ok(vocab.ids.has(c) && vocab.ids.has(WORD_START + c), `character ${c}`);
    }
    for (const w of ['parse', 'config', 'file', 'http', 'request', 'token', 'vector', 'cache', 'index']) {
      assert.ok(vocab.ids.has(w) && vocab.ids.has(WORD_START + w), `word ${w}`);
    }
    assert.deepEqual(
      [vocab.padId, vocab.unkId, vocab.clsId, vocab.sepId, vocab.maskId].map((id) => vocab.tokens[id]),
      ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'],
    );
  });
});

describe('tiny BERT embedding model', () => {
  let model: LlamaModel;
  let ctx: LlamaEmbeddingContext;
  const vocab = buildTinyBertVocab();

  before(async () => {
    model = await llama.loadModel({ modelPath: join(dir, TINY_BERT_FILE) });
    ctx = await model.createEmbeddingContext({ contextSize: 512, threads: 1 });
  });
  after(async () => {
    await ctx?.dispose();
    await model?.dispose();
  });

  const embed = async (text: string): Promise<number[]> => unit(Array.from((await ctx.getEmbeddingFor(text)).vector));

  test('loads with the expected dimensions and metadata', async () => {
    assert.equal(model.embeddingVectorSize, TINY_BERT_DIMENSIONS);
    const info = await readGgufFileInfo(join(dir, TINY_BERT_FILE), { logWarnings: false });
    assert.equal(info.metadata.general.architecture, 'bert');
    const types = info.tensorInfo!.find((t) => t.name === 'token_types.weight');
    assert.equal(types?.ggmlType, 0, 'token_types.weight must stay F32');
  });

  test('tokenizes identifiers into vocabulary words without [UNK]', () => {
    const pieces = (text: string): string[] => model.tokenize(text).map((id) => vocab.tokens[id]!);
    assert.deepEqual(pieces('parseConfigFile'), ['▁parse', 'config', 'file']);
    assert.deepEqual(pieces('delete_user_preferences'), ['▁delete', '▁_', '▁user', '▁_', '▁preferences']);
    const weird = model.tokenize('xQz9vbnm getUsers(); #!@');
    assert.ok(weird.length > 0);
    assert.ok(!weird.map(Number).includes(vocab.unkId), 'ASCII text never needs [UNK]');
  });

  test('gives identical, finite vectors for identical texts', async () => {
    const text = 'export function readFile(path: string) { return fs.readFileSync(path) }';
    const a = await embed(text);
    const b = await embed(text);
    assert.equal(a.length, TINY_BERT_DIMENSIONS);
    assert.deepEqual(a, b);
    assert.ok(Math.abs(Math.hypot(...a) - 1) < 1e-6);
  });

  const docs = {
    parseConfig: 'function parseConfigFile(path) {\n  const text = fs.readFileSync(path, "utf8");\n  return JSON.parse(text);\n}',
    deletePrefs: 'async function deleteUserPreferences(userId) {\n  await store.clear(`prefs:${userId}`);\n}',
    quickSort:
      'function quickSort(items) {\n  if (items.length < 2) return items;\n  const [p, ...rest] = items;\n' +
      '  return [...quickSort(rest.filter(x => x < p)), p, ...quickSort(rest.filter(x => x >= p))];\n}',
    render: 'def render_template(name, context):\n    return env.get_template(name).render(**context)',
  };

  test('"parse config file" is closest to parseConfigFile code', async () => {
    const q = await embed('parse config file');
    const scores = Object.fromEntries(
      await Promise.all(Object.entries(docs).map(async ([k, d]) => [k, cosine(q, await embed(d))] as const)),
    );
    assert.ok(scores.parseConfig! > 0.5, `parseConfig scored ${scores.parseConfig}`);
    assert.ok(scores.parseConfig! > scores.quickSort! + 0.3, JSON.stringify(scores));
    assert.ok(scores.parseConfig! > scores.render! + 0.3, JSON.stringify(scores));
  });

  test('a synonym query finds code that uses other words', async () => {
    // remove ~ delete, account ~ user, settings ~ preferences: no query word appears in the code.
    const q = await embed('remove account settings');
    const prefs = cosine(q, await embed(docs.deletePrefs));
    const sort = cosine(q, await embed(docs.quickSort));
    const render = cosine(q, await embed(docs.render));
    assert.ok(prefs > 0.4, `deleteUserPreferences scored ${prefs}`);
    assert.ok(prefs > sort + 0.3 && prefs > render + 0.3, JSON.stringify({ prefs, sort, render }));
  });
});

describe('tiny LLaMA chat model', () => {
  let model: LlamaModel;

  before(async () => {
    model = await llama.loadModel({ modelPath: join(dir, TINY_LLAMA_FILE) });
  });
  after(async () => {
    await model?.dispose();
  });

  const newSession = async (): Promise<LlamaChatSession> => {
    const ctx = await model.createContext({ contextSize: 512, threads: 1 });
    return new LlamaChatSession({ contextSequence: ctx.getSequence(), autoDisposeSequence: true });
  };

  test('answers a chat prompt with the known sentence, streamed', async () => {
    const session = await newSession();
    assert.equal(session.chatWrapper.wrapperName, 'ChatML');
    const chunks: string[] = [];
    const answer = await session.prompt('Who are you?', { onTextChunk: (c) => chunks.push(c) });
    assert.equal(answer, TINY_LLAMA_SENTENCE);
    assert.equal(chunks.join(''), TINY_LLAMA_SENTENCE);
    assert.ok(chunks.filter((c) => c.length > 0).length >= 5, `chunks: ${JSON.stringify(chunks)}`);
    session.dispose();
  });

  test('maxTokens truncates the answer', async () => {
    const session = await newSession();
    assert.equal(await session.prompt('Hi', { maxTokens: 3 }), 'Hello from the');
    session.dispose();
  });

  test('an AbortSignal stops generation', async () => {
    const session = await newSession();
    const controller = new AbortController();
    await assert.rejects(session.prompt('Hi', { signal: controller.signal, onTextChunk: () => controller.abort() }), {
      name: 'AbortError',
    });
    const stopped = new AbortController();
    const partial = await session.prompt('Hi again', {
      signal: stopped.signal,
      stopOnAbortSignal: true,
      onTextChunk: () => stopped.abort(),
    });
    assert.ok(partial.length > 0 && partial.length < TINY_LLAMA_SENTENCE.length, `partial answer ${JSON.stringify(partial)}`);
    assert.ok(TINY_LLAMA_SENTENCE.startsWith(partial));
    session.dispose();
  });

  test('the generated file is byte-for-byte deterministic', () => {
    const again = mkdtempSync(join(tmpdir(), 'loupe-gguf-again-'));
    try {
      makeModels(again);
      for (const f of [TINY_BERT_FILE, TINY_LLAMA_FILE]) {
        assert.ok(readFileSync(join(again, f)).equals(readFileSync(join(dir, f))), `${f} differs between runs`);
      }
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });
});
