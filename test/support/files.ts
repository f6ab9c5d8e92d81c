/**
 * Test support that loads no adapter (nothing native, no tree-sitter): the repository root, the
 * generated tiny model's path, and temp trees. Unit-tier tests import only this (docs/testing.md).
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyBert } from '../../src/tools/tiny-bert.js';
import type { OpenParams } from '../../src/core/protocol.js';

/** Repository root (tests run from out/test/...). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let tinyBert: string | undefined;

/** Path of the generated tiny BERT model (generated into a temp dir if the build has not made it). */
export function tinyBertPath(): string {
  if (tinyBert) return tinyBert;
  const built = path.join(REPO, 'models/generated/loupe-tiny-bert.gguf');
  tinyBert = built;
  if (!existsSync(built)) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-model-'));
    tinyBert = path.join(dir, 'loupe-tiny-bert.gguf');
    writeTinyBert(tinyBert);
  }
  return tinyBert;
}

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'loupe-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes files (relative path → content) under `root`. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
}

/**
 * Engine parameters for an extension session over `dir` on the tiny model: one single-thread CPU
 * context, the store beside the folder (`<dir>-store`) so the watcher never sees it.
 */
export function tinySessionParams(dir: string, extra: Partial<OpenParams> = {}): OpenParams {
  return {
    root: dir,
    storeDir: path.join(dir, '..', path.basename(dir) + '-store'),
    modelPath: tinyBertPath(),
    gpu: false,
    contexts: 1,
    threadsPerContext: 1,
    ...extra,
  };
}
