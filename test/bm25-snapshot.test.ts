/**
 * The BM25 snapshot saved with each store snapshot (bm25-<g>.bin) and searched in place: on a real
 * index of varied text it scores bit for bit as a BM25 rebuilt from the term log, with the same
 * order of ties; a damaged, malformed, forged or stale one is never used (one warning for the
 * first three, none for staleness), and an index written before snapshots existed still searches.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededRandom } from '../src/core/bench/stats.js';
import type { Engine } from '../src/core/engine.js';
import { LexicalIndex, LEXICAL_LOG, queryTerms, tokenize } from '../src/core/lexical/index.js';
import { Bm25Snapshot, HEADER, SnapshotRefused } from '../src/core/lexical/snapshot.js';
import { validateManifest } from '../src/core/store.js';
import { openTestEngine, REPO, tempDir, writeTree } from './support/helpers.js';

/** Varied real text: TypeScript, Markdown and JSON of this repository, and files made to tie. */
function corpus(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const rel of ['src/core/lexical', 'src/core/store', 'docs']) {
    for (const name of readdirSync(path.join(REPO, rel)).sort()) {
      const r = `${rel}/${name}`;
      if (statSync(path.join(REPO, r)).isFile() && /\.(ts|md)$/.test(name)) files[r] = readFileSync(path.join(REPO, r), 'utf8');
    }
  }
  files['package.json'] = readFileSync(path.join(REPO, 'package.json'), 'utf8');
  // The same text under two paths of the same length in terms: equal scores, listed by slot.
  const twin = 'export function twinHelper(value: number): number {\n  // tie breaker sample\n  return value * 2;\n}\n';
  files['lib/alpha/twin.ts'] = twin;
  files['lib/bravo/twin.ts'] = twin;
  // Paths that are integer-like keys of the metadata's JSON object (they come back first on
  // reload, ascending), with the same text: they tie, in the order of the reloaded store.
  files['42'] = 'plain numbered notes about quokka habitats\n';
  files['7'] = 'plain numbered notes about quokka habitats\n';
  return files;
}

/** Queries: fixed ones (ties, path terms, unknown terms, a lone surrogate) and words drawn from the corpus. */
function queries(files: Record<string, string>): string[] {
  const qs = [
    'quokka habitats',
    'tie breaker sample',
    'twin helper',
    'parse the manifest and verify its checksum',
    'store snapshot',
    'alpha bravo',
    'zzzunknownterm',
    'notes \ud800',
    'lexical bm25 postings',
    'json',
  ];
  const words = [...new Set(Object.values(files).flatMap((t) => tokenize(t)))].sort();
  const rand = seededRandom(17);
  for (let i = 0; i < 60; i++) {
    const n = 1 + Math.floor(rand() * 4);
    qs.push(Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' '));
  }
  return qs;
}

/** Every hit of every query, as [label, path, score], in order. */
function hits(ix: LexicalIndex, engine: Engine, qs: string[]): [number, string, number][][] {
  if (!ix.built) ix.build(engine.store.files);
  return qs.map((q) => ix.search(q, 100_000).map((h): [number, string, number] => [h.chunk.label, h.path, h.score]));
}

function readManifest(store: string): Record<string, { name: string; sha256: string; bytes: number } | null> {
  return JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8'));
}

/** Replaces the snapshot file with `bytes` and makes the manifest's checksum match them. */
function forgeSnapshot(store: string, bytes: Buffer): void {
  const m = readManifest(store);
  writeFileSync(path.join(store, m.bm25!.name), bytes);
  m.bm25 = { ...m.bm25!, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  writeFileSync(path.join(store, 'manifest.json'), JSON.stringify(m, null, 1));
}

describe('BM25 snapshot', () => {
  let dir: string;
  let cleanup: () => void;
  let files: Record<string, string>;
  let qs: string[];
  let store: string;
  /** The clean store's manifest and snapshot, restored after each damaging test. */
  let manifestText: string;
  let snapName: string;
  let snapBytes: Buffer;
  const restore = () => {
    writeFileSync(path.join(store, 'manifest.json'), manifestText);
    writeFileSync(path.join(store, snapName), snapBytes);
  };
  const warningsOf = (e: Engine) => [...e.store.report.warnings, ...e.lexical.warnings];

  before(async () => {
    ({ dir, cleanup } = tempDir('loupe-bm25snap-'));
    files = corpus();
    qs = queries(files);
    writeTree(dir, files);
    store = path.join(dir, '.loupe');
    const e = await openTestEngine(dir);
    await e.index();
    assert.ok(e.store.files.has('42') && e.store.files.has('7'), 'files with integer-like names are indexed');
    await e.close();
    manifestText = readFileSync(path.join(store, 'manifest.json'), 'utf8');
    snapName = readManifest(store).bm25!.name;
    snapBytes = readFileSync(path.join(store, snapName));
  });
  after(() => cleanup?.());

  test('the index run saves a snapshot named and checksummed in the manifest', () => {
    const m = readManifest(store);
    assert.match(m.bm25!.name, /^bm25-\d+\.bin$/);
    assert.equal(m.bm25!.bytes, snapBytes.length);
    assert.equal(m.bm25!.sha256, createHash('sha256').update(snapBytes).digest('hex'));
    assert.equal(snapBytes.readUInt32LE(0), 0x5342504c);
  });

  test('a reopened reader searches the snapshot, bit for bit as a rebuilt BM25 (scores, hits and tie order)', async () => {
    const e = await openTestEngine(dir, { readOnly: true });
    try {
      await e.search('warm', { mode: 'lexical' });
      assert.equal(e.lexical.fromSnapshot, true, 'the snapshot serves the search');
      assert.deepEqual(warningsOf(e), []);
      const rebuilt = LexicalIndex.open(store, { readOnly: true });
      const a = hits(e.lexical, e, qs);
      const b = hits(rebuilt, e, qs);
      assert.equal(rebuilt.fromSnapshot, false);
      assert.equal(e.lexical.chunkCount, rebuilt.chunkCount);
      assert.equal(e.lexical.chunkCount, e.store.chunkCount);
      for (let i = 0; i < qs.length; i++) {
        assert.equal(a[i].length, b[i].length, qs[i]);
        for (let j = 0; j < a[i].length; j++) {
          assert.equal(a[i][j][0], b[i][j][0], `${qs[i]}: hit ${j}`);
          assert.equal(a[i][j][1], b[i][j][1]);
          assert.ok(Object.is(a[i][j][2], b[i][j][2]), `${qs[i]}: hit ${j} scores ${a[i][j][2]} vs ${b[i][j][2]}`);
        }
      }
      const total = a.reduce((n, h) => n + h.length, 0);
      assert.ok(total > 1000, `the queries find many chunks (${total})`);
      // The comparison covers ties: the twins score the same, the first inserted listed first.
      assert.deepEqual(
        a[0].map((h) => h[1]),
        ['7', '42'],
      );
      assert.ok(Object.is(a[0][0][2], a[0][1][2]), 'the numbered notes tie');
      const twins = a[1].filter((h) => h[1].endsWith('/twin.ts'));
      assert.equal(twins.length, 2);
      assert.ok(Object.is(twins[0][2], twins[1][2]), 'the twins tie');
      assert.deepEqual(
        twins.map((h) => h[1]),
        ['lib/alpha/twin.ts', 'lib/bravo/twin.ts'],
      );
      assert.deepEqual(b[6], [], 'an unknown term finds nothing');
      rebuilt.close();
    } finally {
      await e.close();
    }
  });

  test('a one-shot search with the snapshot does not read the term log', async () => {
    const log = path.join(store, LEXICAL_LOG);
    const logBytes = readFileSync(log);
    rmSync(log);
    const e = await openTestEngine(dir, { readOnly: true });
    try {
      const got = await e.search('tie breaker sample', { mode: 'lexical', k: 3 });
      assert.equal(got[0]?.path, 'lib/alpha/twin.ts');
      assert.equal(e.lexical.fromSnapshot, true);
      assert.deepEqual(warningsOf(e), []);
    } finally {
      await e.close();
      writeFileSync(log, logBytes);
    }
  });

  test('a snapshot that fails its checksum is not used: one warning, BM25 rebuilt, the same results', async () => {
    const bad = Buffer.from(snapBytes);
    bad[HEADER + 3] ^= 0x10;
    writeFileSync(path.join(store, snapName), bad);
    const e = await openTestEngine(dir, { readOnly: true });
    try {
      const got = await e.search('tie breaker sample', { mode: 'lexical', k: 3 });
      assert.equal(got[0]?.path, 'lib/alpha/twin.ts');
      assert.equal(e.lexical.fromSnapshot, false);
      const w = warningsOf(e);
      assert.equal(w.length, 1, w.join('\n'));
      assert.match(w[0], /BM25 snapshot is missing, not a file, or failed its checksum; BM25 is rebuilt from the term log/);
      const ref = LexicalIndex.open(store, { readOnly: true });
      assert.deepEqual(hits(e.lexical, e, qs.slice(0, 10)), hits(ref, e, qs.slice(0, 10)));
      ref.close();
    } finally {
      await e.close();
      restore();
    }
  });

  test('a snapshot file deleted, or replaced by a folder or a link to /dev/zero, is not read: one warning, BM25 rebuilt', async () => {
    const file = path.join(store, snapName);
    const cases: [string, () => void][] = [
      ['deleted', () => rmSync(file)],
      ['a folder', () => (rmSync(file), mkdirSync(file))],
      ['a link to /dev/zero', () => (rmSync(file), symlinkSync('/dev/zero', file))],
    ];
    for (const [what, mutate] of cases) {
      mutate();
      const e = await openTestEngine(dir, { readOnly: true });
      try {
        const got = await e.search('tie breaker sample', { mode: 'lexical', k: 3 });
        assert.equal(got[0]?.path, 'lib/alpha/twin.ts', what);
        assert.equal(e.lexical.fromSnapshot, false, what);
        const w = warningsOf(e);
        assert.equal(w.length, 1, `${what}: ${w.join('\n')}`);
        assert.match(w[0], /BM25 snapshot is missing, not a file, or failed its checksum/, what);
      } finally {
        await e.close();
        rmSync(file, { recursive: true, force: true });
        restore();
      }
    }
  });

  test('checksummed but malformed snapshots are refused with one warning each, and BM25 is rebuilt', async () => {
    const T = snapBytes.readUInt32LE(12);
    const at = (i: number) => snapBytes.readUInt32LE(80 + 8 * i);
    const mutations: [string, (b: Buffer) => Buffer][] = [
      ['cut short', (b) => b.subarray(0, b.length - 8)],
      ['another magic', (b) => (b.writeUInt32LE(0x12345678, 0), b)],
      ['another version', (b) => (b.writeUInt32LE(2, 4), b)],
      ['other parameters', (b) => (b.writeDoubleLE(1.5, 16), b)],
      ['built from other metadata', (b) => ((b[40] ^= 1), b)],
      ['a section out of place', (b) => (b.writeUInt32LE(b.length, 80 + 8 * 6), b)],
      ['a misaligned section', (b) => (b.writeUInt32LE(at(2) + 4, 80 + 8 * 2), b)],
      ['the dictionary unsorted', (b) => (b.writeUInt32LE(b.readUInt32LE(at(1) + 4) + 1, at(1) + 4), b)],
      ['a posting past the documents', (b) => (b.writeUInt32LE(0xffffff, at(6)), b)],
      ['a zero frequency', (b) => (b.writeUInt16LE(0, at(7)), b)],
      ['postings offsets backwards', (b) => (b.writeUInt32LE(0xfffff, at(5) + 4 * Math.floor(T / 2)), b)],
      ['a document that is no chunk', (b) => (b.writeInt32LE(0x7ffffff0, at(2)), b)],
      ['a document twice', (b) => (b.writeInt32LE(b.readInt32LE(at(2) + 4), at(2)), b)],
    ];
    for (const [what, mutate] of mutations) {
      forgeSnapshot(store, mutate(Buffer.from(snapBytes)));
      const e = await openTestEngine(dir, { readOnly: true });
      try {
        const got = await e.search('tie breaker sample', { mode: 'lexical', k: 3 });
        assert.equal(got[0]?.path, 'lib/alpha/twin.ts', what);
        assert.equal(e.lexical.fromSnapshot, false, what);
        const w = warningsOf(e);
        assert.equal(w.length, 1, `${what}: ${w.join('\n')}`);
        assert.match(w[0], /The saved BM25 snapshot is unusable \(.+\); it is rebuilt from the term log\./, what);
      } finally {
        await e.close();
        restore();
      }
    }
  });

  test('random damage that passes the checksum never crashes a search nor names a chunk the store does not have', async () => {
    const e = await openTestEngine(dir, { readOnly: true });
    try {
      const rand = seededRandom(5);
      let refused = 0;
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(snapBytes);
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
        let ix: Bm25Snapshot;
        try {
          ix = Bm25Snapshot.open(b, {
            params: { k1: 1.2, b: 0.75, pathBoost: 0.5 },
            metaSha256: readManifest(store).meta!.sha256,
            hasKey: (l) => !!e.store.chunkAt(l),
          });
        } catch (err) {
          assert.ok(err instanceof SnapshotRefused, String(err));
          refused++;
          continue;
        }
        for (const q of qs.slice(0, 12)) {
          for (const [label, score] of ix.search(queryTerms(q), 50)) {
            assert.ok(e.store.chunkAt(label), `damage ${i}: ${label}`);
            assert.ok(Number.isFinite(score));
          }
        }
      }
      assert.ok(refused > 0);
    } finally {
      await e.close();
    }
  });

  test('a manifest naming a snapshot outside the store pattern is refused like any other name', async () => {
    for (const name of ['../../etc/passwd', 'meta-1.json', 'bm25-1.bin/x', 'lexical.log']) {
      const m = JSON.parse(manifestText);
      m.bm25.name = name;
      assert.equal(validateManifest(m), 'manifest.json has an invalid bm25 entry', name);
    }
    const m = JSON.parse(manifestText);
    m.bm25.name = '../../etc/passwd';
    writeFileSync(path.join(store, 'manifest.json'), JSON.stringify(m, null, 1));
    const e = await openTestEngine(dir, { readOnly: true });
    try {
      const w = warningsOf(e);
      assert.equal(w.length, 1, w.join('\n'));
      assert.match(w[0], /invalid bm25 entry/);
      assert.deepEqual(await e.search('tie breaker', { mode: 'lexical' }), [], 'a reader sees a damaged store as empty');
    } finally {
      await e.close();
      restore();
    }
  });

  test('a journal commit makes the snapshot stale: in session BM25 is built at the commit, after a reopen it is rebuilt, silently', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('loupe-bm25stale-');
    try {
      writeTree(d2, files);
      let e = await openTestEngine(d2);
      await e.index();
      await e.search('warm', { mode: 'lexical' });
      assert.equal(e.lexical.fromSnapshot, true, 'the writer searches the snapshot it just wrote');
      writeTree(d2, { 'src/extra.ts': 'export function brandNewHelper() {\n  return 42;\n}\n' });
      await e.updatePaths(['src/extra.ts'], []);
      assert.ok(e.store.pendingOps > 0, 'the update stayed in the journal');
      assert.equal(e.lexical.fromSnapshot, false, 'the commit built BM25 in memory');
      assert.equal(e.lexical.built, true);
      assert.equal((await e.search('brandNewHelper', { mode: 'lexical' }))[0]?.path, 'src/extra.ts');
      await e.close();

      e = await openTestEngine(d2, { readOnly: true });
      try {
        const got = await e.search('brandNewHelper', { mode: 'lexical' });
        assert.equal(got[0]?.path, 'src/extra.ts');
        assert.equal(e.lexical.fromSnapshot, false);
        assert.deepEqual(warningsOf(e), []);
      } finally {
        await e.close();
      }
    } finally {
      c2();
    }
  });

  test('an index written before snapshots existed opens and searches; the next full run saves one', async () => {
    const { dir: d3, cleanup: c3 } = tempDir('loupe-bm25old-');
    try {
      writeTree(d3, files);
      let e = await openTestEngine(d3);
      await e.index();
      await e.close();
      const s3 = path.join(d3, '.loupe');
      // As the code before this change wrote it: no bm25 entry, no file.
      const m = readManifest(s3);
      rmSync(path.join(s3, m.bm25!.name));
      delete m.bm25;
      writeFileSync(path.join(s3, 'manifest.json'), JSON.stringify(m, null, 1));

      e = await openTestEngine(d3, { readOnly: true });
      try {
        const got = await e.search('tie breaker sample', { mode: 'lexical', k: 3 });
        assert.equal(got[0]?.path, 'lib/alpha/twin.ts');
        assert.equal(e.lexical.fromSnapshot, false);
        assert.deepEqual(warningsOf(e), []);
      } finally {
        await e.close();
      }
      e = await openTestEngine(d3);
      try {
        const s = await e.index();
        assert.equal(s.filesChanged, 0);
        assert.match(readManifest(s3).bm25?.name ?? '', /^bm25-\d+\.bin$/, 'a full run saves the snapshot');
      } finally {
        await e.close();
      }
      e = await openTestEngine(d3, { readOnly: true });
      try {
        await e.search('tie breaker sample', { mode: 'lexical', k: 3 });
        assert.equal(e.lexical.fromSnapshot, true);
      } finally {
        await e.close();
      }
    } finally {
      c3();
    }
  });
});
