/**
 * CLI: `node out/src/tools/make-models.js [outDir]` writes the generated models
 * (`loupe-tiny-bert.gguf`, `tiny-llama.gguf`, `tiny-llama-markdown.gguf`) to outDir, by default `models/generated/` in the
 * repository. Runs in every `npm run build`, so it leaves a file untouched when its content
 * would not change (keeps mtimes stable for caches and watchers).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildTinyBertGguf } from './tiny-bert.js';
import { buildTinyLlamaGguf } from './tiny-llama.js';

/** File name of the generated embedding model. */
export const TINY_BERT_FILE = 'loupe-tiny-bert.gguf';
/** File name of the generated chat model. */
export const TINY_LLAMA_FILE = 'tiny-llama.gguf';
/** File name of the generated chat model whose answer is Markdown (TINY_LLAMA_MARKDOWN). */
export const TINY_LLAMA_MARKDOWN_FILE = 'tiny-llama-markdown.gguf';

/** What happened to one generated file. */
export interface MadeModel {
  file: string;
  action: 'written' | 'unchanged';
  bytes: number;
  sha256: string;
}

/** The repository root: the nearest ancestor of this module that holds package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`make-models: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Default output folder, `models/generated/` in the repository. */
export function defaultModelsDir(): string {
  return join(repoRoot(), 'models', 'generated');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function writeIfChanged(file: string, data: Buffer): MadeModel {
  const hash = sha256(data);
  if (existsSync(file) && sha256(readFileSync(file)) === hash) {
    return { file, action: 'unchanged', bytes: data.length, sha256: hash };
  }
  // Write beside and rename so a reader (a running extension, a test) never sees half a model.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
  return { file, action: 'written', bytes: data.length, sha256: hash };
}

/** Generates the models into `outDir` (created if missing). */
export function makeModels(outDir: string = defaultModelsDir()): MadeModel[] {
  mkdirSync(outDir, { recursive: true });
  return [
    writeIfChanged(join(outDir, TINY_BERT_FILE), buildTinyBertGguf()),
    writeIfChanged(join(outDir, TINY_LLAMA_FILE), buildTinyLlamaGguf()),
    writeIfChanged(join(outDir, TINY_LLAMA_MARKDOWN_FILE), buildTinyLlamaGguf({ markdown: true })),
  ];
}

function main(argv: string[]): void {
  if (argv.length > 1 || argv[0] === '--help' || argv[0] === '-h') {
    console.error('usage: node out/src/tools/make-models.js [outDir]');
    process.exitCode = argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
    return;
  }
  const started = Date.now();
  const outDir = argv[0] ? resolve(argv[0]) : defaultModelsDir();
  for (const m of makeModels(outDir)) {
    console.log(`make-models: ${m.action} ${m.file} (${(m.bytes / 1e6).toFixed(2)} MB, sha256 ${m.sha256.slice(0, 12)})`);
  }
  console.log(`make-models: done in ${Date.now() - started} ms`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`make-models: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
