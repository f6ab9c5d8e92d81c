/**
 * Embedding sanity: vector norms, and semantic cohesion on a labelled set — are texts about the
 * same topic closer to each other than to texts about other topics? Pure.
 */
import { round } from './stats.js';
import { cosine } from '../vector-math.js';

export interface NormReport {
  n: number;
  min: number;
  max: number;
  mean: number;
  /** Every norm within 1 ± tolerance. */
  ok: boolean;
  tolerance: number;
}

/** L2 norm. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Norms of vectors that should be unit length (1.000 ± `tolerance`). */
export function normReport(vectors: ArrayLike<number>[], tolerance = 0.002): NormReport {
  const ns = vectors.map(norm);
  const min = Math.min(...ns);
  const max = Math.max(...ns);
  const mean = ns.reduce((a, b) => a + b, 0) / (ns.length || 1);
  return {
    n: ns.length,
    min: round(min, 6),
    max: round(max, 6),
    mean: round(mean, 6),
    ok: ns.length > 0 && ns.every((x) => Math.abs(x - 1) <= tolerance),
    tolerance,
  };
}

export interface CategoryCohesion {
  category: string;
  n: number;
  /** Mean cosine between two different texts of this category. */
  intra: number;
  /** Mean cosine between a text of this category and a text of another. */
  inter: number;
}

export interface CohesionReport {
  texts: number;
  categories: number;
  /** Mean over all same-category pairs. */
  intra: number;
  /** Mean over all different-category pairs. */
  inter: number;
  /** intra − inter: how much closer same-topic texts are (0 = the model does not separate topics). */
  gap: number;
  /** Share of texts whose nearest other text is of the same category (leave-one-out 1-NN accuracy). */
  nearestSameCategory: number;
  perCategory: CategoryCohesion[];
}

/** Intra- vs inter-category mean cosine over labelled vectors (every pair counted once). */
export function cohesion(items: { category: string; vector: ArrayLike<number> }[]): CohesionReport {
  const cats = [...new Set(items.map((i) => i.category))].sort();
  const per = new Map(cats.map((c) => [c, { intraSum: 0, intraN: 0, interSum: 0, interN: 0, n: 0 }]));
  let intraSum = 0;
  let intraN = 0;
  let interSum = 0;
  let interN = 0;
  const best = items.map(() => ({ score: -Infinity, same: false }));
  for (let i = 0; i < items.length; i++) {
    per.get(items[i].category)!.n++;
    for (let j = i + 1; j < items.length; j++) {
      const c = cosine(items[i].vector, items[j].vector);
      const same = items[i].category === items[j].category;
      const pi = per.get(items[i].category)!;
      const pj = per.get(items[j].category)!;
      if (same) {
        intraSum += c;
        intraN++;
        pi.intraSum += c;
        pi.intraN++;
      } else {
        interSum += c;
        interN++;
        pi.interSum += c;
        pi.interN++;
        pj.interSum += c;
        pj.interN++;
      }
      if (c > best[i].score) best[i] = { score: c, same };
      if (c > best[j].score) best[j] = { score: c, same };
    }
  }
  const intra = intraN ? intraSum / intraN : NaN;
  const inter = interN ? interSum / interN : NaN;
  return {
    texts: items.length,
    categories: cats.length,
    intra: round(intra, 4),
    inter: round(inter, 4),
    gap: round(intra - inter, 4),
    nearestSameCategory: round(items.length ? best.filter((b) => b.same).length / items.length : NaN, 4),
    perCategory: cats.map((c) => {
      const p = per.get(c)!;
      return {
        category: c,
        n: p.n,
        intra: round(p.intraN ? p.intraSum / p.intraN : NaN, 4),
        inter: round(p.interN ? p.interSum / p.interN : NaN, 4),
      };
    }),
  };
}

/** The first `dims` components, renormalised (Matryoshka truncation). */
export function truncateVector(v: ArrayLike<number>, dims: number): Float32Array {
  const out = new Float32Array(Math.min(dims, v.length));
  for (let i = 0; i < out.length; i++) out[i] = v[i];
  const n = norm(out);
  if (n > 0) for (let i = 0; i < out.length; i++) out[i] /= n;
  return out;
}
