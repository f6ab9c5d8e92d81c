/**
 * The scanner and file reader on hostile input, with real files made at test time: content
 * sniffing of common binary formats, UTF-16 text, ignore patterns the library cannot compile or
 * that are slow, FIFOs, device nodes, and symlinks that leave the root.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { IgnoreRules, readSourceFile, scanTree, sniffBinary } from '../src/core/scanner.js';
import { tempDir, writeTree } from './support/helpers.js';

const isRoot = process.getuid?.() === 0;
const posix = process.platform !== 'win32';

/** A real 1×1 PNG: signature, IHDR, IDAT (zlib), IEND, each chunk with its CRC. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real ZIP with one stored entry (what a JAR or a DOCX is made of). */
function zip(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  const fname = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fname.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fname.length, 28);
  const cdOffset = local.length + fname.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fname.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, fname, data, central, fname, end]);
}

/** A minimal PDF: text objects and an xref table; no NUL byte anywhere, so only its magic gives it away. */
function pdf(): Buffer {
  const body = '%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n';
  return Buffer.from(`${body}xref\n0 3\n0000000000 65535 f \ntrailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n${body.length}\n%%EOF\n`);
}

/** A WOFF header (44 bytes) followed by an empty table directory. */
function woff(sig: 'wOFF' | 'wOF2'): Buffer {
  const b = Buffer.alloc(64);
  b.write(sig, 0, 'latin1');
  b.writeUInt32BE(0x00010000, 4);
  b.writeUInt32BE(64, 8);
  return b;
}

/** The first 64 KiB of the running Node binary: ELF on Linux, Mach-O on macOS, PE on Windows. */
function nodeBinaryHead(): Buffer {
  const fd = openSync(process.execPath, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function wasm(): Buffer {
  const req = createRequire(import.meta.url);
  const file = req.resolve('web-tree-sitter/tree-sitter.wasm');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
}

describe('content sniffing', () => {
  test('common binary formats are told by their magic numbers', () => {
    const ttf = Buffer.alloc(64);
    ttf.writeUInt32BE(0x00010000, 0);
    ttf.writeUInt16BE(4, 4);
    const otf = Buffer.concat([Buffer.from('OTTO'), Buffer.alloc(60)]);
    const sqlite = Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(84)]);
    const jpeg = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
      Buffer.from('JFIF\0'),
      Buffer.alloc(16),
      Buffer.from([0xff, 0xd9]),
    ]);
    const gif = Buffer.concat([
      Buffer.from('GIF89a'),
      Buffer.from([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b]),
    ]);
    const cases: [string, Buffer, RegExp][] = [
      ['pdf', pdf(), /PDF/],
      ['png', png(), /PNG/],
      ['jpeg', jpeg, /JPEG/],
      ['gif', gif, /GIF/],
      ['zip', zip('word/document.xml', '<w:document/>'), /ZIP/],
      ['gzip', gzipSync(Buffer.from('hello '.repeat(100))), /gzip/],
      ['woff', woff('wOFF'), /WOFF font/],
      ['woff2', woff('wOF2'), /WOFF2/],
      ['ttf', ttf, /TrueType/],
      ['otf', otf, /OpenType/],
      ['wasm', wasm(), /WebAssembly/],
      ['sqlite', sqlite, /SQLite/],
      ['node binary', nodeBinaryHead(), /ELF|Mach-O|PE|NUL/],
    ];
    for (const [name, bytes, want] of cases) {
      const why = sniffBinary(bytes.subarray(0, 8192));
      assert.ok(why && want.test(why), `${name}: ${why}`);
    }
    // The PDF has no NUL byte: only its magic number catches it.
    assert.equal(pdf().includes(0), false);
  });

  test('mostly control bytes is binary; Latin-1, UTF-8 and UTF-16 text is not', () => {
    const noisy = Buffer.alloc(4096);
    for (let i = 0; i < noisy.length; i++) noisy[i] = 1 + ((i * 7919) % 255);
    assert.match(sniffBinary(noisy) ?? '', /control bytes/);
    assert.equal(sniffBinary(Buffer.from('caf\xe9 cr\xe8me\nna\xefve\n', 'latin1')), null);
    assert.equal(sniffBinary(Buffer.from('export const x = "日本語";\n\tindent\x1b[31mred\x1b[0m\n')), null);
    assert.equal(sniffBinary(Buffer.from('\ufeffdef hello():\n    return 1\n', 'utf16le')), null);
    const be = Buffer.from('\ufeffdef hello():\n', 'utf16le').swap16();
    assert.equal(sniffBinary(be), null);
  });

  test('the reader skips a mislabelled PDF and decodes a UTF-16 file with a BOM', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, {
        'media/logo.ai': pdf(),
        'lib/app.jar.txt': zip('a/B.class', 'x'),
        'src/utf16.py': Buffer.from('\ufeffdef greet_in_utf16(name):\n    return "hi " + name\n', 'utf16le'),
        'src/plain.ts': 'export const a = 1;\n',
      });
      const ai = await readSourceFile(path.join(dir, 'media/logo.ai'), { root: dir });
      assert.deepEqual(ai, { skip: 'binary', detail: 'PDF document' });
      const jar = await readSourceFile(path.join(dir, 'lib/app.jar.txt'), { root: dir });
      assert.ok('skip' in jar && jar.skip === 'binary');
      const u16 = await readSourceFile(path.join(dir, 'src/utf16.py'), { root: dir });
      assert.ok('text' in u16, JSON.stringify(u16));
      assert.equal(u16.text, 'def greet_in_utf16(name):\n    return "hi " + name\n');
      const plain = await readSourceFile(path.join(dir, 'src/plain.ts'), { root: dir });
      assert.ok('text' in plain && plain.size === 20);
    } finally {
      cleanup();
    }
  });
});

describe('ignore rules from untrusted files', () => {
  test('a pattern the library cannot compile is skipped with its file and line; the others apply', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, {
        '.gitignore': `# comment\n*.log\n${'a'.repeat(70_000)}\n**/x/**/y/**/z/**\nsecret.ts\n`,
        'pkg/.gitignore': `${'b'.repeat(2000)}\n`,
        'a.ts': 'x',
        'debug.log': 'x',
        'secret.ts': 'x',
        'pkg/b.ts': 'x',
      });
      const r = await scanTree(dir);
      assert.deepEqual(r.files.map((f) => f.rel).sort(), ['.gitignore', 'a.ts', 'pkg/.gitignore', 'pkg/b.ts']);
      const w = r.rules.warnings.join('\n');
      assert.match(w, /^\.gitignore:3: pattern skipped \(longer than 1024/m);
      assert.match(w, /^\.gitignore:4: pattern skipped \(more than 2 '\*\*'\)/m);
      assert.match(w, /^pkg\/\.gitignore:1: pattern skipped/m);
      // A pattern compilable under the length cap but rejected by the regular-expression engine.
      const rules = new IgnoreRules([], dir);
      rules.add(['ok/', 'a'.repeat(1000)]);
      assert.equal(rules.isIgnored('ok/', true), true);
    } finally {
      cleanup();
    }
  });

  test('matching stays bounded with slow (but valid) patterns on a 200-folder-deep path', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const deep = Array.from({ length: 200 }, () => 'd').join('/');
      writeTree(dir, {
        // Without the cap on '**', line 3 costs over a second per path at this depth.
        '.gitignore': '**/*d*/**/*d*/q\nd/**/d/**/y\n**/*d*/**/*d*/**/*d*/q\n*.log\n',
        [`${deep}/file.ts`]: 'export const deep = 1;\n',
        'top.log': 'x',
      });
      const t0 = performance.now();
      const r = await scanTree(dir);
      const ms = performance.now() - t0;
      assert.deepEqual(r.files.map((f) => f.rel).sort(), ['.gitignore', `${deep}/file.ts`]);
      assert.ok(ms < 10_000, `scan took ${Math.round(ms)} ms`);
      assert.deepEqual(r.rules.warnings, [".gitignore:3: pattern skipped (more than 2 '**')"]);
    } finally {
      cleanup();
    }
  });
});

describe('filesystem rules', () => {
  test('FIFOs, sockets and device nodes are listed as skipped and never opened', { skip: !posix }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, { 'a.ts': 'export const a = 1;\n' });
      const fifo = spawnSync('mkfifo', [path.join(dir, 'pipe.ts')]);
      assert.equal(fifo.status, 0, 'mkfifo');
      let device = false;
      if (isRoot) device = spawnSync('mknod', [path.join(dir, 'zero.ts'), 'c', '1', '5']).status === 0;
      symlinkSync('/dev/zero', path.join(dir, 'zero-link.ts'));
      const t0 = performance.now();
      const r = await scanTree(dir);
      assert.ok(performance.now() - t0 < 5000);
      assert.deepEqual(
        r.files.map((f) => f.rel),
        ['a.ts'],
      );
      const skipped = Object.fromEntries(r.skipped.map((s) => [s.rel, `${s.reason}: ${s.detail}`]));
      assert.equal(skipped['pipe.ts'], 'not-a-file: a FIFO');
      if (device) assert.equal(skipped['zero.ts'], 'not-a-file: a character device');
      assert.match(skipped['zero-link.ts'], /^outside-root/);
      // The reader refuses them too, without blocking on the FIFO.
      const p = await readSourceFile(path.join(dir, 'pipe.ts'), { root: dir });
      assert.deepEqual(p, { skip: 'not-a-file', detail: 'a FIFO' });
      if (device)
        assert.deepEqual(await readSourceFile(path.join(dir, 'zero.ts'), { root: dir }), {
          skip: 'not-a-file',
          detail: 'a character device',
        });
    } finally {
      cleanup();
    }
  });

  test('an ignore file that is a link to /dev/zero or a FIFO is not read', { skip: !posix }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, { 'a.ts': 'x', 'pkg/b.ts': 'x' });
      symlinkSync('/dev/zero', path.join(dir, '.gitignore'));
      assert.equal(spawnSync('mkfifo', [path.join(dir, 'pkg/.gitignore')]).status, 0);
      const t0 = performance.now();
      const r = await scanTree(dir);
      assert.ok(performance.now() - t0 < 5000);
      assert.deepEqual(r.files.map((f) => f.rel).sort(), ['a.ts', 'pkg/b.ts']);
      assert.deepEqual(r.rules.warnings, ['.gitignore: not read (a symlink)', 'pkg/.gitignore: not read (not a regular file)']);
    } finally {
      cleanup();
    }
  });

  test('symlinks are followed only while their real path stays inside the root', { skip: !posix }, async () => {
    const { dir: outer, cleanup } = tempDir();
    try {
      const root = path.join(outer, 'root');
      writeTree(outer, { 'outside/secret.ts': 'export const secret = 1;\n' });
      writeTree(root, { 'src/a.ts': 'export const a = 1;\n', 'lib/real/b.ts': 'export const b = 1;\n' });
      symlinkSync('/etc/passwd', path.join(root, 'passwd.txt'));
      symlinkSync(path.join(outer, 'outside'), path.join(root, 'out-dir'));
      symlinkSync('../outside/secret.ts', path.join(root, 'secret.ts'));
      symlinkSync('lib/real', path.join(root, 'alias'));
      symlinkSync('src/a.ts', path.join(root, 'a-link.ts'));
      symlinkSync('/', path.join(root, 'slash'));
      const r = await scanTree(root);
      // A link to a folder already walked under its own path is not walked twice.
      assert.deepEqual(r.files.map((f) => f.rel).sort(), ['a-link.ts', 'lib/real/b.ts', 'src/a.ts']);
      const outside = r.skipped
        .filter((s) => s.reason === 'outside-root')
        .map((s) => s.rel)
        .sort();
      assert.deepEqual(outside, ['out-dir', 'passwd.txt', 'secret.ts', 'slash']);
      assert.ok(r.skipped.some((s) => s.rel === 'alias' && s.reason === 'symlink-loop'));
      if (existsSync('/etc/passwd')) {
        const read = await readSourceFile(path.join(root, 'passwd.txt'), { root });
        assert.ok('skip' in read && read.skip === 'outside-root', JSON.stringify(read));
      }
      const inside = await readSourceFile(path.join(root, 'a-link.ts'), { root });
      assert.ok('text' in inside);
    } finally {
      cleanup();
    }
  });

  test('a folder linked from outside any walked folder is walked once, under the link', { skip: !posix }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, { '.gitignore': 'hidden/\n', 'hidden/c.ts': 'export const c = 1;\n' });
      symlinkSync('hidden', path.join(dir, 'shown'));
      mkdirSync(path.join(dir, 'empty'));
      writeFileSync(path.join(dir, 'empty', '.keep'), '');
      const r = await scanTree(dir);
      assert.deepEqual(r.files.map((f) => f.rel).sort(), ['.gitignore', 'empty/.keep', 'shown/c.ts']);
    } finally {
      cleanup();
    }
  });

  test('a file that changes while it is read is read again or skipped, never taken half-written', async () => {
    const { dir, cleanup } = tempDir();
    const file = path.join(dir, 'growing.ts');
    writeFileSync(file, '// start\n');
    // Another process keeps appending whole lines for two seconds (up to 8 MB).
    const writer = spawn(process.execPath, [
      '-e',
      `
      const fs = require('node:fs');
      const line = 'export const v = ' + '1'.repeat(200) + ';\\n';
      const end = Date.now() + 2000;
      const pause = new Int32Array(new SharedArrayBuffer(4));
      let size = 0;
      while (Date.now() < end && size < 8e6) {
        fs.appendFileSync(${JSON.stringify(file)}, line.repeat(5));
        size += line.length * 5;
        Atomics.wait(pause, 0, 0, 0.2);
      }
    `,
    ]);
    const exited = new Promise((r) => writer.on('exit', r));
    try {
      let changing = 0;
      let whole = 0;
      while (writer.exitCode === null) {
        const r = await readSourceFile(file, { root: dir, maxBytes: 64 * 1024 * 1024 });
        if ('skip' in r) {
          assert.equal(r.skip, 'changing', JSON.stringify(r));
          changing++;
          continue;
        }
        // A consistent snapshot: exactly the bytes of the size it reports, ending on a whole line.
        assert.equal(Buffer.byteLength(r.text), r.size);
        assert.ok(r.text.endsWith('\n'), 'half a line was read');
        whole++;
      }
      console.log(`reads during writes: ${whole} consistent, ${changing} skipped as changing`);
      assert.ok(whole + changing > 0);
    } finally {
      await exited;
      cleanup();
    }
  });
});
