/**
 * What both quality benchmarks (run.ts: hand-written questions; mined-run.ts: the mined set)
 * measure and how: the retrieval methods, one row each, and the metrics of a ranked list.
 *
 * Adding a method (e.g. a ranking stage after fusion) is one more entry in METHODS; both
 * benchmarks then report it in every table, per query and in the goal check. Mark it
 * `isDefault` when it becomes what users get: the goals are checked on the last default method.
 */
import { mergeHits, type Engine } from '../../../src/core/engine.js';
import { PREVIOUS_RANKED_FUSION, PREVIOUS_RANKING } from '../../../src/core/ranking.js';

export type Target = [file: string, start: number, end: number];
export interface Loc {
  path: string;
  startLine: number;
  endLine: number;
}

/** What a method may use: the indexed engine and the corpus files as lines. */
export interface SearchContext {
  engine: Engine;
  files: Map<string, string[]>;
}

export interface Method {
  /** Key in results (`per`, `top`, summaries). */
  name: string;
  /** How tables name it. */
  label: string;
  /** `baseline`: no index; `single`: one retriever of the engine; `fused`: several combined. */
  kind: 'baseline' | 'single' | 'fused';
  /** What Loupe users get; the goals are checked on the last method marked so. */
  isDefault?: boolean;
  search(ctx: SearchContext, query: string, k: number): Promise<Loc[]>;
}

export const K = 10;

/** Where the default's parameters were chosen (written into every quality report). */
export const CHOSEN_ON =
  'mined set tuning half (584 queries, 15 packages) + bench:quality tuning questions over full trees (129), equal weight (tune-joint.ts); held-out sets, held-out-2 and HumanEval never used to choose';

const toLocs = (hits: { path: string; chunk: { startLine: number; endLine: number } }[]): Loc[] =>
  hits.map((h) => ({ path: h.path, startLine: h.chunk.startLine, endLine: h.chunk.endLine }));

export const METHODS: Method[] = [
  {
    name: 'keyword',
    label: 'keyword (ripgrep-style, lines)',
    kind: 'baseline',
    search: async (ctx, q, k) => keywordSearch(q, ctx.files, k),
  },
  {
    name: 'lexical',
    label: 'lexical (BM25, chunks)',
    kind: 'single',
    search: async (ctx, q, k) => toLocs(await ctx.engine.rank(q, 'lexical', k)),
  },
  { name: 'dense', label: 'dense (embeddings)', kind: 'single', search: async (ctx, q, k) => toLocs(await ctx.engine.rank(q, 'dense', k)) },
  {
    name: 'hybrid',
    label: 'hybrid (fusion only)',
    kind: 'fused',
    search: async (ctx, q, k) => toLocs(await ctx.engine.rank(q, 'hybrid', k, { ranking: false })),
  },
  // The first round's stage (six signals, chosen on the mined tuning half alone), for comparison.
  {
    name: 'hybrid+ranking-v1',
    label: 'hybrid + ranking, first round (previous default)',
    kind: 'fused',
    search: async (ctx, q, k) =>
      mergeHits(await ctx.engine.rank(q, 'hybrid', k * 3 + 10, { fusion: PREVIOUS_RANKED_FUSION, ranking: PREVIOUS_RANKING }), k),
  },
  // What users get: fusion, the code-aware ranking stage (src/core/ranking.ts, weights chosen on
  // the mined set's tuning half) and the merge of overlapping hits (engine.search).
  {
    name: 'hybrid+ranking',
    label: 'hybrid + code-aware ranking (default)',
    kind: 'fused',
    isDefault: true,
    search: async (ctx, q, k) => await ctx.engine.search(q, { k, mode: 'hybrid' }),
  },
];

/** The method the goals are checked on. */
export function defaultMethod(methods: Method[] = METHODS): Method {
  return [...methods].reverse().find((m) => m.isDefault) ?? methods[methods.length - 1];
}

const KEYWORD_STOP = new Set(
  'a an and are as at be by can do does for from has have how i if in is it its of on or the their them this that to was we what when where which who why with without into its not no one only own so than then there these they too up use used uses using via while will would should could may might must each every any all other another our your you after before again also just'.split(
    ' ',
  ),
);

/** ripgrep-style keyword search: lines containing any question word (case-insensitive substring), most distinct words first. */
export function keywordSearch(query: string, files: Map<string, string[]>, k = K): Loc[] {
  const words = [
    ...new Set(
      query
        .toLowerCase()
        .split(/[^a-z0-9_]+/)
        .filter((w) => w.length >= 3 && !KEYWORD_STOP.has(w)),
    ),
  ];
  if (!words.length) return [];
  const hits: { loc: Loc; n: number }[] = [];
  for (const [p, lines] of files) {
    lines.forEach((line, i) => {
      const l = line.toLowerCase();
      let n = 0;
      for (const w of words) if (l.includes(w)) n++;
      if (n) hits.push({ loc: { path: p, startLine: i + 1, endLine: i + 1 }, n });
    });
  }
  // Stable sort keeps file and line order within a tie, as a results list shows them.
  return hits
    .sort((a, b) => b.n - a.n)
    .slice(0, k)
    .map((h) => h.loc);
}

/** Metrics of one ranked list. */
export interface Score {
  ndcg10: number;
  recall1: number;
  recall5: number;
  recall10: number;
  mrr10: number;
  meanLinesTop10: number;
  linesTop10: number[];
}
/** Means over a set of lists; `medianLinesTop10` pools every top-10 result's length. */
export interface Metrics {
  n: number;
  ndcg10: number;
  recall1: number;
  recall5: number;
  recall10: number;
  mrr10: number;
  meanLinesTop10: number;
  medianLinesTop10: number;
}

/** Metrics of one ranked list: each target counts once, at the first result overlapping it. */
export function score(results: Loc[], targets: Target[]): Score {
  const top = results.slice(0, K);
  const firstHit = targets.map((t) => top.findIndex((r) => r.path === t[0] && r.startLine <= t[2] && r.endLine >= t[1]));
  let dcg = 0;
  const ranks = firstHit.filter((i) => i >= 0).sort((a, b) => a - b);
  for (const i of ranks) dcg += 1 / Math.log2(i + 2);
  let idcg = 0;
  for (let i = 0; i < Math.min(targets.length, K); i++) idcg += 1 / Math.log2(i + 2);
  const first = ranks.length ? ranks[0] : -1;
  const linesTop10 = top.map((r) => r.endLine - r.startLine + 1);
  return {
    ndcg10: dcg / idcg,
    recall1: firstHit.filter((i) => i === 0).length / targets.length,
    recall5: firstHit.filter((i) => i >= 0 && i < 5).length / targets.length,
    recall10: ranks.length / targets.length,
    mrr10: first >= 0 ? 1 / (first + 1) : 0,
    meanLinesTop10: linesTop10.length ? linesTop10.reduce((a, b) => a + b, 0) / linesTop10.length : 0,
    linesTop10,
  };
}

export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export function mean(rows: Score[]): Metrics {
  const m: Metrics = { n: rows.length, ndcg10: 0, recall1: 0, recall5: 0, recall10: 0, mrr10: 0, meanLinesTop10: 0, medianLinesTop10: 0 };
  for (const r of rows)
    for (const k of ['ndcg10', 'recall1', 'recall5', 'recall10', 'mrr10', 'meanLinesTop10'] as const) m[k] += r[k] / (rows.length || 1);
  for (const k of ['ndcg10', 'recall1', 'recall5', 'recall10', 'mrr10'] as const) m[k] = round(m[k], 3);
  m.meanLinesTop10 = round(m.meanLinesTop10, 1);
  m.medianLinesTop10 = median(rows.flatMap((r) => r.linesTop10));
  return m;
}

/** A score without the per-result lengths, as results files store it. */
export function brief(s: Score): Omit<Score, 'linesTop10'> {
  const { linesTop10: _lines, ...rest } = s;
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, round(v, 4)])) as Omit<Score, 'linesTop10'>;
}
