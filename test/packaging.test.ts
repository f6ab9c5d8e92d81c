// Packaging pieces that run in seconds: reading native binaries from their headers (what the
// platform VSIX checks rely on), and Loupe working without the vector-index addon (exact search,
// one warning) when the addon in a VSIX cannot load — tried with a real foreign binary.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tryHnswFactory } from '../src/adapters/hnsw-index.js';
import { SAMPLE_PROJECT, REPO, openTestEngine, tempDir, writeTree } from './support/helpers.js';

type BinaryInfo = { format: string; arch: string; kind: string; exports: string[]; libraries: string[] };
const binaryInfo = async (file: string): Promise<BinaryInfo> =>
  ((await import(pathToFileURL(path.join(REPO, 'scripts', 'binary-info.mjs')).href)) as { binaryInfo(b: Buffer): BinaryInfo }).binaryInfo(
    readFileSync(file),
  );
const verifyModule = async () =>
  (await import(pathToFileURL(path.join(REPO, 'scripts', 'verify-vsix.mjs')).href)) as {
    isSystemLibrary(format: string, lib: string): boolean;
  };

const require = createRequire(import.meta.url);
const hnswAddon = path.join(path.dirname(require.resolve('hnswlib-node/package.json')), 'build', 'Release', 'addon.node');
/** An addon built for another CPU: node-llama-cpp's linux-arm64 binary package (an optional dependency npm installs everywhere). */
function foreignAddon(): string | undefined {
  try {
    const dir = path.join(REPO, 'node_modules', '@node-llama-cpp', 'linux-arm64', 'bins');
    const sub = readdirSync(dir).find((d) => !d.startsWith('_'));
    return sub ? path.join(dir, sub, 'llama-addon.node') : undefined;
  } catch {
    return undefined;
  }
}

describe('binary headers (scripts/binary-info.mjs)', () => {
  test("this machine's hnswlib addon: ELF x64 shared object exporting the Node-API entry point, linking only system libraries", async () => {
    const info = await binaryInfo(hnswAddon);
    assert.deepEqual([info.format, info.kind], ['elf', 'shared']);
    assert.equal(info.arch, process.arch === 'x64' ? 'x64' : process.arch);
    assert.ok(info.exports.includes('napi_register_module_v1'));
    const { isSystemLibrary } = await verifyModule();
    for (const lib of info.libraries) assert.ok(isSystemLibrary('elf', lib), lib);
  });

  test(
    'the node executable and a foreign-CPU addon are told apart by architecture',
    { skip: !foreignAddon() && 'no @node-llama-cpp/linux-arm64 installed' },
    async () => {
      assert.equal((await binaryInfo(process.execPath)).kind, 'executable');
      const arm = await binaryInfo(foreignAddon()!);
      assert.deepEqual([arm.format, arm.arch], ['elf', 'arm64']);
      assert.ok(arm.exports.includes('napi_register_module_v1'));
    },
  );

  test("system-library rules: OS libraries pass, a build machine's own library does not", async () => {
    const { isSystemLibrary } = await verifyModule();
    assert.ok(isSystemLibrary('macho', '/usr/lib/libSystem.B.dylib'));
    assert.ok(isSystemLibrary('pe', 'KERNEL32.dll'));
    assert.ok(!isSystemLibrary('pe', 'node.dll'));
    assert.ok(!isSystemLibrary('macho', '/opt/homebrew/lib/libc++.1.dylib'));
    assert.ok(!isSystemLibrary('elf', '/work/build/libhnsw.so'));
  });

  test('a file that is no binary is refused with a clear error', async () => {
    await assert.rejects(binaryInfo(path.join(REPO, 'package.json')), /not an ELF, Mach-O or PE file|too short/);
  });
});

describe('without the vector-index addon', () => {
  test(
    'a foreign addon that cannot load: warned once, exact search, results still right',
    { skip: !foreignAddon() && 'no @node-llama-cpp/linux-arm64 installed' },
    async () => {
      const warnings: string[] = [];
      const logger = { info() {}, debug() {}, error() {}, warn: (m: string) => warnings.push(m) };
      const loadForeign = () => {
        const m = { exports: {} as typeof import('hnswlib-node') };
        process.dlopen(m, foreignAddon()!);
        return m.exports;
      };
      assert.equal(tryHnswFactory(logger, loadForeign), undefined);
      assert.equal(tryHnswFactory(logger, loadForeign), undefined);
      assert.equal(warnings.length, 1, 'one warning per process');
      assert.match(warnings[0], /cannot load on .*using exact search/);

      const { dir, cleanup } = tempDir();
      try {
        writeTree(dir, SAMPLE_PROJECT);
        // A threshold of 1 would switch to HNSW at once if a factory were there.
        const engine = await openTestEngine(dir, { annFactory: undefined, annThreshold: 1 });
        try {
          await engine.index();
          assert.equal(engine.status().searchStructure, 'exact');
          const hits = await engine.search('parse the config file', { k: 3 });
          assert.equal(hits[0].path, 'src/config.ts');
        } finally {
          await engine.close();
        }
      } finally {
        cleanup();
      }
    },
  );

  test('the real addon loads: the factory is there', () => {
    assert.ok(tryHnswFactory(undefined));
  });
});
