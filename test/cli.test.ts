import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';

const BIN = path.join(REPO, 'bin/loupe.js');

function loupe(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('loupe CLI (real process)', () => {
  let root: string;
  let cleanup: () => void;
  const model = tinyBertPath();

  before(() => {
    ({ dir: root, cleanup } = tempDir());
    writeTree(root, SAMPLE_PROJECT);
  });
  after(() => cleanup());

  test('index prints a summary; search --json follows the contract', () => {
    const idx = loupe('index', root, '--model', model, '--cpu');
    assert.equal(idx.code, 0, idx.err);
    assert.match(
      idx.out,
      /^5 files indexed \(5 changed, 0 removed, 0 skipped\) · \d+ chunks in changed files: \d+ embedded, 0 from cache · [\d.]+ s$/m,
    );

    const s = loupe('search', root, 'parse config file', '-k', '3', '--json', '--model', model, '--cpu');
    assert.equal(s.code, 0, s.err);
    const results = JSON.parse(s.out) as {
      path: string;
      startLine: number;
      endLine: number;
      symbol: string | null;
      language: string;
      score: number;
    }[];
    assert.ok(results.length >= 1 && results.length <= 3);
    // The contract's fields stay; fields are only ever added (kind, dense, lexical, boost).
    for (const f of ['endLine', 'language', 'path', 'score', 'startLine', 'symbol']) assert.ok(f in results[0], f);
    assert.deepEqual(
      Object.keys(results[0]).filter(
        (f) => !['endLine', 'language', 'path', 'score', 'startLine', 'symbol', 'kind', 'dense', 'lexical', 'boost'].includes(f),
      ),
      [],
    );
    assert.equal(results[0].path, 'src/config.ts');
    assert.equal(results[0].symbol, 'parseConfigFile');
    assert.equal(typeof results[0].score, 'number');
  });

  test('a second index run embeds nothing; status reports the index without a model', () => {
    const idx = loupe('index', root, '--model', model, '--cpu');
    assert.equal(idx.code, 0, idx.err);
    assert.match(idx.out, /0 changed.*0 embedded/);
    const st = loupe('status', root, '--json');
    assert.equal(st.code, 0, st.err);
    const info = JSON.parse(st.out);
    assert.equal(info.indexed, true);
    assert.equal(info.files, 5);
    assert.equal(info.model.name, 'loupe-tiny-bert');
    assert.ok(info.chunks > 0);
  });

  test('human-readable search prints score, path:lines and symbol', () => {
    const s = loupe('search', root, 'sort integers quickly', '-k', '2', '--model', model, '--cpu');
    assert.equal(s.code, 0, s.err);
    assert.match(s.out.split('\n')[0], /^\d\.\d{3} {2}src\/sort\.go:\d+-\d+ {2}QuickSort$/);
  });

  test('a damaged BM25 snapshot: the search still answers, and says so once', () => {
    const { dir, cleanup: done } = tempDir();
    try {
      writeTree(dir, SAMPLE_PROJECT);
      assert.equal(loupe('index', dir, '--model', model, '--cpu').code, 0);
      const snap = readdirSync(path.join(dir, '.loupe')).find((f) => /^bm25-\d+\.bin$/.test(f));
      assert.ok(snap, 'the index has a BM25 snapshot');
      const file = path.join(dir, '.loupe', snap);
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(file, bytes);
      const s = loupe('search', dir, 'sort integers quickly', '-k', '2', '--model', model, '--cpu');
      assert.equal(s.code, 0, s.err);
      assert.match(s.out.split('\n')[0], /src\/sort\.go:\d+-\d+ {2}QuickSort$/);
      const warnings = s.err.split('\n').filter((l) => l.startsWith('[warn]'));
      assert.equal(warnings.length, 1, s.err);
      assert.match(warnings[0], /BM25 snapshot/);
    } finally {
      done();
    }
  });

  test('damaged index metadata on the bundled model: search exits 1 saying so, with no native abort', () => {
    // The one-shot search's prestarted ONNX Runtime thread was adopted, the damaged store held no
    // chunks, and closing the thread mid-load aborted the process (SIGABRT, "terminate called").
    const { dir, cleanup: done } = tempDir();
    try {
      writeTree(dir, SAMPLE_PROJECT);
      assert.equal(loupe('index', dir).code, 0);
      const meta = readdirSync(path.join(dir, '.loupe')).find((f) => /^meta-\d+\.json$/.test(f));
      assert.ok(meta, 'the index has its metadata file');
      const file = path.join(dir, '.loupe', meta);
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1] ^= 0x01;
      writeFileSync(file, bytes);
      for (let i = 0; i < 3; i++) {
        const s = loupe('search', dir, 'sort integers quickly');
        assert.equal(s.code, 1, s.err);
        assert.doesNotMatch(s.err, /terminate called|Napi::Error/);
        assert.match(s.err.trim().split('\n').pop()!, /^loupe: the index of .* was damaged .*run `loupe index .*` to repair it\.$/);
      }
      const repair = loupe('index', dir);
      assert.equal(repair.code, 0, repair.err);
      const warnings = repair.err.split('\n').filter((l) => l.startsWith('[warn]'));
      assert.ok(
        warnings.some((w) => /metadata failed its checksum/.test(w)),
        repair.err,
      );
      assert.equal(new Set(warnings).size, warnings.length, `each warning once: ${repair.err}`);
      const again = loupe('search', dir, 'sort integers quickly', '-k', '1');
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /src\/sort\.go:\d+-\d+ {2}QuickSort/);
    } finally {
      done();
    }
  });

  test('search --lang, --path and --content keep only what they name; bad values exit 2 in one line', () => {
    const go = loupe('search', root, 'parse config file', '--lang', 'go', '--json', '--model', model, '--cpu');
    assert.equal(go.code, 0, go.err);
    const goHits = JSON.parse(go.out) as { path: string; language: string; kind: string }[];
    assert.ok(goHits.length > 0 && goHits.every((h) => h.language === 'go'), go.out);
    const py = loupe('search', root, 'parse config file', '--path', 'src/http/**', '--json', '--model', model, '--cpu');
    assert.equal(py.code, 0, py.err);
    const pyHits = JSON.parse(py.out) as { path: string }[];
    assert.ok(pyHits.length > 0 && pyHits.every((h) => h.path.startsWith('src/http/')), py.out);
    const docs = loupe('search', root, 'parse config file', '--content', 'docs', '--json', '--model', model, '--cpu');
    assert.equal(docs.code, 0, docs.err);
    assert.ok(
      (JSON.parse(docs.out) as { kind: string }[]).every((h) => h.kind === 'docs'),
      docs.out,
    );
    const all = loupe('search', root, 'parse config file', '--content', 'all', '--json', '--model', model, '--cpu');
    assert.equal(all.code, 0, all.err);
    assert.equal((JSON.parse(all.out) as { kind: string }[])[0].kind, 'code');
    for (const [flag, value, msg] of [
      ['--content', 'binaries', /--content must be/],
      ['--lang', 'klingon', /--lang must be/],
      ['--path', ' ', /--path needs a glob/],
    ]) {
      const bad = loupe('search', root, 'parse config file', flag as string, value as string, '--model', model, '--cpu');
      assert.equal(bad.code, 2, `${flag} ${value}`);
      assert.match(bad.err, msg as RegExp);
      assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
    }
  });

  test('another model refuses to mix vectors and points at --rebuild', () => {
    const { dir, cleanup: c } = tempDir();
    try {
      // Same weights, another file identity: a copy with one byte of padding appended.
      const other = path.join(dir, 'other.gguf');
      const fs = spawnSync('cp', [model, other]);
      assert.equal(fs.status, 0);
      writeFileSync(other, Buffer.alloc(32), { flag: 'a' });
      const s = loupe('search', root, 'anything', '--model', other, '--cpu');
      assert.equal(s.code, 1);
      assert.match(s.err, /built with model .* --rebuild/s);
      const r = loupe('index', root, '--rebuild', '--model', other, '--cpu');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /5 changed/);
    } finally {
      c();
      loupe('index', root, '--rebuild', '--model', model, '--cpu');
    }
  });

  test('a model file that is not GGUF, and a missing one, give clear errors', () => {
    const { dir, cleanup: c } = tempDir();
    try {
      const bogus = path.join(dir, 'model.gguf');
      writeFileSync(bogus, 'this is not a model at all');
      const r1 = loupe('index', root, '--model', bogus, '--cpu');
      assert.equal(r1.code, 1);
      assert.match(r1.err, /Not a GGUF model file/);
      const r2 = loupe('index', root, '--model', path.join(dir, 'nope.gguf'), '--cpu');
      assert.equal(r2.code, 1);
      assert.match(r2.err, /Model file not found/);
    } finally {
      c();
    }
  });

  test('index --watch picks up a new file, then stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, 'index', root, '--watch', '--model', model, '--cpu'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(pred(), `timed out waiting for ${what}; stdout: ${out}; stderr: ${err}`);
    };
    try {
      await waitFor(() => err.includes('watching'), 'the watcher');
      writeFileSync(
        path.join(root, 'src/inventory.ts'),
        'export function countWarehouseStock(items: number[]) {\n  return items.reduce((a, b) => a + b, 0);\n}\n',
      );
      await waitFor(() => /6 files indexed \(1 changed/.test(out), 'the update');
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 0, err);
    } finally {
      child.kill('SIGKILL');
    }
    const s = loupe('search', root, 'count warehouse stock', '-k', '1', '--json', '--model', model, '--cpu');
    assert.equal(JSON.parse(s.out)[0].path, 'src/inventory.ts');
  });

  test("two `loupe index` runs started together on one folder both finish: the second goes through the first's engine, and on when that one exits", async () => {
    // Before: the second one's engine vanished when the first finished its own job ("The Loupe
    // engine process stopped unexpectedly", exit 1), or, started at the same instant, the two raced
    // for the writer lock and one failed ("in use by another Loupe process").
    const { dir, cleanup: done } = tempDir();
    try {
      const files: Record<string, string> = {};
      for (let i = 0; i < 300; i++)
        files[`src/m${i}.ts`] = `export function compute${i}(values: number[]) {\n  return values.map((v) => v * ${i} + ${i % 7});\n}\n`;
      writeTree(dir, files);
      const run = (): Promise<{ code: number | null; out: string; err: string }> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, [BIN, 'index', dir, '--model', model, '--cpu', '--no-backoff'], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => resolve({ code, out, err }));
        });
      for (const delayMs of [0, 200, 600]) {
        rmSync(path.join(dir, '.loupe'), { recursive: true, force: true });
        const first = run();
        await new Promise((r) => setTimeout(r, delayMs));
        const results = await Promise.all([first, run()]);
        for (const r of results) {
          assert.equal(r.code, 0, `started ${delayMs} ms apart: ${r.err}`);
          assert.match(r.out, /^300 files indexed/m, r.out);
          assert.doesNotMatch(r.err, /in use by another Loupe process|stopped unexpectedly/);
        }
        const status = JSON.parse(loupe('status', dir, '--json').out) as { chunks: number; files: number };
        assert.equal(status.files, 300);
        assert.equal(status.chunks, 300);
      }
    } finally {
      done();
    }
  });

  test("a second `loupe index --watch` watches through the first one's engine, and goes on watching by itself when that one stops", async () => {
    const { dir, cleanup: done } = tempDir();
    const start = () => {
      const child = spawn(process.execPath, [BIN, 'index', dir, '--watch', '--model', model, '--cpu', '--no-backoff'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const io = { out: '', err: '' };
      child.stdout.on('data', (d) => (io.out += d));
      child.stderr.on('data', (d) => (io.err += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      return { child, io, exited };
    };
    const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(pred(), `timed out waiting for ${what}`);
    };
    const a = start();
    let b: ReturnType<typeof start> | undefined;
    try {
      writeTree(dir, SAMPLE_PROJECT);
      await waitFor(() => a.io.err.includes('watching'), 'the first watcher');
      b = start();
      const second = b;
      await waitFor(() => second.io.err.includes('watching'), 'the second watcher');
      a.child.kill('SIGINT');
      assert.equal(await a.exited, 0, a.io.err);
      await waitFor(
        () => /going on from what it committed/.test(second.io.err) && /watching .*\n.*watching /s.test(second.io.err),
        'the hand-over',
      );
      writeFileSync(
        path.join(dir, 'src/ledger.ts'),
        'export function reconcileLedgerEntries(rows: number[]) {\n  return rows.filter((r) => r !== 0);\n}\n',
      );
      await waitFor(
        () => /indexed \(1 changed/.test(second.io.out),
        `the new file indexed by the second run: ${second.io.out} ${second.io.err}`,
      );
      second.child.kill('SIGINT');
      assert.equal(await second.exited, 0, second.io.err);
      const s = loupe('search', dir, 'reconcile ledger entries', '-k', '1', '--json', '--model', model, '--cpu');
      assert.equal(JSON.parse(s.out)[0].path, 'src/ledger.ts');
    } finally {
      a.child.kill('SIGKILL');
      b?.child.kill('SIGKILL');
      done();
    }
  });

  test('usage errors exit 2 with the usage text', () => {
    const r = loupe('search', root);
    assert.equal(r.code, 2);
    assert.match(r.err, /missing "<query>"/);
    const u = loupe('frobnicate', root);
    assert.equal(u.code, 2);
    assert.match(u.err, /unknown command/);
    const nd = loupe('index', path.join(root, 'does-not-exist'), '--model', model, '--cpu');
    assert.equal(nd.code, 2);
    assert.match(nd.err, /no such folder/);
  });
});
