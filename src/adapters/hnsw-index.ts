import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readRegular } from '../core/fsutil.js';
import type { AnnFactoryPort, AnnIndexPort, Logger } from '../core/types.js';

// hnswlib-node is a CommonJS N-API addon; load it the CJS way so bundlers keep it external.
const require = createRequire(import.meta.url);
type HnswLib = typeof import('hnswlib-node');
type HNSW = import('hnswlib-node').HierarchicalNSW;
let lib: HnswLib | undefined;
function hnswlib(): HnswLib {
  lib ??= require('hnswlib-node') as HnswLib;
  return lib;
}

export interface HnswParams {
  M?: number;
  efConstruction?: number;
  /** Search breadth; not stored in the file, so it is set again after every load. */
  efSearch?: number;
  /**
   * Test hook: runs after the graph was validated and copied, right before hnswlib reads it, with
   * the path hnswlib will read (the private copy) and the path the caller named.
   */
  beforeRead?: (readPath: string, file: string) => void;
}

/** An HNSW graph (hnswlib-node) over unit vectors in inner-product space. */
class HnswIndex implements AnnIndexPort {
  /**
   * Labels in the graph that are marked deleted. hnswlib keeps deleted points (and counts them
   * in getCurrentCount/getIdsList), and re-adding such a label revives it in place.
   */
  private readonly deleted: Set<number>;
  private readonly present: Set<number>;

  constructor(
    readonly dimensions: number,
    private readonly index: HNSW,
    present: Set<number>,
    deleted: Set<number>,
    private readonly efSearch: number,
  ) {
    this.present = present;
    this.deleted = deleted;
    index.setEf(efSearch);
  }

  size(): number {
    return this.present.size - this.deleted.size;
  }

  add(label: number, vector: Float32Array): void {
    if (!Number.isInteger(label) || label < 0 || label > 0x7fffffff) throw new Error(`label ${label} out of hnswlib's 32-bit range`);
    if (vector.length !== this.dimensions) throw new Error(`vector has ${vector.length} dimensions, index ${this.dimensions}`);
    if (!this.present.has(label)) {
      const max = this.index.getMaxElements();
      if (this.index.getCurrentCount() >= max) this.index.resizeIndex(Math.max(1024, max * 2));
    }
    // hnswlib takes plain arrays only; an existing (even deleted) label is updated in place.
    this.index.addPoint(Array.from(vector), label);
    this.present.add(label);
    this.deleted.delete(label);
  }

  remove(label: number): void {
    if (!this.present.has(label) || this.deleted.has(label)) return;
    this.index.markDelete(label);
    this.deleted.add(label);
  }

  search(vector: Float32Array, k: number): { label: number; score: number }[] {
    k = Math.min(k, this.size());
    if (k <= 0) return [];
    this.index.setEf(Math.max(this.efSearch, k));
    const r = this.index.searchKnn(Array.from(vector), k);
    // Inner-product space reports distance = 1 - dot.
    return r.neighbors.map((label, i) => ({ label, score: 1 - r.distances[i] }));
  }

  save(file: string): void {
    this.index.writeIndexSync(file);
  }
}

/** Creates and loads hnswlib-node graphs. Load only files whose checksum the caller verified. */
export class HnswFactory implements AnnFactoryPort {
  readonly name = 'hnswlib';
  private readonly M: number;
  private readonly efC: number;
  private readonly ef: number;
  private readonly beforeRead: HnswParams['beforeRead'];

  constructor(params: HnswParams = {}) {
    this.M = params.M ?? 16;
    this.efC = params.efConstruction ?? 200;
    this.ef = params.efSearch ?? 100;
    this.beforeRead = params.beforeRead;
  }

  create(dimensions: number, capacity: number): AnnIndexPort {
    const { HierarchicalNSW } = hnswlib();
    const index = new HierarchicalNSW('ip', dimensions);
    index.initIndex(capacity, this.M, this.efC, 100);
    return new HnswIndex(dimensions, index, new Set(), new Set(), this.ef);
  }

  load(file: string, dimensions: number, liveLabels: Iterable<number>, bytes?: Uint8Array): AnnIndexPort {
    // hnswlib trusts the file: a bad neighbour id or level crashes the process. Checked first.
    bytes ??= readRegular(file, 16 * 1024 ** 3) ?? Buffer.alloc(0);
    const problem = hnswFileProblem(bytes, dimensions);
    if (problem) throw new Error(`malformed HNSW graph: ${problem}`);
    const { HierarchicalNSW } = hnswlib();
    // Always a fresh instance: one whose readIndex failed may crash on next use.
    const index = new HierarchicalNSW('ip', dimensions);
    // hnswlib reads a path, not bytes. Reading `file` again would let a file swapped after the
    // check reach it, so it reads a private copy of exactly the bytes that were checked: a fresh
    // 0700 folder from mkdtemp, the file created there with O_EXCL and mode 0600.
    const privateDir = mkdtempSync(path.join(tmpdir(), 'loupe-hnsw-'));
    try {
      const copy = path.join(privateDir, 'graph.hnsw');
      writeFileSync(copy, bytes, { flag: 'wx', mode: 0o600 });
      this.beforeRead?.(copy, file);
      // allowReplaceDeleted must stay false (as in `create`): with it, hnswlib refuses to re-add a
      // label marked deleted, and the store reuses freed labels.
      index.readIndexSync(copy, false);
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
    if (index.getNumDimensions() !== dimensions)
      throw new Error(`HNSW file has ${index.getNumDimensions()} dimensions, expected ${dimensions}`);
    // The caller knows which labels are live; the others in the file are deleted points. (Asking
    // hnswlib point by point, getPoint throwing for deleted ones, took 10 s at 100k points.)
    const present = new Set(index.getIdsList());
    const deleted = new Set(present);
    let live = 0;
    for (const label of liveLabels) {
      if (!deleted.delete(label)) throw new Error(`HNSW file lacks live label ${label}`);
      live++;
    }
    const ann = new HnswIndex(dimensions, index, present, deleted, this.ef);
    if (ann.size() !== live) throw new Error(`HNSW file holds ${ann.size()} live points, metadata says ${live}`);
    return ann;
  }
}

const HEADER = 96;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Why an hnswlib index file (the layout of hnswlib 0.8's saveIndex) is unsafe to load, or null.
 * Checks what hnswlib's loader and search take on trust: header fields consistent with the
 * vector size and with each other, the file size they imply, every link list's level and
 * length, every neighbour id below the point count and present on that level, the entry point
 * on the top level, labels in range and unique, vectors finite.
 */
export function hnswFileProblem(bytes: Uint8Array, dimensions: number): string | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER) return 'shorter than its header';
  const u64 = (at: number): number => {
    const v = b.readBigUInt64LE(at);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const offsetLevel0 = u64(0);
  const maxElements = u64(8);
  const count = u64(16);
  const sizePerElement = u64(24);
  const labelOffset = u64(32);
  const offsetData = u64(40);
  const maxLevel = b.readInt32LE(48);
  const enterPoint = b.readUInt32LE(52);
  const maxM = u64(56);
  const maxM0 = u64(64);
  const M = u64(72);
  const mult = b.readDoubleLE(80);
  if (offsetLevel0 !== 0) return 'level-0 offset is not 0';
  if (M < 2 || M > 2048 || maxM !== M || maxM0 !== 2 * M) return `link sizes M=${M}, maxM=${maxM}, maxM0=${maxM0} are inconsistent`;
  const links0 = maxM0 * 4 + 4;
  const linksUpper = maxM * 4 + 4;
  if (offsetData !== links0 || labelOffset !== links0 + dimensions * 4 || sizePerElement !== labelOffset + 8) {
    return `element layout does not fit ${dimensions}-dimensional vectors`;
  }
  if (count > 0x7fffffff || maxElements < count || maxElements > Math.max(4 * count, 1 << 16))
    return `capacity ${maxElements} does not fit ${count} points`;
  if (!Number.isFinite(mult) || mult <= 0) return 'level multiplier is invalid';
  if (HEADER + count * sizePerElement > b.length) return 'shorter than its points';
  if (count > 0 && (maxLevel < 0 || maxLevel > 64 || enterPoint >= count))
    return `entry point ${enterPoint} or top level ${maxLevel} is invalid`;
  // Upper-level link lists follow the points: a length, then that many bytes, per point.
  const levels = new Uint8Array(count);
  const upperAt = new Float64Array(count);
  let pos = HEADER + count * sizePerElement;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > b.length) return 'shorter than its link lists';
    const size = b.readUInt32LE(pos);
    pos += 4;
    if (size % linksUpper !== 0) return `link list of point ${i} has a size that is no whole number of levels`;
    const level = size / linksUpper;
    if (level > maxLevel) return `point ${i} is on level ${level}, above the top level ${maxLevel}`;
    if (pos + size > b.length) return 'shorter than its link lists';
    levels[i] = level;
    upperAt[i] = pos;
    pos += size;
  }
  if (pos !== b.length) return `${b.length - pos} bytes after the last link list`;
  if (count > 0 && levels[enterPoint] !== maxLevel) return 'the entry point is not on the top level';
  // The points' level-0 links and vectors through typed-array views (every element size is a
  // multiple of 4): at 30k points, reading 11.6 million floats one Buffer call at a time took
  // ~350 ms of a reopen. A misaligned buffer is copied; a big-endian machine reads the bytes.
  let ints: Uint32Array | null = null;
  let floats: Float32Array | null = null;
  if (LITTLE_ENDIAN && count > 0) {
    const region = (b.byteOffset + HEADER) % 4 ? new Uint8Array(b.subarray(HEADER, HEADER + count * sizePerElement)) : b.subarray(HEADER);
    ints = new Uint32Array(region.buffer, region.byteOffset, (count * sizePerElement) / 4);
    floats = new Float32Array(region.buffer, region.byteOffset, (count * sizePerElement) / 4);
  }
  const labels = new Set<number>();
  for (let i = 0; i < count; i++) {
    const at = HEADER + i * sizePerElement;
    const n = b.readUInt16LE(at);
    if (n > maxM0) return `point ${i} has ${n} level-0 links, at most ${maxM0}`;
    if (ints && floats) {
      const w = (at - HEADER) / 4;
      for (let j = 0; j < n; j++) if (ints[w + 1 + j] >= count) return `point ${i} links to a point that does not exist`;
      const v0 = w + offsetData / 4;
      for (let d = 0; d < dimensions; d++) {
        const v = floats[v0 + d];
        // NaN for NaN and ±Infinity.
        if (v - v !== 0) return `point ${i} has a vector that is not finite`;
      }
    } else {
      for (let j = 0; j < n; j++) if (b.readUInt32LE(at + 4 + 4 * j) >= count) return `point ${i} links to a point that does not exist`;
      for (let d = 0; d < dimensions; d++)
        if (!Number.isFinite(b.readFloatLE(at + offsetData + 4 * d))) return `point ${i} has a vector that is not finite`;
    }
    const label = u64(at + labelOffset);
    if (label > 0x7fffffff) return `point ${i} has label ${label}, out of range`;
    if (labels.has(label)) return `label ${label} appears twice`;
    labels.add(label);
    for (let l = 1; l <= levels[i]; l++) {
      const la = upperAt[i] + (l - 1) * linksUpper;
      const m = b.readUInt16LE(la);
      if (m > maxM) return `point ${i} has ${m} links on level ${l}, at most ${maxM}`;
      for (let j = 0; j < m; j++) {
        const to = b.readUInt32LE(la + 4 + 4 * j);
        if (to >= count || levels[to] < l) return `point ${i} links on level ${l} to a point not on that level`;
      }
    }
  }
  return null;
}

let fallbackWarned = false;

/**
 * The HNSW factory, or undefined when hnswlib-node's addon cannot load on this platform (a VSIX for
 * another platform, a missing or foreign `addon.node`, an old C library). Loupe then keeps exact
 * search at every size, which is correct but slower above ~50k chunks; the reason is logged once
 * per process. `load` is how the addon is loaded (tests pass one that loads a foreign binary).
 */
export function tryHnswFactory(logger?: Logger, load: () => HnswLib = () => require('hnswlib-node') as HnswLib): HnswFactory | undefined {
  try {
    lib ??= load();
    if (typeof lib.HierarchicalNSW !== 'function') throw new Error('hnswlib-node has no HierarchicalNSW export');
    return new HnswFactory();
  } catch (e) {
    lib = undefined;
    if (!fallbackWarned) {
      fallbackWarned = true;
      const why = ((e as Error).message ?? String(e)).split('\n')[0];
      logger?.warn(
        `The vector-index addon (hnswlib-node) cannot load on ${process.platform}-${process.arch} (${why}); using exact search, which is slower on large indexes (~50 ms per query at 100k chunks).`,
      );
    }
    return undefined;
  }
}
