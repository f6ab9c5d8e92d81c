/**
 * The HNSW file check that runs before hnswlib reads a file (a file can pass its checksum and
 * still crash hnswlib): a real saved graph passes; each kind of malformation is named.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { HnswFactory, hnswFileProblem } from '../src/adapters/hnsw-index.js';
import { tempDir } from './support/helpers.js';
import { prng } from './support/store-faults.js';

const DIMS = 8;

function savedGraph(n: number): Buffer {
  const { dir, cleanup } = tempDir();
  try {
    const rand = prng(n);
    const ann = new HnswFactory({ M: 4, efConstruction: 20 }).create(DIMS, n);
    for (let i = 0; i < n; i++) {
      const v = new Float32Array(DIMS).map(() => rand() - 0.5);
      const norm = Math.hypot(...v);
      ann.add(
        i,
        v.map((x) => x / norm),
      );
    }
    const file = path.join(dir, 'g.hnsw');
    ann.save(file);
    return readFileSync(file);
  } finally {
    cleanup();
  }
}

describe('HNSW file check', () => {
  const good = savedGraph(300);
  const M = Number(good.readBigUInt64LE(72));
  const perElement = Number(good.readBigUInt64LE(24));
  const count = Number(good.readBigUInt64LE(16));
  const maxLevel = good.readInt32LE(48);
  /** Where point i's upper-level link list starts, and its level. */
  const upper = (b: Buffer) => {
    const out: { at: number; level: number }[] = [];
    let pos = 96 + count * perElement;
    for (let i = 0; i < count; i++) {
      const size = b.readUInt32LE(pos);
      out.push({ at: pos + 4, level: size / (M * 4 + 4) });
      pos += 4 + size;
    }
    return out;
  };

  test('a graph hnswlib wrote passes, and loads', () => {
    assert.equal(hnswFileProblem(good, DIMS), null);
    assert.ok(maxLevel >= 1, 'the test graph has upper levels');
    assert.equal(hnswFileProblem(good, DIMS + 1) !== null, true, 'another vector size is refused');
  });

  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ['level-0 neighbour out of range', (b) => b.writeUInt32LE(count + 5, 96 + 4), /does not exist/],
    ['level-0 link count above maxM0', (b) => b.writeUInt16LE(2 * M + 1, 96), /level-0 links/],
    ['entry point out of range', (b) => b.writeUInt32LE(count, 52), /entry point/],
    ['top level too high', (b) => b.writeInt32LE(200, 48), /entry point|top level/],
    ['capacity absurd', (b) => b.writeBigUInt64LE(1n << 40n, 8), /capacity/],
    ['M inconsistent', (b) => b.writeBigUInt64LE(BigInt(M + 1), 56), /link sizes/],
    ['label out of range', (b) => b.writeBigUInt64LE(1n << 40n, 96 + perElement - 8), /label/],
    ['duplicate label', (b) => b.writeBigUInt64LE(b.readBigUInt64LE(96 + 2 * perElement - 8), 96 + perElement - 8), /twice/],
    ['vector not finite', (b) => b.writeFloatLE(Number.NaN, 96 + (2 * M * 4 + 4)), /not finite/],
    ['truncated', () => undefined, /shorter|bytes after|link list/],
    [
      'upper-level neighbour not on that level',
      (b) => {
        const lists = upper(b);
        const i = lists.findIndex((l) => l.level >= 1);
        const low = lists.findIndex((l) => l.level === 0);
        b.writeUInt16LE(Math.max(1, b.readUInt16LE(lists[i].at)), lists[i].at);
        b.writeUInt32LE(low, lists[i].at + 4);
      },
      /not on that level/,
    ],
  ];
  test('the same verdicts from bytes at an offset that is not a multiple of 4 (read through a copy)', () => {
    const at = (b: Buffer): Buffer => {
      const m = Buffer.alloc(b.length + 1).subarray(1);
      b.copy(m);
      return m;
    };
    assert.equal(hnswFileProblem(at(good), DIMS), null);
    for (const [name, mutate, expected] of cases.filter(
      ([n]) => /not finite|does not exist/.test(n) || n === 'level-0 neighbour out of range',
    )) {
      const b = at(good);
      mutate(b);
      assert.match(hnswFileProblem(b, DIMS) ?? 'passed', expected, name);
    }
    // Infinity too, at the last point's last dimension.
    const inf = at(good);
    inf.writeFloatLE(Number.POSITIVE_INFINITY, 96 + (count - 1) * perElement + (2 * M * 4 + 4) + 4 * (DIMS - 1));
    assert.match(hnswFileProblem(inf, DIMS) ?? 'passed', /not finite/);
  });

  for (const [name, mutate, expected] of cases) {
    test(name, () => {
      let b = Buffer.from(good);
      if (name === 'truncated') b = b.subarray(0, b.length - 7);
      mutate(b);
      assert.match(hnswFileProblem(b, DIMS) ?? 'passed', expected);
    });
  }

  test('a graph swapped on disk after the check cannot reach hnswlib: it reads a private copy of the checked bytes', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'g.hnsw');
      writeFileSync(file, good);
      // The attacker's graph: one hnswlib would trust and crash on (a neighbour out of range).
      const evil = Buffer.from(good);
      evil.writeUInt32LE(count + 5, 96 + 4);
      assert.match(hnswFileProblem(evil, DIMS) ?? 'passed', /does not exist/);
      let readPath = '';
      const factory = new HnswFactory({
        beforeRead: (p, named) => {
          readPath = p;
          assert.equal(named, file);
          writeFileSync(file, evil); // the swap, between the check and hnswlib's read
          assert.notEqual(path.resolve(p), path.resolve(file), 'hnswlib must not read the caller-named path');
          assert.ok(readFileSync(p).equals(good), 'the copy holds exactly the checked bytes');
          if (process.platform !== 'win32') {
            assert.equal(statSync(p).mode & 0o777, 0o600, 'the copy is private to this user');
            assert.equal(statSync(path.dirname(p)).mode & 0o777, 0o700, 'in a private folder');
          }
        },
      });
      const ann = factory.load(
        file,
        DIMS,
        Array.from({ length: count }, (_, i) => i),
      );
      assert.equal(ann.size(), count, 'the checked graph loaded, whole');
      assert.ok(readPath !== '' && !existsSync(readPath), 'the private copy is removed after loading');
      assert.ok(readFileSync(file).equals(evil), 'the swap did happen on disk');
      // Without the copy the swapped file would have been read: the check alone refuses it.
      assert.throws(() => new HnswFactory().load(file, DIMS, []), /malformed HNSW graph/);
    } finally {
      cleanup();
    }
  });
});
