import type { AnnIndexPort } from './types.js';

/**
 * Exact inner-product search over unit vectors in one growable slab. Below a few tens of
 * thousands of chunks it is fast enough for live search, has perfect recall, and needs no file:
 * it is rebuilt from the vector cache on load.
 */
export class ExactIndex implements AnnIndexPort {
  private slab: Float32Array;
  private labels: Int32Array;
  private count = 0;
  private readonly slot = new Map<number, number>();

  constructor(
    readonly dimensions: number,
    capacity = 1024,
  ) {
    this.slab = new Float32Array(capacity * dimensions);
    this.labels = new Int32Array(capacity);
  }

  size(): number {
    return this.count;
  }

  add(label: number, vector: Float32Array): void {
    if (vector.length !== this.dimensions) throw new Error(`vector has ${vector.length} dimensions, index ${this.dimensions}`);
    let i = this.slot.get(label);
    if (i === undefined) {
      if (this.count === this.labels.length) this.grow();
      i = this.count++;
      this.slot.set(label, i);
      this.labels[i] = label;
    }
    this.slab.set(vector, i * this.dimensions);
  }

  remove(label: number): void {
    const i = this.slot.get(label);
    if (i === undefined) return;
    // Move the last vector into the hole so the slab stays dense.
    const last = --this.count;
    if (i !== last) {
      const d = this.dimensions;
      this.slab.copyWithin(i * d, last * d, (last + 1) * d);
      const moved = this.labels[last];
      this.labels[i] = moved;
      this.slot.set(moved, i);
    }
    this.slot.delete(label);
  }

  search(vector: Float32Array, k: number): { label: number; score: number }[] {
    const d = this.dimensions;
    k = Math.min(k, this.count);
    if (k <= 0) return [];
    // Keep the k best in a small sorted array; k is small (tens) so insertion is cheap.
    const bestScore = new Float64Array(k).fill(-Infinity);
    const bestIdx = new Int32Array(k).fill(-1);
    const slab = this.slab;
    for (let i = 0; i < this.count; i++) {
      let s = 0;
      const off = i * d;
      for (let j = 0; j < d; j++) s += slab[off + j] * vector[j];
      if (s <= bestScore[k - 1]) continue;
      let p = k - 1;
      while (p > 0 && bestScore[p - 1] < s) {
        bestScore[p] = bestScore[p - 1];
        bestIdx[p] = bestIdx[p - 1];
        p--;
      }
      bestScore[p] = s;
      bestIdx[p] = i;
    }
    const out: { label: number; score: number }[] = [];
    for (let p = 0; p < k && bestIdx[p] >= 0; p++) out.push({ label: this.labels[bestIdx[p]], score: bestScore[p] });
    return out;
  }

  save(): void {
    throw new Error('ExactIndex is rebuilt from the vector cache; it has no file of its own');
  }

  private grow(): void {
    const cap = this.labels.length * 2;
    const slab = new Float32Array(cap * this.dimensions);
    slab.set(this.slab);
    const labels = new Int32Array(cap);
    labels.set(this.labels);
    this.slab = slab;
    this.labels = labels;
  }
}
