import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { decodeText, scanTree } from '../src/core/scanner.js';
import { tempDir, writeTree } from './support/files.js';

async function scanned(root: string, opts = {}): Promise<string[]> {
  return (await scanTree(root, opts)).files.map((f) => f.rel).sort();
}

describe('scanner', () => {
  test('built-in excludes, nested .gitignore, and .loupeignore re-includes', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, {
        'a.ts': 'x',
        'node_modules/pkg/index.js': 'x',
        '.git/config': 'x',
        'dist/bundle.js': 'x',
        'vendor/lib/util.go': 'x',
        'vendor/other/skip.go': 'x',
        'package-lock.json': '{}',
        '.gitignore': '*.log\n/generated/\n',
        'debug.log': 'x',
        'generated/out.ts': 'x',
        'pkg/.gitignore': 'secret.ts\n!keep.log\n',
        'pkg/secret.ts': 'x',
        'pkg/keep.log': 'x',
        'pkg/main.ts': 'x',
        'pkg/generated/ok.ts': 'x',
        '.loupeignore': '!vendor/\nvendor/other/\n*.md\n',
        'docs/guide.md': 'x',
      });
      assert.deepEqual(await scanned(dir), [
        '.gitignore',
        '.loupeignore',
        'a.ts',
        'pkg/.gitignore',
        'pkg/generated/ok.ts',
        'pkg/keep.log',
        'pkg/main.ts',
        'vendor/lib/util.go',
      ]);
    } finally {
      cleanup();
    }
  });

  test('extra excludes, the store folder, size limit, symlink loops', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, { 'src/a.ts': 'x', 'src/b.test.ts': 'x', 'index/manifest.json': '{}', 'big.txt': 'y'.repeat(5000) });
      mkdirSync(path.join(dir, 'src/inner'));
      symlinkSync('..', path.join(dir, 'src/inner/loop'));
      const r = await scanTree(dir, { excludes: ['*.test.ts'], storeDir: path.join(dir, 'index'), maxFileBytes: 1000 });
      assert.deepEqual(r.files.map((f) => f.rel).sort(), ['src/a.ts']);
      assert.ok(r.skipped.some((s) => s.rel === 'big.txt' && s.reason === 'too-large'));
      assert.ok(r.skipped.some((s) => s.reason === 'symlink-loop'));
    } finally {
      cleanup();
    }
  });

  test('a broken symlink is skipped with a reason a user can read, not an ENOENT from realpath', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, { 'a.ts': 'x' });
      symlinkSync('gone.ts', path.join(dir, 'dangling.ts'));
      const r = await scanTree(dir);
      assert.deepEqual(
        r.files.map((f) => f.rel),
        ['a.ts'],
      );
      assert.deepEqual(
        r.skipped.map((s) => [s.rel, s.reason, s.detail]),
        [['dangling.ts', 'unreadable', 'a broken symlink (its target does not exist)']],
      );
    } finally {
      cleanup();
    }
  });

  test(
    'an unreadable folder is reported, not fatal (not as root: root reads every folder)',
    { skip: process.getuid?.() === 0 && 'running as root, which reads every folder' },
    async () => {
      const { dir, cleanup } = tempDir();
      try {
        writeTree(dir, { 'ok.ts': 'x', 'locked/x.ts': 'x' });
        chmodSync(path.join(dir, 'locked'), 0);
        const r = await scanTree(dir);
        assert.deepEqual(
          r.files.map((f) => f.rel),
          ['ok.ts'],
        );
        assert.ok(r.skipped.some((s) => s.rel === 'locked' && s.reason === 'unreadable'));
        chmodSync(path.join(dir, 'locked'), 0o755);
      } finally {
        cleanup();
      }
    },
  );

  test('decoding never throws and keeps line numbers', () => {
    assert.equal(decodeText(Buffer.from('héllo\nwörld', 'utf8')), 'héllo\nwörld');
    assert.equal(decodeText(Buffer.from([0xef, 0xbb, 0xbf, 0x61])), 'a');
    assert.equal(decodeText(Buffer.from('caf\xe9\nx', 'latin1')), 'café\nx');
    assert.equal(decodeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hi\n', 'utf16le')])), 'hi\n');
  });
});
