/**
 * Contention benchmark (`npm run bench:contention`): an agent-like workload — llama.cpp prompt
 * prefill of a long prompt on a generated LLaMA model, over and over, in a separate process —
 * runs alone, then beside a full Loupe index (real MiniLM GGUF, real engine) with back-off off,
 * then with back-off on at several levels and at the default. Reports the workload's throughput
 * kept (vs alone, measured in the same run, before and after) against Loupe's indexing speed
 * (vs Loupe alone): the frontier. Writes test/bench/results/contention-<date>.json.
 *
 *   node out/test/bench/contention-bench.js [--seconds 25] [--quick] [--out file]
 *        [--workload-threads 2] [--prompt 512] [--width 512] [--layers 8] [--index-threads 1]
 *   node out/test/bench/contention-bench.js --record-trace <file.json> [--seconds 80]
 *   (internal) --workload <model.gguf>: the workload process itself.
 *
 * On one shared compute unit (this 2-core CPU box) back-off can only trade one side for the
 * other. The two-unit cases (GPU + CPU, GPU + ANE) need hardware this machine lacks: see README
 * "Compute and contention" for how they are verified.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../src/core/engine.js';
import { FixedPacer } from '../../src/core/pacer.js';
import { ContentionPacer, DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from '../../src/core/compute/scheduler.js';
import type { EmbedderPort, PacerPort } from '../../src/core/types.js';
import { ContentionSampler } from '../../src/adapters/compute/sampler.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../src/adapters/llama-embedder.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import { GgufWriter } from '../../src/tools/gguf-writer.js';
import { buildTinyLlamaVocab } from '../../src/tools/tiny-llama.js';
import { buildCorpus } from './corpus.js';
import { seededRandom, gaussian, r3 } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The workload model: a LLaMA with random weights (prefill cost depends on shapes, not values).

function writeWorkloadModel(file: string, width: number, layers: number): void {
  const vocab = buildTinyLlamaVocab();
  const n = vocab.tokens.length;
  const ff = Math.round((width * 8) / 3 / 64) * 64;
  const rand = seededRandom(7);
  const rnd = (count: number, std = 0.02): Float32Array => Float32Array.from({ length: count }, () => gaussian(rand) * std);
  const ones = (count: number): Float32Array => new Float32Array(count).fill(1);
  const w = new GgufWriter();
  w.addString('general.architecture', 'llama');
  w.addString('general.name', 'loupe-contention-workload');
  w.addU32('general.file_type', 1);
  w.addU32('llama.vocab_size', n);
  w.addU32('llama.context_length', 4096);
  w.addU32('llama.embedding_length', width);
  w.addU32('llama.feed_forward_length', ff);
  w.addU32('llama.block_count', layers);
  w.addU32('llama.attention.head_count', width / 64);
  w.addU32('llama.attention.head_count_kv', width / 64);
  w.addU32('llama.rope.dimension_count', 64);
  w.addF32('llama.attention.layer_norm_rms_epsilon', 1e-5);
  w.addString('tokenizer.ggml.model', 'llama');
  w.addString('tokenizer.ggml.pre', 'default');
  w.addStringArray('tokenizer.ggml.tokens', vocab.tokens);
  w.addF32Array('tokenizer.ggml.scores', vocab.scores);
  w.addI32Array('tokenizer.ggml.token_type', vocab.types);
  w.addU32('tokenizer.ggml.unknown_token_id', vocab.unkId);
  w.addU32('tokenizer.ggml.bos_token_id', vocab.bosId);
  w.addU32('tokenizer.ggml.eos_token_id', vocab.eosId);
  w.addTensor('token_embd.weight', [width, n], rnd(width * n), 'F16');
  w.addTensor('output_norm.weight', [width], ones(width));
  w.addTensor('output.weight', [width, n], rnd(width * n), 'F16');
  for (let l = 0; l < layers; l++) {
    w.addTensor(`blk.${l}.attn_norm.weight`, [width], ones(width));
    for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) w.addTensor(`blk.${l}.${p}.weight`, [width, width], rnd(width * width), 'F16');
    w.addTensor(`blk.${l}.ffn_norm.weight`, [width], ones(width));
    w.addTensor(`blk.${l}.ffn_gate.weight`, [width, ff], rnd(width * ff), 'F16');
    w.addTensor(`blk.${l}.ffn_up.weight`, [width, ff], rnd(width * ff), 'F16');
    w.addTensor(`blk.${l}.ffn_down.weight`, [ff, width], rnd(ff * width), 'F16');
  }
  w.write(file);
}

/** The workload process: prefill `prompt` tokens, clear, repeat; one JSON line per prefill. */
async function workloadMain(model: string, threads: number, prompt: number): Promise<void> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const m = await llama.loadModel({ modelPath: model });
  const ctx = await m.createContext({ contextSize: prompt + 64, batchSize: prompt, threads });
  const seq = ctx.getSequence();
  const rand = seededRandom(11);
  const vocab = buildTinyLlamaVocab();
  const tokens = Array.from({ length: prompt }, () => 5 + Math.floor(rand() * (vocab.tokens.length - 5))) as unknown as import('node-llama-cpp').Token[];
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  for (;;) {
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
    await seq.clearHistory();
    process.stdout.write(JSON.stringify({ end: Date.now(), ms: performance.now() - t0, tokens: prompt }) + '\n');
  }
}

class Workload {
  readonly runs: { end: number; ms: number; tokens: number }[] = [];
  private child: ChildProcess;
  readonly ready: Promise<void>;

  constructor(model: string, threads: number, prompt: number) {
    this.child = spawn(process.execPath, [SELF, '--workload', model, '--workload-threads', String(threads), '--prompt', String(prompt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let resolveReady!: () => void;
    this.ready = new Promise((r) => (resolveReady = r));
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (line.ready) resolveReady();
        else this.runs.push(line);
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Tokens per second over prefills that ended within [from, to]. */
  throughput(from: number, to: number): { tokensPerSecond: number; prefills: number } {
    const rs = this.runs.filter((r) => r.end >= from && r.end <= to);
    const ms = rs.reduce((a, r) => a + r.ms, 0);
    const tokens = rs.reduce((a, r) => a + r.tokens, 0);
    // Prefills run back to back, so their summed time is the window they cover.
    return { tokensPerSecond: ms ? (tokens / ms) * 1000 : 0, prefills: rs.length };
  }

  kill(): void {
    this.child.kill();
  }
}

// ---------------------------------------------------------------------------------------------

interface PhaseResult {
  name: string;
  seconds: number;
  workload?: { tokensPerSecond: number; prefills: number; kept?: number };
  loupe?: { chunksPerSecond: number; chunks: number; speed?: number; modes?: Record<string, number>; lastExplanation?: string };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      workload: { type: 'string' },
      'workload-threads': { type: 'string', default: '2' },
      prompt: { type: 'string', default: '512' },
      width: { type: 'string', default: '512' },
      layers: { type: 'string', default: '8' },
      'index-threads': { type: 'string', default: '1' },
      seconds: { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      'record-trace': { type: 'string' },
    },
  });
  if (v.workload) return workloadMain(v.workload, Number(v['workload-threads']), Number(v.prompt));
  if (v['record-trace']) return recordTrace(v['record-trace'], Number(v.seconds ?? 80));

  const seconds = Number(v.seconds ?? (v.quick ? 12 : 25));
  const warmup = 3;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-contention-'));
  const uptimeStart = execSync('uptime').toString().trim();
  const modelFile = path.join(tmp, 'workload.gguf');
  writeWorkloadModel(modelFile, Number(v.width), Number(v.layers));
  const corpus = buildCorpus(path.join(REPO, 'node_modules'), path.join(tmp, 'corpus'), (v.quick ? 300 : 1500) * 1024);
  const embedder = await LlamaEmbedder.load({ modelPath: path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'), gpu: false, contexts: 1, threadsPerContext: Number(v['index-threads']) });
  const chunker = new TreeSitterChunker();
  const log = (s: string): void => void process.stderr.write(s + '\n');
  log(`corpus ${corpus.files.length} files, ${(corpus.bytes / 1024).toFixed(0)} KiB; ${seconds} s per phase; ${uptimeStart}`);

  // Counts each embedded text as it finishes (one context embeds them one by one anyway), so a
  // phase's figure is not rounded to whole units of work.
  let embeddedTexts = 0;
  const counting: EmbedderPort = {
    get modelId() { return embedder.modelId; },
    get modelName() { return embedder.modelName; },
    get dimensions() { return embedder.dimensions; },
    get profile() { return embedder.profile; },
    get computeUnit() { return embedder.computeUnit; },
    countTokens: (t) => embedder.countTokens(t),
    embedQuery: (t, sig) => embedder.embedQuery(t, sig),
    async embedDocuments(texts, sig) {
      const out: Float32Array[] = [];
      for (const t of texts) {
        out.push(...(await embedder.embedDocuments([t], sig)));
        embeddedTexts++;
      }
      return out;
    },
    dispose: async () => undefined,
  };

  /** Indexes the corpus from scratch, over and over, for `secs`; counts chunks embedded. */
  async function runLoupe(pacer: PacerPort, secs: number): Promise<{ chunks: number; seconds: number }> {
    const ac = new AbortController();
    const t0 = performance.now();
    const timer = setTimeout(() => ac.abort(), secs * 1000);
    const before = embeddedTexts;
    try {
      while (!ac.signal.aborted) {
        const storeDir = mkdtempSync(path.join(tmp, 'store-'));
        const engine = await Engine.open({ root: corpus.root, storeDir, chunker, embedder: counting, annFactory: new HnswFactory(), pacer });
        try {
          await engine.index({ signal: ac.signal });
        } catch (e) {
          if (!ac.signal.aborted) throw e;
        } finally {
          await engine.close();
          rmSync(storeDir, { recursive: true, force: true });
        }
      }
    } finally {
      clearTimeout(timer);
    }
    return { chunks: embeddedTexts - before, seconds: (performance.now() - t0) / 1000 };
  }

  const workload = new Workload(modelFile, Number(v['workload-threads']), Number(v.prompt));
  await workload.ready;
  const phases: PhaseResult[] = [];
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  async function phase(name: string, pacer: PacerPort | null, withWorkload = true): Promise<PhaseResult> {
    log(`phase ${name}…`);
    const modes: Record<string, number> = {};
    let last = '';
    if (pacer instanceof ContentionPacer) {
      pacer.onChange(() => undefined);
    }
    const start = Date.now();
    let loupe: { chunks: number; seconds: number } | null = null;
    if (pacer) {
      const track = pacer instanceof ContentionPacer ? setInterval(() => {
        const c = pacer.compute;
        modes[c.mode] = (modes[c.mode] ?? 0) + 1;
        last = c.explanation;
      }, 1000) : undefined;
      loupe = await runLoupe(pacer, seconds);
      if (track) clearInterval(track);
      if (pacer instanceof ContentionPacer) pacer.dispose();
    } else {
      await sleep(seconds * 1000);
    }
    const end = Date.now();
    const r: PhaseResult = { name, seconds: (end - start) / 1000 };
    if (withWorkload) r.workload = workload.throughput(start + warmup * 1000, end);
    if (loupe) r.loupe = { chunksPerSecond: loupe.chunks / loupe.seconds, chunks: loupe.chunks, ...(Object.keys(modes).length ? { modes, lastExplanation: last } : {}) };
    log(JSON.stringify(r));
    return r;
  }

  const sampler = (): ContentionSampler => new ContentionSampler({ llmPorts: [] });
  const level = (duty: number): Partial<SchedulerConfig> => ({ backoff: { batchSize: 8, duty }, heavy: { batchSize: 8, duty }, enterSamples: 2 });
  const pacerWith = (cfg: Partial<SchedulerConfig>): ContentionPacer => {
    const s = sampler();
    return new ContentionPacer({ sample: () => s.sample(), unit: () => 'cpu', config: cfg, intervalMs: 2000 });
  };

  phases.push(await phase('workload alone (1)', null));
  phases.push(await phase('back-off off (fixed 32-chunk units)', new FixedPacer(32)));
  const duties = v.quick ? [0.25] : [0.5, 0.25, 0.1];
  for (const [i, duty] of duties.entries()) {
    phases.push(await phase(`back-off on, ${Math.round(duty * 100)}% duty`, pacerWith(level(duty))));
    if (i === 0 && duties.length > 1) phases.push(await phase('workload alone (2)', null));
  }
  phases.push(await phase(`back-off on, default (backoff ${DEFAULT_SCHEDULER_CONFIG.backoff.duty * 100}% / heavy ${DEFAULT_SCHEDULER_CONFIG.heavy.duty * 100}% duty)`, pacerWith({})));
  phases.push(await phase('workload alone (3)', null));
  workload.kill();
  await sleep(500);
  phases.push(await phase('Loupe alone (back-off off)', new FixedPacer(32), false));

  const solo = phases.filter((p) => p.name.startsWith('workload alone')).map((p) => p.workload!.tokensPerSecond);
  const soloWorkload = solo.reduce((a, b) => a + b, 0) / solo.length;
  const soloLoupe = phases.at(-1)!.loupe!.chunksPerSecond;
  for (const p of phases) {
    if (p.workload) p.workload.kept = r3(p.workload.tokensPerSecond / soloWorkload);
    if (p.loupe) p.loupe.speed = r3(p.loupe.chunksPerSecond / soloLoupe);
  }
  const frontier = phases.filter((p) => p.workload && p.loupe).map((p) => ({ setting: p.name, workloadKept: p.workload!.kept!, loupeSpeed: p.loupe!.speed! }));
  const report = {
    benchmark: 'contention',
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), platform: `${process.platform}-${process.arch}`, node: process.version, uptimeStart, uptimeEnd: execSync('uptime').toString().trim() },
    setup: {
      workload: `llama.cpp prefill of ${v.prompt} tokens, generated LLaMA ${v.width} wide × ${v.layers} layers (F16), ${v['workload-threads']} threads, CPU, separate process`,
      loupe: `full index of ${corpus.files.length} files (${(corpus.bytes / 1024).toFixed(0)} KiB) from scratch, repeated; all-MiniLM-L6-v2 Q8_0, 1 context × ${v['index-threads']} thread(s), CPU`,
      secondsPerPhase: seconds,
      warmupSeconds: warmup,
      units: 'one shared compute unit (CPU); no GPU or ANE on this machine',
      defaultConfig: DEFAULT_SCHEDULER_CONFIG,
    },
    soloWorkloadTokensPerSecond: { mean: r3(soloWorkload), phases: solo.map(r3), note: 'spread between the solo phases = the noise of this shared machine' },
    soloLoupeChunksPerSecond: r3(soloLoupe),
    frontier,
    phases,
  };
  const out = v.out ?? path.join(REPO, 'test/bench/results', `contention-${new Date().toISOString().slice(0, 10)}${v.quick ? '-quick' : ''}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(JSON.stringify({ frontier, soloWorkloadTokensPerSecond: report.soloWorkloadTokensPerSecond, soloLoupeChunksPerSecond: report.soloLoupeChunksPerSecond, out }, null, 2) + '\n');
  chunker.dispose();
  await embedder.dispose();
  rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}

/**
 * Records a real contention trace with the sampler (one sample a second): idle, an agent-named
 * process, two busy loops for 25 s, then quiet again. Used for test/fixtures/compute/trace-*.json.
 */
async function recordTrace(out: string, seconds: number): Promise<void> {
  const s = new ContentionSampler({ llmPorts: [] });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loupe-trace-'));
  copyFileSync('/bin/sleep', path.join(dir, 'claude'));
  const phases: { at: number; what: string }[] = [];
  const samples = [];
  let agent: ChildProcess | undefined;
  const burners: ChildProcess[] = [];
  const t0 = Date.now();
  for (let i = 0; i < seconds; i++) {
    if (i === 15) {
      agent = spawn(path.join(dir, 'claude'), ['1000']);
      phases.push({ at: i, what: 'claude-named process started' });
    }
    if (i === 25) {
      for (let k = 0; k < 2; k++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}']));
      phases.push({ at: i, what: '2 busy-loop processes started' });
    }
    if (i === 50) {
      burners.forEach((b) => b.kill());
      phases.push({ at: i, what: 'busy-loop processes stopped' });
    }
    if (i === 60) {
      agent?.kill();
      phases.push({ at: i, what: 'claude-named process stopped' });
    }
    const smp = await s.sample();
    samples.push({ ...smp, at: smp.at - t0, agents: smp.agents.filter((a) => a.via === 'process').map((a) => ({ ...a, pid: 0, detail: a.detail.replace(/pid \d+/, 'pid N') })), llmServers: [] });
    await new Promise((r) => setTimeout(r, 1000));
  }
  agent?.kill();
  burners.forEach((b) => b.kill());
  writeFileSync(out, JSON.stringify({ recorded: new Date().toISOString(), uptime: execSync('uptime').toString().trim(), intervalMs: 1000, phases, samples }, null, 1));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

if (existsSync(SELF)) void main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
