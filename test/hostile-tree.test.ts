/**
 * The engine on real adapters (tree-sitter, the tiny BERT model, hnswlib) over a tree holding
 * hostile files beside ordinary code: every ordinary file ends up searchable, and every hostile
 * one is either indexed or listed as skipped with a reason. Watch mode follows the same rules.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ChokidarWatcher } from '../src/adapters/chokidar-watcher.js';
import { TreeSitterChunker } from '../src/adapters/treesitter-chunker.js';
import type { Engine } from '../src/core/engine.js';
import type { Chunk, ChunkerPort, IndexSummary } from '../src/core/types.js';
import { openTestEngine, tempDir, writeTree } from './support/helpers.js';

const posix = process.platform !== 'win32';

/** The real chunker, except that it fails on files named `explodes.*` (a parser bug stand-in). */
class FailingOnOneFile implements ChunkerPort {
  private readonly inner = new TreeSitterChunker();
  readonly version = this.inner.version;
  languageFor(rel: string): string {
    return this.inner.languageFor(rel);
  }
  async chunkFile(rel: string, text: string): Promise<Chunk[]> {
    if (path.basename(rel).startsWith('explodes.')) throw new Error('parser crashed\n    at somewhere (stack line)');
    return this.inner.chunkFile(rel, text);
  }
  dispose(): void {
    this.inner.dispose();
  }
}

const ORDINARY: Record<string, string> = {
  'src/config.ts': 'export function parseConfigFile(path: string): object {\n  return JSON.parse(readText(path));\n}\n',
  'src/sort.go': 'package sort\n\nfunc QuickSort(xs []int) []int {\n\treturn xs\n}\n',
};

describe('a tree of hostile files beside ordinary code', () => {
  let root: string;
  let cleanup: () => void;
  let engine: Engine;
  let chunker: FailingOnOneFile;
  let summary: IndexSummary;

  before(async () => {
    ({ dir: root, cleanup } = tempDir());
    const deep = Array.from({ length: 200 }, (_, i) => `level${i}`).join('/');
    let nested = '';
    for (let i = 0; i < 120; i++) nested += `class Outer${i}WithAFairlyLongDescriptiveName {\n  method${i}() {\n`;
    nested += '    return 1;\n' + '  }\n}\n'.repeat(120);
    writeTree(root, {
      ...ORDINARY,
      [`${deep}/deep.ts`]: 'export function deeplyNestedHelper(): number {\n  return 42;\n}\n',
      'docs/long-heading.md': `# ${'heading '.repeat(3000)}\n\nThe body of a section with a very long heading.\n`,
      'src/nested.ts': nested,
      'src/explodes.ts': 'export const x = 1;\n',
      'media/logo.ai': '%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n',
      'src/utf16.py': Buffer.from('\ufeffdef greet_in_utf16(name):\n    return "hi " + name\n', 'utf16le'),
      'src/latin1.c': Buffer.from('/* caf\xe9 */\nint latin_one_total(void) { return 1; }\n', 'latin1'),
      '.gitignore': `*.log\n${'x'.repeat(5000)}\n`,
      'debug.log': 'ignored\n',
    });
    if (posix) {
      spawnSync('mkfifo', [path.join(root, 'src/pipe.ts')]);
      if (existsSync('/etc/passwd')) symlinkSync('/etc/passwd', path.join(root, 'passwd.txt'));
      symlinkSync('/dev/zero', path.join(root, 'zero.ts'));
      symlinkSync('/', path.join(root, 'everything'));
    }
    chunker = new FailingOnOneFile();
    engine = await openTestEngine(root, { chunker });
    summary = await engine.index();
  });
  after(async () => {
    await engine.close();
    chunker.dispose();
    cleanup();
  });

  test('the run completes, ordinary files are searchable, hostile ones indexed or skipped with a reason', async () => {
    const indexed = [...engine.store.files.keys()].sort();
    for (const rel of Object.keys(ORDINARY)) assert.ok(indexed.includes(rel), `${rel} not indexed: ${indexed.join(', ')}`);
    const [top] = await engine.search('parseConfigFile', { k: 3, mode: 'lexical' });
    assert.equal(top.path, 'src/config.ts');
    // Indexed despite the header: a 200-folder path, a very long heading, deep nesting.
    assert.ok(indexed.some((p) => p.endsWith('/deep.ts')));
    assert.ok(indexed.includes('docs/long-heading.md'));
    assert.ok(indexed.includes('src/nested.ts'));
    const [deepHit] = await engine.search('deeplyNestedHelper', { k: 3, mode: 'lexical' });
    assert.ok(deepHit.path.endsWith('/deep.ts'), JSON.stringify(deepHit));
    // Decoded: UTF-16 with a BOM, Latin-1.
    assert.equal((await engine.search('greet_in_utf16', { k: 1, mode: 'lexical' }))[0]?.path, 'src/utf16.py');
    assert.equal((await engine.search('latin_one_total', { k: 1, mode: 'lexical' }))[0]?.path, 'src/latin1.c');
    // Skipped, each with one line naming the path and the reason.
    const w = summary.warnings.join('\n');
    assert.match(w, /^src\/explodes\.ts: skipped \(chunking failed: parser crashed\)$/m);
    assert.match(w, /^media\/logo\.ai: skipped \(binary: PDF document\)$/m);
    assert.match(w, /^\.gitignore:2: pattern skipped \(longer than 1024 characters\)$/m);
    if (posix) {
      assert.match(w, /^src\/pipe\.ts: skipped \(not-a-file: a FIFO\)$/m);
      assert.match(w, /^zero\.ts: skipped \(outside-root/m);
      assert.match(w, /^everything: skipped \(outside-root/m);
      if (existsSync('/etc/passwd')) assert.match(w, /^passwd\.txt: skipped \(outside-root/m);
    }
    for (const bad of ['src/explodes.ts', 'media/logo.ai', 'src/pipe.ts', 'zero.ts', 'passwd.txt', 'debug.log']) {
      assert.ok(!indexed.includes(bad), `${bad} must not be indexed`);
    }
    assert.ok(!indexed.some((p) => p.startsWith('everything/')));
    // The summary adds up.
    assert.equal(summary.embedded + summary.cached, summary.chunks);
    assert.equal(summary.files, indexed.length);
  });

  test(
    'watch mode follows the same rules: a new link to /etc/passwd is never indexed',
    { skip: !posix || !existsSync('/etc/passwd') },
    async () => {
      const batches: IndexSummary[] = [];
      const watcher = new ChokidarWatcher({
        root,
        isIgnored: (rel, isDir) => engine.isIgnored(rel, isDir),
        debounceMs: 100,
        maxWaitMs: 500,
      });
      await watcher.start(async (batch) => {
        batches.push(batch.rescan ? await engine.index() : await engine.updatePaths(batch.changed, batch.deleted));
      });
      try {
        symlinkSync('/etc/passwd', path.join(root, 'src/passwd-late.ts'));
        writeFileSync(path.join(root, 'src/late.ts'), 'export function lateArrival(): number {\n  return 7;\n}\n');
        const until = Date.now() + 20_000;
        while (Date.now() < until && !engine.store.files.has('src/late.ts')) await new Promise((r) => setTimeout(r, 100));
        await watcher.idle();
        assert.ok(engine.store.files.has('src/late.ts'), 'the ordinary new file is indexed');
        assert.ok(!engine.store.files.has('src/passwd-late.ts'), 'the link out of the tree is not');
        const w = batches.flatMap((b) => b.warnings).join('\n');
        assert.match(w, /^src\/passwd-late\.ts: skipped \(outside-root/m);
        // Nothing of /etc/passwd reached the index.
        assert.equal((await engine.search('root:x:0:0', { k: 5, mode: 'lexical' })).filter((h) => h.path.includes('passwd')).length, 0);
      } finally {
        await watcher.close();
      }
    },
  );
});
