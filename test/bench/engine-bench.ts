/**
 * Engine benchmark (`npm run bench`): raw embedding vs the full index pipeline, chunker speed,
 * warm/cached re-index, save-to-searchable latency, query latency split into embedding and
 * search, and exact vs HNSW at 10k/100k points. Everything compared is measured in the same run
 * on the same inputs; prints one JSON object and writes test/bench/results/engine-<date>.json.
 *
 *   node out/test/bench/engine-bench.js [--quick] [--model <file.gguf>]... [--out <file>]
 *        [--corpus-kb <n>] [--contexts 2] [--threads 1] [--rounds n] [--no-ann]
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../src/core/engine.js';
import type { IndexSummary } from '../../src/core/types.js';
import { sha256 } from '../../src/core/fsutil.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../src/adapters/llama-embedder.js';
import { BUNDLED_MODELS } from '../../src/adapters/open-engine.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import { annBench, type AnnReport } from './ann.js';
import { buildCorpus, type Corpus } from './corpus.js';
import { pipelineTexts } from './pipeline-texts.js';
import { ProbeChunker, ProbeEmbedder, probeStore, type PipelineProbe } from './probes.js';
import { storeScaleBench } from './store-scale.js';
import { peakRssMiB, r1, r3, summarize, timed } from './stats.js';
import { posInt } from '../../src/cli/common.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NODE_MODULES = path.join(REPO, 'node_modules');

/** Natural-language queries about the corpus (for query-embedding latency and real query vectors). */
const QUERIES = [
  'parse command line options and arguments',
  'watch a folder for file changes',
  'compile a JSON schema into a validator',
  'load a GGUF model file',
  'tokenize text into tokens',
  'search the nearest neighbours in an HNSW graph',
  'match paths against gitignore patterns',
  'evaluate a sequence in a context',
  'download prebuilt binaries from a release',
  'apply a chat template to messages',
  'report a lint problem for a rule',
  'serialize objects with circular references',
  'format an error message for the user',
  'read configuration from a file',
  'retry a failed request with backoff',
  'dispose native resources when done',
  'count tokens in a string',
  'detect the GPU type',
  'sample the next token with temperature',
  'resolve a $ref in a schema',
  'debounce file system events',
  'create an embedding for a text',
  'add a point to the index',
  'print help for a command',
  'split a string on whitespace',
  'check whether a path is ignored',
  'grammar for constrained output',
  'log messages with a level',
  'get memory usage of the system',
  'validate required properties of an object',
];

interface Settings {
  quick: boolean;
  models: string[];
  out: string;
  corpusKb?: number;
  contexts: number;
  threads: number;
  ann: boolean;
  /** Alternating raw/pipeline rounds; the best of each is compared. */
  rounds: number;
}

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      model: { type: 'string', multiple: true },
      out: { type: 'string' },
      'corpus-kb': { type: 'string' },
      contexts: { type: 'string', default: '2' },
      threads: { type: 'string', default: '1' },
      'no-ann': { type: 'boolean', default: false },
      rounds: { type: 'string' },
    },
  });
  const models = values.model?.length
    ? values.model.map((m) => path.resolve(m))
    : BUNDLED_MODELS.map((m) => path.join(REPO, m)).filter(existsSync);
  if (!models.length)
    throw new Error(
      'No embedding model found: run `npm run build` (it generates models/generated/loupe-tiny-bert.gguf) or pass --model <file.gguf>.',
    );
  for (const m of models) if (!existsSync(m)) throw new Error(`--model ${m}: file not found`);
  const int = (name: string, v: string | undefined): number | undefined => posInt(v, `--${name}`);
  const date = new Date().toISOString().slice(0, 10);
  const quick = values.quick ?? false;
  return {
    quick,
    models,
    // A quick smoke run must not overwrite the committed results.
    out: values.out
      ? path.resolve(values.out)
      : quick
        ? path.join(os.tmpdir(), `loupe-engine-bench-${date}-quick.json`)
        : path.join(REPO, 'test/bench/results', `engine-${date}.json`),
    corpusKb: int('corpus-kb', values['corpus-kb']),
    contexts: int('contexts', values.contexts)!,
    threads: int('threads', values.threads)!,
    ann: !values['no-ann'],
    rounds: int('rounds', values.rounds) ?? (quick ? 1 : 2),
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[bench ${(performance.now() / 1000).toFixed(1)}s] ${msg}\n`);
};

function machine(): Record<string, unknown> {
  const pkg = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(path.join(NODE_MODULES, name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    ramGiB: r1(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    node: process.version,
    nodeLlamaCpp: pkg('node-llama-cpp'),
    hnswlibNode: pkg('hnswlib-node'),
    webTreeSitter: pkg('web-tree-sitter'),
    loadAverageAtStart: os.loadavg().map(r1),
  };
}

/** Chunker throughput over a whole corpus: the first pass includes grammar loading. */
async function chunkerBench(corpus: Corpus): Promise<Record<string, unknown>> {
  const texts = corpus.files.map((f) => ({ rel: f.rel, text: readFileSync(path.join(corpus.root, f.rel), 'utf8') }));
  const chunker = new TreeSitterChunker();
  const pass = async (): Promise<{ ms: number; chunks: number; byLanguage: Record<string, number> }> => {
    const byLanguage: Record<string, number> = {};
    let chunks = 0;
    const t0 = performance.now();
    for (const f of texts) {
      const c = await chunker.chunkFile(f.rel, f.text);
      chunks += c.length;
      const lang = chunker.languageFor(f.rel);
      byLanguage[lang] = (byLanguage[lang] ?? 0) + 1;
    }
    return { ms: performance.now() - t0, chunks, byLanguage };
  };
  const cold = await pass();
  const warm = await pass();
  chunker.dispose();
  const mb = corpus.bytes / 1e6;
  return {
    files: texts.length,
    megabytes: r3(mb),
    chunks: warm.chunks,
    filesByLanguage: warm.byLanguage,
    coldIncludingGrammarLoad: {
      seconds: r3(cold.ms / 1000),
      filesPerSec: r1(texts.length / (cold.ms / 1000)),
      mbPerSec: r3(mb / (cold.ms / 1000)),
    },
    warm: { seconds: r3(warm.ms / 1000), filesPerSec: r1(texts.length / (warm.ms / 1000)), mbPerSec: r3(mb / (warm.ms / 1000)) },
  };
}

function throughput(ms: number, texts: number, tokens: number): Record<string, number> {
  const s = ms / 1000;
  return { seconds: r3(s), chunksPerSec: r1(texts / s), tokensPerSec: r1(tokens / s) };
}

/** Wall and CPU time of one step. */
interface Measured {
  t0: number;
  ms: number;
  cpuSeconds: number;
}

/** Times a step in wall-clock and process CPU time (CPU time is less sensitive to other load). */
async function measure<T>(fn: () => Promise<T>): Promise<Measured & { value: T }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { t0, ms, cpuSeconds: r3((cpu.user + cpu.system) / 1e6), value };
}

interface ModelRun {
  report: Record<string, unknown>;
  vectors: Float32Array[];
  queryVectors: Float32Array[];
}

/** Every per-model figure, on one corpus, with one embedder (same contexts and threads throughout). */
async function benchModel(modelPath: string, corpusBytes: number, s: Settings): Promise<ModelRun> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
  try {
    const corpus = buildCorpus(NODE_MODULES, path.join(work, 'tree'), corpusBytes);
    const load = await timed(() => LlamaEmbedder.load({ modelPath, gpu: false, contexts: s.contexts, threadsPerContext: s.threads }));
    const embedder = load.value;
    log(`${embedder.modelName}: ${corpus.files.length} files, ${(corpus.bytes / 1e6).toFixed(2)} MB`);
    try {
      const { texts, chunks } = await pipelineTexts(corpus.root, path.join(work, 'store-0'), embedder);
      const tokens = texts.reduce((a, t) => a + embedder.countTokens(t), 0);
      await embedder.embedDocuments(texts.slice(0, 2 * s.contexts)); // warm-up: first calls allocate buffers

      // 1–2. Raw (one bare embedDocuments call over every text, both contexts busy to the end)
      // and the full pipeline on a fresh store, alternated so drift in machine load hits both.
      const raws: Measured[] = [];
      const pipes: (Measured & { probe: PipelineProbe; summary: IndexSummary; sameTexts: boolean })[] = [];
      let vectors: Float32Array[] = [];
      const chunkers: TreeSitterChunker[] = [];
      let probe = new ProbeEmbedder(embedder);
      let storeDir = '';
      const open = (rebuild: boolean): Promise<Engine> => {
        const chunker = new TreeSitterChunker();
        chunkers.push(chunker);
        return Engine.open({
          root: corpus.root,
          storeDir,
          chunker: new ProbeChunker(chunker, probe),
          embedder: probe,
          annFactory: new HnswFactory(),
          rebuild,
        });
      };
      let last: Engine | undefined;
      for (let round = 0; round < s.rounds; round++) {
        log(`round ${round + 1}/${s.rounds}: raw embedding of ${texts.length} chunks (${tokens} tokens)`);
        const raw = await measure(() => embedder.embedDocuments(texts));
        vectors = raw.value;
        raws.push(raw);
        log(`round ${round + 1}/${s.rounds}: engine.index() on a fresh store`);
        await last?.close();
        probe = new ProbeEmbedder(embedder);
        storeDir = path.join(work, `store-${round}`);
        const engine = (last = await open(true));
        probeStore(engine.store, probe);
        const run = await measure(() => engine.index());
        pipes.push({
          ...run,
          summary: run.value,
          probe: probe.snapshot(run.t0, run.ms),
          sameTexts: probe.texts.length === texts.length && sha256(probe.texts.join('\0')) === sha256(texts.join('\0')),
        });
      }
      let engine = last!;
      const bestRaw = raws.reduce((a, b) => (b.ms < a.ms ? b : a));
      const bestPipe = pipes.reduce((a, b) => (b.ms < a.ms ? b : a));
      const coldMs = bestPipe.ms;

      // 3. Raw again, in the pipeline's batches of 32 (isolates the per-batch barrier).
      log('raw embedding in batches of 32');
      const rawBatched = await measure(async () => {
        for (let i = 0; i < texts.length; i += 32) await embedder.embedDocuments(texts.slice(i, i + 32));
      });

      // 4. Warm re-index: nothing changed.
      const warm = await timed(() => engine.index());

      // 5. Save one file → searchable.
      log('save-one-file latency');
      const target =
        corpus.files.find((f) => f.rel.endsWith('.ts') && f.bytes > 2000) ?? corpus.files.find((f) => /\.(js|ts)$/.test(f.rel))!;
      const saves: { totalMs: number; updateMs: number; searchMs: number; rank: number; embedded: number }[] = [];
      for (let i = 0; i < (s.quick ? 3 : 6); i++) {
        const abs = path.join(corpus.root, target.rel);
        const before = readFileSync(abs, 'utf8').split('\n').length;
        const name = `loupeBenchSentinel${i}Quokka`;
        const tStart = performance.now();
        appendFileSync(abs, `\n\nexport function ${name}(zebra: string): string {\n  return 'quokka sentinel ${i} ' + zebra;\n}\n`);
        const upd = await engine.updatePaths([target.rel], []);
        const tUpd = performance.now();
        const hits = await engine.search(`${name} quokka sentinel`, { k: 10 });
        const tEnd = performance.now();
        const rank = hits.findIndex((h) => h.path === target.rel && h.endLine > before);
        saves.push({ totalMs: tEnd - tStart, updateMs: tUpd - tStart, searchMs: tEnd - tUpd, rank, embedded: upd.embedded });
      }

      // 6. Queries on the real index: embedding vs search, and end to end.
      log('query latency on the real index');
      const qEmbed: number[] = [];
      const qSearch: number[] = [];
      const qEngine: number[] = [];
      const queryVectors: Float32Array[] = [];
      for (const q of QUERIES) {
        let t = performance.now();
        const v = await embedder.embedQuery(q);
        qEmbed.push(performance.now() - t);
        queryVectors.push(v);
        t = performance.now();
        engine.store.search(v, 40);
        qSearch.push(performance.now() - t);
        t = performance.now();
        await engine.search(q, { k: 10 });
        qEngine.push(performance.now() - t);
      }
      const status = engine.status();
      await engine.close();

      // 7. Cache: metadata lost, vector cache kept → a re-index that embeds nothing.
      log('cache: re-index after losing the metadata');
      for (const name of readdirSync(storeDir)) if (/^meta-\d+\.json$/.test(name)) rmSync(path.join(storeDir, name));
      const reopen = await timed(() => open(false));
      engine = reopen.value;
      const cached = await timed(() => engine.index());

      // 8. Cache: every top-level folder renamed → every file is new, every vector cached.
      for (const name of readdirSync(corpus.root)) renameSync(path.join(corpus.root, name), path.join(corpus.root, `${name}-renamed`));
      const renamed = await timed(() => engine.index());
      await engine.close();
      for (const c of chunkers) c.dispose();
      const rssAfter = peakRssMiB();

      const report = {
        model: {
          file: path.relative(REPO, modelPath),
          name: embedder.modelName,
          dimensions: embedder.dimensions,
          maxTokens: embedder.profile.maxTokens,
          loadSeconds: r3(load.ms / 1000),
        },
        embedder: { contexts: s.contexts, threadsPerContext: s.threads, computeUnit: embedder.computeUnit },
        corpus: {
          files: corpus.files.length,
          megabytes: r3(corpus.bytes / 1e6),
          bySource: corpus.bySource,
          chunks,
          uniqueChunkTexts: texts.length,
          tokens,
        },
        raw: {
          ...throughput(bestRaw.ms, texts.length, tokens),
          cpuSeconds: bestRaw.cpuSeconds,
          allRunsSeconds: raws.map((x) => r3(x.ms / 1000)),
        },
        rawBatched32: { ...throughput(rawBatched.ms, texts.length, tokens), cpuSeconds: rawBatched.cpuSeconds },
        pipeline: {
          ...throughput(coldMs, texts.length, tokens),
          cpuSeconds: bestPipe.cpuSeconds,
          allRunsSeconds: pipes.map((x) => r3(x.ms / 1000)),
          summary: {
            files: bestPipe.summary.files,
            chunks: bestPipe.summary.chunks,
            embedded: bestPipe.summary.embedded,
            cached: bestPipe.summary.cached,
            warnings: bestPipe.summary.warnings.length,
          },
          embeddedSameTextsAsRaw: pipes.every((x) => x.sameTexts),
          ...bestPipe.probe,
        },
        pipelineOverRaw: r3(bestRaw.ms / coldMs),
        pipelineOverRawPerRound: raws.map((x, i) => r3(x.ms / pipes[i].ms)),
        pipelineOverRawCpu: r3(bestRaw.cpuSeconds / bestPipe.cpuSeconds),
        pipelineOverRawBatched32: r3(rawBatched.ms / coldMs),
        rawBatched32OverRaw: r3(bestRaw.ms / rawBatched.ms),
        warmReindex: { seconds: r3(warm.ms / 1000), embedded: warm.value.embedded, speedupOverCold: r1(coldMs / warm.ms) },
        saveOneFile: {
          file: target.rel,
          total: summarize(saves.map((x) => x.totalMs)),
          update: summarize(saves.map((x) => x.updateMs)),
          search: summarize(saves.map((x) => x.searchMs)),
          foundInTop10: saves.filter((x) => x.rank >= 0).length,
          of: saves.length,
          ranks: saves.map((x) => x.rank),
          embeddedPerSave: saves.map((x) => x.embedded),
        },
        query: {
          chunks: status.chunks,
          searchStructure: status.searchStructure,
          embedQuery: summarize(qEmbed),
          storeSearchK40: summarize(qSearch),
          engineSearchEndToEnd: summarize(qEngine),
        },
        cache: {
          metadataLost: {
            reopenSeconds: r3(reopen.ms / 1000),
            seconds: r3(cached.ms / 1000),
            embedded: cached.value.embedded,
            cached: cached.value.cached,
            speedupOverCold: r1(coldMs / cached.ms),
          },
          renamedFolders: {
            seconds: r3(renamed.ms / 1000),
            embedded: renamed.value.embedded,
            cached: renamed.value.cached,
            speedupOverCold: r1(coldMs / renamed.ms),
          },
        },
        store: { diskMiB: r3(status.diskBytes / 1048576), cachedVectors: status.cachedVectors },
        peakRssMiBSoFar: rssAfter,
      };
      return { report, vectors, queryVectors };
    } finally {
      await embedder.dispose();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Which structure and ef the figures argue for, with the numbers behind it. */
function recommend(ann: AnnReport, queryEmbedP50: number): Record<string, unknown> {
  const big = ann.sizes[ann.sizes.length - 1];
  const small = ann.sizes[0];
  // Exact search is linear in N: fit ms per point from the largest size.
  const msPerPoint = big.exact.p50 / big.points;
  const efs = Object.keys(big.hnsw);
  const good = efs.find((ef) => big.hnsw[ef].recallAt10 >= 0.95) ?? efs[efs.length - 1];
  // The threshold where exact search costs as much as embedding the query (then it dominates).
  const crossover = Math.round(queryEmbedP50 / msPerPoint / 1000) * 1000;
  return {
    exactMsPerThousandPoints: r3(msPerPoint * 1000),
    exactP50AtSizes: ann.sizes.map((x) => ({ points: x.points, p50: x.exact.p50, p99: x.exact.p99 })),
    efWithRecall95AtLargest: good,
    hnswAtLargest: Object.fromEntries(efs.map((ef) => [ef, { p50: big.hnsw[ef].latency.p50, recallAt10: big.hnsw[ef].recallAt10 }])),
    hnswAtSmallest: Object.fromEntries(efs.map((ef) => [ef, { p50: small.hnsw[ef].latency.p50, recallAt10: small.hnsw[ef].recallAt10 }])),
    pointsWhereExactEqualsQueryEmbedding: crossover,
    hnswBuildSecondsAtLargest: r1(big.points / big.hnswInsertPerSec),
  };
}

async function main(): Promise<void> {
  const s = parseSettings();
  const started = new Date();
  const wall0 = performance.now();
  const result: Record<string, unknown> = {
    benchmark: 'loupe-engine',
    mode: s.quick ? 'quick' : 'full',
    date: started.toISOString(),
    machine: machine(),
    settings: { contexts: s.contexts, threadsPerContext: s.threads, gpu: false, models: s.models.map((m) => path.relative(REPO, m)) },
  };
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-chunker-'));
  try {
    log('chunker throughput');
    const corpus = buildCorpus(NODE_MODULES, scratch, (s.quick ? 400 : 3000) * 1024);
    result.chunker = await chunkerBench(corpus);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const models: Record<string, unknown>[] = [];
  let primary: { run: ModelRun; name: string } | undefined;
  for (const m of s.models) {
    const tiny = /tiny/i.test(path.basename(m));
    // The generated model embeds ~10× faster than MiniLM: it gets a bigger corpus in the same time.
    const kb = s.corpusKb ?? (s.quick ? (tiny ? 150 : 25) : tiny ? 1500 : 300);
    log(`model ${path.basename(m)} on ${kb} KB`);
    const run = await benchModel(m, kb * 1024, s);
    models.push(run.report);
    // ANN figures use the first real model's vectors (the tiny model's are bag-of-tokens).
    if (!primary || (/tiny/i.test(primary.name) && !tiny)) primary = { run, name: path.basename(m) };
  }
  result.models = models;

  if (s.ann && primary) {
    const sizes = s.quick ? [2_000, 10_000] : [10_000, 100_000];
    log(`ann: ${sizes.join(', ')} synthetic points from ${primary.run.vectors.length} real ${primary.name} vectors`);
    const ann = annBench({
      base: primary.run.vectors,
      textQueries: primary.run.queryVectors,
      sizes,
      efs: [50, 100, 200],
      docQueries: s.quick ? 100 : 200,
      log,
    });
    const primaryReport = models.find((r) => (r.model as { file: string }).file.endsWith(primary!.name))!;
    const qEmbed = (primaryReport.query as { embedQuery: { p50: number } }).embedQuery.p50;
    result.ann = { model: primary.name, ...ann, peakRssMiBSoFar: peakRssMiB() };
    result.recommendation = recommend(ann, qEmbed);
  }
  if (s.ann) {
    const chunks = s.quick ? 10_000 : 100_000;
    log(`store: save-one-file at ${chunks} chunks`);
    result.storeAtScale = { dimensions: 384, ...storeScaleBench(chunks, 384), peakRssMiBSoFar: peakRssMiB() };
  }
  result.peakRssMiB = peakRssMiB();
  result.totalSeconds = r1((performance.now() - wall0) / 1000);
  (result.machine as Record<string, unknown>).loadAverageAtEnd = os.loadavg().map(r1);
  const json = JSON.stringify(result, null, 2);
  mkdirSync(path.dirname(s.out), { recursive: true });
  writeFileSync(s.out, json + '\n');
  log(`wrote ${s.out}`);
  process.stdout.write(json + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
