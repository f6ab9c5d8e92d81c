import { createRequire } from 'node:module';
// The on-disk store: round trips, every kind of damage we can make to its files, and SIGKILL
// mid-commit. Most tests drive `Store` directly with hand-made unit vectors (fast, exact
// expectations); a few go through the real engine to show that what was lost is re-indexed.
//
// This file is also its own child process (LOUPE_STORE_CHILD set): hnswlib segfaults on some
// corrupt files and a crash test needs something to kill, so those parts run in a fork.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HnswFactory } from '../src/adapters/hnsw-index.js';
import { Store, type FileRecord, type JournalOp, type StoreIdentity, type StoreOptions } from '../src/core/store.js';
import { LoupeError } from '../src/core/types.js';
import { openTestEngine, SAMPLE_PROJECT, tempDir, writeTree } from './support/helpers.js';

const D = 16;
const MODEL_A: StoreIdentity = { modelId: 'aaaa1111bbbb2222cccc', modelName: 'model-a', dimensions: D };
const MODEL_B: StoreIdentity = { modelId: 'ffff9999eeee8888dddd', modelName: 'model-b', dimensions: D };
const hnsw = new HnswFactory();
/** HNSW from the first chunk, so every snapshot writes a graph file. */
const HNSW_OPTS: StoreOptions = { annFactory: hnsw, annThreshold: 0 };
/** The default: exact search below 20,000 chunks. */
const EXACT_OPTS: StoreOptions = { annFactory: hnsw };
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Deterministic corpus: a file is (path, version, chunk count); each chunk's content hash and
// unit vector follow from those, so any process can recompute what a file should hold.

function chunkHash(p: string, version: number, j: number): string {
  return createHash('sha256').update(`${p}#${version}#${j}`).digest('hex').slice(0, 32);
}

/** A unit vector derived from a content hash (mulberry32 seeded by its first 8 hex digits). */
function vectorOf(hash: string): Float32Array {
  let s = parseInt(hash.slice(0, 8), 16) >>> 0;
  const v = new Float32Array(D);
  for (let i = 0; i < D; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    v[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < D; i++) v[i] /= n;
  return v;
}

type FileSpec = [path: string, version: number, chunks: number];

function fileRecord([p, version, n]: FileSpec): FileRecord {
  const chunks = Array.from({ length: n }, (_, j) => ({
    label: -1,
    startLine: j * 10 + 1,
    endLine: j * 10 + 9,
    symbol: `fn${j}`,
    language: 'typescript',
    hash: chunkHash(p, version, j),
  }));
  return { size: 100 * n + version, mtimeMs: 1_700_000_000_000 + version, fileHash: chunkHash(p, version, -1), chunks };
}

/** Commits puts and deletes as one batch, sending only the vectors the cache lacks (as the engine does). */
function commitFiles(store: Store, puts: FileSpec[], dels: string[] = []): void {
  const ops: JournalOp[] = dels.map((p) => ({ op: 'del', path: p }));
  const fresh = new Map<string, Float32Array>();
  for (const spec of puts) {
    const file = fileRecord(spec);
    for (const c of file.chunks) if (!store.getVector(c.hash)) fresh.set(c.hash, vectorOf(c.hash));
    ops.push({ op: 'put', path: spec[0], file });
  }
  store.commit(
    [...fresh].map(([hash, vector]) => ({ hash, vector })),
    ops,
  );
}

/** `batches` batches of `perBatch` files with 3 chunks each. */
function corpus(batches: number, perBatch: number, prefix = 'src'): FileSpec[][] {
  return Array.from({ length: batches }, (_, b) =>
    Array.from({ length: perBatch }, (_, f): FileSpec => [`${prefix}/b${b}/f${f}.ts`, 0, 3]),
  );
}

/** Files and chunks, sorted, as plain data. */
function view(store: Store): [string, FileRecord][] {
  return [...store.files].sort(([a], [b]) => a.localeCompare(b)).map(([p, r]) => [p, structuredClone(r)]);
}

/** Every live chunk's vector as a query: top-k as `path:label:hash@score`. */
function probe(store: Store, k = 5): string[][] {
  const out: string[][] = [];
  for (const [, rec] of view(store)) {
    for (const c of rec.chunks) {
      out.push(store.search(vectorOf(c.hash), k).map((h) => `${h.path}:${h.chunk.label}:${h.chunk.hash}@${h.score.toFixed(4)}`));
    }
  }
  return out;
}

/**
 * What must hold for any store, damaged or not: each hit is a chunk its file really has, a query
 * with a live chunk's own vector finds that chunk first, a full k comes back, and the order is
 * exactly that of brute force over the live chunks.
 */
function assertSound(store: Store, queries: Float32Array[] = [], k = 5): void {
  const live = view(store).flatMap(([p, r]) => r.chunks.map((c) => ({ p, c })));
  assert.equal(store.chunkCount, live.length);
  const all = [
    ...live.map(({ c }) => ({ q: vectorOf(c.hash), self: c.hash as string | null })),
    ...queries.map((q) => ({ q, self: null })),
  ];
  for (const { q, self } of all) {
    const hits = store.search(q, k);
    assert.equal(hits.length, Math.min(k, live.length), 'a full k of live chunks');
    for (const h of hits) {
      const rec = store.files.get(h.path);
      assert.ok(rec, `hit in ${h.path}, which the index does not hold`);
      assert.ok(
        rec.chunks.some((c) => c.label === h.chunk.label && c.hash === h.chunk.hash),
        `hit ${h.chunk.label} is not a chunk of ${h.path}`,
      );
    }
    if (self) {
      assert.equal(hits[0].chunk.hash, self, 'a chunk is its own nearest neighbour');
      assert.ok(hits[0].score > 0.999);
    }
    assert.deepEqual(
      hits.map((h) => h.chunk.label),
      store.exactSearch(q, k).map((e) => e.label),
      'same order as brute force',
    );
  }
}

/** Random-direction queries (not any chunk's vector). */
function someQueries(n: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => vectorOf(chunkHash('query', i, 0)));
}

function storeFile(dir: string, re: RegExp): string {
  const names = readdirSync(dir).filter((n) => re.test(n));
  assert.equal(names.length, 1, `one file matching ${re} in ${readdirSync(dir).join(', ')}`);
  return path.join(dir, names[0]);
}

function manifestOf(
  dir: string,
): Record<string, unknown> & { ann: { name: string } | null; meta: { name: string }; vectors: { name: string } } {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
}

/** A store in `dir` with 6 batches of 5 files × 3 chunks, snapshotted with an HNSW graph. */
function buildSnapshotted(dir: string, opts = HNSW_OPTS): { before: [string, FileRecord][]; probe: string[][] } {
  const s = Store.open(dir, MODEL_A, opts);
  for (const batch of corpus(6, 5)) commitFiles(s, batch);
  s.snapshot();
  const out = { before: view(s), probe: probe(s) };
  s.close();
  return out;
}

function flipBytes(file: string, at: number, n: number): void {
  const buf = readFileSync(file);
  for (let i = 0; i < n; i++) buf[at + i] ^= 0xff;
  writeFileSync(file, buf);
}

/** Reopens after damage: the warning is there, the store is sound, and a second open is clean. */
function assertRepaired(dir: string, warning: RegExp, opts = HNSW_OPTS): Store {
  const s = Store.open(dir, MODEL_A, opts);
  assert.ok(
    s.report.warnings.some((w) => warning.test(w)),
    `expected a warning like ${warning}, got ${JSON.stringify(s.report.warnings)}`,
  );
  assertSound(s, someQueries(10));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Child-process modes.

function childEnv(mode: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_STORE_CHILD: mode, ...extra };
  delete env.NODE_TEST_CONTEXT; // the child is a plain script, not a test-runner subprocess
  return env;
}

async function childMain(mode: string, dir: string): Promise<void> {
  if (mode === 'open') {
    // Open and search everything; report what happened. Exit 0 means the process survived.
    const s = Store.open(dir, MODEL_A, HNSW_OPTS);
    assertSound(s, someQueries(10));
    process.stdout.write(
      JSON.stringify({ warnings: s.report.warnings, annRebuilt: s.report.annRebuilt, chunks: s.chunkCount, kind: s.annKind }),
    );
    s.close();
  } else if (mode === 'raw-load') {
    // What the store avoids: load the graph without verifying it, then search.
    const file = storeFile(dir, /^ann-\d+\.hnsw$/);
    const { HierarchicalNSW } = createRequire(import.meta.url)('hnswlib-node') as typeof import('hnswlib-node');
    const index = new HierarchicalNSW('ip', D);
    index.readIndexSync(file, false);
    for (const q of someQueries(50)) index.searchKnn(Array.from(q), 10);
    process.stdout.write('survived');
  } else if (mode === 'commit-loop') {
    // Commits batch after batch until killed; reports each batch once it is durable.
    const s = Store.open(dir, MODEL_A, HNSW_OPTS);
    for (let b = 0; ; b++) {
      const { puts, dels } = loopBatch(b);
      commitFiles(s, puts, dels);
      process.stdout.write(`committed ${b}\n`);
      if (b % 4 === 3) s.snapshot();
    }
  } else {
    throw new Error(`unknown child mode ${mode}`);
  }
}

/**
 * Batch b of the crash test: 4 new files, a new version of one file of batch b-1, and the
 * deletion of one of batch b-2. So a half-applied batch would be visible in three ways.
 */
function loopBatch(b: number): { puts: FileSpec[]; dels: string[] } {
  const puts: FileSpec[] = Array.from({ length: 4 }, (_, f): FileSpec => [`b${b}/f${f}.ts`, 0, 3]);
  if (b >= 1) puts.push([`b${b - 1}/f0.ts`, 1, 2]);
  return { puts, dels: b >= 2 ? [`b${b - 2}/f3.ts`] : [] };
}

/** The files (path → version and hashes) after batches 0..last. */
function loopState(last: number): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (let b = 0; b <= last; b++) {
    const { puts, dels } = loopBatch(b);
    for (const p of dels) files.delete(p);
    for (const spec of puts)
      files.set(
        spec[0],
        fileRecord(spec).chunks.map((c) => c.hash),
      );
  }
  return files;
}

// ---------------------------------------------------------------------------------------------

if (process.env.LOUPE_STORE_CHILD) {
  await childMain(process.env.LOUPE_STORE_CHILD, process.argv[2]);
} else {
  for (const [kind, opts, expected] of [
    ['exact', EXACT_OPTS, 'exact'],
    ['hnsw', HNSW_OPTS, 'hnswlib'],
  ] as const) {
    describe(`store round trip (${kind})`, () => {
      test('commit batches, snapshot, reopen: same files, chunks and search results', () => {
        const { dir, cleanup } = tempDir();
        try {
          const s = Store.open(dir, MODEL_A, opts);
          for (const batch of corpus(5, 4)) commitFiles(s, batch);
          s.snapshot();
          assert.equal(s.annKind, expected);
          const before = view(s);
          const hits = probe(s);
          assertSound(s, someQueries(10));
          s.close();

          const r = Store.open(dir, MODEL_A, opts);
          assert.deepEqual(r.report, { warnings: [], annRebuilt: false });
          assert.equal(r.annKind, expected);
          assert.equal(r.chunkCount, 60);
          assert.deepEqual(view(r), before);
          assert.deepEqual(probe(r), hits);
          assertSound(r, someQueries(10));
          r.close();
        } finally {
          cleanup();
        }
      });

      test('reopen without a snapshot replays the journal', () => {
        const { dir, cleanup } = tempDir();
        try {
          const s = Store.open(dir, MODEL_A, opts);
          for (const batch of corpus(5, 4)) commitFiles(s, batch);
          commitFiles(s, [['src/b1/f1.ts', 1, 5]], ['src/b2/f2.ts']);
          assert.equal(s.pendingOps, 22);
          const before = view(s);
          const hits = probe(s);
          s.close();

          const r = Store.open(dir, MODEL_A, opts);
          assert.deepEqual(r.report.warnings, []);
          assert.equal(r.annKind, expected);
          assert.deepEqual(view(r), before);
          assert.deepEqual(probe(r), hits);
          assertSound(r, someQueries(10));
          r.close();
        } finally {
          cleanup();
        }
      });

      test('labels of deleted chunks are reused, across a snapshot and a reopen', () => {
        const { dir, cleanup } = tempDir();
        try {
          const s = Store.open(dir, MODEL_A, opts);
          commitFiles(s, [
            ['a.ts', 0, 3],
            ['b.ts', 0, 3],
            ['c.ts', 0, 3],
          ]);
          const bLabels = s.files
            .get('b.ts')!
            .chunks.map((c) => c.label)
            .sort();
          commitFiles(s, [], ['b.ts']);
          // b's labels are marked deleted in the graph this snapshot writes.
          s.snapshot();
          s.close();

          const r = Store.open(dir, MODEL_A, opts);
          assert.deepEqual(r.report.warnings, []);
          commitFiles(r, [['d.ts', 0, 3]]);
          assert.deepEqual(
            r.files
              .get('d.ts')!
              .chunks.map((c) => c.label)
              .sort(),
            bLabels,
            "d takes b's freed labels",
          );
          assertSound(r);
          // A label freed and reused within the journal (no snapshot in between).
          commitFiles(r, [], ['a.ts']);
          commitFiles(r, [['e.ts', 0, 3]]);
          assert.equal(Math.max(...view(r).flatMap(([, f]) => f.chunks.map((c) => c.label))), 8, 'no label above 8 for 9 live chunks');
          assertSound(r);
          const before = view(r);
          r.close();

          const again = Store.open(dir, MODEL_A, opts);
          assert.deepEqual(again.report.warnings, []);
          assert.deepEqual(view(again), before);
          assert.equal(
            again.search(vectorOf(chunkHash('b.ts', 0, 0)), 9).filter((h) => h.path === 'b.ts').length,
            0,
            'deleted file never returned',
          );
          assertSound(again);
          again.close();
        } finally {
          cleanup();
        }
      });
    });
  }

  describe('store: HNSW snapshot + journal', () => {
    test('snapshot, more commits, reopen: the graph is patched by the journal and matches exact search', () => {
      const { dir, cleanup } = tempDir();
      try {
        const s = Store.open(dir, MODEL_A, HNSW_OPTS);
        for (const batch of corpus(8, 5)) commitFiles(s, batch);
        s.snapshot();
        // After the snapshot: new files, files replaced by new content, deletions, a re-put of
        // identical content (same hashes, new labels) and a file put back after its deletion.
        commitFiles(s, corpus(2, 5, 'new').flat());
        commitFiles(
          s,
          [
            ['src/b0/f0.ts', 1, 4],
            ['src/b1/f1.ts', 2, 1],
          ],
          ['src/b2/f2.ts', 'src/b3/f3.ts'],
        );
        commitFiles(s, [['src/b4/f4.ts', 0, 3]], ['src/b5/f0.ts']);
        commitFiles(s, [['src/b3/f3.ts', 0, 3]]);
        const before = view(s);
        const hits = probe(s);
        s.close();

        const r = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(r.report, { warnings: [], annRebuilt: false }, 'the snapshot graph was loaded, not rebuilt');
        assert.equal(r.annKind, 'hnswlib');
        assert.deepEqual(view(r), before);
        assert.deepEqual(probe(r), hits);
        assertSound(r, someQueries(20), 10);
        r.close();
      } finally {
        cleanup();
      }
    });

    test('a snapshot compacts a vector cache dominated by stale vectors', () => {
      const { dir, cleanup } = tempDir();
      try {
        const s = Store.open(dir, MODEL_A, HNSW_OPTS);
        const stale = Array.from({ length: 10_100 }, (_, i) => chunkHash('stale', i, 0));
        s.commit(
          stale.map((hash) => ({ hash, vector: vectorOf(hash) })),
          [],
        );
        for (const batch of corpus(2, 5)) commitFiles(s, batch);
        s.snapshot();
        assert.equal(s.cachedVectors, 30);
        assert.match(manifestOf(dir).vectors.name, /^vectors-2\.bin$/);
        assert.deepEqual(
          readdirSync(dir).filter((n) => n.startsWith('vectors-')),
          ['vectors-2.bin'],
        );
        const before = view(s);
        s.close();
        const r = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(r.report.warnings, []);
        assert.equal(r.cachedVectors, 30);
        assert.deepEqual(view(r), before);
        assertSound(r);
        r.close();
      } finally {
        cleanup();
      }
    });
  });

  describe('store: damaged files are detected, reported and repaired', () => {
    /** Damages the HNSW file, then checks open warns, rebuilds, stays sound, and persists the repair. */
    function hnswDamage(damage: (file: string) => void): void {
      const { dir, cleanup } = tempDir();
      try {
        const built = buildSnapshotted(dir);
        damage(storeFile(dir, /^ann-\d+\.hnsw$/));
        const s = assertRepaired(dir, /HNSW index file failed its checksum/);
        assert.equal(s.report.annRebuilt, true);
        assert.equal(s.annKind, 'hnswlib');
        assert.deepEqual(view(s), built.before);
        s.close();
        const again = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(again.report, { warnings: [], annRebuilt: false }, 'the rebuilt graph was written back');
        assert.deepEqual(probe(again), built.probe);
        again.close();
      } finally {
        cleanup();
      }
    }

    test('truncated HNSW file', () => hnswDamage((f) => truncateSync(f, Math.floor(statSync(f).size / 2))));
    test('empty HNSW file', () => hnswDamage((f) => truncateSync(f, 0)));

    test('bit-flipped HNSW file: would crash hnswlib unverified; the store survives (in a child process)', () => {
      const { dir, cleanup } = tempDir();
      try {
        const built = buildSnapshotted(dir);
        const file = storeFile(dir, /^ann-\d+\.hnsw$/);
        // Flip the first two level-0 neighbour ids of the middle third of the points.
        const buf = readFileSync(file);
        const offsetLevel0 = Number(buf.readBigUInt64LE(0));
        const count = Number(buf.readBigUInt64LE(16));
        const perPoint = Number(buf.readBigUInt64LE(24));
        const HEADER = 96; // hnswlib's fixed header: 10 size_t/double fields and 2 ints
        for (let i = Math.floor(count / 3); i < Math.floor((2 * count) / 3); i++)
          flipBytes(file, HEADER + i * perPoint + offsetLevel0 + 4, 8);

        const raw = spawnSync(process.execPath, [SELF, dir], {
          env: childEnv('raw-load', { LOUPE_COUNT: String(count) }),
          encoding: 'utf8',
          timeout: 120_000,
        });
        assert.ok(
          raw.status !== 0 || raw.signal !== null,
          `loading the damaged graph unverified should not survive (status ${raw.status}, ${raw.stdout})`,
        );

        const child = spawnSync(process.execPath, [SELF, dir], { env: childEnv('open'), encoding: 'utf8', timeout: 120_000 });
        assert.equal(child.signal, null, `the store's process died: ${child.stderr}`);
        assert.equal(child.status, 0, child.stderr);
        const out = JSON.parse(child.stdout) as { warnings: string[]; annRebuilt: boolean; chunks: number; kind: string };
        assert.ok(
          out.warnings.some((w) => /HNSW index file failed its checksum/.test(w)),
          JSON.stringify(out.warnings),
        );
        assert.equal(out.annRebuilt, true);
        assert.equal(out.chunks, 90);
        assert.equal(out.kind, 'hnswlib');
        const again = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(again.report.warnings, []);
        assert.deepEqual(probe(again), built.probe);
        again.close();
      } finally {
        cleanup();
      }
    });

    test('garbage manifest: reported, the store starts over empty, and the next open is clean', () => {
      const { dir, cleanup } = tempDir();
      try {
        buildSnapshotted(dir);
        writeFileSync(path.join(dir, 'manifest.json'), '{"format": 1, "gener\u0000\u0001ation":');
        const s = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.ok(
          s.report.warnings.some((w) => /damaged \(manifest\.json is not valid JSON\); rebuilding/.test(w)),
          JSON.stringify(s.report.warnings),
        );
        assert.equal(s.files.size, 0);
        assert.deepEqual(s.search(vectorOf(chunkHash('src/b0/f0.ts', 0, 0)), 5), []);
        assert.deepEqual(
          readdirSync(dir).filter((n) => /^(ann|meta)-/.test(n)),
          ['meta-1.json'],
          'old generation files removed',
        );
        commitFiles(s, [['x.ts', 0, 2]]);
        s.close();
        const r = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(r.report.warnings, []);
        assert.deepEqual([...r.files.keys()], ['x.ts']);
        assertSound(r);
        r.close();
      } finally {
        cleanup();
      }
    });

    test('manifest pointing at a missing HNSW file', () => {
      const { dir, cleanup } = tempDir();
      try {
        const built = buildSnapshotted(dir);
        const m = manifestOf(dir);
        m.ann!.name = 'ann-77.hnsw';
        writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
        const s = assertRepaired(dir, /HNSW index file failed its checksum/);
        assert.deepEqual(view(s), built.before);
        s.close();
        const again = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(again.report.warnings, []);
        again.close();
      } finally {
        cleanup();
      }
    });

    test('manifest pointing at a missing metadata snapshot: files are forgotten, the graph is not trusted', () => {
      const { dir, cleanup } = tempDir();
      try {
        buildSnapshotted(dir);
        const m = manifestOf(dir);
        m.meta.name = 'meta-77.json';
        writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
        const s = assertRepaired(dir, /metadata failed its checksum/);
        assert.equal(s.files.size, 0);
        assert.deepEqual(s.search(vectorOf(chunkHash('src/b0/f0.ts', 0, 0)), 5), [], 'nothing the metadata lost is returned');
        s.close();
      } finally {
        cleanup();
      }
    });

    test('meta snapshot with a bad checksum: journal files kept, no stale graph points, re-put files reuse cached vectors', () => {
      const { dir, cleanup } = tempDir();
      try {
        buildSnapshotted(dir);
        const s0 = Store.open(dir, MODEL_A, HNSW_OPTS);
        commitFiles(s0, [['late.ts', 0, 3]]);
        s0.close();
        flipBytes(storeFile(dir, /^meta-\d+\.json$/), 40, 1);

        const s = assertRepaired(dir, /metadata failed its checksum/);
        assert.deepEqual([...s.files.keys()], ['late.ts'], 'only what the journal holds survives');
        // Queries aimed at chunks the metadata lost must still fill k with live chunks.
        assertSound(
          s,
          corpus(6, 5)
            .flat()
            .map(([p]) => vectorOf(chunkHash(p, 0, 1))),
          3,
        );
        // The engine would re-scan and put the files back; their vectors are still cached.
        const cachedBefore = s.cachedVectors;
        for (const batch of corpus(6, 5)) commitFiles(s, batch);
        assert.equal(s.cachedVectors, cachedBefore, 'no vector was needed again');
        assertSound(s, someQueries(10));
        s.snapshot();
        const before = view(s);
        s.close();
        const r = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(r.report.warnings, []);
        assert.deepEqual(view(r), before);
        assertSound(r, someQueries(10));
        r.close();
      } finally {
        cleanup();
      }
    });

    test('truncated vector log: the torn tail is cut back and the files that lost vectors are dropped', () => {
      const { dir, cleanup } = tempDir();
      try {
        const built = buildSnapshotted(dir);
        const vec = storeFile(dir, /^vectors-\d+\.bin$/);
        const record = 16 + D * 4 + 4;
        const whole = 16 + 80 * record + 20; // 80 of 90 records, then part of the 81st
        truncateSync(vec, whole);
        const s = assertRepaired(dir, /vector cache had a damaged tail/);
        assert.ok(
          s.report.warnings.some((w) => /4 file\(s\) lost their cached vectors/.test(w)),
          JSON.stringify(s.report.warnings),
        );
        assert.equal(statSync(vec).size, 16 + 80 * record, 'cut back to the last whole record');
        assert.equal(s.files.size, 26);
        assert.deepEqual(
          view(s),
          built.before.filter(([p]) => !/^src\/b5\/f[1-4]\.ts$/.test(p)),
        );
        // Re-committing the lost files (what the engine's next run does) makes the store whole.
        commitFiles(
          s,
          [1, 2, 3, 4].map((f): FileSpec => [`src/b5/f${f}.ts`, 0, 3]),
        );
        assertSound(s, someQueries(10));
        s.close();
      } finally {
        cleanup();
      }
    });

    test('bit-flipped record in the vector log', () => {
      const { dir, cleanup } = tempDir();
      try {
        buildSnapshotted(dir);
        const vec = storeFile(dir, /^vectors-\d+\.bin$/);
        const record = 16 + D * 4 + 4;
        flipBytes(vec, 16 + 45 * record + 30, 1); // inside record 45 (file src/b3/f0.ts)
        const s = assertRepaired(dir, /vector cache had a damaged tail/);
        assert.ok(s.report.warnings.some((w) => /lost their cached vectors/.test(w)));
        assert.equal(s.cachedVectors, 45);
        assert.equal(s.files.size, 15, 'only files whose every vector is intact');
        for (const [, rec] of view(s)) for (const c of rec.chunks) assert.ok(s.getVector(c.hash));
        s.close();
      } finally {
        cleanup();
      }
    });

    test('journal with a torn last line: the batch in flight is dropped, the rest replays', () => {
      const { dir, cleanup } = tempDir();
      try {
        const s0 = Store.open(dir, MODEL_A, HNSW_OPTS);
        for (const batch of corpus(3, 4)) commitFiles(s0, batch);
        const committed = view(s0);
        commitFiles(s0, [['torn.ts', 0, 3]]);
        s0.close();
        const journal = storeFile(dir, /^journal-\d+\.log$/);
        const size = statSync(journal).size;
        truncateSync(journal, size - 7);

        const s = assertRepaired(dir, /journal had a damaged tail/);
        assert.deepEqual(view(s), committed);
        assert.ok(!s.files.has('torn.ts'));
        assert.equal(s.pendingOps, 0, 'the repair was written as a new generation');
        commitFiles(s, [['after.ts', 0, 2]]);
        s.close();
        const r = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.deepEqual(r.report.warnings, [], 'lines appended after the repair replay cleanly');
        assert.ok(r.files.has('after.ts'));
        assertSound(r);
        r.close();
      } finally {
        cleanup();
      }
    });

    test("another model's index: model-mismatch mentioning --rebuild, nothing touched; rebuild: true starts over", () => {
      const { dir, cleanup } = tempDir();
      try {
        buildSnapshotted(dir);
        const filesBefore = readdirSync(dir).sort();
        assert.throws(
          () => Store.open(dir, MODEL_B, HNSW_OPTS),
          (e: unknown) => {
            assert.ok(e instanceof LoupeError);
            assert.equal(e.code, 'model-mismatch');
            assert.match(e.message, /--rebuild/);
            assert.match(e.message, /model-a/);
            return true;
          },
        );
        assert.deepEqual(readdirSync(dir).sort(), filesBefore);
        const own = Store.open(dir, MODEL_A, HNSW_OPTS);
        assert.equal(own.files.size, 30, 'the index is intact for its own model');
        own.close();

        const s = Store.open(dir, MODEL_B, { ...HNSW_OPTS, rebuild: true });
        assert.equal(s.files.size, 0);
        commitFiles(s, [['b.ts', 0, 3]]);
        s.close();
        assert.equal(manifestOf(dir).modelId, MODEL_B.modelId);
        const r = Store.open(dir, MODEL_B, HNSW_OPTS);
        assert.deepEqual(r.report.warnings, []);
        assert.deepEqual([...r.files.keys()], ['b.ts']);
        r.close();
        assert.throws(() => Store.open(dir, MODEL_A, HNSW_OPTS), /--rebuild/);
      } finally {
        cleanup();
      }
    });
  });

  describe('store: crash safety', () => {
    /** Runs the commit loop in a child, SIGKILLs it once batch `killAfter` is reported, returns the last reported. */
    async function killDuringCommits(dir: string, killAfter: number): Promise<number> {
      const child = spawn(process.execPath, [SELF, dir], { env: childEnv('commit-loop'), stdio: ['ignore', 'pipe', 'pipe'] });
      let last = -1;
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const lines = out.split('\n');
        out = lines.pop()!;
        for (const l of lines) last = Number(l.split(' ')[1]);
        if (last >= killAfter && child.exitCode === null) child.kill('SIGKILL');
      });
      const signal = await exited;
      assert.equal(signal, 'SIGKILL', `the commit loop ended on its own: ${err}`);
      return last;
    }

    test('SIGKILL mid-run loses at most the batch in flight; everything committed is searchable', async () => {
      const { dir, cleanup } = tempDir();
      try {
        for (const killAfter of [5, 9, 14]) {
          const reported = await killDuringCommits(dir, killAfter);
          const s = Store.open(dir, MODEL_A, HNSW_OPTS);
          // Batches are all-or-nothing: the recovered state is exactly batches 0..m for some m
          // at least the last one reported (more may have committed before the signal landed).
          const batches = [...s.files.keys()].map((p) => Number(/^b(\d+)\//.exec(p)![1]));
          const m = Math.max(...batches);
          assert.ok(m >= reported, `batch ${reported} was reported committed, but only up to ${m} came back`);
          const want = loopState(m);
          assert.deepEqual(
            new Map([...s.files].map(([p, r]) => [p, r.chunks.map((c) => c.hash)])),
            want,
            `state after kill at ${reported} is not exactly batches 0..${m}`,
          );
          assertSound(s, someQueries(5));
          s.close();
          // The next child starts over on the same folder with --rebuild semantics.
          Store.open(dir, MODEL_A, { ...HNSW_OPTS, rebuild: true }).close();
        }
      } finally {
        cleanup();
      }
    });
  });

  describe('store under the engine: what damage lost is indexed again', () => {
    test('truncated vector log and bad meta checksum: the next index run restores the same results', async () => {
      const { dir, cleanup } = tempDir();
      try {
        writeTree(dir, SAMPLE_PROJECT);
        const e = await openTestEngine(dir);
        const first = await e.index();
        const queries = ['parse the config file', 'download a web page', 'sort integers', 'log in a user'];
        const expected = await Promise.all(queries.map((q) => e.search(q, { k: 3 })));
        await e.close();
        const storeDir = path.join(dir, '.loupe');

        // Cut the vector log in the middle of its 3rd record: two files keep their vectors.
        const vec = storeFile(storeDir, /^vectors-\d+\.bin$/);
        const record = 16 + e.store.identity.dimensions * 4 + 4;
        truncateSync(vec, 16 + 2 * record + 100);
        const e2 = await openTestEngine(dir);
        assert.ok(e2.status().warnings.some((w) => /lost their cached vectors/.test(w)));
        assert.ok(e2.store.files.size < first.files);
        const again = await e2.index();
        assert.equal(again.files, first.files);
        assert.equal(again.embedded, first.chunks - 2, 'only the chunks whose vectors were lost are embedded');
        assert.deepEqual(await Promise.all(queries.map((q) => e2.search(q, { k: 3 }))), expected);
        await e2.close();

        // A bad meta checksum forgets every file but keeps the vectors: re-indexing embeds nothing.
        flipBytes(storeFile(storeDir, /^meta-\d+\.json$/), 20, 1);
        const e3 = await openTestEngine(dir);
        assert.ok(e3.status().warnings.some((w) => /metadata failed its checksum/.test(w)));
        assert.equal(e3.store.files.size, 0);
        const third = await e3.index();
        assert.equal(third.files, first.files);
        assert.equal(third.embedded, 0);
        assert.deepEqual(await Promise.all(queries.map((q) => e3.search(q, { k: 3 }))), expected);
        await e3.close();

        const e4 = await openTestEngine(dir);
        assert.deepEqual(e4.status().warnings, []);
        await e4.close();
      } finally {
        cleanup();
      }
    });
  });
}
