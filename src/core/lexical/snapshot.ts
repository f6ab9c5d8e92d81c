/**
 * A read-only BM25 index saved with a store snapshot (`bm25-<g>.bin`, named and checksummed in
 * the manifest), searched where it lies: opening it is one read and typed-array views, with no
 * object per term or per document, so a one-shot search does not re-intern every chunk's terms
 * from `lexical.log` to rebuild the postings.
 *
 * An earlier version saved the `Bm25Index` state (every document's term counts and the term
 * dictionary) and inserted it back at open: the first search was 1.64× faster but reopen + first
 * search 0.76× (decoding 18.6 MB into JS objects cost more than the rebuild saved; branch `store`).
 * Here nothing is decoded: a query looks up only its own terms, by binary search over the sorted
 * dictionary.
 *
 * Layout, little-endian, every section at an 8-byte-aligned offset:
 *
 *   header (HEADER bytes): magic 'LPBS', version, documents D, terms T, k1, b, pathBoost (f64),
 *     the sha256 of the metadata snapshot it was built from (32 bytes), the section count, then
 *     each section's offset and byte length (u32 pairs)
 *   dictionary: the terms sorted by their UTF-8 bytes, one blob, and T + 1 u32 offsets into it
 *   documents: D i32 keys (chunk labels), then D u32 lengths per field (text, path)
 *   postings per field (text, path): T + 1 u32 offsets by term, then u32 slots and u16 term
 *     frequencies; a term's document frequency is its postings' count
 *
 * Documents are in the order a rebuild from the same files inserts them, so scores and the order
 * of ties are those of `Bm25Index.search` over a rebuilt index, bit for bit (the same expression,
 * summed in the same order). The file is untrusted input like every store file: `open` checks
 * every offset, slot and frequency (linear loops over typed arrays) and refuses the whole file
 * on anything off.
 */
import { MAX_TF } from './bm25.js';
import type { TermCounts, TermDict } from './terms.js';

const MAGIC = 0x5342504c; // 'LPBS'
const VERSION = 1;
const SECTIONS = 11;
/** Header bytes: fixed fields (72), section count and padding (8), the section table. */
export const HEADER = 80 + 8 * SECTIONS;
const MAX_LABEL = 0x7fffffff;

/** Section numbers, in file order. */
const S = {
  DictBlob: 0,
  DictOff: 1,
  Keys: 2,
  LenText: 3,
  LenPath: 4,
  OffText: 5,
  SlotsText: 6,
  TfsText: 7,
  OffPath: 8,
  SlotsPath: 9,
  TfsPath: 10,
};
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** BM25 parameters: a snapshot is used only under the ones it was built with. */
export interface Bm25Params {
  k1: number;
  b: number;
  pathBoost: number;
}

/** The documents of a snapshot, in insertion order: key, text term counts and path term counts (ids of `dict`). */
export interface SnapshotDocs {
  keys: number[];
  text: TermCounts[];
  path: TermCounts[];
}

const encoder = new TextEncoder();

/** The snapshot file's bytes for these documents (built from `metaSha256`'s metadata snapshot). */
export function encodeBm25Snapshot(params: Bm25Params, metaSha256: string, dict: TermDict, docs: SnapshotDocs): Buffer {
  // Typed arrays are written and viewed in the platform's byte order.
  if (!LITTLE_ENDIAN) throw new Error('BM25 snapshots are little-endian');
  const D = docs.keys.length;
  // Only the terms the documents use, sorted by their UTF-8 bytes (what a lookup compares).
  const used = new Uint8Array(dict.size);
  for (const field of [docs.text, docs.path]) for (const c of field) for (let k = 0; k < c.length; k += 2) used[c[k]] = 1;
  const ids: number[] = [];
  for (let id = 0; id < used.length; id++) if (used[id]) ids.push(id);
  const bytes = ids.map((id) => Buffer.from(dict.term(id), 'utf8'));
  const order = ids.map((_, i) => i).sort((x, y) => Buffer.compare(bytes[x], bytes[y]));
  const T = ids.length;
  const rank = new Int32Array(dict.size).fill(-1);
  const dictOff = new Uint32Array(T + 1);
  let blobLen = 0;
  for (let r = 0; r < T; r++) {
    rank[ids[order[r]]] = r;
    blobLen += bytes[order[r]].length;
    dictOff[r + 1] = blobLen;
  }
  const blob = Buffer.allocUnsafe(blobLen);
  for (let r = 0; r < T; r++) bytes[order[r]].copy(blob, dictOff[r]);

  const fields = [docs.text, docs.path].map((counts) => {
    const off = new Uint32Array(T + 1);
    const lens = new Uint32Array(D);
    for (let s = 0; s < D; s++) {
      const c = counts[s];
      let len = 0;
      for (let k = 0; k < c.length; k += 2) {
        off[rank[c[k]] + 1]++;
        len += c[k + 1];
      }
      lens[s] = len;
    }
    for (let t = 0; t < T; t++) off[t + 1] += off[t];
    const P = off[T];
    const slots = new Uint32Array(P);
    const tfs = new Uint16Array(P);
    const at = off.slice(0, T);
    // Slots ascend within each term: documents are visited in slot order.
    for (let s = 0; s < D; s++) {
      const c = counts[s];
      for (let k = 0; k < c.length; k += 2) {
        const i = at[rank[c[k]]]++;
        slots[i] = s;
        tfs[i] = Math.min(c[k + 1], MAX_TF);
      }
    }
    return { off, lens, slots, tfs };
  });
  const [text, path] = fields;
  const parts: ArrayBufferView[] = [];
  parts[S.DictBlob] = blob;
  parts[S.DictOff] = dictOff;
  parts[S.Keys] = Int32Array.from(docs.keys);
  parts[S.LenText] = text.lens;
  parts[S.LenPath] = path.lens;
  parts[S.OffText] = text.off;
  parts[S.SlotsText] = text.slots;
  parts[S.TfsText] = text.tfs;
  parts[S.OffPath] = path.off;
  parts[S.SlotsPath] = path.slots;
  parts[S.TfsPath] = path.tfs;
  const views = parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  let size = HEADER;
  const at: number[] = [];
  for (const v of views) {
    at.push(size);
    size = (size + v.length + 7) & ~7;
  }
  const out = Buffer.alloc(size);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(D, 8);
  out.writeUInt32LE(T, 12);
  out.writeDoubleLE(params.k1, 16);
  out.writeDoubleLE(params.b, 24);
  out.writeDoubleLE(params.pathBoost, 32);
  out.write(metaSha256, 40, 32, 'hex');
  out.writeUInt32LE(SECTIONS, 72);
  views.forEach((v, i) => {
    out.writeUInt32LE(at[i], 80 + 8 * i);
    out.writeUInt32LE(v.length, 84 + 8 * i);
    out.set(v, at[i]);
  });
  return out;
}

/** What a snapshot must match to be used. */
export interface SnapshotExpect {
  params: Bm25Params;
  /** The sha256 of the store's current metadata snapshot, whose files the store holds unchanged. */
  metaSha256: string;
  /** Whether the store has a live chunk of this label. */
  hasKey: (key: number) => boolean;
}

/** A snapshot refused at open: what is wrong with it. */
export class SnapshotRefused extends Error {}

/** BM25 search over a snapshot file's bytes, in place. */
export class Bm25Snapshot {
  private constructor(
    private readonly params: Bm25Params,
    private readonly blob: Buffer,
    private readonly dictOff: Uint32Array,
    private readonly keys: Int32Array,
    private readonly lens: [Uint32Array, Uint32Array],
    private readonly off: [Uint32Array, Uint32Array],
    private readonly slots: [Uint32Array, Uint32Array],
    private readonly tfs: [Uint16Array, Uint16Array],
    private readonly totalLen: [number, number],
  ) {}

  /** Documents. */
  get size(): number {
    return this.keys.length;
  }

  /** Distinct terms. */
  get terms(): number {
    return this.dictOff.length - 1;
  }

  /**
   * Views over `buf` (copied only when it is not 8-byte aligned), after checking every section.
   * Throws SnapshotRefused for a file that is not this version's, does not match `expect`, or is
   * malformed in any way.
   */
  static open(buf: Buffer, expect: SnapshotExpect): Bm25Snapshot {
    const bad = (why: string): never => {
      throw new SnapshotRefused(why);
    };
    if (!LITTLE_ENDIAN) bad('BM25 snapshots are little-endian');
    if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC) bad('not a BM25 snapshot');
    if (buf.readUInt32LE(4) !== VERSION) bad(`version ${buf.readUInt32LE(4)}, not ${VERSION}`);
    if (buf.readUInt32LE(72) !== SECTIONS) bad('another section count');
    const p = expect.params;
    if (buf.readDoubleLE(16) !== p.k1 || buf.readDoubleLE(24) !== p.b || buf.readDoubleLE(32) !== p.pathBoost) bad('other BM25 parameters');
    if (buf.toString('hex', 40, 72) !== expect.metaSha256) bad('built from other metadata');
    if (buf.byteOffset % 8) buf = Buffer.from(buf);
    const D = buf.readUInt32LE(8);
    const T = buf.readUInt32LE(12);
    if (D > MAX_LABEL || T > MAX_LABEL) bad('bad counts');
    let end = HEADER;
    const section = (i: number, unit: number, count: number | null): { at: number; n: number } => {
      const at = buf.readUInt32LE(80 + 8 * i);
      const bytes = buf.readUInt32LE(84 + 8 * i);
      if (at % 8 || at < end || at + bytes > buf.length) bad(`section ${i} is out of place`);
      if (bytes % unit || (count !== null && bytes !== count * unit)) bad(`section ${i} has the wrong size`);
      end = at + bytes;
      return { at: buf.byteOffset + at, n: bytes / unit };
    };
    const u32 = (i: number, count: number | null): Uint32Array => {
      const s = section(i, 4, count);
      return new Uint32Array(buf.buffer, s.at, s.n);
    };
    const blobAt = section(S.DictBlob, 1, null);
    const blob = buf.subarray(blobAt.at - buf.byteOffset, blobAt.at - buf.byteOffset + blobAt.n);
    const dictOff = u32(S.DictOff, T + 1);
    const keysAt = section(S.Keys, 4, D);
    const keys = new Int32Array(buf.buffer, keysAt.at, D);
    const lens: Uint32Array[] = [u32(S.LenText, D), u32(S.LenPath, D)];
    const off: Uint32Array[] = [];
    const slots: Uint32Array[] = [];
    const tfs: Uint16Array[] = [];
    for (let f = 0; f < 2; f++) {
      const o = u32(f === 0 ? S.OffText : S.OffPath, T + 1);
      const P = o[T];
      off.push(o);
      slots.push(u32(f === 0 ? S.SlotsText : S.SlotsPath, P));
      const t = section(f === 0 ? S.TfsText : S.TfsPath, 2, P);
      tfs.push(new Uint16Array(buf.buffer, t.at, P));
    }

    // The dictionary: non-empty terms in strictly ascending byte order (so each is there once).
    if (dictOff[0] !== 0 || dictOff[T] !== blob.length) bad('the dictionary offsets do not span it');
    for (let t = 0; t < T; t++) {
      if (dictOff[t + 1] <= dictOff[t] || dictOff[t + 1] > blob.length) bad('an empty term, or one past the dictionary');
      if (t > 0 && compareBytes(blob, dictOff[t - 1], dictOff[t], blob, dictOff[t], dictOff[t + 1]) >= 0)
        bad('the dictionary is not sorted');
    }
    // Documents: live chunks of the store, each once.
    for (let s = 0; s < D; s++) if (keys[s] < 0 || !expect.hasKey(keys[s])) bad(`document ${s} is no chunk of the index`);
    const sorted = keys.slice().sort();
    for (let s = 1; s < D; s++) if (sorted[s] === sorted[s - 1]) bad(`chunk ${sorted[s]} is there twice`);
    // Postings: offsets ascend, a term's slots ascend (a document once per term), frequencies ≥ 1.
    const totalLen: number[] = [];
    for (let f = 0; f < 2; f++) {
      const o = off[f];
      const sl = slots[f];
      const tf = tfs[f];
      const P = sl.length;
      if (o[0] !== 0) bad('postings do not start at 0');
      for (let t = 0; t < T; t++) {
        const a = o[t];
        const z = o[t + 1];
        if (z < a || z > P) bad('postings offsets go backwards or past the postings');
        for (let i = a; i < z; i++) {
          if (sl[i] >= D || (i > a && sl[i] <= sl[i - 1])) bad('a posting names no document, or one twice');
          if (tf[i] === 0) bad('a zero term frequency');
        }
      }
      // Summed in slot order, as Bm25Index sums its documents' lengths as they are inserted.
      let total = 0;
      const l = lens[f];
      for (let s = 0; s < D; s++) total += l[s];
      totalLen.push(total);
    }
    return new Bm25Snapshot(
      { ...p },
      blob,
      dictOff,
      keys,
      [lens[0], lens[1]],
      [off[0], off[1]],
      [slots[0], slots[1]],
      [tfs[0], tfs[1]],
      [totalLen[0], totalLen[1]],
    );
  }

  /** The position of a term in the sorted dictionary, or −1. */
  lookup(term: string): number {
    // A lone surrogate encodes as U+FFFD's bytes; no indexed term (all decoded from UTF-8) has one.
    if (/\p{Cs}/u.test(term)) return -1;
    const q = encoder.encode(term);
    const { blob, dictOff } = this;
    let lo = 0;
    let hi = dictOff.length - 2;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(blob, dictOff[mid], dictOff[mid + 1], q, 0, q.length);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * The best `n` documents for the query terms, as [key, score], best first: Bm25Index.search's
   * formula, summation order and tie order, over the documents of the snapshot.
   */
  search(terms: string[], n: number): [number, number][] {
    const N = this.keys.length;
    if (!N || !terms.length) return [];
    const ids: number[] = [];
    for (const t of new Set(terms)) {
      const id = this.lookup(t);
      if (id >= 0) ids.push(id);
    }
    const scores = new Float64Array(N);
    const hit = new Uint8Array(N);
    const touched: number[] = [];
    const { k1, b } = this.params;
    for (let f = 0; f < 2; f++) {
      const boost = f === 0 ? 1 : this.params.pathBoost;
      if (!boost) continue;
      const avg = this.totalLen[f] / N || 1;
      const lens = this.lens[f];
      const off = this.off[f];
      const slots = this.slots[f];
      const tfs = this.tfs[f];
      for (const t of ids) {
        const df = off[t + 1] - off[t];
        if (df <= 0) continue;
        const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
        for (let i = off[t], end = off[t + 1]; i < end; i++) {
          const slot = slots[i];
          const tf = tfs[i];
          const s = (boost * idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * lens[slot]) / avg));
          if (!hit[slot]) {
            hit[slot] = 1;
            touched.push(slot);
          }
          scores[slot] += s;
        }
      }
    }
    touched.sort((x, y) => scores[y] - scores[x] || x - y);
    const out: [number, number][] = [];
    for (let i = 0; i < Math.min(n, touched.length); i++) out.push([this.keys[touched[i]], scores[touched[i]]]);
    return out;
  }
}

/** Compares a[a0, a1) with b[b0, b1) bytewise (as Buffer.compare): negative, 0 or positive. */
function compareBytes(a: Uint8Array, a0: number, a1: number, b: Uint8Array, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = a[a0 + i] - b[b0 + i];
    if (d) return d;
  }
  return a1 - a0 - (b1 - b0);
}
