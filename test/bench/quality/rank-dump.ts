/**
 * Dumps each mined query's candidates (dense and BM25 lists, raw scores, chunk records) for one
 * half of the mined set, so the ranking stage's parameters can be chosen offline in seconds
 * (tune-ranking.ts) instead of re-running the engine for every setting. Only the tuning half is
 * ever dumped for tuning; the held-out half is measured once, by mined-run.ts.
 *
 *   node out/test/bench/quality/rank-dump.js [--half tuning] [--model <file.gguf>] [--contexts 2] [--out <file.json>]
 *   node out/test/bench/quality/rank-dump.js --quality-full [--out <file.json>]
 *
 * `--quality-full`: bench:quality's TUNING questions over their packages' whole unpacked trees
 * (tests, docs and examples included; `<cache>/src-full`), where content kinds can matter.
 *
 *   node out/test/bench/quality/rank-dump.js --quality-tuning --model <file.gguf> [--max-tokens 256] [--out <file.json>]
 *
 * `--quality-tuning`: bench:quality's TUNING questions over the corpora exactly as bench:quality
 * indexes them (same folders, same store folders), with any model (`--model`, default the bundled
 * MiniLM; `--max-tokens` as bench:quality's); vectors come from and go to bench:quality's vector
 * cache, so a slow model embeds each text once for both. Only the tuning set can be dumped this way. Identifier-free as run.ts
 * decides it (the question names no identifier of its target lines). tune-model.ts reads it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../../../src/core/engine.js';
import { HnswFactory } from '../../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../../src/adapters/llama-embedder.js';
import { TreeSitterChunker } from '../../../src/adapters/treesitter-chunker.js';
import type { EmbedderPort } from '../../../src/core/types.js';
import { cacheDir, CORPORA, listFiles, prepareCorpus } from './corpora.js';
import { loadMinedSet, prepareMinedCorpus } from './mine.js';
import { textIdentifiers } from './mining.js';
import { CachedEmbedder } from './vector-cache.js';

export interface DumpHit {
  path: string;
  startLine: number;
  endLine: number;
  symbol: string | null;
  language: string;
  label: number;
  score: number;
}
export interface DumpQuery {
  corpus: string;
  language: string;
  id: string;
  q: string;
  idFree: boolean;
  target: [string, number, number];
  targets?: [string, number, number][];
  dense: DumpHit[];
  lexical: DumpHit[];
}

const DEPTH = 60;

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      half: { type: 'string' },
      out: { type: 'string' },
      'quality-full': { type: 'boolean' },
      'quality-tuning': { type: 'boolean' },
      model: { type: 'string' },
      'max-tokens': { type: 'string' },
      contexts: { type: 'string' },
    },
  });
  if (v['quality-full']) return dumpQualityFull(v.out);
  if (v['quality-tuning']) return dumpQualityTuning(v.model, v['max-tokens'] ? Number(v['max-tokens']) : undefined, v.out);
  const half = v.half ?? 'tuning';
  const set = loadMinedSet();
  const corpora = set.corpora.filter((c) => c.half === half);
  const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../..');
  // --model: another model's candidates (its chunks as the engine makes them for it, as mined-run.ts
  // indexes them; the stores are shared with mined-run.ts by model id).
  const embedder = await LlamaEmbedder.load({
    modelPath: v.model ? path.resolve(v.model) : path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'),
    gpu: false,
    contexts: Number(v.contexts ?? 1),
    threadsPerContext: 1,
  });
  const chunker = new TreeSitterChunker();
  const out: DumpQuery[] = [];
  for (const entry of corpora) {
    const root = await prepareMinedCorpus(entry);
    const version = entry.package.slice(entry.package.lastIndexOf('@') + 1);
    const storeDir = path.join(cacheDir(), 'stores', `mined-${entry.name}-${version}-${embedder.modelId.slice(0, 12)}`);
    const engine = await Engine.open({ root, storeDir, chunker, embedder, annFactory: new HnswFactory(), batchSize: 16 });
    const s = await engine.index();
    process.stderr.write(`${entry.name}: ${engine.store.chunkCount} chunks (embedded ${s.embedded})\n`);
    for (const q of set.queries.filter((x) => x.corpus === entry.name)) {
      out.push({
        corpus: entry.name,
        language: entry.language,
        id: q.id,
        q: q.q,
        idFree: q.idFree,
        target: q.target,
        dense: convHits(await engine.rank(q.q, 'dense', DEPTH)),
        lexical: convHits(await engine.rank(q.q, 'lexical', DEPTH)),
      });
    }
    await engine.close();
  }
  chunker.dispose();
  await embedder.dispose();
  const file = v.out ?? path.join(os.tmpdir(), `loupe-rank-dump-${half}.json`);
  writeFileSync(file, JSON.stringify(out));
  process.stderr.write(`wrote ${out.length} queries to ${file}\n`);
}

/** bench:quality's tuning questions over the full package trees; targets mapped by path suffix. */
async function dumpQualityFull(outFile?: string): Promise<void> {
  const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../..');
  const embedder = await LlamaEmbedder.load({
    modelPath: path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'),
    gpu: false,
    contexts: 1,
    threadsPerContext: 1,
  });
  const chunker = new TreeSitterChunker();
  const out: DumpQuery[] = [];
  for (const spec of CORPORA.filter((c) => c.set === 'tuning')) {
    const root = path.join(cacheDir(), 'src-full', `${spec.name}-${spec.version}`);
    if (!existsSync(root)) throw new Error(`${root} is missing`);
    const storeDir = path.join(cacheDir(), 'stores', `${spec.name}-${spec.version}-full-${embedder.modelId.slice(0, 12)}`);
    const engine = await Engine.open({ root, storeDir, chunker, embedder, annFactory: new HnswFactory(), batchSize: 16 });
    const s = await engine.index();
    const files = listFiles(root, { skipHidden: true });
    const full = (rel: string) => files.find((f) => f === rel || f.endsWith('/' + rel));
    process.stderr.write(
      `${spec.name} (full): ${engine.store.chunkCount} chunks in ${engine.store.files.size} files (embedded ${s.embedded})\n`,
    );
    const qs = JSON.parse(readFileSync(path.join(REPO, 'test/bench/quality/queries', `${spec.name}.json`), 'utf8')).queries as {
      id: string;
      q: string;
      targets: [string, number, number][];
      ids?: boolean;
    }[];
    for (const q of qs) {
      const targets = q.targets.map(([f, a, b]) => [full(f) ?? f, a, b] as [string, number, number]);
      out.push({
        corpus: spec.name,
        language: spec.language,
        id: q.id,
        q: q.q,
        idFree: !q.ids,
        target: targets[0],
        targets,
        dense: convHits(await engine.rank(q.q, 'dense', DEPTH)),
        lexical: convHits(await engine.rank(q.q, 'lexical', DEPTH)),
      });
    }
    await engine.close();
  }
  chunker.dispose();
  await embedder.dispose();
  const file = outFile ?? path.join(os.tmpdir(), 'loupe-rank-dump-quality-full.json');
  writeFileSync(file, JSON.stringify(out));
  process.stderr.write(`wrote ${out.length} queries to ${file}\n`);
}

type Conv = {
  path: string;
  chunk: { startLine: number; endLine: number; symbol: string | null; language: string; label: number };
  score: number;
}[];
const convHits = (hs: Conv): DumpHit[] =>
  hs.map((h) => ({
    path: h.path,
    startLine: h.chunk.startLine,
    endLine: h.chunk.endLine,
    symbol: h.chunk.symbol,
    language: h.chunk.language,
    label: h.chunk.label,
    score: h.score,
  }));

/** bench:quality's tuning questions over the corpora as run.ts indexes them, with any model (vector-cached). */
async function dumpQualityTuning(model: string | undefined, maxTokens: number | undefined, outFile?: string): Promise<void> {
  const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../..');
  const modelPath = path.resolve(model ?? path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'));
  const inner = await LlamaEmbedder.load({
    modelPath,
    gpu: false,
    contexts: 2,
    threadsPerContext: 1,
    profile: maxTokens ? { maxTokens } : undefined,
  });
  const embedder: EmbedderPort = new CachedEmbedder(inner, path.join(cacheDir(), 'vectors'));
  const chunker = new TreeSitterChunker();
  const out: DumpQuery[] = [];
  for (const spec of CORPORA.filter((c) => c.set === 'tuning')) {
    const root = prepareCorpus(spec);
    const storeDir = path.join(cacheDir(), 'stores', `${spec.name}-${spec.version}-${embedder.modelId.slice(0, 12)}`);
    const engine = await Engine.open({ root, storeDir, chunker, embedder, annFactory: new HnswFactory(), batchSize: 16 });
    const s = await engine.index();
    process.stderr.write(`${spec.name}: ${engine.store.chunkCount} chunks (embedded ${s.embedded})\n`);
    const lines = (rel: string) => readFileSync(path.join(root, rel), 'utf8').split('\n');
    const qs = JSON.parse(readFileSync(path.join(REPO, 'test/bench/quality/queries', `${spec.name}.json`), 'utf8')).queries as {
      id: string;
      q: string;
      targets: [string, number, number][];
      ids?: boolean;
    }[];
    for (const q of qs) {
      // As run.ts: identifier-free unless declared otherwise or the question names a symbol or a
      // compound identifier of its target lines.
      const words = new Set(
        q.q
          .toLowerCase()
          .split(/[^a-z0-9_$]+/)
          .filter(Boolean),
      );
      let named = false;
      for (const t of q.targets) {
        const names = (engine.store.files.get(t[0])?.chunks ?? [])
          .filter((c) => c.symbol && c.startLine <= t[2] && c.endLine >= t[1])
          .map((c) => c.symbol!.split('.').pop()!);
        for (const id of textIdentifiers(
          lines(t[0])
            .slice(t[1] - 1, t[2])
            .join('\n'),
          names,
        ))
          if (words.has(id)) named = true;
      }
      out.push({
        corpus: spec.name,
        language: spec.language,
        id: q.id,
        q: q.q,
        idFree: !q.ids && !named,
        target: q.targets[0],
        targets: q.targets,
        dense: convHits(await engine.rank(q.q, 'dense', DEPTH)),
        lexical: convHits(await engine.rank(q.q, 'lexical', DEPTH)),
      });
    }
    await engine.close();
  }
  chunker.dispose();
  await inner.dispose();
  const file = outFile ?? path.join(os.tmpdir(), `loupe-rank-dump-quality-tuning-${embedder.modelId.slice(0, 12)}.json`);
  writeFileSync(file, JSON.stringify(out));
  process.stderr.write(`wrote ${out.length} queries (model ${embedder.modelName}) to ${file}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
