/**
 * The store's safety rules with real processes: the writer lock under 20 racing processes (with
 * stale locks left by killed holders), readers that take no lock beside a running `loupe index`,
 * and `--store` that never destroys files it did not write.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { BIN, runCli } from './support/store-faults.js';
import { isSafeRelPath, resolveInside } from '../src/core/fsutil.js';
import { hitFile } from '../src/extension/passages.js';
import { currentWriter, Store } from '../src/core/store.js';
import { LocalConn } from '../src/cli/engine-conn.js';
import { silentLogger } from '../src/core/types.js';

const LOCK_JS = pathToFileURL(path.join(REPO, 'out/src/core/lock.js')).href;
const STORE_JS = pathToFileURL(path.join(REPO, 'out/src/core/store.js')).href;

/** A writer that puts 50 one-chunk files, says `ready`, then re-puts one file and snapshots, over and over, for `ms`. */
const SNAPSHOTTER = `
import { Store } from ${JSON.stringify(STORE_JS)};
const [dir, ms] = process.argv.slice(1);
const s = Store.open(dir, { modelId: 'm'.repeat(64), modelName: 'm', dimensions: 4 });
const put = (i) => ({ op: 'put', path: 'f' + i + '.ts', file: { size: 1, mtimeMs: 1, fileHash: 'b'.repeat(64),
  chunks: [{ label: 0, startLine: 1, endLine: 1, symbol: null, language: 'typescript', hash: i.toString(16).padStart(32, '0') }] } });
s.commit(Array.from({ length: 50 }, (_, i) => ({ hash: i.toString(16).padStart(32, '0'), vector: new Float32Array([1, i, 0, 0]) })),
  Array.from({ length: 50 }, (_, i) => put(i)));
s.snapshot();
process.stdout.write('ready\\n');
let n = 0;
for (const end = Date.now() + Number(ms); Date.now() < end; n++) {
  s.commit([], [put(n % 50)]);
  s.snapshot();
}
s.close();
process.stdout.write(n + ' snapshots\\n');
`;

/**
 * A child that takes the lock `rounds` times; while holding it, it creates `inside` exclusively
 * (so two holders at once make one fail) and removes it; some rounds it dies holding the lock
 * (SIGKILL of itself), leaving a stale lock for the others to take over.
 */
const CHILD = `
import { acquireWriterLock } from ${JSON.stringify(LOCK_JS)};
import { openSync, closeSync, unlinkSync, appendFileSync } from 'node:fs';
const [dir, rounds, dieAt] = process.argv.slice(1);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
for (let i = 0; i < Number(rounds); i++) {
  let lock;
  const t0 = Date.now();
  while (!lock) {
    try { lock = acquireWriterLock(dir); } catch (e) {
      if (e.code !== 'store-locked') throw e;
      if (Date.now() - t0 > 60000) { appendFileSync(dir + '/starved', process.pid + '\\n'); process.exit(3); }
      sleep(1 + Math.random() * 5);
    }
  }
  try {
    closeSync(openSync(dir + '/inside', 'wx'));
  } catch (e) {
    appendFileSync(dir + '/violations', process.pid + ' ' + e.code + '\\n');
    process.exit(4);
  }
  appendFileSync(dir + '/held', process.pid + '\\n');
  sleep(2);
  unlinkSync(dir + '/inside');
  if (i === Number(dieAt)) process.kill(process.pid, 'SIGKILL');
  lock.release();
}
`;

describe('store safety (real processes)', () => {
  let work: string;
  let cleanup: () => void;
  before(() => ({ dir: work, cleanup } = tempDir('loupe-sec-')));
  after(() => cleanup());

  test('20 processes racing for the writer lock, some dying while they hold it: exactly one holder at a time', async () => {
    const dir = path.join(work, 'lockrace');
    mkdirSync(dir);
    // Start from a stale lock (a PID that is gone), so the first thing they race for is the takeover.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(
      path.join(dir, 'lock'),
      JSON.stringify({ pid: dead, start: null, host: (await import('node:os')).hostname(), nonce: 'dead' }),
    );
    const children = Array.from(
      { length: 20 },
      (_, i) =>
        new Promise<number | string>((resolve) => {
          const c = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir, '5', i % 4 === 0 ? String(i % 5) : '-1'], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          c.stderr.on('data', (d: Buffer) => (err += d));
          c.on('close', (code, signal) => resolve(signal ?? (code === 0 ? 0 : `${code}: ${err.slice(-300)}`)));
        }),
    );
    const results = await Promise.all(children);
    const violations = existsSync(path.join(dir, 'violations')) ? readFileSync(path.join(dir, 'violations'), 'utf8') : '';
    const held = readFileSync(path.join(dir, 'held'), 'utf8').trim().split('\n').length;
    const killed = results.filter((r) => r === 'SIGKILL').length;
    process.stdout.write(
      `# lock race: 20 processes, ${held} holds, ${killed} died holding the lock, ${violations ? violations.trim().split('\n').length : 0} overlaps\n`,
    );
    assert.equal(violations, '', 'two holders at once');
    assert.deepEqual(
      results.filter((r) => r !== 0 && r !== 'SIGKILL'),
      [],
      'every child finished',
    );
    assert.equal(killed, 5);
    assert.equal(held, 15 * 5 + [0, 4, 8, 12, 16].reduce((s, i) => s + (i % 5) + 1, 0));
  });

  test('readers opening beside a writer that snapshots over and over always see the whole index', async () => {
    // Each snapshot replaces manifest.json and removes the previous generation's files; a reader
    // between the two used to load an empty index and call it damaged (about 0.5 % of opens).
    const dir = path.join(work, 'snapshots');
    const writer = spawn(process.execPath, ['--input-type=module', '-e', SNAPSHOTTER, dir, '4000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    writer.stdout.on('data', (d: Buffer) => (out += d));
    const done = new Promise((r) => writer.on('close', r));
    while (!out.includes('ready')) {
      assert.equal(writer.exitCode, null, 'the writer failed');
      await new Promise((r) => setTimeout(r, 20));
    }
    const id = { modelId: 'm'.repeat(64), modelName: 'm', dimensions: 4 };
    let opens = 0;
    const bad: string[] = [];
    for (const end = Date.now() + 3000; Date.now() < end && writer.exitCode === null; opens++) {
      const r = Store.open(dir, id, { readOnly: true });
      if (r.chunkCount !== 50 || r.report.warnings.length) bad.push(`${r.chunkCount} chunks: ${r.report.warnings.join(' ')}`);
      r.close();
    }
    await done;
    process.stdout.write(`# readers beside snapshots: ${opens} opens during ${out.trim().split('\n').pop()}, ${bad.length} saw less\n`);
    assert.ok(opens >= 100, `only ${opens} opens`);
    assert.deepEqual(bad.slice(0, 5), []);
  });

  test('20 concurrent searches while `loupe index` runs: all succeed', async () => {
    const root = path.join(work, 'readers');
    writeTree(root, SAMPLE_PROJECT);
    const model = ['--model', tinyBertPath(), '--cpu'];
    const first = await runCli(['index', root, ...model]);
    assert.equal(first.code, 0, first.err);
    // Enough new files that the second run is still going while the searches start.
    for (let i = 0; i < 60; i++)
      writeFileSync(
        path.join(root, `gen${i}.ts`),
        `export function helper${i}(x: number): number {\n  return x * ${i} + ${i * 7};\n}\n`.repeat(4),
      );
    const indexing = runCli(['index', root, ...model]);
    await new Promise((r) => setTimeout(r, 300));
    const searches = await Promise.all(
      Array.from({ length: 20 }, () => runCli(['search', root, 'parse config file', '--json', '-k', '3', ...model])),
    );
    const ix = await indexing;
    assert.equal(ix.code, 0, ix.err);
    const failed = searches.filter((s) => s.code !== 0);
    process.stdout.write(`# readers: 20 searches beside index, ${20 - failed.length} succeeded\n`);
    assert.deepEqual(
      failed.map((s) => s.err.trim()),
      [],
    );
    for (const s of searches) assert.ok((JSON.parse(s.out) as unknown[]).length >= 1);
  });

  test('a search whose running engine goes away under it (a `loupe index` finishing) answers from the index in process', async () => {
    // The race behind the 20-search test's rare failures: a search connects to the engine that
    // `loupe index` serves, and the run ends (closing every connection) before the answer.
    const root = path.join(work, 'gone');
    writeTree(root, SAMPLE_PROJECT);
    const model = ['--model', tinyBertPath(), '--cpu'];
    const first = await runCli(['index', root, ...model]);
    assert.equal(first.code, 0, first.err);
    const local = new LocalConn(true);
    assert.ok(await local.serve({ root, modelPath: tinyBertPath(), gpu: false }, silentLogger), 'serving the index');
    const asked: string[] = [];
    const handle = local.host.handle.bind(local.host);
    local.host.handle = async (req, peer) => {
      if (peer.label !== 'loupe search' || req.method === 'hello') return handle(req, peer);
      asked.push(req.method);
      await local.close(); // the run ends before answering
    };
    try {
      const s = await runCli(['search', root, 'parse config file', '--json', '-k', '3', '--verbose', ...model]);
      assert.deepEqual(asked, ['open'], 'the search reached the engine, which then went away');
      assert.equal(s.code, 0, s.err);
      assert.match(s.err, /the running engine went away/);
      assert.ok((JSON.parse(s.out) as unknown[]).length >= 1, s.out);
    } finally {
      await local.close();
    }
  });

  describe('--store never destroys user files', () => {
    const model = () => ['--model', tinyBertPath(), '--cpu'];
    const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(path.join(dir, n), 'utf8')]));

    test('the indexed folder itself is refused: exit 2, one line, nothing written', () => {
      const proj = path.join(work, 'store-self');
      writeTree(proj, {
        'manifest.json': '{"mine": true}\n',
        'journal-2024.log': 'my journal\n',
        'meta-7.json': '{}\n',
        'a.ts': 'export const a = 1;\n',
      });
      const before = snapshot(proj);
      const r = spawnSync(process.execPath, [BIN, 'index', proj, '--store', proj, ...model()], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^loupe: Refusing to use .* it is the folder being indexed/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.deepEqual(snapshot(proj), before);
    });

    test('a folder of other files is refused; its files and git status stay as they were', () => {
      const proj = path.join(work, 'store-other-proj');
      writeTree(proj, { 'a.ts': 'export const a = 1;\n' });
      const other = path.join(work, 'store-other');
      writeTree(other, { 'manifest.json': '{"mine": true}\n', 'journal-2024.log': 'my journal\n', 'meta-7.json': '{}\n' });
      const before = snapshot(other);
      const r = spawnSync(process.execPath, [BIN, 'index', proj, '--store', other, ...model()], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /holds files Loupe did not write/);
      assert.deepEqual(snapshot(other), before, 'no file changed, no .gitignore written');
    });

    test('/ and the home folder are refused', () => {
      const proj = path.join(work, 'store-root-proj');
      writeTree(proj, { 'a.ts': 'export const a = 1;\n' });
      const home = path.join(work, 'home');
      mkdirSync(home);
      const slash = spawnSync(process.execPath, [BIN, 'index', proj, '--store', '/', ...model()], { encoding: 'utf8' });
      assert.equal(slash.status, 2, slash.stderr);
      assert.match(slash.stderr, /root of the file system/);
      const h = spawnSync(process.execPath, [BIN, 'index', proj, '--store', home, ...model()], {
        encoding: 'utf8',
        env: { ...process.env, HOME: home },
      });
      assert.equal(h.status, 2, h.stderr);
      assert.match(h.stderr, /home folder/);
      assert.deepEqual(readdirSync(home), []);
    });

    test('an empty folder becomes a marked store; a second run reuses it', () => {
      const proj = path.join(work, 'store-empty-proj');
      writeTree(proj, { 'a.ts': 'export function alpha(): number {\n  return 1;\n}\n' });
      const store = path.join(work, 'store-empty');
      mkdirSync(store);
      for (let i = 0; i < 2; i++) {
        const r = spawnSync(process.execPath, [BIN, 'index', proj, '--store', store, ...model()], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      assert.ok(existsSync(path.join(store, '.loupe-store')));
      assert.ok(existsSync(path.join(store, 'manifest.json')));
    });
  });

  test('a store of another user or machine (one that came with a clone) is not used: reported and rebuilt', () => {
    const dir = path.join(work, 'foreign');
    const id = { modelId: 'm'.repeat(64), modelName: 'm', dimensions: 4 };
    const s = Store.open(dir, id);
    s.commit(
      [{ hash: 'a'.repeat(32), vector: new Float32Array([1, 0, 0, 0]) }],
      [
        {
          op: 'put',
          path: 'a.ts',
          file: {
            size: 1,
            mtimeMs: 1,
            fileHash: 'b'.repeat(64),
            chunks: [{ label: 0, startLine: 1, endLine: 1, symbol: null, language: 'typescript', hash: 'a'.repeat(32) }],
          },
        },
      ],
    );
    s.snapshot();
    s.close();
    assert.deepEqual(Store.open(dir, id).report.warnings, [], 'our own store is used');
    for (const writer of [
      { user: 'uid:4242', machine: currentWriter().machine },
      { user: currentWriter().user, machine: 'elsewhere' },
      undefined,
    ]) {
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      m.writer = writer;
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
      const reader = Store.open(dir, id, { readOnly: true });
      assert.equal(reader.files.size, 0, 'a reader sees nothing of it');
      assert.match(reader.report.warnings.join(), /another user or machine.*run `loupe index`/);
      const r = Store.open(dir, id);
      assert.match(r.report.warnings.join(), /another user or machine.*rebuilding/);
      assert.equal(r.files.size, 0);
      r.close();
      assert.deepEqual(Store.open(dir, id).report.warnings, [], 'the rebuilt store is ours');
    }
  });

  test('indexed paths: only relative, normalised paths inside the root', async () => {
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', './a', 'a/.', 'C:/x', 'a\\b', 'a\0b']) {
      assert.equal(isSafeRelPath(bad), false, bad);
      assert.equal(resolveInside('/r', bad), null, bad);
    }
    assert.equal(isSafeRelPath('src/a.ts'), true);
    assert.equal(resolveInside('/r', 'src/a.ts'), path.resolve('/r/src/a.ts'));
    // The extension's passage reader: a link inside the folder that leads out is not read either.
    const root = path.join(work, 'passages');
    writeTree(root, { 'in.ts': 'x\n' });
    (await import('node:fs')).symlinkSync('/etc/passwd', path.join(root, 'out.ts'));
    assert.equal(await hitFile(root, 'in.ts'), path.join(root, 'in.ts'));
    assert.equal(await hitFile(root, 'out.ts'), null);
    assert.equal(await hitFile(root, '../../../../etc/passwd'), null);
  });
});
