/**
 * Two `bench:quality` runs on the same questions, compared question by question (issue 17's rule
 * for an int8 model: no loss beyond noise on the held-out sets). Per set and method: the mean
 * difference B − A of nDCG@10, MRR@10 and R@10, a paired bootstrap 95% interval over the questions
 * (seeded, so the file is reproducible), and how many questions B wins, loses and ties. "Within
 * noise" means the interval of the nDCG@10 difference contains 0.
 *
 *   node out/test/bench/quality/paired.js --a fp32=run-a.json --b int8=run-b.json [--sets heldout,heldout-2] [--speed runtime.json] [--out file.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Row {
  set: string;
  corpus: string;
  id: string;
  per: Record<string, { ndcg10: number; mrr10: number; recall10: number }>;
}
interface Run {
  model: Record<string, unknown>;
  commit: string;
  date: string;
  perQuery: Row[];
}

const METRICS = ['ndcg10', 'mrr10', 'recall10'] as const;
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** A small seeded generator (mulberry32): the same intervals on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mean of `d` and its paired bootstrap 95% interval. */
export function bootstrap(d: number[], resamples = 4000, seed = 17): { mean: number; lo: number; hi: number } {
  const rand = rng(seed);
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[Math.floor(rand() * d.length)];
    means.push(s / d.length);
  }
  means.sort((x, y) => x - y);
  return { mean: r4(mean), lo: r4(means[Math.floor(0.025 * resamples)]), hi: r4(means[Math.ceil(0.975 * resamples) - 1]) };
}

function main(): void {
  const { values: v } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      sets: { type: 'string', default: 'heldout,heldout-2' },
      methods: { type: 'string', default: 'dense,hybrid,hybrid+ranking' },
      speed: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (!v.a || !v.b) throw new Error('--a label=run.json and --b label=run.json are required');
  const [la, fa] = v.a.split('=');
  const [lb, fb] = v.b.split('=');
  const A = JSON.parse(readFileSync(fa, 'utf8')) as Run;
  const B = JSON.parse(readFileSync(fb, 'utf8')) as Run;
  const key = (r: Row) => `${r.corpus}/${r.id}`;
  const bIndex = new Map(B.perQuery.map((r) => [key(r), r]));
  const sets = v.sets.split(',');
  const methods = v.methods.split(',');
  const out: Record<string, unknown> = {};
  const lines: string[] = [
    `| set | method | n | ${la} nDCG@10 | ${lb} nDCG@10 | Δ nDCG@10 [95% CI] | Δ MRR@10 [95% CI] | Δ R@10 [95% CI] | wins/losses/ties |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  let allWithin = true;
  for (const set of [...sets, 'all held-out']) {
    const rows = A.perQuery.filter((r) => (set === 'all held-out' ? sets.includes(r.set) : r.set === set));
    const perMethod: Record<string, unknown> = {};
    for (const m of methods) {
      const pairs = rows.map((r) => {
        const b = bIndex.get(key(r));
        if (!b) throw new Error(`${key(r)} is in ${fa} but not in ${fb}`);
        return [r.per[m], b.per[m]] as const;
      });
      const deltas = Object.fromEntries(METRICS.map((k) => [k, bootstrap(pairs.map(([x, y]) => y[k] - x[k]))]));
      const wins = pairs.filter(([x, y]) => y.ndcg10 > x.ndcg10).length;
      const losses = pairs.filter(([x, y]) => y.ndcg10 < x.ndcg10).length;
      const meanA = r4(pairs.reduce((s, [x]) => s + x.ndcg10, 0) / pairs.length);
      const meanB = r4(pairs.reduce((s, [, y]) => s + y.ndcg10, 0) / pairs.length);
      const within = deltas.ndcg10.lo <= 0 && deltas.ndcg10.hi >= 0;
      if (!within && deltas.ndcg10.hi < 0) allWithin = false;
      perMethod[m] = {
        n: pairs.length,
        [`${la}Ndcg10`]: meanA,
        [`${lb}Ndcg10`]: meanB,
        delta: deltas,
        wins,
        losses,
        ties: pairs.length - wins - losses,
        withinNoise: within,
      };
      const f = (d: { mean: number; lo: number; hi: number }) =>
        `${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(3)} [${d.lo.toFixed(3)}, ${d.hi.toFixed(3)}]`;
      lines.push(
        `| ${set} | ${m} | ${pairs.length} | ${meanA.toFixed(3)} | ${meanB.toFixed(3)} | ${f(deltas.ndcg10)} | ${f(deltas.mrr10)} | ${f(deltas.recall10)} | ${wins}/${losses}/${pairs.length - wins - losses} |`,
      );
    }
    out[set] = perMethod;
  }
  const report = {
    benchmark: `bench:quality, ${lb} against ${la}, question by question`,
    date: new Date().toISOString(),
    rule: 'no loss beyond noise on the held-out sets: for every set and method, the paired bootstrap 95% interval of the nDCG@10 difference is not entirely below 0',
    runs: {
      [la]: { file: fa.replace(/^.*\//, ''), commit: A.commit, date: A.date, model: A.model },
      [lb]: { file: fb.replace(/^.*\//, ''), commit: B.commit, date: B.date, model: B.model },
    },
    sets: out,
    noLossBeyondNoise: allWithin,
    speed: v.speed ? JSON.parse(readFileSync(v.speed, 'utf8')) : undefined,
  };
  if (v.out) writeFileSync(v.out, JSON.stringify(report, null, 1) + '\n');
  console.log(lines.join('\n'));
  console.log(`no loss beyond noise: ${allWithin}`);
}

main();
