/**
 * Retrieval-quality benchmark (`npm run bench:quality`): natural-language questions about real
 * open-source code (see corpora.ts, fetched from package registries at pinned versions), each
 * with ground-truth locations; nDCG@10, Recall@5/10 and MRR@10, overall and on the
 * identifier-free questions, for every method of METHODS (methods.ts: keyword, ripgrep-style;
 * lexical, Loupe's BM25 over chunks; dense, Loupe's vectors; hybrid, the two fused), plus the
 * fusion variants the default was chosen from.
 * Prints a Markdown table and writes test/bench/results/quality-<date>.json.
 *
 *   node out/test/bench/quality/run.js [--model <file.gguf|file.onnx>] [--out <file>] [--contexts 2] [--only express,mux]
 *     [--dims 256] [--max-tokens 256] [--rerank <second.gguf> [--rerank-dims 256]] [--fusion 0.8,0.9]
 *
 * Vectors are kept in `<cache>/vectors/<model id>.bin` (vector-cache.ts), so a slow model embeds
 * each text once; `--dims` cuts them to a Matryoshka size. `--rerank` re-scores the hybrid top
 * candidates with a second model (variants of depth and weight, one picked on the tuning set).
 * `--fusion w,…`: for each dense weight w, two more rows as engine.search returns them (merged):
 * `hybrid w/(1−w)` (fusion only) and `hybrid w/(1−w) + ranking` (with the default ranking stage),
 * for settings chosen per model on the tuning set (tune-model.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_FUSION, Engine, mergeHits } from '../../../src/core/engine.js';
import { fuse, type FusionMethod } from '../../../src/core/fusion.js';
import { HnswFactory } from '../../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../../src/adapters/llama-embedder.js';
import { OnnxEmbedder } from '../../../src/adapters/onnx-embedder.js';
import { TreeSitterChunker } from '../../../src/adapters/treesitter-chunker.js';
import { chunkHeader } from '../../../src/core/chunking.js';
import type { EmbedderPort } from '../../../src/core/types.js';
import { CORPORA, cacheDir, listFiles, prepareCorpus, type CorpusSpec } from './corpora.js';
import {
  brief,
  CHOSEN_ON,
  defaultMethod,
  K,
  mean,
  METHODS as BASE_METHODS,
  score,
  type Loc,
  type Method,
  type Metrics,
  type Score,
  type Target,
} from './methods.js';
import { textIdentifiers } from './mining.js';
import { CachedEmbedder, CutEmbedder } from './vector-cache.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../../..');
const QUERY_DIR = path.join(REPO, 'test/bench/quality/queries');

interface Query {
  id: string;
  q: string;
  targets: Target[];
  ids?: boolean;
}

const DEPTH = 50;

/** The fusion variants hybrid search was chosen from (the first is the engine's default). */
const VARIANTS: { name: string; method: FusionMethod }[] = [
  { name: `default (${JSON.stringify(DEFAULT_FUSION)})`, method: DEFAULT_FUSION },
  { name: 'rrf k=60', method: { kind: 'rrf', k: 60 } },
  { name: 'rrf k=20', method: { kind: 'rrf', k: 20 } },
  { name: 'rrf k=60 dense×2', method: { kind: 'rrf', k: 60, weights: [2, 1] } },
  { name: 'rrf k=60 lexical×2', method: { kind: 'rrf', k: 60, weights: [1, 2] } },
  { name: 'minmax 0.5/0.5', method: { kind: 'weighted', weights: [0.5, 0.5], norm: 'minmax' } },
  { name: 'minmax 0.7/0.3', method: { kind: 'weighted', weights: [0.7, 0.3], norm: 'minmax' } },
  { name: 'minmax 0.3/0.7', method: { kind: 'weighted', weights: [0.3, 0.7], norm: 'minmax' } },
  { name: 'zscore 0.5/0.5', method: { kind: 'weighted', weights: [0.5, 0.5], norm: 'zscore' } },
];

/**
 * Names a question must not use to count as identifier-free: the target's symbol names (last
 * component, as the chunker names definitions) and every compound identifier (camelCase,
 * snake_case) written in the target lines.
 */
function targetIdentifiers(engine: Engine, t: Target, lines: string[]): Set<string> {
  const names: string[] = [];
  for (const c of engine.store.files.get(t[0])?.chunks ?? []) {
    if (c.symbol && c.startLine <= t[2] && c.endLine >= t[1]) names.push(c.symbol.split('.').pop()!);
  }
  return textIdentifiers(lines.slice(t[1] - 1, t[2]).join('\n'), names);
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      contexts: { type: 'string' },
      only: { type: 'string' },
      dump: { type: 'string' },
      dims: { type: 'string' },
      'max-tokens': { type: 'string' },
      rerank: { type: 'string' },
      'rerank-dims': { type: 'string' },
      fusion: { type: 'string' },
    },
  });
  const METHODS: Method[] = [...BASE_METHODS];
  for (const w of v.fusion?.split(',').map(Number) ?? []) {
    if (!(w >= 0 && w <= 1)) throw new Error(`--fusion: ${w} is not a dense weight in [0, 1]`);
    const fusion: FusionMethod = { kind: 'weighted', weights: [w, Math.round((1 - w) * 100) / 100], norm: 'minmax' };
    const label = `${w}/${fusion.weights![1]}`;
    METHODS.push(
      {
        name: `hybrid ${label}`,
        label: `hybrid ${label} (fusion only)`,
        kind: 'fused',
        search: async (ctx, q, k) => mergeHits(await ctx.engine.rank(q, 'hybrid', k * 3 + 10, { fusion, ranking: false }), k),
      },
      {
        name: `hybrid ${label} + ranking`,
        label: `hybrid ${label} + ranking stage`,
        kind: 'fused',
        search: async (ctx, q, k) => mergeHits(await ctx.engine.rank(q, 'hybrid', k * 3 + 10, { fusion }), k),
      },
    );
  }
  const modelPath = path.resolve(v.model ?? path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'));
  const contexts = Number(v.contexts ?? 2);
  const only = v.only?.split(',');
  const loadBefore = os.loadavg();
  const t0 = performance.now();
  const maxTokens = v['max-tokens'] ? Number(v['max-tokens']) : undefined;
  // An `.onnx` model runs on ONNX Runtime (fp32, or int8 from scripts/make-int8-model.mjs), as many lanes as contexts.
  const llamaEmbedder = modelPath.endsWith('.onnx')
    ? await OnnxEmbedder.load({ modelPath, contexts, threadsPerContext: 1, profile: maxTokens ? { maxTokens } : undefined })
    : await LlamaEmbedder.load({
        modelPath,
        gpu: false,
        contexts: contexts,
        threadsPerContext: 1,
        profile: maxTokens ? { maxTokens } : undefined,
      });
  const cached = new CachedEmbedder(llamaEmbedder, path.join(cacheDir(), 'vectors'));
  const cachedAtStart = cached.size;
  const embedder: EmbedderPort & { modelName: string } = v.dims ? new CutEmbedder(cached, Number(v.dims)) : cached;
  // The second stage: a stronger model re-scores the hybrid top candidates (chunk text as indexed).
  let second: { embedder: EmbedderPort; cached: CachedEmbedder; llama: LlamaEmbedder; file: string } | undefined;
  if (v.rerank) {
    const file = path.resolve(v.rerank);
    const inner = await LlamaEmbedder.load({
      modelPath: file,
      gpu: false,
      contexts,
      threadsPerContext: 1,
      profile: maxTokens ? { maxTokens } : undefined,
    });
    const c = new CachedEmbedder(inner, path.join(cacheDir(), 'vectors'));
    second = { embedder: v['rerank-dims'] ? new CutEmbedder(c, Number(v['rerank-dims'])) : c, cached: c, llama: inner, file };
  }
  const RERANK_DEPTHS = [10, 20, 30, 50];
  const RERANK_WEIGHTS = [1, 0.7, 0.5, 0.3];
  const chunker = new TreeSitterChunker();

  // --dump <file>: every question's dense and lexical candidate lists (path, lines, score) and
  // targets, for trying ranking ideas offline without re-running the model.
  const dump: unknown[] = [];
  type Row = {
    set: string;
    corpus: string;
    id: string;
    q: string;
    idFree: boolean;
    declaredIds: boolean;
    mentioned: string[];
    per: Record<string, Score>;
    top: Record<string, string[]>;
  };
  const rows: Row[] = [];
  const corporaOut: Record<string, unknown>[] = [];
  const latency: Record<string, number[]> = Object.fromEntries(METHODS.map((m) => [m.name, []]));
  const warnings: string[] = [];

  for (const spec of CORPORA as CorpusSpec[]) {
    if (only && !only.includes(spec.name)) continue;
    const qfile = JSON.parse(readFileSync(path.join(QUERY_DIR, `${spec.name}.json`), 'utf8')) as { queries: Query[] };
    const root = prepareCorpus(spec);
    const storeDir = path.join(cacheDir(), 'stores', `${spec.name}-${spec.version}-${embedder.modelId.slice(0, 12)}`);
    const engine = await Engine.open({ root, storeDir, chunker, embedder, annFactory: new HnswFactory(), batchSize: 16 });
    const ti = performance.now();
    const summary = await engine.index();
    const indexSeconds = (performance.now() - ti) / 1000;
    const files = new Map<string, string[]>();
    for (const rel of listFiles(root, { skipHidden: true })) files.set(rel, readFileSync(path.join(root, rel), 'utf8').split('\n'));
    corporaOut.push({
      name: spec.name,
      language: spec.language,
      registry: spec.registry,
      package: `${spec.pkg}@${spec.version}`,
      sha256: spec.sha256,
      licence: spec.licence,
      files: files.size,
      lines: [...files.values()].reduce((a, l) => a + l.length, 0),
      chunks: engine.store.chunkCount,
      indexSeconds: Math.round(indexSeconds * 10) / 10,
      embeddedThisRun: summary.embedded,
      queries: qfile.queries.length,
    });

    for (const q of qfile.queries) {
      for (const t of q.targets) {
        const lines = files.get(t[0]);
        if (!lines || t[1] < 1 || t[2] > lines.length || t[1] > t[2])
          throw new Error(`${q.id}: bad target ${JSON.stringify(t)} (${lines ? `${lines.length} lines` : 'no such file'})`);
      }
      const words = new Set(
        q.q
          .toLowerCase()
          .split(/[^a-z0-9_$]+/)
          .filter(Boolean),
      );
      const mentioned = new Set<string>();
      for (const t of q.targets) for (const id of targetIdentifiers(engine, t, files.get(t[0])!)) if (words.has(id)) mentioned.add(id);
      if (!q.ids && mentioned.size)
        warnings.push(`${q.id} is written as identifier-free but names ${[...mentioned].join(', ')}: counted with the identifier queries`);
      const idFree = !q.ids && mentioned.size === 0;

      const per: Row['per'] = {};
      const top: Row['top'] = {};
      const record = (name: string, locs: Loc[]): void => {
        per[name] = score(locs, q.targets);
        top[name] = locs.slice(0, 3).map((l) => `${l.path}:${l.startLine}-${l.endLine}`);
      };
      const ctx = { engine, files };
      for (const m of METHODS) {
        const s = performance.now();
        record(m.name, await m.search(ctx, q.q, K));
        latency[m.name].push(performance.now() - s);
      }
      // The fusion variants fuse the same two lists as hybrid search, at its depth.
      const [dense, lex] = [await engine.rank(q.q, 'dense', DEPTH), await engine.rank(q.q, 'lexical', DEPTH)];
      const toLoc = (h: { path: string; chunk: { startLine: number; endLine: number } }): Loc => ({
        path: h.path,
        startLine: h.chunk.startLine,
        endLine: h.chunk.endLine,
      });
      if (second) {
        const pool = await engine.rank(q.q, 'hybrid', Math.max(...RERANK_DEPTHS), { ranking: false });
        const lines = (p: string) => files.get(p) ?? readFileSync(path.join(root, p), 'utf8').split('\n');
        const texts = pool.map(
          (h) =>
            chunkHeader({ path: h.path, symbol: h.chunk.symbol }) +
            lines(h.path)
              .slice(h.chunk.startLine - 1, h.chunk.endLine)
              .join('\n'),
        );
        const [qv, dv] = [await second.embedder.embedQuery(q.q), await second.embedder.embedDocuments(texts)];
        const cos = dv.map((d) => d.reduce((a, x, i) => a + x * qv[i], 0));
        for (const depth of RERANK_DEPTHS) {
          const idx = pool.slice(0, depth).map((_, i) => i);
          const mm = (xs: number[]) => {
            const lo = Math.min(...xs),
              hi = Math.max(...xs);
            return xs.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0));
          };
          const a = mm(idx.map((i) => pool[i].score));
          const b = mm(idx.map((i) => cos[i]));
          for (const w of RERANK_WEIGHTS) {
            const order = [...idx].sort((x, y) => w * b[y] + (1 - w) * a[y] - (w * b[x] + (1 - w) * a[x]) || x - y);
            record(
              `rerank: depth ${depth} weight ${w}`,
              order.map((i) => toLoc(pool[i])),
            );
          }
        }
      }
      const lists = [dense, lex].map((l) => l.map((h) => ({ key: h.chunk.label, item: h, score: h.score })));
      for (const { name, method } of VARIANTS)
        record(
          `hybrid: ${name}`,
          fuse(lists, method).map((r) => toLoc(r.item)),
        );
      if (v.dump) {
        const brief = (l: typeof dense) =>
          l.map((h) => [h.path, h.chunk.startLine, h.chunk.endLine, Math.round(h.score * 1e5) / 1e5, h.chunk.symbol ?? '']);
        // Every chunk's scores (the corpora are small), so fusion can be studied at any depth.
        const [allDense, allLex] = [await engine.rank(q.q, 'dense', 1e6), await engine.rank(q.q, 'lexical', 1e6)];
        dump.push({
          set: spec.set,
          corpus: spec.name,
          id: q.id,
          q: q.q,
          idFree,
          targets: q.targets,
          dense: brief(allDense),
          lexical: brief(allLex),
        });
      }
      rows.push({ set: spec.set, corpus: spec.name, id: q.id, q: q.q, idFree, declaredIds: !!q.ids, mentioned: [...mentioned], per, top });
    }
    await engine.close();
  }
  chunker.dispose();
  await llamaEmbedder.dispose();
  if (second) await second.llama.dispose();
  if (v.dump) writeFileSync(v.dump, JSON.stringify(dump));

  const methods = Object.keys(rows[0].per);
  // Choosing the fusion on the same questions it is scored on flatters it. Leave one corpus out:
  // pick the variant with the best nDCG@10 on the other tuning corpora, score it on the one left
  // out. The held-out corpora (set=heldout) were never used to choose anything.
  const tuningRows = rows.filter((r) => r.set === 'tuning');
  const corpusNames = [...new Set(tuningRows.map((r) => r.corpus))];
  const variantNames = methods.filter((m) => m.startsWith('hybrid: '));
  const loco: Record<string, string> = {};
  const LOCO = 'hybrid (fusion picked leaving this corpus out)';
  if (corpusNames.length > 1) {
    for (const r of tuningRows) {
      const pick = (loco[r.corpus] ??= variantNames.reduce((best, m) => {
        const nd = (x: string) => mean(tuningRows.filter((o) => o.corpus !== r.corpus).map((o) => o.per[x])).ndcg10;
        return nd(m) > nd(best) ? m : best;
      }, variantNames[0]));
      r.per[LOCO] = r.per[pick];
    }
  }
  // The second stage's depth and weight are picked on the tuning set and applied unchanged to the others.
  const RERANK = 'rerank (depth and weight picked on the tuning set)';
  let rerankPick = '';
  if (second && tuningRows.length) {
    const rr = methods.filter((m) => m.startsWith('rerank: '));
    rerankPick = rr.reduce(
      (best, m) => (mean(tuningRows.map((o) => o.per[m])).ndcg10 > mean(tuningRows.map((o) => o.per[best])).ndcg10 ? m : best),
      rr[0],
    );
    for (const r of rows) {
      r.per[RERANK] = r.per[rerankPick];
      r.top[RERANK] = r.top[rerankPick];
    }
    methods.push(RERANK);
  }
  const summarise = (sel: Row[]) =>
    Object.fromEntries(methods.concat(sel.every((r) => r.per[LOCO]) ? [LOCO] : []).map((m) => [m, mean(sel.map((r) => r.per[m]))]));
  const MAIN = [...METHODS.map((m) => m.name), ...(second ? [RERANK] : [])];
  const def = defaultMethod(BASE_METHODS).name;
  const pick = <T>(o: Record<string, T>) => Object.fromEntries(MAIN.map((m) => [m, o[m]]));
  const med = (xs: number[]) => (xs.length ? Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] * 10) / 10 : 0);
  const setReport = (sel: Row[]) => {
    const overall = summarise(sel);
    const idFree = summarise(sel.filter((r) => r.idFree));
    const bestSingle = Math.max(...METHODS.filter((m) => m.kind === 'single').map((m) => overall[m.name].ndcg10));
    return {
      queries: {
        total: sel.length,
        identifierFree: sel.filter((r) => r.idFree).length,
        withIdentifiers: sel.filter((r) => !r.idFree).length,
      },
      goal: {
        method: def,
        hybridMinusBestSingleNdcg10: Math.round((overall[def].ndcg10 - bestSingle) * 1000) / 1000,
        hybridIdentifierFree: {
          mrr10: idFree[def]?.mrr10,
          recall10: idFree[def]?.recall10,
          medianLinesTop10: idFree[def]?.medianLinesTop10,
        },
      },
      overall,
      identifierFree: idFree,
      withIdentifiers: summarise(sel.filter((r) => !r.idFree)),
    };
  };
  const setNames = [...new Set(rows.map((r) => r.set))];
  const sets = Object.fromEntries(setNames.map((n) => [n, setReport(rows.filter((r) => r.set === n))]));
  const all = setReport(rows);
  const byCorpus = Object.fromEntries(
    [...new Set(rows.map((r) => r.corpus))].map((c) => [c, summarise(rows.filter((r) => r.corpus === c))]),
  );
  let git = '';
  try {
    git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    // not a checkout
  }
  const date = new Date().toISOString().slice(0, 10);
  const report = {
    benchmark: 'retrieval quality',
    date: new Date().toISOString(),
    chosenOn: CHOSEN_ON,
    commit: git,
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      loadavgBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
      loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
      uptime: (() => {
        try {
          return execFileSync('uptime', { encoding: 'utf8' }).trim();
        } catch {
          return '';
        }
      })(),
    },
    model: {
      file: path.relative(REPO, modelPath) || modelPath,
      name: embedder.modelName,
      id: embedder.modelId,
      dimensions: embedder.dimensions,
      cutFrom: v.dims ? llamaEmbedder.dimensions : undefined,
      maxTokens: embedder.profile.maxTokens,
      queryPrefix: embedder.profile.queryPrefix,
      documentPrefix: embedder.profile.documentPrefix,
      contexts,
      threadsPerContext: 1,
      // The model's cost in this run: texts it really embedded (the rest came from the vector cache).
      embedded: {
        ...cached.spent,
        ms: Math.round(cached.spent.ms),
        cachedAtStart,
        tokensPerSecond: cached.spent.ms ? Math.round(cached.spent.tokens / (cached.spent.ms / 1000)) : undefined,
        chunksPerSecond: cached.spent.ms ? Math.round((100 * cached.spent.texts) / (cached.spent.ms / 1000)) / 100 : undefined,
      },
    },
    rerank: second
      ? {
          file: path.relative(REPO, second.file) || second.file,
          name: second.embedder.modelName,
          dimensions: second.embedder.dimensions,
          depths: RERANK_DEPTHS,
          weights: RERANK_WEIGHTS,
          picked: rerankPick,
          embedded: { ...second.cached.spent, ms: Math.round(second.cached.spent.ms) },
        }
      : undefined,
    setup: {
      k: K,
      fusionDepth: DEPTH,
      defaultFusion: DEFAULT_FUSION,
      fusionPickedLeavingCorpusOut: loco,
      relevance:
        'a result is relevant when it overlaps a target range of the same file; each target counts once (first overlapping result); MRR is MRR@10',
      keyword:
        'ripgrep -i style: question words of ≥3 letters minus stop words, any-word match per line, lines ranked by distinct words matched (ties in file order)',
    },
    corpora: corporaOut,
    target: 'hybrid − max(lexical, dense) ≥ 0.05 nDCG@10; identifier-free MRR ≥ 0.65 and Recall@10 ≥ 0.85',
    sets: Object.fromEntries(
      setNames.map((n) => [n, { corpora: [...new Set(rows.filter((r) => r.set === n).map((r) => r.corpus))], ...sets[n] }]),
    ),
    all,
    byCorpus,
    latencyMsMedian: Object.fromEntries(Object.entries(latency).map(([k, xs]) => [k, med(xs)])),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    warnings,
    // Per question: the four main methods only (the variants are in the aggregates above).
    perQuery: rows.map((r) => ({
      ...r,
      per: Object.fromEntries(Object.entries(pick(r.per)).map(([m, x]) => [m, brief(x)])),
      top: pick(r.top),
    })),
  };
  const out = v.out ?? path.join(REPO, 'test/bench/results', `quality-${date}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 1) + '\n');

  const fmt = (m: Metrics) => `${m.ndcg10.toFixed(3)} | ${m.recall5.toFixed(3)} | ${m.recall10.toFixed(3)} | ${m.mrr10.toFixed(3)}`;
  const lines = [
    `${rows.length} queries over ${corporaOut.map((c) => `${c.package} (${c.language}, ${c.chunks} chunks)`).join(', ')}; model ${embedder.modelName}`,
  ];
  for (const [name, r] of [...Object.entries(sets), ...(setNames.length > 1 ? [['all', all] as const] : [])]) {
    const rep = r as ReturnType<typeof setReport>;
    lines.push(
      '',
      `${name}: ${rep.queries.total} queries (${rep.queries.identifierFree} identifier-free)`,
      '| method | nDCG@10 | R@5 | R@10 | MRR@10 | id-free nDCG@10 | id-free R@5 | id-free R@10 | id-free MRR@10 |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...Object.keys(rep.overall).map(
        (m) => `| ${m} | ${fmt(rep.overall[m])} | ${rep.identifierFree[m] ? fmt(rep.identifierFree[m]) : '–'} |`,
      ),
      `hybrid − best single nDCG@10: ${rep.goal.hybridMinusBestSingleNdcg10}`,
    );
  }
  lines.push(
    '',
    `median latency ms: ${JSON.stringify(report.latencyMsMedian)}; ${report.seconds} s; load ${report.machine.loadavgBefore.join(' ')}`,
    ...warnings.map((w) => `warning: ${w}`),
    `wrote ${path.relative(REPO, out)}`,
  );
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
