/**
 * One-shot `loupe search` with no engine running (issue 17), part of `npm run bench`: a fresh
 * process per query, on an index of ~4k chunks of real code, against `rg` over the same tree in
 * the same run (interleaved). Wall time and the child's CPU time (user + sys, /usr/bin/time), and
 * where the time goes: each `--verbose` log line of the CLI timestamped as it arrives.
 *
 * The index's vectors come from a stand-in embedder with the ONNX model's identity (a one-shot
 * search's cost does not depend on what the vectors say; embedding 4k chunks here would take
 * minutes); chunking, the store, HNSW and BM25 are the real ones, and the search embeds its query
 * with the real model.
 *
 *   node out/test/bench/coldstart-bench.js [--chunks 4000] [--runs 5] [--out <file>] [--compare <dir>]
 *
 * --compare <dir>: a second build (a folder with its own bin/loupe.js and dist/, e.g. copied from
 * an older commit), run in the same rounds: the per-round ratios say what a change saved.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../src/core/engine.js';
import { sha256 } from '../../src/core/fsutil.js';
import type { EmbedderPort } from '../../src/core/types.js';
import { WordPieceTokenizer, type TokenizerJson } from '../../src/core/tokenizers/wordpiece.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { bundledOnnxPath } from '../../src/adapters/open-engine.js';
import { OnnxEmbedder } from '../../src/adapters/onnx-embedder.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import { buildCorpus } from './corpus.js';
import { r1, r3 } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The default ONNX model (int8 where built, else fp32): the one a one-shot search picks. */
const ONNX = bundledOnnxPath() ?? '';
const log = (m: string): void => void process.stderr.write(`[coldstart ${(performance.now() / 1000).toFixed(0)}s] ${m}\n`);

/** Vectors from a hash of the text, with the real model's identity and token counts. */
class StandInEmbedder implements EmbedderPort {
  readonly modelName = 'all-MiniLM-L6-v2';
  readonly dimensions = 384;
  readonly profile = { queryPrefix: '', documentPrefix: '', maxTokens: 256 };
  readonly computeUnit = 'CPU (stand-in)';
  constructor(
    readonly modelId: string,
    private readonly tok: WordPieceTokenizer,
  ) {}
  countTokens(t: string): number {
    return this.tok.encode(t).length;
  }
  private vec(t: string): Float32Array {
    const h = Buffer.from(sha256(t), 'hex');
    const v = new Float32Array(384);
    let s = 0;
    for (let i = 0; i < 384; i++) {
      v[i] = h[i % 32] / 128 - 1 + Math.sin(i * (h[(i * 7) % 32] + 1));
      s += v[i] * v[i];
    }
    for (let i = 0; i < 384; i++) v[i] /= Math.sqrt(s);
    return v;
  }
  async embedDocuments(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.vec(t));
  }
  async embedQuery(t: string): Promise<Float32Array> {
    return this.vec(t);
  }
  async dispose(): Promise<void> {}
}

interface Timed {
  wallMs: number;
  cpuMs: number | null;
  lines: { ms: number; line: string }[];
}

/** Runs a command; wall time, CPU time through /usr/bin/time when present, stderr lines timestamped. */
function runTimed(cmd: string, args: string[]): Promise<Timed> {
  const haveTime = existsSync('/usr/bin/time');
  const marker = '@@time ';
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = haveTime
      ? spawn('/usr/bin/time', ['-f', `${marker}%U %S`, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const lines: { ms: number; line: string }[] = [];
    let buf = '';
    let cpuMs: number | null = null;
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith(marker)) {
          const [u, s] = line.slice(marker.length).split(' ').map(Number);
          cpuMs = (u + s) * 1000;
        } else lines.push({ ms: r1(performance.now() - t0), line: line.slice(0, 160) });
      }
    });
    child.on('error', reject);
    child.on('close', () => resolve({ wallMs: performance.now() - t0, cpuMs, lines }));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      chunks: { type: 'string', default: '4000' },
      runs: { type: 'string', default: '5' },
      out: { type: 'string' },
      keep: { type: 'string' },
      compare: { type: 'string' },
    },
  });
  const target = Number(values.chunks);
  const runs = Number(values.runs);
  const date = new Date().toISOString().slice(0, 10);
  const outFile = values.out ? path.resolve(values.out) : path.join(REPO, 'test/bench/results', `coldstart-${date}.json`);
  // --keep <dir>: build the index there and keep it (to profile a one-shot search by hand).
  const work = values.keep ? path.resolve(values.keep) : mkdtempSync(path.join(os.tmpdir(), 'loupe-coldstart-'));
  try {
    const tok = new WordPieceTokenizer(JSON.parse(readFileSync(path.join(path.dirname(ONNX), 'tokenizer.json'), 'utf8')) as TokenizerJson);
    const modelId = OnnxEmbedder.modelIdFor(ONNX);
    if (!modelId) throw new Error('the bundled ONNX model is missing: npm run build');
    // ~2.7 chunks per KB of this corpus.
    const corpus = buildCorpus(path.join(REPO, 'node_modules'), path.join(work, 'tree'), Math.round((target / 2.7) * 1024));
    const chunker = new TreeSitterChunker();
    const engine = await Engine.open({
      root: corpus.root,
      chunker,
      embedder: new StandInEmbedder(modelId, tok),
      annFactory: new HnswFactory(),
      rebuild: true,
    });
    const summary = await engine.index();
    const chunks = engine.store.chunkCount;
    await engine.close();
    chunker.dispose();
    log(`index: ${summary.files} files, ${chunks} chunks`);

    const query = 'parse command line options and arguments';
    const cli = path.join(REPO, 'bin/loupe.js');
    const distCli = path.join(REPO, 'dist/cli.mjs');
    const rg = spawnSync('rg', ['--version']).status === 0;
    const samples: Record<string, Timed[]> = { loupe: [], loupeBundle: [], rg: [], compare: [] };
    const compareCli = values.compare ? path.join(path.resolve(values.compare), 'bin/loupe.js') : null;
    for (let i = 0; i < runs; i++) {
      if (compareCli)
        samples.compare.push(await runTimed(process.execPath, [compareCli, 'search', corpus.root, query, '-k', '10', '--verbose']));
      samples.loupe.push(await runTimed(process.execPath, [cli, 'search', corpus.root, query, '-k', '10', '--verbose']));
      if (existsSync(distCli))
        samples.loupeBundle.push(await runTimed(process.execPath, [distCli, 'search', corpus.root, query, '-k', '10']));
      if (rg) samples.rg.push(await runTimed('rg', ['-n', '-i', '-e', 'parse', '-e', 'options', corpus.root]));
      log(
        `run ${i + 1}/${runs}: loupe ${samples.loupe[i].wallMs.toFixed(0)} ms, rg ${samples.rg[i]?.wallMs.toFixed(0) ?? '-'} ms; load ${os.loadavg()[0].toFixed(1)}`,
      );
    }
    const sum = (xs: Timed[]) =>
      xs.length
        ? {
            wallMsMedian: r1(median(xs.map((x) => x.wallMs))),
            wallMs: xs.map((x) => r1(x.wallMs)),
            cpuMsMedian: xs[0].cpuMs === null ? null : r1(median(xs.map((x) => x.cpuMs!))),
          }
        : null;
    const result = {
      benchmark: 'loupe-coldstart',
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), node: process.version, loadAverage: os.loadavg().map(r1) },
      model: path.relative(REPO, ONNX),
      index: {
        files: summary.files,
        chunks,
        vectors: 'stand-in (hash) vectors under the ONNX model identity; the query is embedded by the real model',
      },
      query,
      loupeSearch: sum(samples.loupe),
      loupeSearchBundledCli: sum(samples.loupeBundle),
      rg: sum(samples.rg),
      compare: compareCli
        ? {
            build: values.compare,
            ...sum(samples.compare),
            thisOverCompareWallPerRound: samples.compare.map((c, i) => r3(samples.loupe[i].wallMs / c.wallMs)),
            thisOverCompareCpuPerRound: samples.compare.map((c, i) =>
              c.cpuMs && samples.loupe[i].cpuMs ? r3(samples.loupe[i].cpuMs! / c.cpuMs) : null,
            ),
            whereTheTimeGoes: samples.compare[samples.compare.length - 1].lines,
          }
        : undefined,
      loupeOverRgWall: samples.rg.length ? r3(median(samples.loupe.map((x) => x.wallMs)) / median(samples.rg.map((x) => x.wallMs))) : null,
      whereTheTimeGoes: samples.loupe[samples.loupe.length - 1].lines,
    };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`coldstart bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
