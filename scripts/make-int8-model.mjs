#!/usr/bin/env node
// Builds the dynamic-int8 ONNX of all-MiniLM-L6-v2 (issue 17) from the fp32 ONNX that
// scripts/fetch-onnx-model.mjs fetched: ONNX Runtime's quantize_dynamic (MatMul weights int8 per
// channel, activations quantized at run time; scripts/quantize-onnx-int8.py), in a private venv
// with pinned PyPI packages. The output is deterministic; its sha256 is pinned here and checked.
// Written to models/onnx/all-MiniLM-L6-v2-int8/ (model.onnx, the same tokenizer.json, a manifest
// with precision "int8"): a model of its own, with its own identity (an index never mixes its
// vectors with fp32 ones).
//
//   node scripts/make-int8-model.mjs [--require]
//
// Optional: needs `python3` (3.9+) and PyPI. Without them it says so and exits 0 (the build goes
// on with fp32 only) unless --require is given; LOUPE_NO_INT8=1 skips it. LOUPE_PYTHON picks the interpreter; the venv is
// cached in ~/.cache/loupe/int8-venv. Does nothing when the files are there and match.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export const INT8_MINILM = {
  from: 'models/onnx/all-MiniLM-L6-v2',
  dir: 'models/onnx/all-MiniLM-L6-v2-int8',
  fp32Sha256: '759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e',
  sha256: '669b5bc35150db09d056e730849b85f53df01846ef8577194f8178347dc7b5bc',
  pip: ['onnxruntime==1.30.0', 'onnx==1.23.2', 'numpy==2.4.6'],
};

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function upToDate(dir) {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    return ['model.onnx', 'tokenizer.json'].every((name) => {
      const rec = m.files?.[name];
      const st = statSync(path.join(dir, name), { throwIfNoEntry: false });
      return (
        rec && st && rec.size === st.size && rec.mtimeMs === st.mtimeMs && (name !== 'model.onnx' || rec.sha256 === INT8_MINILM.sha256)
      );
    });
  } catch {
    return false;
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

function main() {
  const required = process.argv.includes('--require');
  const spec = INT8_MINILM;
  const dir = path.join(ROOT, spec.dir);
  const from = path.join(ROOT, spec.from);
  if (upToDate(dir)) {
    console.log(`make-int8-model: ${spec.dir} is up to date`);
    return;
  }
  const skip = (why) => {
    if (required) throw new Error(why);
    console.log(`make-int8-model: skipped (${why}); the fp32 ONNX model is used`);
  };
  const fp32 = path.join(from, 'model.onnx');
  if (!existsSync(fp32) || sha256(readFileSync(fp32)) !== spec.fp32Sha256)
    return skip(`${spec.from}/model.onnx missing or not the pinned one: run scripts/fetch-onnx-model.mjs`);
  if (process.env.LOUPE_NO_INT8 === '1') return skip('LOUPE_NO_INT8=1');
  if (
    process.env.LOUPE_OFFLINE === '1' &&
    !existsSync(path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'loupe', 'int8-venv'))
  )
    return skip('offline, and no cached venv');
  const python = process.env.LOUPE_PYTHON || 'python3';
  if (spawnSync(python, ['--version']).status !== 0) return skip(`no ${python}`);
  const venv = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'loupe', 'int8-venv');
  const vpy = path.join(venv, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  try {
    if (!existsSync(vpy)) run(python, ['-m', 'venv', venv]);
    if (
      spawnSync(vpy, ['-c', `import onnxruntime, onnx; assert onnxruntime.__version__ == '${spec.pip[0].split('==')[1]}'`]).status !== 0
    ) {
      console.log(`make-int8-model: installing ${spec.pip.join(' ')} into ${venv}`);
      run(vpy, ['-m', 'pip', 'install', '-q', ...spec.pip]);
    }
  } catch (e) {
    return skip(`Python packages not available: ${e.message}`);
  }
  mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, 'model.onnx.tmp');
  run(vpy, [path.join(ROOT, 'scripts/quantize-onnx-int8.py'), fp32, tmp]);
  const got = sha256(readFileSync(tmp));
  if (got !== spec.sha256) {
    rmSync(tmp, { force: true });
    throw new Error(`the int8 model's sha256 is ${got}, expected ${spec.sha256} (different package versions?); not used`);
  }
  renameSync(tmp, path.join(dir, 'model.onnx'));
  copyFileSync(path.join(from, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const fromManifest = JSON.parse(readFileSync(path.join(from, 'manifest.json'), 'utf8'));
  const files = {};
  for (const name of ['model.onnx', 'tokenizer.json']) {
    const st = statSync(path.join(dir, name));
    files[name] = {
      sha256: name === 'model.onnx' ? spec.sha256 : fromManifest.files['tokenizer.json'].sha256,
      size: st.size,
      mtimeMs: st.mtimeMs,
    };
  }
  const manifest = {
    model: 'all-MiniLM-L6-v2',
    format: 'onnx',
    precision: 'int8',
    source: `${spec.from}/model.onnx (sha256 ${spec.fp32Sha256}) through onnxruntime.quantization.quantize_dynamic (MatMul, QInt8 weights per channel; ${spec.pip.join(', ')}; scripts/quantize-onnx-int8.py)`,
    license: fromManifest.license,
    pooling: fromManifest.pooling,
    maxTokens: fromManifest.maxTokens,
    dimensions: fromManifest.dimensions,
    files,
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(
    `make-int8-model: wrote ${spec.dir} (model.onnx ${(statSync(path.join(dir, 'model.onnx')).size / 1e6).toFixed(1)} MB, sha256 ${spec.sha256.slice(0, 12)})`,
  );
}

try {
  main();
} catch (e) {
  console.error(`make-int8-model: ${e.message}`);
  process.exitCode = 1;
}
