#!/usr/bin/env node
// Builds platform VSIXs: `node scripts/package.mjs [--target <target>|all]` (default: this machine's
// platform; `npm run package` builds all: linux-x64, linux-arm64, darwin-arm64, darwin-x64, win32-x64).
// Each target is staged in dist/vsix-stage/<target>/ with only what runs there: the bundles, grammar
// wasm, the bundled model, and the node_modules that stay external to the bundles (node-llama-cpp
// with its dependencies and only this target's binary packages; hnswlib-node's compiled addon).
// Then `vsce package --target` packs it, and scripts/verify-vsix.mjs checks it from its headers.
// The VSIX's README (its Marketplace page) is docs/marketplace.md, with screenshots from
// media/screenshots/ (see `readmeLinks` for how their links are made).
//
// hnswlib-node's addon is cross-built for every target with Zig (native/hnswlib/build.mjs: Zig from
// PyPI's ziglang, Node-API headers from npm), also for this machine's target: the result links only
// the C library (libc++ static; glibc 2.17 on Linux), so the VSIX runs beyond the build machine's
// distribution. LOUPE_HNSWLIB_ADDON_<TARGET> (e.g. LOUPE_HNSWLIB_ADDON_DARWIN_ARM64=/path/addon.node)
// uses a given file instead, e.g. one built natively by the release workflow. node-llama-cpp's binary
// packages for other targets are fetched with `npm pack` (registry) into ~/.cache/loupe-package.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { crossBuild, ensureZig } from '../native/hnswlib/build.mjs';
import { verifyVsix } from './verify-vsix.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const llamaVersion = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/node-llama-cpp/package.json'), 'utf8')).version;

/** VS Code target → node-llama-cpp binary packages shipped in it (CPU first, then GPU backends). */
const TARGETS = {
  'linux-x64': ['linux-x64', 'linux-x64-vulkan'],
  'linux-arm64': ['linux-arm64'],
  'darwin-arm64': ['mac-arm64-metal'],
  'darwin-x64': ['mac-x64'],
  'win32-x64': ['win-x64', 'win-x64-vulkan'],
  'win32-arm64': ['win-arm64'],
};
// CUDA builds (linux-x64-cuda + -cuda-ext: ~540 MB) are left out; Vulkan covers NVIDIA/AMD/Intel GPUs.

/**
 * VS Code target → onnxruntime-node's binary folder (bin/napi-v6/<platform>/<arch>), shipped with
 * the bundled ONNX MiniLM (int8 where the build made it, else fp32) so the engine embeds on ONNX
 * Runtime by default. onnxruntime-node 1.30 has no Intel-macOS binary: darwin-x64 stays on llama.cpp.
 * `--no-onnx` leaves ONNX Runtime out of every VSIX (for size comparisons).
 */
const ONNX_BINARIES = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};
const ONNX_MODELS = ['models/onnx/all-MiniLM-L6-v2-int8', 'models/onnx/all-MiniLM-L6-v2'];
const withOnnx = !process.argv.includes('--no-onnx');

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const host = `${process.platform}-${process.arch}`;
const wanted = arg('--target') ?? host;
const targets = wanted === 'all' ? ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64', 'win32-x64'] : wanted.split(',');
const outDir = path.join(ROOT, 'dist', 'vsix');
const cacheDir = path.join(os.homedir(), '.cache', 'loupe-package');

for (const t of targets) if (!TARGETS[t]) throw new Error(`Unknown target ${t}; known: ${Object.keys(TARGETS).join(', ')}`);
// The bench worker (forked by "Loupe: Run Benchmark") reads Chart.js from dist/report and the labelled set from dist/cohesion.
for (const f of [
  'dist/extension.cjs',
  'dist/engine-server.mjs',
  'dist/cli.mjs',
  'dist/bench-worker.mjs',
  'dist/webview/qa.js',
  'dist/report/chart.umd.min.js',
  'dist/cohesion',
  'dist/tree-sitter.wasm',
  'models/all-MiniLM-L6-v2.Q8_0.gguf',
]) {
  if (!existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first (npm run package does).`);
}

/** Copies `rel` (file or folder) from the repo into the stage, skipping what `skip` rejects. */
function copy(stage, rel, skip = () => false) {
  const from = path.join(ROOT, rel);
  cpSync(from, path.join(stage, rel), {
    recursive: true,
    dereference: true,
    filter: (src) => !skip(path.relative(from, src).split(path.sep).join('/'), src),
  });
}

/** Production dependency closure of a package folder (node resolution upward from each package). */
function closure(dir, seen = new Map()) {
  if (seen.has(dir)) return seen;
  const pj = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  seen.set(dir, pj.name);
  for (const name of Object.keys(pj.dependencies ?? {})) {
    let d = dir;
    let found;
    for (;;) {
      const p = path.join(d, 'node_modules', name);
      if (existsSync(path.join(p, 'package.json'))) {
        found = p;
        break;
      }
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
    if (!found) throw new Error(`${pj.name} depends on ${name}, which is not installed`);
    closure(found, seen);
  }
  return seen;
}

// What never runs in the extension: sources for building llama.cpp, maps, typings, docs.
const junk = (rel) => /(^|\/)(gitRelease\.bundle|.*\.map|.*\.d\.ts|.*\.d\.mts|.*\.d\.cts|CHANGELOG\.md|\.github)$/.test(rel);

/** The folder holding an @node-llama-cpp binary package for `name`, fetched for other platforms. */
function llamaBinaryPackage(name) {
  const local = path.join(ROOT, 'node_modules/@node-llama-cpp', name);
  if (existsSync(path.join(local, 'package.json'))) return local;
  const dir = path.join(cacheDir, `${name}-${llamaVersion}`);
  if (!existsSync(path.join(dir, 'package.json'))) {
    mkdirSync(cacheDir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', '--silent', `@node-llama-cpp/${name}@${llamaVersion}`], { cwd: cacheDir, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop();
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['xzf', path.join(cacheDir, tgz), '-C', dir, '--strip-components=1']);
    rmSync(path.join(cacheDir, tgz));
  }
  return dir;
}

/** hnswlib-node's addon.node for `target`: given, cross-built with Zig, or (no Zig) this machine's own build. */
function hnswAddonFor(target) {
  const env = process.env[`LOUPE_HNSWLIB_ADDON_${target.toUpperCase().replace('-', '_')}`];
  if (env) {
    if (!existsSync(env)) throw new Error(`LOUPE_HNSWLIB_ADDON_${target.toUpperCase().replace('-', '_')}=${env} does not exist`);
    return env;
  }
  zig ??= ensureZig() ?? null;
  if (zig) return crossBuild(target, { zig });
  if (target === host) {
    console.error(`package: no Zig; ${target} gets this machine's own hnswlib-node build (it links this machine's C++ library)`);
    return path.join(ROOT, 'node_modules/hnswlib-node/build/Release/addon.node');
  }
  return undefined;
}
let zig;

function sizeOf(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((a, f) => a + sizeOf(path.join(p, f)), 0);
}

/**
 * How vsce treats the README's relative links (its screenshots, media/screenshots/*.png): vsce
 * refuses them unless it can make them absolute. With a base URL (LOUPE_README_BASE_URL, else the
 * manifest's GitHub/GitLab `repository`, which vsce reads itself) they become HTTPS links: the
 * Marketplace page and VS Code's Extensions view load the pictures from there (so they must be
 * published at that address). Without one they stay relative so that packaging works offline, and
 * both show the images' alt text instead (seen in code-server 4.139's Extensions view).
 */
const readmeBase = process.env.LOUPE_README_BASE_URL;
const readmeLinks = readmeBase
  ? ['--baseContentUrl', readmeBase, '--baseImagesUrl', readmeBase]
  : pkg.repository
    ? []
    : ['--no-rewrite-relative-links'];
if (!readmeBase && !pkg.repository)
  console.error(
    'package: no repository URL: the README\'s screenshots stay relative links, which the Marketplace and VS Code\'s Extensions view show as their alt text; set LOUPE_README_BASE_URL=https://…/ (where media/screenshots/ is published) or package.json "repository" before publishing',
  );

const results = [];
for (const target of targets) {
  const addon = hnswAddonFor(target);
  if (!addon) {
    console.error(
      `skip ${target}: no Zig to cross-build hnswlib-node's addon.node (python3 -m pip download ziglang failed); set $ZIG, or LOUPE_HNSWLIB_ADDON_${target.toUpperCase().replace('-', '_')} to a built addon`,
    );
    results.push({ target, skipped: 'no hnswlib-node addon for this platform' });
    continue;
  }
  const stage = path.join(ROOT, 'dist', 'vsix-stage', target);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  // The manifest without what only development needs. Its dependencies name only the packages
  // left external to the bundles: vsce packs their installed closure (`npm list --production`).
  const manifest = { ...pkg };
  delete manifest.devDependencies;
  manifest.dependencies = { 'node-llama-cpp': llamaVersion, 'hnswlib-node': pkg.optionalDependencies['hnswlib-node'] };
  const onnxBin = withOnnx ? ONNX_BINARIES[target] : undefined;
  const onnxModel = onnxBin ? ONNX_MODELS.find((d) => existsSync(path.join(ROOT, d, 'model.onnx'))) : undefined;
  if (onnxBin && onnxModel) manifest.dependencies['onnxruntime-node'] = pkg.optionalDependencies['onnxruntime-node'];
  delete manifest.scripts;
  delete manifest.bin;
  delete manifest.allowScripts;
  delete manifest.optionalDependencies;
  writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  // The Marketplace page is the user guide (docs/marketplace.md), not the engineering README.
  cpSync(path.join(ROOT, 'docs', 'marketplace.md'), path.join(stage, 'README.md'));
  copy(stage, 'LICENSE');
  // media/tsconfig.json and media/*.d.ts only type-check the webview script (npm run lint).
  copy(stage, 'media', (rel) => rel === 'tsconfig.json' || rel.endsWith('.d.ts'));
  // dist/cli.mjs: `loupe mcp`, which the extension's MCP server definition runs (src/extension/agent-tools.ts).
  for (const f of [
    'dist/extension.cjs',
    'dist/engine-server.mjs',
    'dist/cli.mjs',
    'dist/bench-worker.mjs',
    'dist/report',
    'dist/webview',
    'dist/cohesion',
    'dist/tree-sitter.wasm',
    'dist/grammars',
  ])
    copy(stage, f);
  for (const f of readdirSync(path.join(ROOT, 'models'))) if (/\.gguf$|^README|^LICENSE|^SHA256SUMS$/.test(f)) copy(stage, `models/${f}`);
  writeFileSync(path.join(stage, '.vscodeignore'), '# staged by scripts/package.mjs: everything here ships\n');

  // node-llama-cpp and its dependency closure, then this target's binary packages.
  for (const dir of closure(path.join(ROOT, 'node_modules/node-llama-cpp')).keys()) copy(stage, path.relative(ROOT, dir), junk);
  for (const name of TARGETS[target]) {
    const src = llamaBinaryPackage(name);
    cpSync(src, path.join(stage, 'node_modules/@node-llama-cpp', name), {
      recursive: true,
      filter: (s) => !junk(path.relative(src, s).split(path.sep).join('/')),
    });
  }
  // hnswlib-node: its JS entry and the compiled addon only (not the C++ sources and objects).
  copy(stage, 'node_modules/hnswlib-node/package.json');
  copy(stage, 'node_modules/hnswlib-node/lib', junk);
  mkdirSync(path.join(stage, 'node_modules/hnswlib-node/build/Release'), { recursive: true });
  cpSync(addon, path.join(stage, 'node_modules/hnswlib-node/build/Release/addon.node'));
  for (const dep of ['bindings', 'file-uri-to-path']) copy(stage, `node_modules/${dep}`, junk);
  // onnxruntime-node: its JS, this target's binary only, onnxruntime-common; and one ONNX model.
  // Its install-time dependencies (adm-zip, global-agent: the postinstall's download) never run here.
  if (onnxBin && onnxModel) {
    const ort = 'node_modules/onnxruntime-node';
    const ortPkg = JSON.parse(readFileSync(path.join(ROOT, ort, 'package.json'), 'utf8'));
    delete ortPkg.dependencies['adm-zip'];
    delete ortPkg.dependencies['global-agent'];
    delete ortPkg.scripts;
    mkdirSync(path.join(stage, ort), { recursive: true });
    writeFileSync(path.join(stage, ort, 'package.json'), JSON.stringify(ortPkg, null, 2) + '\n');
    for (const f of ['dist', 'LICENSE', 'README.md', 'ThirdPartyNotices.txt'])
      if (existsSync(path.join(ROOT, ort, f))) copy(stage, `${ort}/${f}`, junk);
    // dxcompiler.dll and dxil.dll serve the WebGPU provider only (loaded on demand, linked by nothing): left out.
    copy(stage, `${ort}/bin/napi-v6/${onnxBin}`, (rel, src) => junk(rel, src) || /^(dxcompiler|dxil)\.dll$/i.test(rel));
    copy(stage, 'node_modules/onnxruntime-common', junk);
    // Times kept: the manifest's sizes and mtimes let a checkout skip hashing (a zip keeps only 2-second times; model-hash.ts caches per user then).
    for (const f of ['model.onnx', 'tokenizer.json', 'manifest.json'])
      cpSync(path.join(ROOT, onnxModel, f), path.join(stage, onnxModel, f), { preserveTimestamps: true });
    copy(stage, 'dist/onnx-worker.mjs');
  }

  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
  const vsce = path.join(path.dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  execFileSync(
    process.execPath,
    [vsce, 'package', '--allow-missing-repository', '--skip-license', ...readmeLinks, '--target', target, '--out', out],
    { cwd: stage, stdio: ['ignore', 2, 'inherit'] },
  );
  const staged = sizeOf(stage);
  const check = verifyVsix(out);
  results.push({
    target,
    vsix: path.relative(ROOT, out),
    bytes: statSync(out).size,
    mib: +(statSync(out).size / 1048576).toFixed(1),
    stagedMiB: +(staged / 1048576).toFixed(1),
    llamaPackages: TARGETS[target],
    onnx: onnxBin && onnxModel ? { binary: onnxBin, model: onnxModel } : null,
    hnswlibAddon: check.hnswlibAddon,
    verified: check.ok,
    problems: check.problems,
  });
  if (!check.ok) console.error(`package: ${target}: ${check.problems.join('; ')}`);
}
console.log(JSON.stringify(results, null, 2));
if (!results.some((r) => r.vsix) || results.some((r) => r.problems?.length)) process.exit(1);
