import { createRequire } from 'node:module';
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
}

/** An HNSW graph (hnswlib-node) over unit vectors in inner-product space. */
class HnswIndex implements AnnIndexPort {
  /**
   * Labels in the graph that are marked deleted. hnswlib keeps deleted points (and counts them
   * in getCurrentCount/getIdsList), and re-adding such a label revives it in place.
   */
  private readonly deleted: Set<number>;
  private readonly present: Set<number>;

  constructor(readonly dimensions: number, private readonly index: HNSW, present: Set<number>, deleted: Set<number>, private readonly efSearch: number) {
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

  constructor(params: HnswParams = {}) {
    this.M = params.M ?? 16;
    this.efC = params.efConstruction ?? 200;
    this.ef = params.efSearch ?? 100;
  }

  create(dimensions: number, capacity: number): AnnIndexPort {
    const { HierarchicalNSW } = hnswlib();
    const index = new HierarchicalNSW('ip', dimensions);
    index.initIndex(capacity, this.M, this.efC, 100);
    return new HnswIndex(dimensions, index, new Set(), new Set(), this.ef);
  }

  load(file: string, dimensions: number, liveLabels: Iterable<number>): AnnIndexPort {
    const { HierarchicalNSW } = hnswlib();
    // Always a fresh instance: one whose readIndex failed may crash on next use.
    const index = new HierarchicalNSW('ip', dimensions);
    // allowReplaceDeleted must stay false (as in `create`): with it, hnswlib refuses to re-add a
    // label marked deleted, and the store reuses freed labels.
    index.readIndexSync(file, false);
    if (index.getNumDimensions() !== dimensions) throw new Error(`HNSW file has ${index.getNumDimensions()} dimensions, expected ${dimensions}`);
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
      logger?.warn(`The vector-index addon (hnswlib-node) cannot load on ${process.platform}-${process.arch} (${why}); using exact search, which is slower on large indexes (~50 ms per query at 100k chunks).`);
    }
    return undefined;
  }
}
