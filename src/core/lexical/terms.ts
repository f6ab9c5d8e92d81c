/**
 * The term dictionary of the lexical index: every distinct term gets a small integer id, so a
 * chunk's terms are one typed array of (id, count) pairs and the BM25 postings are typed arrays
 * of ids, instead of a string per term occurrence, a Map per chunk and Maps keyed by strings.
 *
 * Terms are interned either from strings (the tokeniser's output) or straight from the bytes of
 * a `lexical.log` line, without making a string per occurrence: the bytes of a term are hashed
 * (FNV-1a, 32 bits) into an open-addressing table and compared byte for byte with the entry
 * found, so two different terms never share an id. A string is made once per distinct byte
 * sequence. Reading 50,000 chunks' terms this way took 0.6 s where splitting the joined strings
 * (7.6 million strings) and counting them in Maps took 1.6 s (test/bench/lexical-open.ts).
 */

/** A chunk's terms: `[id, count, id, count, …]`, each id once (in order of first occurrence). */
export type TermCounts = Int32Array;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SPACE = 0x20;
const SLAB = 1 << 16;
const utf8 = new TextDecoder();
const encoder = new TextEncoder();

function grown(a: Int32Array, min: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

export class TermDict {
  private readonly ids = new Map<string, number>();
  private readonly strings: string[] = [];
  /**
   * Open addressing over the byte sequences seen, four ints a slot: hash, term id + 1 (0: empty),
   * where the bytes are in the arena and their length; one slot is one probe's memory read.
   */
  private table = new Int32Array(4 << 12);
  private entries = 0;
  private arena = new Uint8Array(1 << 14);
  private arenaLen = 0;
  /** Counting scratch: count per id (all zero between calls), and the ids seen in this call. */
  private cnt = new Int32Array(1 << 10);
  private seen = new Int32Array(1 << 10);
  /** Count arrays are views into slabs (one allocation per 64K ints instead of one per chunk). */
  private slab = new Int32Array(0);
  private slabUsed = 0;

  /** Distinct terms (ids are 0 … size − 1). */
  get size(): number {
    return this.strings.length;
  }

  term(id: number): string {
    return this.strings[id];
  }

  /** The id of a term, without adding it. */
  lookup(term: string): number | undefined {
    return this.ids.get(term);
  }

  /** The id of a term, added if new. */
  intern(term: string): number {
    let id = this.ids.get(term);
    if (id !== undefined) return id;
    id = this.newId(term);
    const bytes = encoder.encode(term);
    const h = hashBytes(bytes, 0, bytes.length);
    // The same bytes can already be there for another string only if the string does not
    // round-trip through UTF-8 (a lone surrogate); the byte side then keeps its first meaning.
    if (this.find(bytes, 0, bytes.length, h) < 0) this.addEntry(h, bytes, 0, bytes.length, id);
    return id;
  }

  private newId(term: string): number {
    const id = this.strings.length;
    this.strings.push(term);
    this.ids.set(term, id);
    return id;
  }

  /** Table slot (index of its first int) of the entry holding these bytes, or −(free slot + 1). */
  private find(buf: Uint8Array, start: number, end: number, h: number): number {
    const table = this.table;
    const mask = table.length - 1;
    const len = end - start;
    for (let slot = (h << 2) & mask; ; slot = (slot + 4) & mask) {
      if (table[slot + 1] === 0) return -(slot + 1);
      if (table[slot] !== h || table[slot + 3] !== len) continue;
      const arena = this.arena;
      const o = table[slot + 2] - start;
      let i = start;
      while (i < end && arena[o + i] === buf[i]) i++;
      if (i === end) return slot;
    }
  }

  private addEntry(h: number, buf: Uint8Array, start: number, end: number, id: number): void {
    if ((this.entries + 1) * 8 > this.table.length) this.rehash();
    this.entries++;
    const len = end - start;
    if (this.arenaLen + len > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arenaLen + len, this.arena.length * 2));
      a.set(this.arena.subarray(0, this.arenaLen));
      this.arena = a;
    }
    this.arena.set(buf.subarray(start, end), this.arenaLen);
    const slot = -this.find(buf, start, end, h) - 1;
    this.table[slot] = h;
    this.table[slot + 1] = id + 1;
    this.table[slot + 2] = this.arenaLen;
    this.table[slot + 3] = len;
    this.arenaLen += len;
  }

  /** Doubles the table (kept at most half full). */
  private rehash(): void {
    const old = this.table;
    const table = new Int32Array(old.length * 2);
    const mask = table.length - 1;
    for (let s = 0; s < old.length; s += 4) {
      if (old[s + 1] === 0) continue;
      let slot = (old[s] << 2) & mask;
      while (table[slot + 1] !== 0) slot = (slot + 4) & mask;
      table.set(old.subarray(s, s + 4), slot);
    }
    this.table = table;
  }

  /** The id of the term in `buf[start, end)` (UTF-8), added if new; `h` is its FNV-1a hash. */
  private internBytes(buf: Uint8Array, start: number, end: number, h: number): number {
    const slot = this.find(buf, start, end, h);
    if (slot >= 0) return this.table[slot + 1] - 1;
    const term = utf8.decode(buf.subarray(start, end));
    // Invalid UTF-8 decodes to U+FFFD: another byte sequence may already mean this string.
    const id = this.ids.get(term) ?? this.newId(term);
    this.addEntry(h, buf, start, end, id);
    return id;
  }

  private tally(id: number, u: number): number {
    if (id >= this.cnt.length) this.cnt = grown(this.cnt, id + 1);
    if (this.cnt[id]++ === 0) {
      if (u >= this.seen.length) this.seen = grown(this.seen, u + 1);
      this.seen[u++] = id;
    }
    return u;
  }

  private collect(u: number): TermCounts {
    const n = 2 * u;
    if (this.slabUsed + n > this.slab.length) {
      this.slab = new Int32Array(Math.max(SLAB, n));
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + n);
    this.slabUsed += n;
    for (let k = 0; k < u; k++) {
      const id = this.seen[k];
      out[2 * k] = id;
      out[2 * k + 1] = this.cnt[id];
      this.cnt[id] = 0;
    }
    return out;
  }

  /** Counts of the space-separated terms in `buf[start, end)` (empty terms are skipped), interning new ones. */
  countBytes(buf: Uint8Array, start: number, end: number): TermCounts {
    let u = 0;
    let i = start;
    while (i < end) {
      let h = FNV_OFFSET;
      let j = i;
      for (; j < end; j++) {
        const c = buf[j];
        if (c === SPACE) break;
        h = Math.imul(h ^ c, FNV_PRIME);
      }
      if (j > i) u = this.tally(this.internBytes(buf, i, j, h), u);
      i = j + 1;
    }
    return this.collect(u);
  }

  /** Counts of a list of terms (with repeats; empty strings are skipped), interning new ones. */
  countTerms(terms: readonly string[]): TermCounts {
    let u = 0;
    for (const t of terms) if (t) u = this.tally(this.intern(t), u);
    return this.collect(u);
  }

  /** The terms of a count array as a space-separated string, each repeated `count` times. */
  text(counts: TermCounts): string {
    const parts: string[] = [];
    for (let k = 0; k < counts.length; k += 2) for (let c = 0; c < counts[k + 1]; c++) parts.push(this.strings[counts[k]]);
    return parts.join(' ');
  }
}

function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let j = start; j < end; j++) h = Math.imul(h ^ buf[j], FNV_PRIME);
  return h;
}
