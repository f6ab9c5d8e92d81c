/**
 * `npm run bench:llm`: answer-model speed in the style of llama-bench, for each path available
 * here — node-llama-cpp in process, and mlx_lm.server (mlx[cpu] on Linux, Metal on a Mac) through
 * the OpenAI-compatible streaming client:
 *   - pp128: prompt processing tokens/s with a ~128-token prompt (1 token generated),
 *   - tg128: generation tokens/s over 128 generated tokens (after the first),
 *   - TTFT: time to first token for the 128-token prompt,
 *   - aggregate generation throughput with 1/2/4/8 parallel requests, speed-up and efficiency per worker.
 * Models: the generated tiny models (no downloads), made to never stop (a looping LLaMA GGUF; the
 * tiny MLX model with its EOS suppressed by logit_bias). They measure the paths' overhead and
 * scheduling, not a real model's speed. Prints JSON and writes test/bench/results/llm-<date>.json.
 * Options: --threads N (in process, default 1), --reps N (default 3), --out FILE, --no-mlx, --no-llama.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { LlamaChat } from '../../src/adapters/llm/llama-chat.js';
import { MlxServer, pythonHasMlxLm } from '../../src/adapters/llm/mlx-server.js';
import { OpenAiChat } from '../../src/adapters/llm/openai-chat.js';
import type { ChatMessage, ChatModelPort } from '../../src/core/answer/types.js';
import { buildTinyLlamaGguf } from '../../src/tools/tiny-llama.js';
import { REPO, tempDir } from '../support/helpers.js';
import { makeTinyMlxModel, MLX_VENV_PYTHON } from '../support/mlx.js';
import { r3 } from './stats.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string' },
    reps: { type: 'string' },
    out: { type: 'string' },
    'no-mlx': { type: 'boolean' },
    'no-llama': { type: 'boolean' },
  },
});
const THREADS = Number(args.threads ?? 1);
const REPS = Number(args.reps ?? 3);
const PARALLEL = [1, 2, 4, 8];
const PARALLEL_TOKENS = 64;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

let nonce = 0;
/** A user message of `words` words, different each time (no prompt cache hits). */
function prompt(words: number): ChatMessage[] {
  const tag = `run${++nonce}`;
  const body = Array.from({ length: words }, (_, i) =>
    i % 9 === 0 ? tag : ['alpha', 'beta', 'gamma', 'delta', 'one', 'two', 'code', 'file', 'line'][i % 9],
  ).join(' ');
  return [{ role: 'user', content: body }];
}

interface Timed {
  ms: number;
  firstTokenMs: number;
  promptTokens: number;
  completionTokens: number;
}

async function timed(chat: ChatModelPort, messages: ChatMessage[], maxTokens: number): Promise<Timed> {
  const t0 = performance.now();
  const r = await chat.generate(messages, { maxTokens });
  return {
    ms: performance.now() - t0,
    firstTokenMs: r.firstTokenMs ?? NaN,
    promptTokens: r.promptTokens ?? NaN,
    completionTokens: r.completionTokens ?? 0,
  };
}

/** Words giving a prompt of about `target` tokens, by asking the path itself. */
async function calibrate(chat: ChatModelPort, target: number): Promise<number> {
  let words = Math.round(target / 2);
  for (let i = 0; i < 4; i++) {
    const r = await timed(chat, prompt(words), 1);
    if (!Number.isFinite(r.promptTokens) || Math.abs(r.promptTokens - target) <= 2) break;
    words = Math.max(1, Math.round((words * target) / r.promptTokens));
  }
  return words;
}

async function benchPath(label: string, chat: ChatModelPort, extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  process.stderr.write(`${label}: warming up\n`);
  await timed(chat, prompt(8), 4);
  const words = await calibrate(chat, 128);
  const pp: Timed[] = [];
  for (let i = 0; i < REPS + 2; i++) pp.push(await timed(chat, prompt(words), 1));
  const tg: Timed[] = [];
  for (let i = 0; i < REPS; i++) tg.push(await timed(chat, prompt(words), 128));
  process.stderr.write(
    `${label}: pp128 ${r3(median(pp.map((t) => (t.promptTokens / t.ms) * 1000)))} tok/s, tg128 ${r3(median(tg.map((t) => ((t.completionTokens - 1) / (t.ms - t.firstTokenMs)) * 1000)))} tok/s\n`,
  );
  const parallel: {
    requests: number;
    aggregateTokPerS: number;
    perRequestTokPerS: number;
    speedup: number;
    efficiency: number;
    wallMs: number;
  }[] = [];
  for (const n of PARALLEL) {
    const runs: number[] = [];
    let perReq: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const t0 = performance.now();
      const rs = await Promise.all(Array.from({ length: n }, () => timed(chat, prompt(16), PARALLEL_TOKENS)));
      const wall = performance.now() - t0;
      runs.push((rs.reduce((s, r) => s + r.completionTokens, 0) / wall) * 1000);
      perReq = rs.map((r) => (r.completionTokens / r.ms) * 1000);
    }
    const agg = median(runs);
    const base = parallel[0]?.aggregateTokPerS ?? agg;
    parallel.push({
      requests: n,
      aggregateTokPerS: r3(agg),
      perRequestTokPerS: r3(median(perReq)),
      speedup: r3(agg / base),
      efficiency: r3(agg / base / n),
      wallMs: r3((n * PARALLEL_TOKENS * 1000) / agg),
    });
    process.stderr.write(`${label}: ${n} parallel → ${r3(agg)} tok/s aggregate\n`);
  }
  return {
    path: label,
    model: chat.info.name,
    where: chat.info.where,
    ...extra,
    pp128: {
      promptTokens: median(pp.map((t) => t.promptTokens)),
      tokPerS: r3(median(pp.map((t) => (t.promptTokens / t.ms) * 1000))),
      samples: pp.length,
    },
    ttftMs: r3(median(pp.map((t) => t.firstTokenMs))),
    tg128: {
      tokPerS: r3(median(tg.map((t) => ((t.completionTokens - 1) / (t.ms - t.firstTokenMs)) * 1000))),
      generated: median(tg.map((t) => t.completionTokens)),
      samples: tg.length,
    },
    parallel,
  };
}

async function main(): Promise<void> {
  const tmp = tempDir('loupe-llm-bench-');
  const loadBefore = os.loadavg().map(r3);
  const results: Record<string, unknown>[] = [];
  const skipped: string[] = [];
  try {
    if (!args['no-llama']) {
      const file = path.join(tmp.dir, 'tiny-llama-loop.gguf');
      // The tiny LLaMA of src/tools/tiny-llama.ts, except that its sentence loops instead of ending.
      writeFileSync(file, buildTinyLlamaGguf({ loop: true }));
      const chat = await LlamaChat.load({
        modelPath: file,
        gpu: false,
        threads: THREADS,
        sequences: Math.max(...PARALLEL),
        contextSize: 512,
      });
      try {
        results.push(
          await benchPath('node-llama-cpp (in process)', chat, {
            threads: THREADS,
            sequences: Math.max(...PARALLEL),
            note: 'prompt tokens counted with the model tokenizer + 8 per message for the chat template',
          }),
        );
      } finally {
        await chat.dispose();
      }
    }
    if (!args['no-mlx']) {
      const candidates = [process.env.LOUPE_MLX_PYTHON, MLX_VENV_PYTHON, 'python3'].filter((p): p is string => !!p);
      let python: string | undefined;
      let version: string | null = null;
      for (const p of candidates)
        if ((version = await pythonHasMlxLm(p))) {
          python = p;
          break;
        }
      if (!python) skipped.push(`mlx_lm.server: no Python with mlx-lm (tried ${candidates.join(', ')})`);
      else {
        const dir = path.join(tmp.dir, 'tiny-mlx');
        const { eosId } = makeTinyMlxModel(python, dir);
        const server = await MlxServer.start({
          python,
          model: dir,
          env: { HF_HOME: path.join(tmp.dir, 'hf'), HF_HUB_OFFLINE: '1' },
          startTimeoutMs: 180_000,
        });
        try {
          const chat = new OpenAiChat({
            baseUrl: server.url,
            kind: 'mlx',
            where: `mlx_lm.server ${version} (mlx CPU) at ${server.url}`,
            extraBody: { logit_bias: { [eosId]: -1000 } },
          });
          results.push(
            await benchPath('mlx_lm.server (OpenAI-compatible streaming)', chat, {
              mlxLm: version,
              device: process.platform === 'darwin' && process.arch === 'arm64' ? 'Metal (Apple Silicon)' : 'CPU (mlx[cpu])',
              model: 'tiny scripted MLX llama (test/support/mlx_tiny_model.py)',
            }),
          );
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    tmp.cleanup();
  }
  const cpus = os.cpus();
  const report = {
    benchmark: 'llm',
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model,
      cores: cpus.length,
      memoryGiB: r3(os.totalmem() / 2 ** 30),
      platform: `${process.platform} ${process.arch}`,
      node: process.version,
    },
    loadAverage: { before: loadBefore, after: os.loadavg().map(r3) },
    settings: { reps: REPS, threads: THREADS, parallelTokens: PARALLEL_TOKENS },
    models: 'generated tiny models (64-dim, 1 layer) that never stop; numbers show per-token overhead of each path, not a real model',
    results,
    skipped,
  };
  const json = JSON.stringify(report, null, 1);
  console.log(json);
  const out = args.out ?? path.join(REPO, 'test/bench/results', `llm-${report.date.slice(0, 10)}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, json + '\n');
  process.stderr.write(`written to ${out}\n`);
}

await main();
