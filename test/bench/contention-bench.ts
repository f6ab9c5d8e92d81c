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
import { ContentionPacer, DEFAULT_SCHEDULER_CONFIG } from '../../src/core/compute/scheduler.js';
import type { EmbedderPort, PacerPort, PacerState } from '../../src/core/types.js';
import type { ContentionSample } from '../../src/core/compute/signals.js';
import { ContentionSampler } from '../../src/adapters/compute/sampler.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../src/adapters/llama-embedder.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import { GgufWriter } from '../../src/tools/gguf-writer.js';
import { addLlamaHeader, addTinyLlamaTokenizer, buildTinyLlamaVocab } from '../../src/tools/tiny-llama.js';
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
  addLlamaHeader(w, {
    name: 'loupe-contention-workload',
    fileType: 1,
    vocabSize: n,
    contextLength: 4096,
    width,
    feedForward: ff,
    blocks: layers,
    heads: width / 64,
  });
  addTinyLlamaTokenizer(w, vocab, false);
  w.addTensor('token_embd.weight', [width, n], rnd(width * n), 'F16');
  w.addTensor('output_norm.weight', [width], ones(width));
  w.addTensor('output.weight', [width, n], rnd(width * n), 'F16');
  for (let l = 0; l < layers; l++) {
    w.addTensor(`blk.${l}.attn_norm.weight`, [width], ones(width));
    for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_output'])
      w.addTensor(`blk.${l}.${p}.weight`, [width, width], rnd(width * width), 'F16');
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
  const tokens = Array.from(
    { length: prompt },
    () => 5 + Math.floor(rand() * (vocab.tokens.length - 5)),
  ) as unknown as import('node-llama-cpp').Token[];
  // The benchmark closes stdin when it ends (or dies): stop then.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
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
    this.child = spawn(process.execPath, [SELF, '--workload', model, '--workload-threads', String(threads), '--prompt', String(prompt)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
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

/** Switches the engine's pacer between settings without stopping the index run. */
class SwitchPacer implements PacerPort {
  private inner: PacerPort;
  private readonly listeners = new Set<(s: PacerState) => void>();
  private unsub: () => void = () => undefined;

  constructor(first: PacerPort) {
    this.inner = first;
    this.use(first);
  }

  private handedOutBy: PacerPort | null = null;
  private changed!: Promise<void>;
  private wake: () => void = () => undefined;
  /** Resolves when the engine asks for work under the current setting (no unit of the previous one in flight). */
  called!: Promise<void>;
  private onCalled: () => void = () => undefined;

  use(p: PacerPort): void {
    this.unsub();
    this.inner = p;
    this.unsub = p.onChange((s) => this.listeners.forEach((l) => l(s)));
    this.listeners.forEach((l) => l(p.state));
    this.wake();
    this.changed = new Promise((r) => (this.wake = r));
    this.called = new Promise((r) => (this.onCalled = r));
  }

  get state(): PacerState {
    return this.inner.state;
  }

  onChange(l: (s: PacerState) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async acquire(signal?: AbortSignal): Promise<number> {
    // A wait under one setting (paused, resting) ends when the setting changes.
    for (;;) {
      const p = this.inner;
      this.onCalled();
      const r = await Promise.race([p.acquire(signal).then((n) => ({ n })), this.changed.then(() => null)]);
      if (process.env.LOUPE_BENCH_DEBUG)
        process.stderr.write(`acquire ${r ? r.n : 'switched'} ${p === this.inner ? 'same' : 'stale'} ${Date.now() % 100000}\n`);
      if (r && p === this.inner) {
        this.handedOutBy = p;
        return r.n;
      }
    }
  }

  release(done: { chunks: number; ms: number }): void {
    if (process.env.LOUPE_BENCH_DEBUG) process.stderr.write(`release ${done.chunks} ${Math.round(done.ms)} ${Date.now() % 100000}\n`);
    // Report a unit to the setting that handed it out: a full-speed unit finishing after the switch
    // must not set a back-off setting's rest.
    (this.handedOutBy ?? this.inner).release(done);
  }
}

interface Window {
  workloadTps: number | null;
  workloadPrefills: number;
  loupeCps: number | null;
}

interface SettingResult {
  setting: string;
  cycles: {
    workloadSolo: Window;
    loupeSolo: Window;
    both: Window;
    kept: number;
    speed: number;
    modes?: Record<string, number>;
    explanation?: string;
  }[];
  workloadKept: number;
  loupeSpeed: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      workload: { type: 'string' },
      'workload-threads': { type: 'string', default: '2' },
      prompt: { type: 'string', default: '128' },
      width: { type: 'string', default: '512' },
      layers: { type: 'string', default: '8' },
      'index-threads': { type: 'string', default: '1' },
      seconds: { type: 'string' },
      cycles: { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      'record-trace': { type: 'string' },
    },
  });
  if (v.workload) return workloadMain(v.workload, Number(v['workload-threads']), Number(v.prompt));
  if (v['record-trace']) return recordTrace(v['record-trace'], Number(v.seconds ?? 80));

  const T = Number(v.seconds ?? (v.quick ? 8 : 15));
  const cycles = Number(v.cycles ?? (v.quick ? 1 : 2));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-contention-'));
  const uptimeStart = execSync('uptime').toString().trim();
  const modelFile = path.join(tmp, 'workload.gguf');
  writeWorkloadModel(modelFile, Number(v.width), Number(v.layers));
  const corpus = buildCorpus(path.join(REPO, 'node_modules'), path.join(tmp, 'corpus'), 1500 * 1024);
  const embedder = await LlamaEmbedder.load({
    modelPath: path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'),
    gpu: false,
    contexts: 1,
    threadsPerContext: Number(v['index-threads']),
  });
  const chunker = new TreeSitterChunker();
  const log = (s: string): void => void process.stderr.write(s + '\n');
  log(`corpus ${corpus.files.length} files, ${(corpus.bytes / 1024).toFixed(0)} KiB; ${T} s windows, ${cycles} cycle(s); ${uptimeStart}`);

  // Counts each embedded text as it finishes (one context embeds them one by one anyway), so a
  // window's figure is not rounded to whole units of work.
  const embeddedAt: number[] = [];
  const counting: EmbedderPort = {
    get modelId() {
      return embedder.modelId;
    },
    get modelName() {
      return embedder.modelName;
    },
    get dimensions() {
      return embedder.dimensions;
    },
    get profile() {
      return embedder.profile;
    },
    get computeUnit() {
      return embedder.computeUnit;
    },
    countTokens: (t) => embedder.countTokens(t),
    embedQuery: (t, sig) => embedder.embedQuery(t, sig),
    async embedDocuments(texts, sig) {
      const out: Float32Array[] = [];
      for (const t of texts) {
        out.push(...(await embedder.embedDocuments([t], sig)));
        embeddedAt.push(Date.now());
      }
      return out;
    },
    dispose: async () => undefined,
  };

  const paused = new FixedPacer(32);
  paused.pause('benchmark: workload-alone window');
  const full = new FixedPacer(32);
  const switcher = new SwitchPacer(paused);
  const stop = new AbortController();
  // Loupe indexes the corpus from scratch over and over for the whole benchmark; the pacer decides how.
  const loupeLoop = (async () => {
    while (!stop.signal.aborted) {
      const storeDir = mkdtempSync(path.join(tmp, 'store-'));
      const engine = await Engine.open({
        root: corpus.root,
        storeDir,
        chunker,
        embedder: counting,
        annFactory: new HnswFactory(),
        pacer: switcher,
      });
      try {
        await engine.index({ signal: stop.signal });
      } catch (e) {
        if (!stop.signal.aborted) throw e;
      } finally {
        await engine.close();
        rmSync(storeDir, { recursive: true, force: true });
      }
    }
  })();

  const workload = new Workload(modelFile, Number(v['workload-threads']), Number(v.prompt));
  await workload.ready;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const loupeRate = (from: number, to: number): number => embeddedAt.filter((t) => t >= from && t <= to).length / ((to - from) / 1000);

  /** One window: the workload runs or is stopped (SIGSTOP), Loupe runs under `pacer`. */
  async function window(pacer: PacerPort, workloadOn: boolean): Promise<Window> {
    process.kill(workload.pid, workloadOn ? 'SIGCONT' : 'SIGSTOP');
    switcher.use(pacer);
    if (pacer instanceof FixedPacer && pacer !== paused) pacer.resume();
    // Measure from when the unit in flight under the previous setting has finished.
    await Promise.race([switcher.called, sleep(120_000)]);
    await sleep(500);
    const from = Date.now();
    await sleep(T * 1000);
    const to = Date.now();
    const w = workloadOn ? workload.throughput(from, to) : null;
    return {
      workloadTps: w ? w.tokensPerSecond : null,
      workloadPrefills: w?.prefills ?? 0,
      loupeCps: pacer === paused ? null : loupeRate(from, to),
    };
  }

  const contended: ContentionSample = { at: 0, cpuOthers: 1, gpu: null, gpuHeldByOther: null, agents: [], llmServers: [], onBattery: null };
  const fixedLevel = (duty: number): ContentionPacer => {
    const p = new ContentionPacer({
      sample: async () => ({ ...contended, at: Date.now() }),
      unit: () => 'cpu',
      config: { backoff: { batchSize: 8, duty }, heavy: { batchSize: 8, duty }, enterSamples: 1 },
      intervalMs: 1000,
    });
    void p.tick();
    return p;
  };
  const realSampler = new ContentionSampler({ llmPorts: [] });
  const settings: { name: string; pacer: PacerPort }[] = [
    { name: 'back-off off (full speed, 32-chunk units)', pacer: full },
    ...(v.quick ? [0.25] : [0.5, 0.25, 0.1]).map((duty) => ({
      name: `back-off level: 8-chunk units, ${Math.round(duty * 100)}% duty`,
      pacer: fixedLevel(duty),
    })),
    {
      name: `back-off on, default, deciding from the real sampler (${DEFAULT_SCHEDULER_CONFIG.backoff.duty * 100}% / heavy ${DEFAULT_SCHEDULER_CONFIG.heavy.duty * 100}% duty)`,
      pacer: new ContentionPacer({ sample: () => realSampler.sample(), unit: () => 'cpu', intervalMs: 2000 }),
    },
  ];
  const results: SettingResult[] = settings.map((s) => ({ setting: s.name, cycles: [], workloadKept: 0, loupeSpeed: 0 }));
  for (let c = 0; c < cycles; c++) {
    for (const [i, s] of settings.entries()) {
      log(`cycle ${c + 1}/${cycles}: ${s.name}`);
      const workloadSolo = await window(paused, true);
      const loupeSolo = await window(full, false);
      const modes: Record<string, number> = {};
      let explanation: string | undefined;
      const track =
        s.pacer instanceof ContentionPacer
          ? setInterval(() => {
              const cs = (s.pacer as ContentionPacer).compute;
              modes[cs.mode] = (modes[cs.mode] ?? 0) + 1;
              explanation = cs.explanation;
            }, 1000)
          : undefined;
      const both = await window(s.pacer, true);
      if (track) clearInterval(track);
      const kept = both.workloadTps! / workloadSolo.workloadTps!;
      const speed = both.loupeCps! / loupeSolo.loupeCps!;
      results[i].cycles.push({ workloadSolo, loupeSolo, both, kept: r3(kept), speed: r3(speed), ...(track ? { modes, explanation } : {}) });
      log(JSON.stringify(results[i].cycles.at(-1)));
    }
  }
  stop.abort();
  process.kill(workload.pid, 'SIGCONT');
  workload.kill();
  await loupeLoop.catch(() => undefined);
  for (const s of settings) if (s.pacer instanceof ContentionPacer) s.pacer.dispose();
  for (const r of results) {
    r.workloadKept = r3(median(r.cycles.map((c) => c.kept)));
    r.loupeSpeed = r3(median(r.cycles.map((c) => c.speed)));
  }
  const frontier = results.map((r) => ({ setting: r.setting, workloadKept: r.workloadKept, loupeSpeed: r.loupeSpeed }));
  const report = {
    benchmark: 'contention',
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      uptimeStart,
      uptimeEnd: execSync('uptime').toString().trim(),
    },
    setup: {
      workload: `llama.cpp prefill of ${v.prompt} tokens, generated LLaMA ${v.width} wide × ${v.layers} layers (F16), ${v['workload-threads']} threads, CPU, separate process, back to back`,
      loupe: `full index of ${corpus.files.length} files (${(corpus.bytes / 1024).toFixed(0)} KiB) from scratch, repeated; all-MiniLM-L6-v2 Q8_0, 1 context × ${v['index-threads']} thread(s), CPU`,
      method: `per setting and cycle, three ${T} s windows back to back: workload alone (Loupe paused), Loupe alone (workload SIGSTOPped), both; kept = workload tokens/s both ÷ alone, speed = Loupe chunks/s both ÷ alone, so each ratio compares windows seconds apart on this shared machine; medians over ${cycles} cycle(s). Fixed levels get a scripted "contended" sample; the default setting decides from the real sampler (its reaction time is inside its window).`,
      units: 'one shared compute unit (CPU); no GPU or ANE on this machine',
      defaultConfig: DEFAULT_SCHEDULER_CONFIG,
    },
    frontier,
    results,
  };
  const out =
    v.out ?? path.join(REPO, 'test/bench/results', `contention-${new Date().toISOString().slice(0, 10)}${v.quick ? '-quick' : ''}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(JSON.stringify({ frontier, out, uptime: report.machine.uptimeEnd }, null, 2) + '\n');
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
    samples.push({
      ...smp,
      at: smp.at - t0,
      agents: smp.agents.filter((a) => a.via === 'process').map((a) => ({ ...a, pid: 0, detail: a.detail.replace(/pid \d+/, 'pid N') })),
      llmServers: [],
    });
    await new Promise((r) => setTimeout(r, 1000));
  }
  agent?.kill();
  burners.forEach((b) => b.kill());
  writeFileSync(
    out,
    JSON.stringify(
      { recorded: new Date().toISOString(), uptime: execSync('uptime').toString().trim(), intervalMs: 1000, phases, samples },
      null,
      1,
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

if (existsSync(SELF))
  void main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
