/**
 * Second round of choosing the ranking stage (issue 12), on TUNING data only: the mined set's
 * tuning half and bench:quality's tuning questions over full trees, weighted equally, so that no
 * weight serves doc-comment sentences alone. It compares simpler stages (fewer signals), joint
 * weights and a query-adaptive fusion, and prints each setting's figures on both tuning sets.
 * The held-out sets are never read here.
 *
 *   node out/test/bench/quality/rank-dump.js --half tuning --out /tmp/tuning.json
 *   node out/test/bench/quality/rank-dump.js --quality-full --out /tmp/qfull.json
 *   node out/test/bench/quality/tune-joint.js /tmp/tuning.json /tmp/qfull.json
 */
import { readFileSync } from 'node:fs';
import { analyseQuery, DEFAULT_RANKING, type QueryInfo, type RankingParams } from '../../../src/core/ranking.js';
import { evaluate, searchDumped, type Setting } from './tune-ranking.js';
import { score } from './methods.js';
import { queryTerms, splitIdentifier, stem, tokenize } from '../../../src/core/lexical/tokenize.js';
import type { DumpQuery } from './rank-dump.js';

interface TuningSet {
  name: string;
  qs: DumpQuery[];
  infos: QueryInfo[];
}

const load = (name: string, file: string): TuningSet => {
  const qs = JSON.parse(readFileSync(file, 'utf8')) as DumpQuery[];
  return { name, qs, infos: qs.map((q) => analyseQuery(q.q)) };
};

const ZERO: RankingParams = { symbol: 0, symbolCover: 0, exactSymbol: 0, path: 0, file: 0, noSymbol: 0, kinds: {}, shim: 0 };
const kinds = (p: number) => ({ kinds: { tests: p, docs: p, examples: p, config: p }, shim: p });

function main(): void {
  const [minedFile, qfullFile] = process.argv.slice(2);
  if (!minedFile || !qfullFile) throw new Error('usage: tune-joint.js <mined tuning dump> <quality-full tuning dump>');
  const sets = [load('mined tuning', minedFile), load('quality tuning (full trees)', qfullFile)];
  const f = (x: number) => x.toFixed(4);
  const run = (s: Setting) => sets.map((t) => evaluate(t.qs, t.infos, s).ndcg);
  const joint = (s: Setting) => {
    const n = run(s);
    return { n, j: (n[0] + n[1]) / 2 };
  };
  const show = (label: string, s: Setting) => {
    const { n, j } = joint(s);
    console.log(`${label.padEnd(48)} mined ${f(n[0])}  quality ${f(n[1])}  joint ${f(j)}`);
    return j;
  };
  console.log(`${sets.map((t) => `${t.name}: ${t.qs.length}`).join(', ')}`);
  show('fusion 0.7/0.3 only', { dense: 0.7, depth: 50, ranking: null });
  show('fusion 0.5/0.5 only', { dense: 0.5, depth: 50, ranking: null });
  show('default (0.5/0.5 + DEFAULT_RANKING)', { dense: 0.5, depth: 50, ranking: DEFAULT_RANKING });
  show('0.7/0.3 + DEFAULT_RANKING', { dense: 0.7, depth: 50, ranking: DEFAULT_RANKING });

  // Fewer signals: symbol + kinds, and symbol + symbolCover + kinds, over a coarse grid.
  console.log('\nsymbol + kinds only (dense, symbol, kinds):');
  let bestSimple: { s: Setting; j: number } | null = null;
  for (const d of [0.5, 0.6, 0.7]) {
    for (const sym of [0.2, 0.3, 0.4, 0.6, 0.8]) {
      for (const k of [0.3, 0.5]) {
        const s: Setting = { dense: d, depth: 50, ranking: { ...ZERO, symbol: sym, ...kinds(k) } };
        const j = show(`  d ${d} symbol ${sym} kinds ${k}`, s);
        if (!bestSimple || j > bestSimple.j + 1e-9) bestSimple = { s, j };
      }
    }
  }
  console.log(`best simple: ${JSON.stringify(bestSimple)}`);

  // Joint coordinate search over every signal, from the default.
  const GRID: Record<'symbol' | 'symbolCover' | 'path' | 'file' | 'noSymbol', number[]> = {
    symbol: [0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
    symbolCover: [0, 0.05, 0.1, 0.2],
    path: [0, 0.05, 0.1],
    file: [0, 0.02, 0.05, 0.1],
    noSymbol: [0, 0.05, 0.1],
  };
  let best: Setting = { dense: 0.5, depth: 50, ranking: DEFAULT_RANKING };
  let bestJ = joint(best).j;
  for (let pass = 0; pass < 2; pass++) {
    for (const d of [0.4, 0.5, 0.6, 0.7]) {
      const j = joint({ ...best, dense: d }).j;
      if (j > bestJ + 1e-9) [best, bestJ] = [{ ...best, dense: d }, j];
    }
    for (const key of Object.keys(GRID) as (keyof typeof GRID)[]) {
      for (const w of GRID[key]) {
        const s = { ...best, ranking: { ...best.ranking!, [key]: w } };
        const j = joint(s).j;
        if (j > bestJ + 1e-9) [best, bestJ] = [s, j];
      }
    }
    for (const k of [0.2, 0.3, 0.5]) {
      const s = { ...best, ranking: { ...best.ranking!, ...kinds(k) } };
      const j = joint(s).j;
      if (j > bestJ + 1e-9) [best, bestJ] = [s, j];
    }
    show(`joint coordinate search, pass ${pass + 1}`, best);
    console.log(`  ${JSON.stringify(best)}`);
  }

  // Query-adaptive fusion: lean lexical when the query names what BM25's best hit defines, else dense.
  console.log('\nadaptive fusion (rule: lo dense weight when rule holds, else hi), stage = DEFAULT_RANKING:');
  const symTerms = (sym: string | null) =>
    new Set(
      sym
        ? sym
            .split(/[,.#:\s]+/)
            .filter(Boolean)
            .flatMap((p) => [
              ...tokenize(p),
              ...splitIdentifier(p)
                .filter((w) => w.length > 1)
                .map(stem),
            ])
        : [],
    );
  const rules: Record<string, (q: DumpQuery) => boolean> = {
    'bm25 top-1 symbol has >= half the query terms': (q) => {
      const t = new Set(queryTerms(q.q));
      const s = symTerms(q.lexical[0]?.symbol ?? null);
      let n = 0;
      for (const x of t) if (s.has(x)) n++;
      return t.size > 0 && n / t.size >= 0.5;
    },
    'query of <= 3 words': (q) => q.q.trim().split(/\s+/).length <= 3,
  };
  for (const [name, rule] of Object.entries(rules)) {
    const share = sets.map((t) => t.qs.filter(rule).length / t.qs.length);
    console.log(` ${name}: holds for ${share.map((x) => x.toFixed(2)).join(' / ')}`);
    for (const [lo, hi] of [
      [0.3, 0.5],
      [0.3, 0.7],
      [0.4, 0.6],
      [0.5, 0.7],
      [0.5, 0.6],
      [0.4, 0.5],
    ]) {
      for (const rk of [DEFAULT_RANKING, bestSimple!.s.ranking!]) {
        const n = sets.map(
          (t) =>
            t.qs.reduce(
              (a, q, i) =>
                a +
                score(searchDumped(q, t.infos[i], { dense: rule(q) ? lo : hi, depth: 50, ranking: rk }), q.targets ?? [q.target]).ndcg10,
              0,
            ) / t.qs.length,
        );
        console.log(
          `  lo ${lo} hi ${hi} ${rk === DEFAULT_RANKING ? 'default stage' : 'simple stage '}  mined ${f(n[0])}  quality ${f(n[1])}  joint ${f((n[0] + n[1]) / 2)}`,
        );
      }
    }
  }
}

main();
