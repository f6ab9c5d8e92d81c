#!/usr/bin/env node
// Checks a platform VSIX without its platform: the manifest's target, and every native binary in it
// read from its headers (scripts/binary-info.mjs) — the right object format and CPU architecture, the
// Node-API entry point exported by the addons, only system libraries (or the package's own) linked,
// and no path of the machine that built it.
//
//   node scripts/verify-vsix.mjs dist/vsix/loupe-code-search-darwin-arm64-0.1.0.vsix [...more]
// Prints one JSON report per VSIX; exits 1 if any check fails.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { binaryInfo, buildPathsIn } from './binary-info.mjs';

/** Expected object format, architecture and allowed system libraries per VS Code target. */
export const PLATFORMS = {
  'linux-x64': { format: 'elf', arch: 'x64', llama: /^linux-x64(-|$)/ },
  'linux-arm64': { format: 'elf', arch: 'arm64', llama: /^linux-arm64(-|$)/ },
  'darwin-arm64': { format: 'macho', arch: 'arm64', llama: /^mac-arm64(-|$)/ },
  'darwin-x64': { format: 'macho', arch: 'x64', llama: /^mac-x64(-|$)/ },
  'win32-x64': { format: 'pe', arch: 'x64', llama: /^win-x64(-|$)/ },
  'win32-arm64': { format: 'pe', arch: 'arm64', llama: /^win-arm64(-|$)/ },
};

/** A library a binary may link: part of the OS (or the host process), never a build machine's file. */
export function isSystemLibrary(format, lib) {
  if (format === 'elf')
    return /^(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libgomp|libvulkan|libatomic)\.so(\.\d+)*$|^ld-linux[\w.-]*\.so(\.\d+)*$/.test(
      lib,
    );
  if (format === 'macho') return /^\/usr\/lib\/[\w.+-]+\.dylib$|^\/System\/Library\/Frameworks\//.test(lib);
  if (format === 'pe')
    return /^(kernel32|user32|advapi32|ntdll|bcrypt|ws2_32|shell32|ole32|oleaut32|msvcrt|ucrtbase|msvcp140\w*|vcruntime140\w*|dbghelp|psapi|version|setupapi|d3d12|dxgi|node\.exe|vulkan-1|api-ms-win-[\w-]+)\.dll$|^node\.exe$/i.test(
      lib,
    );
  return false;
}

/** Entries of a zip file: name → () => Buffer. */
export function readZip(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = new Map();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    entries.set(name, () => {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + csize);
      return method === 0 ? data : inflateRawSync(data);
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

const NATIVE = /\.(node|so(\.\d+)*|dylib|dll)$/;

/** Verifies one VSIX; returns its report (`ok` false with `problems` when a check fails). */
export function verifyVsix(file, { buildRoots = [path.resolve(new URL('..', import.meta.url).pathname), os.homedir(), os.tmpdir()] } = {}) {
  const buf = readFileSync(file);
  const zip = readZip(buf);
  const problems = [];
  const manifest = zip.get('extension.vsixmanifest')?.().toString('utf8') ?? '';
  const target = manifest.match(/TargetPlatform="([^"]+)"/)?.[1];
  const want = PLATFORMS[target];
  if (!want) problems.push(`manifest target ${target ?? '(none)'} is not a known platform`);
  const pkg = JSON.parse(zip.get('extension/package.json')?.().toString('utf8') ?? '{}');
  const binaries = [];
  const llamaPackages = new Set();
  const roots = buildRoots.filter((r) => r && r !== '/' && r.length > 4);
  for (const [name, read] of zip) {
    const llama = name.match(/^extension\/node_modules\/@node-llama-cpp\/([^/]+)\//);
    if (llama) llamaPackages.add(llama[1]);
    if (!NATIVE.test(name)) continue;
    const bytes = read();
    let info;
    try {
      info = binaryInfo(bytes);
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
      continue;
    }
    const rel = name.replace(/^extension\//, '');
    const entry = { file: rel, format: info.format, arch: info.arch, bytes: bytes.length, libraries: info.libraries };
    binaries.push(entry);
    if (want && (info.format !== want.format || info.arch !== want.arch))
      problems.push(`${rel}: ${info.format}/${info.arch}, expected ${want.format}/${want.arch}`);
    if (name.endsWith('.node') && !info.exports.includes('napi_register_module_v1') && !info.exports.includes('_napi_register_module_v1'))
      problems.push(`${rel}: does not export napi_register_module_v1`);
    // A binary may link the OS, the host, or libraries shipped beside it in the same package.
    const shipped = new Set([...zip.keys()].filter((n) => NATIVE.test(n)).map((n) => path.posix.basename(n)));
    for (const lib of info.libraries) {
      const base = path.posix.basename(lib.replace(/^@(rpath|loader_path|executable_path)\//, ''));
      if (!isSystemLibrary(info.format, lib) && !shipped.has(base))
        problems.push(`${rel}: links ${lib}, which is neither a system library nor shipped`);
    }
    if (info.format === 'macho' && info.arch === 'arm64' && !info.codeSignature)
      problems.push(`${rel}: arm64 Mach-O without a code signature (macOS on Apple Silicon refuses to load it)`);
    for (const rp of info.rpaths) if (path.isAbsolute(rp)) problems.push(`${rel}: absolute rpath ${rp}`);
    if (rel.startsWith('node_modules/hnswlib-node/')) {
      const leaked = buildPathsIn(bytes, roots);
      if (leaked.length) problems.push(`${rel}: contains build-machine paths ${leaked.join(', ')}`);
    }
  }
  if (!binaries.some((b) => b.file === 'node_modules/hnswlib-node/build/Release/addon.node')) problems.push('no hnswlib-node addon');
  if (want) {
    for (const p of llamaPackages) if (!want.llama.test(p)) problems.push(`node-llama-cpp binary package ${p} is for another platform`);
    if (![...llamaPackages].some((p) => want.llama.test(p))) problems.push(`no node-llama-cpp binary package for ${target}`);
  }
  return {
    vsix: path.basename(file),
    target,
    version: pkg.version,
    bytes: buf.length,
    mib: +(buf.length / 1048576).toFixed(1),
    llamaPackages: [...llamaPackages].sort(),
    hnswlibAddon: binaries.find((b) => b.file.startsWith('node_modules/hnswlib-node/')),
    nativeBinaries: binaries.length,
    ok: problems.length === 0,
    problems,
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const reports = process.argv.slice(2).map((f) => verifyVsix(f));
  console.log(JSON.stringify(reports, null, 2));
  if (!reports.length || reports.some((r) => !r.ok)) process.exit(1);
}
