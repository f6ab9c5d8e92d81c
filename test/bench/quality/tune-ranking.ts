/**
 * Chooses the ranking stage's weights (src/core/ranking.ts) and the hybrid fusion on the TUNING
 * half of the mined set only, from candidates dumped by rank-dump.ts: each signal alone, then a
 * coordinate search over all of them. Prints the chosen parameters and the tuning-half figures
 * (not a fair estimate: held-out figures come from one mined-run.ts run).
 *
 *   node out/test/bench/quality/rank-dump.js --half tuning --out /tmp/dump.json
 *   node out/test/bench/quality/tune-ranking.js /tmp/dump.json
 */
import { readFileSync } from 'node:fs';
import { weightedSum } from '../../../src/core/fusion.js';
import { mergeHits } from '../../../src/core/engine.js';
import { analyseQuery, DEFAULT_RANKING, rerank, type QueryInfo, type RankingParams } from '../../../src/core/ranking.js';
import { K, mean, score, type Score } from './methods.js';
import type { DumpHit, DumpQuery } from './rank-dump.js';

export interface Setting {
  dense: number;
  depth: number;
  ranking: RankingParams | null;
}

const asHit = (h: DumpHit) => ({
  path: h.path,
  chunk: { label: h.label, startLine: h.startLine, endLine: h.endLine, symbol: h.symbol, language: h.language, hash: '' },
  score: h.score,
});

/** What engine.search returns for a dumped query under a setting. */
export function searchDumped(q: DumpQuery, info: QueryInfo, s: Setting, k = K) {
  const lists = [q.dense.slice(0, s.depth), q.lexical.slice(0, s.depth)].map((l) =>
    l.map((h) => ({ key: h.label, item: asHit(h), score: h.score })),
  );
  const fused = weightedSum(lists, [s.dense, 1 - s.dense], 'minmax').map((r) => ({ ...r.item, score: r.score }));
  const ranked = s.ranking ? rerank(info, fused, s.ranking) : fused;
  return mergeHits(ranked.slice(0, k * 3 + 10), k);
}

export function evaluate(qs: DumpQuery[], infos: QueryInfo[], s: Setting): { ndcg: number; rows: Score[] } {
  const rows = qs.map((q, i) => score(searchDumped(q, infos[i], s), q.targets ?? [q.target]));
  return { ndcg: rows.reduce((a, r) => a + r.ndcg10, 0) / rows.length, rows };
}

const ZERO: RankingParams = { symbol: 0, symbolCover: 0, exactSymbol: 0, path: 0, file: 0, noSymbol: 0, kinds: {}, shim: 0 };
const GRID: Record<'symbol' | 'symbolCover' | 'exactSymbol' | 'path' | 'file' | 'noSymbol', number[]> = {
  symbol: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
  symbolCover: [0, 0.05, 0.1, 0.2, 0.3, 0.4],
  exactSymbol: [0, 0.02, 0.05, 0.1, 0.15, 0.2],
  path: [0, 0.02, 0.05, 0.1, 0.15, 0.2],
  file: [0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3],
  noSymbol: [0, 0.02, 0.05, 0.1, 0.2],
};

/**
 * `--kinds <dump>`: the content-kind penalties, on a dump of full package trees (rank-dump.js
 * --quality-full: bench:quality's tuning questions, with tests and docs in the index); the other
 * weights stay as DEFAULT_RANKING.
 */
function tuneKinds(file: string): void {
  const qs = JSON.parse(readFileSync(file, 'utf8')) as DumpQuery[];
  const infos = qs.map((q) => analyseQuery(q.q));
  const f = (x: number) => x.toFixed(4);
  console.log(
    `${qs.length} tuning questions over full trees; fusion only: ${f(evaluate(qs, infos, { dense: 0.5, depth: 50, ranking: null }).ndcg)}`,
  );
  for (const p of [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5]) {
    const kinds = { tests: p, docs: p, examples: p, config: p };
    const r = evaluate(qs, infos, { dense: 0.5, depth: 50, ranking: { ...DEFAULT_RANKING, kinds, shim: p } });
    console.log(`  kinds penalty ${p}: nDCG@10 ${f(r.ndcg)}`);
  }
}

/**
 * `--ablate <dump>`: each signal of DEFAULT_RANKING alone and the stage without it — a
 * measurement of the chosen weights (on the held-out half, after the one held-out run), never a
 * choice.
 */
function ablate(file: string): void {
  const qs = JSON.parse(readFileSync(file, 'utf8')) as DumpQuery[];
  const infos = qs.map((q) => analyseQuery(q.q));
  const f = (x: number) => x.toFixed(3);
  const run = (dense: number, ranking: RankingParams | null) => evaluate(qs, infos, { dense, depth: 50, ranking }).ndcg;
  const noKinds = { kinds: {}, shim: 0 };
  const out: Record<string, number> = {
    'hybrid 0.7/0.3, no ranking': run(0.7, null),
    'hybrid 0.5/0.5, no ranking': run(0.5, null),
    'full stage (default)': run(0.5, DEFAULT_RANKING),
  };
  for (const key of ['symbol', 'symbolCover', 'path', 'file', 'noSymbol'] as const) {
    out[`${key} alone`] = run(0.5, { ...ZERO, [key]: DEFAULT_RANKING[key] });
    out[`without ${key}`] = run(0.5, { ...DEFAULT_RANKING, [key]: 0 });
  }
  out['without content kinds and shims'] = run(0.5, { ...DEFAULT_RANKING, ...noKinds });
  console.log(`${qs.length} queries (${file})`);
  for (const [k, n] of Object.entries(out)) console.log(`  ${k}: nDCG@10 ${f(n)}`);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, n]) => [k, Math.round(n * 1000) / 1000]))));
}

function main(): void {
  if (process.argv[2] === '--kinds') return tuneKinds(process.argv[3]);
  if (process.argv[2] === '--ablate') return ablate(process.argv[3]);
  const file = process.argv[2];
  if (!file) throw new Error('usage: tune-ranking.js <tuning dump.json>');
  const qs = JSON.parse(readFileSync(file, 'utf8')) as DumpQuery[];
  if (qs.some((q) => !q.id || !q.target)) throw new Error('not a dump');
  const infos = qs.map((q) => analyseQuery(q.q));
  const f = (x: number) => x.toFixed(4);
  const base: Setting = { dense: 0.7, depth: 50, ranking: null };
  console.log(`${qs.length} tuning queries; hybrid as shipped: nDCG@10 ${f(evaluate(qs, infos, base).ndcg)}`);
  for (const key of Object.keys(GRID) as (keyof typeof GRID)[]) {
    const alone = GRID[key].map((w) => [w, evaluate(qs, infos, { ...base, ranking: { ...ZERO, [key]: w } }).ndcg] as const);
    console.log(`  ${key} alone: ${alone.map(([w, n]) => `${w}→${f(n)}`).join('  ')}`);
  }
  // Coordinate search from zero: fusion weight, depth and every weight, three passes.
  let best: Setting = { dense: 0.7, depth: 50, ranking: { ...ZERO, kinds: DEFAULT_RANKING.kinds, shim: DEFAULT_RANKING.shim } };
  let bestN = evaluate(qs, infos, best).ndcg;
  for (let pass = 0; pass < 2; pass++) {
    for (const d of [0.4, 0.5, 0.6, 0.7, 0.8]) {
      const n = evaluate(qs, infos, { ...best, dense: d }).ndcg;
      if (n > bestN + 1e-9) [best, bestN] = [{ ...best, dense: d }, n];
    }
    for (const depth of [20, 30, 50, 60]) {
      const n = evaluate(qs, infos, { ...best, depth }).ndcg;
      if (n > bestN + 1e-9) [best, bestN] = [{ ...best, depth }, n];
    }
    for (const key of Object.keys(GRID) as (keyof typeof GRID)[]) {
      for (const w of GRID[key]) {
        const s = { ...best, ranking: { ...best.ranking!, [key]: w } };
        const n = evaluate(qs, infos, s).ndcg;
        if (n > bestN + 1e-9) [best, bestN] = [s, n];
      }
    }
    console.log(`pass ${pass + 1}: nDCG@10 ${f(bestN)} with ${JSON.stringify(best)}`);
  }
  const m = mean(evaluate(qs, infos, best).rows);
  const byLang = new Map<string, Score[]>();
  evaluate(qs, infos, best).rows.forEach((r, i) => byLang.set(qs[i].language, [...(byLang.get(qs[i].language) ?? []), r]));
  console.log(`chosen on the tuning half: ${JSON.stringify(m)}`);
  console.log([...byLang].map(([l, rs]) => `${l} ${f(mean(rs).ndcg10)}`).join(', '));
}

if (process.argv[1]?.endsWith('tune-ranking.js')) main();
