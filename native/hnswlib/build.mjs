#!/usr/bin/env node
/* global process, console */
// Compiles hnswlib-node's N-API addon (node_modules/hnswlib-node/src/addon.cc) without node-gyp.
//
//   node native/hnswlib/build.mjs                         # this machine: node_modules/hnswlib-node/build/Release/addon.node
//   node native/hnswlib/build.mjs --target darwin-arm64   # cross-build with Zig: dist/native/darwin-arm64/addon.node
//   node native/hnswlib/build.mjs --target all            # linux-x64, linux-arm64, darwin-arm64, darwin-x64, win32-x64
//
// Why not hnswlib-node's own install step: it runs `node-gyp rebuild`, which downloads Node's full
// headers from nodejs.org unless `nodedir` is configured, so `npm ci` failed on a machine without that
// access (package.json `allowScripts` turns the step off). The addon only uses Node-API, which is ABI-
// stable across Node versions and runtimes (Node, Electron, VS Code's extension host), so it needs only
// the Node-API headers (`node-api-headers` on npm) and node-addon-api's C++ wrapper: the same inputs
// build it for this machine (the system C++ compiler) and for other platforms (Zig, `ziglang` on PyPI,
// which carries clang with macOS and Windows targets; `--zig <path>` or $ZIG).
//
// Flags follow hnswlib-node's binding.gyp: C++ exceptions on, NAPI_DISABLE_CPP_EXCEPTIONS, hidden
// symbols, -O3, no -march (portable baseline: SSE2 on x64, which hnswlib selects at compile time).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

/** VS Code target → Zig target triple. */
export const ZIG_TARGETS = {
  'linux-x64': 'x86_64-linux-gnu.2.17',
  'linux-arm64': 'aarch64-linux-gnu.2.17',
  'darwin-arm64': 'aarch64-macos.11.0',
  'darwin-x64': 'x86_64-macos.10.15',
  'win32-x64': 'x86_64-windows-gnu',
};

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const log = (msg) => console.error(`hnswlib: ${msg}`);

function pkgDir(name) {
  return path.dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }));
}

function inputs() {
  const hnsw = pkgDir('hnswlib-node');
  const headers = pkgDir('node-api-headers');
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [hnsw] }));
  return { hnsw, source: path.join(hnsw, 'src', 'addon.cc'), includes: [path.join(headers, 'include'), addonApi], defFile: path.join(headers, 'def', 'node_api.def') };
}

const COMMON = ['-std=c++17', '-O3', '-DNDEBUG', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DBUILDING_NODE_EXTENSION', '-fexceptions', '-fvisibility=hidden'];

/** Builds for this machine with the system compiler (c++/g++/clang++). */
function buildHost(out) {
  const { source, includes } = inputs();
  const cxx = process.env.CXX || 'c++';
  const platformFlags = process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared', '-fPIC'];
  if (process.platform === 'win32') throw new Error('On Windows, build with Zig: node native/hnswlib/build.mjs --target win32-x64 --zig <zig.exe>, or run `npx node-gyp rebuild` in node_modules/hnswlib-node');
  const args = [...COMMON, ...platformFlags, ...includes.map((i) => `-I${i}`), source, '-o', out];
  log(`${cxx} → ${path.relative(ROOT, out)}`);
  execFileSync(cxx, args, { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Cross-builds for `target` with Zig. */
function buildZig(target, out, zig) {
  const { source, includes, defFile } = inputs();
  const triple = ZIG_TARGETS[target];
  if (!triple) throw new Error(`unknown target ${target}; known: ${Object.keys(ZIG_TARGETS).join(', ')}`);
  const args = ['c++', '-target', triple, ...COMMON, ...includes.map((i) => `-I${i}`), source, '-o', out];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-hnswlib-'));
  try {
    if (target.startsWith('darwin')) {
      // A Node addon on macOS is a bundle whose Node-API symbols the host process provides.
      args.splice(3, 0, '-shared', '-undefined', 'dynamic_lookup');
    } else if (target.startsWith('win32')) {
      // Windows links against an import library for node.exe's exports; build one from the
      // Node-API .def file. Node-API's loader hook resolves "node.exe" to whichever host loaded the
      // addon (node.exe, Electron, VS Code), as node-gyp's win_delay_load_hook does.
      const lib = path.join(tmp, 'node.lib');
      const def = readFileSync(defFile, 'utf8').replace(/^NAME\s+.*$/m, 'NAME node.exe');
      const defPath = path.join(tmp, 'node.def');
      writeFileSync(defPath, def.includes('NAME') ? def : `NAME node.exe\n${def}`);
      execFileSync(zig, ['dlltool', '-d', defPath, '-l', lib, '-m', 'i386:x86-64'], { stdio: 'inherit' });
      args.splice(3, 0, '-shared', '-static-libgcc', '-static-libstdc++');
      args.push(lib);
    } else {
      args.splice(3, 0, '-shared', '-fPIC');
    }
    log(`zig c++ -target ${triple} → ${path.relative(ROOT, out)}`);
    execFileSync(zig, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ZIG_GLOBAL_CACHE_DIR: process.env.ZIG_GLOBAL_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'loupe-zig') } });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Whether the host addon at `file` loads in this Node (a stale or foreign file is rebuilt). */
function loads(file) {
  try {
    const m = { exports: {} };
    process.dlopen(m, file);
    return typeof m.exports.HierarchicalNSW === 'function';
  } catch {
    return false;
  }
}

const main = () => {
  const target = arg('--target');
  const host = `${process.platform}-${process.arch}`;
  if (!target || (target === host && !arg('--zig') && !process.env.ZIG)) {
    const out = path.join(inputs().hnsw, 'build', 'Release', 'addon.node');
    if (existsSync(out) && loads(out) && !process.argv.includes('--force')) return;
    mkdirSync(path.dirname(out), { recursive: true });
    const t0 = Date.now();
    buildHost(out);
    if (!loads(out)) throw new Error(`${out} was built but does not load in this Node`);
    log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }
  const zig = arg('--zig') ?? process.env.ZIG;
  if (!zig) throw new Error('cross-building needs Zig: --zig <path to zig> or $ZIG (PyPI `ziglang` carries it: python -m ziglang)');
  const targets = target === 'all' ? Object.keys(ZIG_TARGETS) : [target];
  for (const t of targets) {
    const out = path.join(arg('--out') ?? path.join(ROOT, 'dist', 'native', t), 'addon.node');
    mkdirSync(path.dirname(out), { recursive: true });
    buildZig(t, out, zig);
  }
};

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  try {
    main();
  } catch (e) {
    console.error(`hnswlib: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
