#!/usr/bin/env node
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
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  return { hnsw, source: path.join(hnsw, 'src', 'addon.cc'), includes: [path.join(headers, 'include'), addonApi], packages: [hnsw, headers, addonApi], defFile: path.join(headers, 'def', 'node_api.def') };
}

const COMMON = ['-std=c++17', '-O3', '-DNDEBUG', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DBUILDING_NODE_EXTENSION', '-fexceptions', '-fvisibility=hidden'];

/** Builds for this machine with the system compiler (c++/g++/clang++). */
function buildHost(out) {
  const { source, includes } = inputs();
  const cxx = process.env.CXX || 'c++';
  const platformFlags = process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared', '-fPIC'];
  if (process.platform === 'win32') return buildWithNodeGyp();
  const args = [...COMMON, ...platformFlags, ...includes.map((i) => `-I${i}`), source, '-o', out];
  log(`${cxx} → ${path.relative(ROOT, out)}`);
  execFileSync(cxx, args, { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** What a build depends on: the sources' hash, the compiler and the flags (a change rebuilds). */
function buildKey(target, compiler) {
  const { source, packages } = inputs();
  const h = createHash('sha256').update(readFileSync(source)).update(readFileSync(new URL(import.meta.url)));
  for (const dir of packages) h.update(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version);
  h.update(JSON.stringify([target, compiler, COMMON, ZIG_TARGETS[target]]));
  return h.digest('hex');
}

/**
 * The addon for `target` built with Zig into `<outDir>/addon.node`, reused when its inputs are
 * unchanged (`addon.key` beside it). Returns the file.
 */
export function crossBuild(target, { zig = ensureZig(), outDir = path.join(ROOT, 'dist', 'native', target) } = {}) {
  if (!zig) throw new Error(`cannot build hnswlib-node's addon for ${target}: no Zig (set $ZIG, or have python3 with pip to fetch PyPI's ziglang)`);
  const out = path.join(outDir, 'addon.node');
  const key = buildKey(target, `zig-${ZIG_VERSION}`);
  const keyFile = path.join(outDir, 'addon.key');
  if (existsSync(out) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) return out;
  mkdirSync(outDir, { recursive: true });
  const t0 = Date.now();
  buildZig(target, out, zig);
  writeFileSync(keyFile, key);
  log(`${target} built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

/**
 * Windows has no system C++ compiler on PATH by default: build with npm's own node-gyp (MSVC from
 * Visual Studio, Node's headers from nodejs.org), as hnswlib-node's install step would have.
 */
function buildWithNodeGyp() {
  const { hnsw } = inputs();
  const npmCli = process.env.npm_execpath;
  const gyp = npmCli && path.resolve(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!gyp || !existsSync(gyp)) throw new Error('run this through npm (npm run build) so npm\'s node-gyp can be found, or build with Zig: --target win32-x64');
  log('node-gyp rebuild (Windows)');
  execFileSync(process.execPath, [gyp, 'rebuild'], { cwd: hnsw, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Cross-builds for `target` with Zig. */
function buildZig(target, out, zig) {
  const { source, includes, defFile } = inputs();
  const triple = ZIG_TARGETS[target];
  if (!triple) throw new Error(`unknown target ${target}; known: ${Object.keys(ZIG_TARGETS).join(', ')}`);
  const args = ['c++', '-target', triple, '-g0', '-s', ...COMMON, ...includes.map((i) => `-I${i}`), source, '-o', out];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-hnswlib-'));
  try {
    if (target.startsWith('darwin')) {
      // A Node addon on macOS is a bundle whose Node-API symbols the host process provides.
      args.splice(5, 0, '-shared', '-undefined', 'dynamic_lookup', '-Wl,-install_name,@rpath/addon.node');
    } else if (target.startsWith('win32')) {
      // Windows: the addon's Node-API calls must bind to whichever executable loaded it — node.exe,
      // or Code.exe (Electron) where VS Code runs the engine process — so it cannot link an import
      // library naming node.exe. node-gyp solves this with a delay-load hook; here every Node-API
      // function is called through a `__imp_` pointer (declared dllimport) that a load-time
      // constructor fills from the host executable's exports (GetModuleHandle(NULL)), which is
      // exactly what that hook resolves to.
      const names = readFileSync(defFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => /^(napi|node_api)_\w+$/.test(l));
      const shim = path.join(tmp, 'napi-host-imports.cc');
      writeFileSync(shim, winImportShim(names));
      args.splice(5, 0, '-shared', '-DNAPI_EXTERN=__declspec(dllimport)', `-Wl,--out-implib,${path.join(tmp, 'addon.lib')}`);
      args.push(shim);
    } else {
      args.splice(5, 0, '-shared', '-fPIC');
    }
    log(`zig c++ -target ${triple} → ${path.relative(ROOT, out)}`);
    execFileSync(zig, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ZIG_GLOBAL_CACHE_DIR: process.env.ZIG_GLOBAL_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'loupe-zig') } });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const ZIG_VERSION = '0.17.1';
/** sha256 of the ziglang wheels checked here; other hosts' wheels are verified by pip's TLS only. */
const ZIG_WHEELS = { 'ziglang-0.17.1-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl': 'ea6cc5d87b033cf0aedfbc8f9549a908cae6c50ac31f1698188fa48a74524b54' };

/**
 * A Zig compiler: $ZIG, else the one unpacked from PyPI's `ziglang` wheel in ~/.cache/loupe-zig
 * (downloaded with pip, never installed). Returns undefined when neither can be had.
 */
export function ensureZig() {
  if (process.env.ZIG) return process.env.ZIG;
  const home = path.join(os.homedir(), '.cache', 'loupe-zig');
  const dir = path.join(home, `ziglang-${ZIG_VERSION}`);
  const zig = path.join(dir, 'ziglang', process.platform === 'win32' ? 'zig.exe' : 'zig');
  if (existsSync(zig)) return zig;
  const dl = path.join(home, 'wheels');
  mkdirSync(dl, { recursive: true });
  log(`downloading Zig ${ZIG_VERSION} (PyPI ziglang, ~100 MB) into ${home}`);
  try {
    execFileSync(process.platform === 'win32' ? 'python' : 'python3', ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', `ziglang==${ZIG_VERSION}`, '-d', dl], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    log('could not download ziglang with pip');
    return undefined;
  }
  const wheel = readdirSync(dl).find((f) => f.startsWith(`ziglang-${ZIG_VERSION}-`) && f.endsWith('.whl'));
  if (!wheel) return undefined;
  const sha = createHash('sha256').update(readFileSync(path.join(dl, wheel))).digest('hex');
  if (ZIG_WHEELS[wheel] && ZIG_WHEELS[wheel] !== sha) throw new Error(`${wheel}: sha256 ${sha} does not match the pinned ${ZIG_WHEELS[wheel]}`);
  log(`${wheel} sha256 ${sha}`);
  // A wheel is a zip; Python's zipfile unpacks it (no pip install, nothing imported).
  execFileSync(process.platform === 'win32' ? 'python' : 'python3', ['-c', 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', path.join(dl, wheel), dir]);
  if (process.platform !== 'win32') chmodSync(zig, 0o755);
  return zig;
}

/** C++ source defining each Node-API import pointer, filled from the host executable at load time. */
function winImportShim(names) {
  const lines = ['// Generated by native/hnswlib/build.mjs: Node-API imports bound to the host executable.', '#include <windows.h>', 'extern "C" {'];
  for (const n of names) lines.push(`void *__imp_${n} = nullptr;`);
  lines.push('}', 'namespace {', 'struct BindNodeApi {', '  BindNodeApi() {', '    HMODULE host = GetModuleHandleW(nullptr);');
  for (const n of names) lines.push(`    __imp_${n} = reinterpret_cast<void *>(GetProcAddress(host, "${n}"));`);
  lines.push('  }', '} bindNodeApi;', '}', '');
  return lines.join('\n');
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
    try {
      buildHost(out);
      if (!loads(out)) throw new Error(`${out} was built but does not load in this Node`);
    } catch (e) {
      // The vector-index addon is optional: without it Loupe searches exactly (slower on large
      // indexes) and says so once. A missing compiler must not stop the rest of the build.
      log(`could not build the addon for this machine (${e instanceof Error ? e.message.split('\n')[0] : e}); Loupe will use exact search. Install a C++ compiler (Xcode command line tools, build-essential) and run npm run build again to get HNSW.`);
      return;
    }
    log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }
  const zig = arg('--zig') ?? ensureZig();
  if (!zig) throw new Error('cross-building needs Zig: --zig <path to zig>, $ZIG, or python3 with pip to fetch PyPI\'s ziglang');
  const targets = target === 'all' ? Object.keys(ZIG_TARGETS) : [target];
  for (const t of targets) console.log(crossBuild(t, { zig, outDir: arg('--out') ?? path.join(ROOT, 'dist', 'native', t) }));
};

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  try {
    main();
  } catch (e) {
    console.error(`hnswlib: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
