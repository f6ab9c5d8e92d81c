/**
 * Fusion of ranked lists from several retrievers (dense vectors, BM25) into one ranking.
 * Items are identified by a key (the chunk label); each list is best first.
 */

export interface Ranked<T> {
  key: number | string;
  item: T;
  score: number;
}

export type FusionMethod =
  | { kind: 'rrf'; k?: number; weights?: number[] }
  | { kind: 'weighted'; weights?: number[]; norm?: 'minmax' | 'zscore' };

/**
 * Reciprocal rank fusion (Cormack et al., 2009): score = Σ wᵢ / (k + rankᵢ), rank from 1.
 * Scale-free, so BM25 scores and cosines need no calibration.
 */
export function rrf<T>(lists: Ranked<T>[][], k = 60, weights?: number[]): Ranked<T>[] {
  const acc = new Map<number | string, Ranked<T>>();
  lists.forEach((list, li) => {
    const w = weights?.[li] ?? 1;
    list.forEach((r, i) => {
      const add = w / (k + i + 1);
      const prev = acc.get(r.key);
      if (prev) prev.score += add;
      else acc.set(r.key, { key: r.key, item: r.item, score: add });
    });
  });
  return [...acc.values()].sort((a, b) => b.score - a.score);
}

function normalise(scores: number[], how: 'minmax' | 'zscore'): number[] {
  if (!scores.length) return [];
  if (how === 'zscore') {
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length) || 1;
    return scores.map((s) => (s - mean) / sd);
  }
  const lo = Math.min(...scores);
  const hi = Math.max(...scores);
  return scores.map((s) => (hi > lo ? (s - lo) / (hi - lo) : 1));
}

/**
 * Convex combination of per-list normalised scores: Σ wᵢ · norm(scoreᵢ). An item missing from
 * a list gets that list's floor (0 for min-max, the lowest z for z-scores).
 */
export function weightedSum<T>(lists: Ranked<T>[][], weights?: number[], norm: 'minmax' | 'zscore' = 'minmax'): Ranked<T>[] {
  const acc = new Map<number | string, { item: T; parts: (number | undefined)[] }>();
  const floors: number[] = [];
  lists.forEach((list, li) => {
    const ns = normalise(
      list.map((r) => r.score),
      norm,
    );
    floors[li] = ns.length ? Math.min(...ns) : 0;
    list.forEach((r, i) => {
      let e = acc.get(r.key);
      if (!e) acc.set(r.key, (e = { item: r.item, parts: [] }));
      e.parts[li] = ns[i];
    });
  });
  const out: Ranked<T>[] = [];
  for (const [key, e] of acc) {
    let s = 0;
    lists.forEach((_, li) => {
      const w = weights?.[li] ?? 1 / lists.length;
      s += w * (e.parts[li] ?? (norm === 'minmax' ? 0 : floors[li]));
    });
    out.push({ key, item: e.item, score: s });
  }
  return out.sort((a, b) => b.score - a.score);
}

/** Fuses with the given method. */
export function fuse<T>(lists: Ranked<T>[][], method: FusionMethod): Ranked<T>[] {
  return method.kind === 'rrf' ? rrf(lists, method.k, method.weights) : weightedSum(lists, method.weights, method.norm);
}

/** One folder's search hit with the raw scores it was ranked by (see SearchResult). */
export interface FolderHit {
  score: number;
  /** Cosine similarity to the query: the same scale in every folder (one model). */
  dense?: number;
  /** BM25 score: close to one scale across folders (its IDF is each folder's own). */
  lexical?: number;
  /** What the ranking stage added to the fused score. */
  boost?: number;
}

/**
 * Merges the result lists of several folders (multi-root workspaces) on one scale, best first,
 * at most `k`. Each folder's fused scores are min-max normalised within that folder, so every
 * folder's best scores about the same: sorted by them, a weak folder's best beats a strong
 * folder's second. Instead the raw cosine and BM25 scores of all folders' hits are normalised
 * together and fused with the same weights, and the ranking stage's boost is added back — the
 * score the hits would have had in one index. Lists without raw scores keep their own scores.
 */
export function mergeAcrossFolders<T extends FolderHit>(lists: T[][], k: number, weights: number[] = [0.5, 0.5]): T[] {
  const all = lists.flat();
  const nonEmpty = lists.filter((l) => l.length).length;
  if (nonEmpty <= 1 || !all.some((h) => h.dense !== undefined || h.lexical !== undefined)) {
    return [...all].sort((a, b) => b.score - a.score).slice(0, k);
  }
  const range = (xs: number[]) => (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 0]);
  const [dLo, dHi] = range(all.flatMap((h) => (h.dense === undefined ? [] : [h.dense])));
  const [lLo, lHi] = range(all.flatMap((h) => (h.lexical === undefined ? [] : [h.lexical])));
  const norm = (x: number | undefined, lo: number, hi: number) => (x === undefined ? 0 : hi > lo ? (x - lo) / (hi - lo) : 1);
  const [wd, wl] = [weights[0] ?? 0.5, weights[1] ?? 0.5];
  return all
    .map((h) => ({ h, s: wd * norm(h.dense, dLo, dHi) + wl * norm(h.lexical, lLo, lHi) + (h.boost ?? 0) }))
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map(({ h, s }) => ({ ...h, score: Math.round(s * 1e4) / 1e4 }));
}
