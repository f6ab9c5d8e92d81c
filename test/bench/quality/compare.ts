/**
 * Side by side: several `bench:quality` runs (one per model, size or second stage) and a
 * model-speed run, condensed into one file (test/bench/results/quality-models-<date>.json):
 * per set, per method, nDCG@10, MRR@10, R@10 overall and identifier-free, and the cost figures.
 *
 *   node out/test/bench/quality/compare.js --out <file.json> --speed <speed.json> label=run.json ...
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface M {
  n: number;
  ndcg10: number;
  recall5: number;
  recall10: number;
  mrr10: number;
  meanLinesTop10: number;
}
interface SetReport {
  queries: { total: number; identifierFree: number };
  overall: Record<string, M>;
  identifierFree: Record<string, M>;
}
interface Run {
  model: Record<string, unknown>;
  rerank?: Record<string, unknown>;
  sets: Record<string, SetReport>;
  all: SetReport;
  corpora: { name: string; chunks: number }[];
  machine: unknown;
  commit: string;
  date: string;
}

function main(): void {
  const { values: v, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, speed: { type: 'string' }, note: { type: 'string' } },
  });
  const pick = (m: M | undefined) =>
    m ? { ndcg10: m.ndcg10, mrr10: m.mrr10, recall10: m.recall10, meanLinesTop10: m.meanLinesTop10 } : undefined;
  const runs: Record<string, unknown> = {};
  const table: string[] = [
    '| run | set | method | nDCG@10 | MRR@10 | R@10 | id-free nDCG@10 | id-free MRR@10 | id-free R@10 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const arg of positionals) {
    const [label, file] = arg.split('=');
    const r = JSON.parse(readFileSync(file, 'utf8')) as Run;
    const sets = { ...r.sets, all: r.all };
    runs[label] = {
      source: file.replace(/^.*\//, ''),
      commit: r.commit,
      date: r.date,
      model: r.model,
      rerank: r.rerank,
      chunks: Object.fromEntries(r.corpora.map((c) => [c.name, c.chunks])),
      sets: Object.fromEntries(
        Object.entries(sets).map(([s, rep]) => [
          s,
          {
            queries: rep.queries,
            ...Object.fromEntries(
              Object.keys(rep.overall)
                .filter((k) => !k.startsWith('hybrid: ') && !k.startsWith('rerank: '))
                .map((k) => [k, { overall: pick(rep.overall[k]), identifierFree: pick(rep.identifierFree[k]) }]),
            ),
          },
        ]),
      ),
    };
    for (const [s, rep] of Object.entries(sets)) {
      for (const k of ['lexical', 'dense', 'hybrid', ...Object.keys(rep.overall).filter((x) => x.startsWith('rerank ('))]) {
        const o = rep.overall[k];
        const f = rep.identifierFree[k];
        if (o)
          table.push(
            `| ${label} | ${s} | ${k} | ${o.ndcg10.toFixed(3)} | ${o.mrr10.toFixed(3)} | ${o.recall10.toFixed(3)} | ${f?.ndcg10.toFixed(3) ?? '–'} | ${f?.mrr10.toFixed(3) ?? '–'} | ${f?.recall10.toFixed(3) ?? '–'} |`,
          );
      }
    }
  }
  const out = {
    benchmark: 'embedding models side by side on bench:quality (tuning, held-out, held-out 2)',
    date: new Date().toISOString().slice(0, 10),
    note: v.note,
    speed: v.speed ? JSON.parse(readFileSync(v.speed, 'utf8')) : undefined,
    runs,
  };
  if (v.out) writeFileSync(v.out, JSON.stringify(out, null, 1) + '\n');
  console.log(table.join('\n'));
}

main();
