/**
 * Multi-root merge, measured: two bench:quality corpora open as two folders of one workspace.
 * Every question of either corpus is searched in both folders (the default search, 10 results
 * each) and the two lists merged, as the extension does, by (a) the old merge — each folder's own
 * scores, min-max normalised per folder — and (b) mergeAcrossFolders (one scale across folders).
 * A result is relevant only in the question's own folder. Writes test/bench/results/multiroot-<date>.json.
 *
 *   node out/test/bench/quality/multiroot-run.js [--out <file>]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../../src/core/engine.js';
import { mergeAcrossFolders } from '../../../src/core/fusion.js';
import { RANKED_FUSION } from '../../../src/core/ranking.js';
import type { SearchResult } from '../../../src/core/types.js';
import { HnswFactory } from '../../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../../src/adapters/llama-embedder.js';
import { TreeSitterChunker } from '../../../src/adapters/treesitter-chunker.js';
import { CORPORA, cacheDir, prepareCorpus } from './corpora.js';
import { K, mean, score, type Score, type Target } from './methods.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../../..');
/** Pairs of folders: a tuning corpus beside a held-out one, and two held-out ones. */
const PAIRS: [string, string][] = [
  ['express', 'requests'],
  ['mux', 'semver'],
  ['commons-csv', 'cron'],
  ['cachetools', 'express'],
];

type Rooted = SearchResult & { folder: string };

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { out: { type: 'string' } } });
  const embedder = await LlamaEmbedder.load({
    modelPath: path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'),
    gpu: false,
    contexts: 1,
    threadsPerContext: 1,
  });
  const chunker = new TreeSitterChunker();
  const engines = new Map<string, Engine>();
  const open = async (name: string): Promise<Engine> => {
    let e = engines.get(name);
    if (!e) {
      const spec = CORPORA.find((c) => c.name === name)!;
      const storeDir = path.join(cacheDir(), 'stores', `${spec.name}-${spec.version}-${embedder.modelId.slice(0, 12)}`);
      e = await Engine.open({ root: prepareCorpus(spec), storeDir, chunker, embedder, annFactory: new HnswFactory(), batchSize: 16 });
      await e.index();
      engines.set(name, e);
    }
    return e;
  };
  const rows: {
    pair: string;
    folder: string;
    id: string;
    single: Score;
    old: Score;
    shared: Score;
    weakBeatsStrongSecond: { old: boolean; shared: boolean };
  }[] = [];
  for (const [a, b] of PAIRS) {
    const folders = [a, b];
    for (const own of folders) {
      const qs = JSON.parse(readFileSync(path.join(REPO, 'test/bench/quality/queries', `${own}.json`), 'utf8')).queries as {
        id: string;
        q: string;
        targets: Target[];
      }[];
      for (const q of qs) {
        const lists: Rooted[][] = [];
        for (const f of folders) lists.push((await (await open(f)).search(q.q, { k: K })).map((r) => ({ ...r, folder: f })));
        const rel = (hits: Rooted[]) => hits.map((h) => (h.folder === own ? h : { ...h, path: `\0${h.folder}/${h.path}` }));
        const oldMerge = lists
          .flat()
          .sort((x, y) => y.score - x.score)
          .slice(0, K);
        const shared = mergeAcrossFolders(lists, K, RANKED_FUSION.weights);
        const ownList = lists[folders.indexOf(own)];
        const otherBest = lists[1 - folders.indexOf(own)][0];
        const beats = (merged: Rooted[]) =>
          !!otherBest &&
          ownList.length > 1 &&
          merged.findIndex((h) => h.folder !== own) >= 0 &&
          merged.findIndex((h) => h.folder !== own) <
            merged.findIndex((h) => h.folder === own && h.path === ownList[1].path && h.startLine === ownList[1].startLine);
        rows.push({
          pair: `${a}+${b}`,
          folder: own,
          id: q.id,
          single: score(ownList, q.targets),
          old: score(rel(oldMerge), q.targets),
          shared: score(rel(shared), q.targets),
          weakBeatsStrongSecond: { old: beats(oldMerge), shared: beats(shared) },
        });
      }
    }
  }
  for (const e of engines.values()) await e.close();
  chunker.dispose();
  await embedder.dispose();
  const summary = (sel: typeof rows) => ({
    queries: sel.length,
    ownFolderOnly: mean(sel.map((r) => r.single)),
    oldMergePerFolderMinMax: mean(sel.map((r) => r.old)),
    sharedScale: mean(sel.map((r) => r.shared)),
    otherFoldersBestAboveOwnSecond: {
      old: sel.filter((r) => r.weakBeatsStrongSecond.old).length,
      shared: sel.filter((r) => r.weakBeatsStrongSecond.shared).length,
    },
  });
  const report = {
    benchmark: 'multi-root merge (two folders from bench:quality corpora)',
    date: new Date().toISOString(),
    setup:
      'each question searched in both folders (default search, k=10 each), merged to 10; relevant only in its own folder; ownFolderOnly is the ceiling (the other folder absent)',
    overall: summary(rows),
    byPair: Object.fromEntries(PAIRS.map(([a, b]) => [`${a}+${b}`, summary(rows.filter((r) => r.pair === `${a}+${b}`))])),
  };
  const out = v.out ?? path.join(REPO, 'test/bench/results', `multiroot-${new Date().toISOString().slice(0, 10)}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
  const f = (m: { ndcg10: number; mrr10: number; recall10: number }) =>
    `nDCG@10 ${m.ndcg10.toFixed(3)}, MRR@10 ${m.mrr10.toFixed(3)}, R@10 ${m.recall10.toFixed(3)}`;
  const o = report.overall;
  console.log(
    `${o.queries} questions over ${PAIRS.length} folder pairs\n- own folder only: ${f(o.ownFolderOnly)}\n- old merge (per-folder min-max): ${f(o.oldMergePerFolderMinMax)}\n- shared scale: ${f(o.sharedScale)}\n- other folder's best above own folder's second: old ${o.otherFoldersBestAboveOwnSecond.old}, shared ${o.otherFoldersBestAboveOwnSecond.shared}\nwrote ${path.relative(REPO, out)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
