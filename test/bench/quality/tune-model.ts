/**
 * Chooses hybrid search's fusion weight and whether the ranking stage applies, for one embedding
 * model, on bench:quality's TUNING questions only (from `rank-dump.js --quality-tuning --model
 * <file>`; the held-out sets are never dumped or read here). The round-2 stage and fusion were
 * chosen with MiniLM's vectors; a stronger model's dense list may deserve more weight.
 *
 *   node out/test/bench/quality/rank-dump.js --quality-tuning --model <file.gguf> --out /tmp/gemma-tuning.json
 *   node out/test/bench/quality/tune-model.js /tmp/gemma-tuning.json
 *
 * Settings: BM25 alone, dense alone, fusion at 0.5…0.9 dense, each fusion with and without
 * DEFAULT_RANKING, and dense + the stage. Criterion (as in rounds 1 and 2): nDCG@10 over all
 * tuning questions; a setting must beat the engine's default (RANKED_FUSION + DEFAULT_RANKING)
 * by more than 0.005 to replace it. Also printed: each setting picked leaving one corpus out.
 */
import { readFileSync } from 'node:fs';
import { mergeHits } from '../../../src/core/engine.js';
import { analyseQuery, DEFAULT_RANKING, RANKED_FUSION } from '../../../src/core/ranking.js';
import { mean, score, type Metrics, type Score } from './methods.js';
import { searchDumped, type Setting } from './tune-ranking.js';
import type { DumpHit, DumpQuery } from './rank-dump.js';

const MARGIN = 0.005;

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tune-model.js <rank-dump --quality-tuning dump.json>');
  const qs = JSON.parse(readFileSync(file, 'utf8')) as DumpQuery[];
  const infos = qs.map((q) => analyseQuery(q.q));
  const targets = (q: DumpQuery) => q.targets ?? [q.target];
  const asHit = (h: DumpHit) => ({
    path: h.path,
    chunk: { label: h.label, startLine: h.startLine, endLine: h.endLine, symbol: h.symbol, language: h.language, hash: '' },
    score: h.score,
  });
  const defaultDense = RANKED_FUSION.kind === 'weighted' && RANKED_FUSION.weights ? RANKED_FUSION.weights[0] : 0.6;

  // Each setting: one Score per question (what engine.search would return: merged, top 10).
  const settings: Record<string, (q: DumpQuery, i: number) => Score> = {
    'BM25 alone': (q) => score(mergeHits(q.lexical.slice(0, 40).map(asHit), 10), targets(q)),
    'dense alone': (q) => score(mergeHits(q.dense.slice(0, 40).map(asHit), 10), targets(q)),
  };
  const grid: { name: string; s: Setting }[] = [];
  for (const d of [0.5, 0.6, 0.7, 0.8, 0.9]) {
    grid.push({ name: `fusion ${d}/${(1 - d).toFixed(1)}`, s: { dense: d, depth: 50, ranking: null } });
    grid.push({ name: `fusion ${d}/${(1 - d).toFixed(1)} + stage`, s: { dense: d, depth: 50, ranking: DEFAULT_RANKING } });
  }
  grid.push({ name: 'dense + stage', s: { dense: 1, depth: 50, ranking: DEFAULT_RANKING } });
  for (const { name, s } of grid) settings[name] = (q, i) => score(searchDumped(q, infos[i], s), targets(q));
  const DEFAULT = `fusion ${defaultDense}/${(1 - defaultDense).toFixed(1)} + stage`;
  if (!settings[DEFAULT]) throw new Error(`the engine default (${DEFAULT}) is not in the grid`);

  const rows = Object.fromEntries(Object.entries(settings).map(([n, f]) => [n, qs.map((q, i) => f(q, i))]));
  const idFree = qs.map((q) => q.idFree);
  const summary = (sel: (i: number) => boolean) =>
    Object.fromEntries(Object.entries(rows).map(([n, rs]) => [n, mean(rs.filter((_, i) => sel(i)))])) as Record<string, Metrics>;
  const all = summary(() => true);
  const free = summary((i) => idFree[i]);
  const f = (x: number) => x.toFixed(3);
  console.log(
    `${qs.length} tuning questions (${idFree.filter(Boolean).length} identifier-free), corpora ${[...new Set(qs.map((q) => q.corpus))].join(', ')}`,
  );
  console.log('| setting | nDCG@10 | MRR@10 | R@10 | id-free nDCG@10 | id-free MRR@10 | id-free R@10 | median lines |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const n of Object.keys(rows))
    console.log(
      `| ${n} | ${f(all[n].ndcg10)} | ${f(all[n].mrr10)} | ${f(all[n].recall10)} | ${f(free[n].ndcg10)} | ${f(free[n].mrr10)} | ${f(free[n].recall10)} | ${all[n].medianLinesTop10} |`,
    );

  // The choice: best nDCG@10 over all tuning questions among the hybrid settings and dense alone;
  // the engine default stays unless beaten by more than MARGIN.
  const candidates = Object.keys(rows).filter((n) => n !== 'BM25 alone');
  const nd = (n: string, sel: (i: number) => boolean = () => true) => {
    const rs = rows[n].filter((_, i) => sel(i));
    return rs.reduce((a, r) => a + r.ndcg10, 0) / rs.length;
  };
  const pick = (sel: (i: number) => boolean) => {
    const best = candidates.reduce((b, n) => (nd(n, sel) > nd(b, sel) + 1e-12 ? n : b), candidates[0]);
    return nd(best, sel) > nd(DEFAULT, sel) + MARGIN ? best : DEFAULT;
  };
  const chosen = pick(() => true);
  console.log(`\nengine default (${DEFAULT}): nDCG@10 ${f(nd(DEFAULT))}; chosen: ${chosen} (${f(nd(chosen))})`);
  for (const c of new Set(qs.map((q) => q.corpus))) {
    const p = pick((i) => qs[i].corpus !== c);
    const on = (i: number) => qs[i].corpus === c;
    console.log(`  leaving ${c} out: picks ${p}; on ${c}: ${f(nd(p, on))} (default ${f(nd(DEFAULT, on))})`);
  }
  console.log(JSON.stringify({ chosen, overall: all, identifierFree: free }));
}

main();
