/**
 * Reopen + first search with the BM25 snapshot (bm25-<g>.bin, searched in place) against without
 * it (BM25 rebuilt from lexical.log at the first search, as a store written before snapshots
 * exist), side by side: every measurement in a fresh process, the two settings alternating
 * within each round.
 *
 * The corpus is Loupe's own `src/` copied --copies times into distinct folders. As copied, the
 * copies share their content, and a rebuild interns each distinct chunk's terms once (its cheapest
 * case); with --unique every identifier of four letters or more (keywords aside) gets a suffix
 * per copy (`parseManifest` → `parseManifestQ7`), so every chunk is distinct and each copy brings
 * its own identifiers, as in one large repository. The index is built with stand-in vectors (a
 * hash of the text) under the tiny test model's identity: what a reopen and a search cost does
 * not depend on what the vectors say, and the searches embed their query with the real model.
 * "Without" is the same store with the manifest's `bm25` entry removed.
 *
 * Per round and setting:
 *   - engine: Engine.open (read-only, as `loupe search` opens it; the model is loaded before the
 *     clock starts) then the first search, hybrid; and in another process a first search in
 *     lexical mode alone (BM25 only). Peak RSS of each process.
 *   - cli: `loupe search <root> <query> -k 10 --json` with the tiny model, no engine running:
 *     wall, CPU and peak RSS (/usr/bin/time).
 *
 *   npm run build && node out/test/bench/reopen-bench.js [--copies 15] [--rounds 5] [--out <file>] [--keep <dir>]
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../src/core/engine.js';
import { sha256 } from '../../src/core/fsutil.js';
import type { EmbedderPort } from '../../src/core/types.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import { embedder, openTestEngine, REPO, tinyBertPath } from '../support/helpers.js';
import { r1, r3 } from './stats.js';

const SELF = fileURLToPath(import.meta.url);
const QUERY = 'parse the manifest and verify its checksum';
const LEXICAL_QUERY = 'snapshot journal replay torn tail';
type Kind = 'snapshot' | 'rebuilt';
const log = (m: string): void => void process.stderr.write(`[reopen ${(performance.now() / 1000).toFixed(0)}s] ${m}\n`);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Vectors from a hash of the text, under a real embedder's identity (only for building the index). */
class StandInEmbedder implements EmbedderPort {
  readonly modelId: string;
  readonly modelName: string;
  readonly dimensions: number;
  readonly profile: EmbedderPort['profile'];
  readonly computeUnit = 'CPU (stand-in)';
  constructor(private readonly real: EmbedderPort) {
    ({ modelId: this.modelId, modelName: this.modelName, dimensions: this.dimensions, profile: this.profile } = real);
  }
  countTokens(t: string): number {
    return this.real.countTokens(t);
  }
  private vec(t: string): Float32Array {
    const h = Buffer.from(sha256(t), 'hex');
    const v = new Float32Array(this.dimensions);
    let s = 0;
    for (let i = 0; i < v.length; i++) {
      v[i] = h[i % 32] / 128 - 1 + Math.sin(i * (h[(i * 7) % 32] + 1));
      s += v[i] * v[i];
    }
    for (let i = 0; i < v.length; i++) v[i] /= Math.sqrt(s);
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

const KEYWORDS = new Set(
  (
    'break case catch class const continue debugger default delete else export extends finally function import instanceof return super ' +
    'switch this throw typeof void while with yield static enum await implements package protected interface private public async from ' +
    'type readonly declare abstract keyof infer namespace module require true false null undefined number string boolean unknown never ' +
    'object symbol bigint satisfies override'
  ).split(' '),
);

/** Copies `src` to `dst`, each identifier of 4+ letters (keywords aside) suffixed with `suffix` in .ts files. */
function copyUnique(src: string, dst: string, suffix: string): void {
  for (const name of readdirSync(src)) {
    const a = path.join(src, name);
    const b = path.join(dst, name);
    if (statSync(a).isDirectory()) {
      mkdirSync(b, { recursive: true });
      copyUnique(a, b, suffix);
    } else if (name.endsWith('.ts')) {
      writeFileSync(
        b,
        readFileSync(a, 'utf8').replace(/\b[A-Za-z_][A-Za-z0-9_]{3,}\b/g, (w) => (KEYWORDS.has(w) ? w : w + suffix)),
      );
    } else {
      cpSync(a, b);
    }
  }
}

/** Child: open the index read-only, one first search, report timings and peak RSS as one JSON line. */
async function child(root: string, mode: 'hybrid' | 'lexical'): Promise<void> {
  await embedder();
  const t0 = performance.now();
  const e = await openTestEngine(root, { readOnly: true });
  const t1 = performance.now();
  const hits = await e.search(mode === 'hybrid' ? QUERY : LEXICAL_QUERY, { k: 10, mode });
  const t2 = performance.now();
  const out = {
    reopenMs: t1 - t0,
    firstSearchMs: t2 - t1,
    hits: hits.length,
    fromSnapshot: e.lexical.fromSnapshot,
    warnings: [...e.store.report.warnings, ...e.lexical.warnings],
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    top: hits.slice(0, 3).map((h) => `${h.path}:${h.startLine}`),
  };
  await e.close();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ out: string; err: string; ms: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ out, err, ms: performance.now() - t0, code }));
  });
}

interface EngineRun {
  reopenMs: number;
  firstSearchMs: number;
  hits: number;
  fromSnapshot: boolean;
  warnings: string[];
  maxRssMiB: number;
  top: string[];
}

async function engineRun(root: string, mode: 'hybrid' | 'lexical'): Promise<EngineRun> {
  const r = await run(process.execPath, [SELF, '--child', root, '--mode', mode]);
  const line = r.out.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`child failed (${r.code}): ${r.err.slice(-600)}`);
  return JSON.parse(line) as EngineRun;
}

interface CliRun {
  wallMs: number;
  cpuMs: number;
  maxRssMiB: number;
  top: string[];
}

async function cliRun(root: string): Promise<CliRun> {
  const bin = path.join(REPO, 'bin/loupe.js');
  const r = await run(
    '/usr/bin/time',
    ['-f', '@@time %U %S %M', process.execPath, bin, 'search', root, QUERY, '-k', '10', '--json', '--model', tinyBertPath(), '--cpu'],
    { LOUPE_NO_ENGINE: '1', LOUPE_BACKOFF: '0' },
  );
  const t = /@@time (\S+) (\S+) (\d+)/.exec(r.err);
  if (r.code !== 0 || !t) throw new Error(`cli failed (${r.code}): ${r.err.slice(-600)}`);
  const hits = JSON.parse(r.out) as { path: string; startLine: number }[];
  return {
    wallMs: r.ms,
    cpuMs: (Number(t[1]) + Number(t[2])) * 1000,
    maxRssMiB: Number(t[3]) / 1024,
    top: hits.slice(0, 3).map((h) => `${h.path}:${h.startLine}`),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      copies: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '5' },
      out: { type: 'string' },
      keep: { type: 'string' },
      'no-cli': { type: 'boolean', default: false },
      unique: { type: 'boolean', default: false },
    },
  });
  const copies = Number(values.copies);
  const rounds = Number(values.rounds);
  const work = values.keep ? path.resolve(values.keep) : mkdtempSync(path.join(os.tmpdir(), 'loupe-reopen-'));
  try {
    const t0 = performance.now();
    let chunks: number;
    let files: number;
    const store = path.join(work, '.loupe');
    if (!existsSync(path.join(store, 'manifest.json'))) {
      for (let i = 0; i < copies; i++) {
        mkdirSync(path.join(work, `copy${i}`, 'src'), { recursive: true });
        if (values.unique) copyUnique(path.join(REPO, 'src'), path.join(work, `copy${i}`, 'src'), `Q${i}`);
        else cpSync(path.join(REPO, 'src'), path.join(work, `copy${i}`, 'src'), { recursive: true });
      }
    }
    {
      const chunker = new TreeSitterChunker();
      const e = await Engine.open({ root: work, chunker, embedder: new StandInEmbedder(await embedder()), annFactory: new HnswFactory() });
      await e.index();
      chunks = e.store.chunkCount;
      files = e.store.files.size;
      await e.close();
      chunker.dispose();
    }
    log(`indexed ${files} files, ${chunks} chunks in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const manifestFile = path.join(store, 'manifest.json');
    const withSnapshot = readFileSync(manifestFile, 'utf8');
    const m = JSON.parse(withSnapshot) as { bm25?: { name: string; bytes: number }; meta: { bytes: number } };
    if (!m.bm25) throw new Error('the index run saved no BM25 snapshot');
    const { bm25: snap, ...rest } = m;
    const withoutSnapshot = JSON.stringify(rest, null, 1);
    const set = (k: Kind) => writeFileSync(manifestFile, k === 'snapshot' ? withSnapshot : withoutSnapshot);

    const samples: Record<Kind, { hybrid: EngineRun[]; lexical: EngineRun[]; cli: CliRun[] }> = {
      snapshot: { hybrid: [], lexical: [], cli: [] },
      rebuilt: { hybrid: [], lexical: [], cli: [] },
    };
    for (let r = 0; r < rounds; r++) {
      const order: Kind[] = r % 2 ? ['rebuilt', 'snapshot'] : ['snapshot', 'rebuilt'];
      for (const k of order) {
        set(k);
        const h = await engineRun(work, 'hybrid');
        const l = await engineRun(work, 'lexical');
        for (const x of [h, l]) {
          if (x.fromSnapshot !== (k === 'snapshot')) throw new Error(`${k}: fromSnapshot ${x.fromSnapshot}`);
          if (x.warnings.length) throw new Error(`${k}: ${x.warnings.join('; ')}`);
        }
        samples[k].hybrid.push(h);
        samples[k].lexical.push(l);
        if (!values['no-cli']) samples[k].cli.push(await cliRun(work));
        const c = samples[k].cli[r];
        log(
          `round ${r + 1} ${k.padEnd(8)} reopen ${h.reopenMs.toFixed(0)} + first hybrid ${h.firstSearchMs.toFixed(0)} ms; ` +
            `first lexical ${l.firstSearchMs.toFixed(0)} ms, ${l.maxRssMiB.toFixed(0)} MiB` +
            (c ? `; cli ${c.wallMs.toFixed(0)} ms wall, ${c.cpuMs.toFixed(0)} ms CPU, ${c.maxRssMiB.toFixed(0)} MiB` : '') +
            `; load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    }
    set('snapshot');
    for (const x of ['hybrid', 'lexical'] as const) {
      const a = samples.snapshot[x].map((s) => s.top.join());
      const b = samples.rebuilt[x].map((s) => s.top.join());
      if (a.some((t) => t !== b[0]) || b.some((t) => t !== b[0])) throw new Error(`${x}: the two settings found different hits`);
    }

    const ratio = (f: (k: Kind, i: number) => number) => Array.from({ length: rounds }, (_, i) => r3(f('snapshot', i) / f('rebuilt', i)));
    const summary = (k: Kind) => {
      const s = samples[k];
      return {
        engine: {
          reopenMsMedian: r1(median(s.hybrid.map((x) => x.reopenMs))),
          firstHybridSearchMsMedian: r1(median(s.hybrid.map((x) => x.firstSearchMs))),
          reopenPlusFirstHybridMsMedian: r1(median(s.hybrid.map((x) => x.reopenMs + x.firstSearchMs))),
          firstLexicalSearchMsMedian: r1(median(s.lexical.map((x) => x.firstSearchMs))),
          reopenPlusFirstLexicalMsMedian: r1(median(s.lexical.map((x) => x.reopenMs + x.firstSearchMs))),
          peakRssMiBLexicalMedian: r1(median(s.lexical.map((x) => x.maxRssMiB))),
          peakRssMiBHybridMedian: r1(median(s.hybrid.map((x) => x.maxRssMiB))),
        },
        cli: s.cli.length
          ? {
              wallMsMedian: r1(median(s.cli.map((x) => x.wallMs))),
              cpuMsMedian: r1(median(s.cli.map((x) => x.cpuMs))),
              peakRssMiBMedian: r1(median(s.cli.map((x) => x.maxRssMiB))),
            }
          : null,
      };
    };
    const result = {
      benchmark: 'loupe-reopen-snapshot',
      date: new Date().toISOString(),
      what:
        'one-shot search in fresh processes, read-only as `loupe search`: the BM25 snapshot searched in place vs BM25 rebuilt from lexical.log ' +
        '(the same store without its manifest bm25 entry, as written before snapshots); settings alternate within each round',
      machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), node: process.version, loadAverage: os.loadavg().map(r1) },
      corpus: values.unique
        ? `Loupe src/ copied ${copies} times, identifiers suffixed per copy (every chunk distinct)`
        : `Loupe src/ copied ${copies} times (duplicated content: a rebuild interns each distinct chunk once, the snapshot holds every chunk's postings)`,
      model:
        'tiny test model (models/generated/loupe-tiny-bert.gguf); index vectors are stand-ins (hash of the text), queries embedded by the model',
      files,
      chunks,
      bm25SnapshotBytes: snap.bytes,
      metaBytes: m.meta.bytes,
      rounds,
      snapshot: summary('snapshot'),
      rebuilt: summary('rebuilt'),
      snapshotOverRebuiltPerRound: {
        reopenPlusFirstHybrid: ratio((k, i) => samples[k].hybrid[i].reopenMs + samples[k].hybrid[i].firstSearchMs),
        firstHybridSearch: ratio((k, i) => samples[k].hybrid[i].firstSearchMs),
        reopen: ratio((k, i) => samples[k].hybrid[i].reopenMs),
        firstLexicalSearch: ratio((k, i) => samples[k].lexical[i].firstSearchMs),
        reopenPlusFirstLexical: ratio((k, i) => samples[k].lexical[i].reopenMs + samples[k].lexical[i].firstSearchMs),
        peakRssLexical: ratio((k, i) => samples[k].lexical[i].maxRssMiB),
        cliWall: values['no-cli'] ? null : ratio((k, i) => samples[k].cli[i].wallMs),
        cliCpu: values['no-cli'] ? null : ratio((k, i) => samples[k].cli[i].cpuMs),
        cliPeakRss: values['no-cli'] ? null : ratio((k, i) => samples[k].cli[i].maxRssMiB),
      },
      samples,
    };
    const text = JSON.stringify(result, null, 2) + '\n';
    if (values.out) writeFileSync(path.resolve(values.out), text);
    process.stdout.write(text);
  } finally {
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  await child(argv[1], argv[3] === 'lexical' ? 'lexical' : 'hybrid');
} else {
  await main().catch((e: unknown) => {
    process.stderr.write(`reopen bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
  process.exit(0);
}
