/**
 * `loupe bench [--quick] [--json out.json] [--report report.html]`: the benchmark of the user's
 * model and machine (src/adapters/bench/run-bench.ts), with a progress bar on stderr.
 */
import * as path from 'node:path';
import type { Logger } from '../core/types.js';
import { runBench, type BenchProgress } from '../adapters/bench/run-bench.js';
import type { BenchResults } from '../core/bench/results.js';
import { isNotMeasured } from '../core/bench/report.js';
import { parseCommandArgs, posInt, type CliIo } from './common.js';

export const BENCH_USAGE = `Usage:
  loupe bench [--quick] [--json <out.json>] [--report <report.html>] [--model <file.gguf>]
              [--corpus <dir>] [--contexts 2] [--threads 1] [--cpu] [--compare <earlier.json>]...
              [--llm-model <chat.gguf|id>] [--llm-url <url>] [--llm auto|mlx|llama|openai]

Measures the embedding model on this machine: throughput and latency, the content-hash cache,
batch size / sequence length / dimension sweeps, FLOPs against the device's roofline, vector
norms and semantic cohesion; the answer model when one is given. Prints a summary; --json
writes every figure, --report a self-contained HTML page with charts (opens offline).

Options:
  --quick               smaller sweeps, fewer repetitions (about a minute on a small model)
  --json <file>         write the results as JSON ("-": to stdout instead of the summary)
  --report <file>       write the HTML report
  --model <file>        GGUF embedding model (default: the bundled model)
  --corpus <dir>        code to measure throughput and the cache on (default: the shipped set)
  --contexts <n>        parallel embedding contexts (default 2)
  --threads <n>         threads per context (default 1)
  --cpu                 do not use a GPU
  --llm-model, --llm-url, --llm, --llm-threads   the answer model to measure (as for loupe ask)
  --contention <file>   include a \`npm run bench:contention\` result
  --compare <file>      an earlier run's --json output to compare with (repeatable)
  --verbose             log details to stderr`;

/** A one-line progress bar. */
export function progressBar(p: BenchProgress, width = 30): string {
  const n = Math.round(Math.max(0, Math.min(1, p.fraction)) * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}] ${String(Math.round(p.fraction * 100)).padStart(3)}% ${p.step}${p.detail ? `: ${p.detail}` : ''}`;
}

/** The text summary printed after a run. */
export function benchSummary(r: BenchResults): string {
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const lines = [
    `${r.model.name} (${r.model.dimensions} dims, ${r.model.maxTokens} tokens) on ${r.model.computeUnit}, ${r.model.contexts} × ${r.model.threadsPerContext} thread(s); load average ${r.machine.loadAverageAtStart.join(' ')}`,
    `  throughput     ${f(r.throughput.tokensPerSec, 0)} tokens/s, ${f(r.throughput.chunksPerSec)} chunks/s${r.throughput.achievedGflops !== null ? `, ${f(r.throughput.achievedGflops, 2)} GFLOP/s` : ''}`,
    `  query latency  p50 ${f(r.latency.singleText.p50, 2)} ms, p99 ${f(r.latency.singleText.p99, 2)} ms`,
    `  cache          ${isNotMeasured(r.cache) ? `not measured: ${r.cache.reason}` : `${f(r.cache.speedup)}× (${f(r.cache.coldSeconds, 3)} s → ${f(r.cache.cachedSeconds, 3)} s, ${r.cache.embeddedOnCachedRun} re-embedded)`}`,
    `  batch sweep    ${r.sweeps.batch.map((p) => `${p.batchSize}: ${f(p.chunksPerSec)}/s`).join(', ')}`,
    `  length sweep   ${r.sweeps.seqLen.map((p) => `${p.tokens} tok: ${f(p.latency.p50, 2)} ms, ${f(p.memoryMiB)} MiB`).join('; ')}`,
    `  dimensions     ${r.sweeps.dimension.map((p) => `${p.dims}${p.trained ? '' : '*'}: gap ${f(p.cohesionGap, 3)}`).join(', ')}`,
    `  norms          ${r.sanity.norms.n} vectors, ${f(r.sanity.norms.min, 4)}–${f(r.sanity.norms.max, 4)} ${r.sanity.norms.ok ? `ok (1 ± ${r.sanity.norms.tolerance})` : 'OUT OF TOLERANCE'}`,
    `  cohesion       same topic ${f(r.sanity.cohesion.intra, 3)} vs other ${f(r.sanity.cohesion.inter, 3)} (1-NN same topic ${f(r.sanity.cohesion.nearestSameCategory * 100, 0)} %)`,
    `  answer model   ${isNotMeasured(r.answer) ? `not measured: ${r.answer.reason}` : `${r.answer.name}: prompt ${f(r.answer.promptTokensPerSec, 0)} tok/s, generation ${f(r.answer.generationTokensPerSec)} tok/s, parallel ${r.answer.parallel.map((p) => `${p.requests}: ${f(p.tokensPerSec)}`).join(', ')}`}`,
    `  contention     ${isNotMeasured(r.contention) ? `not measured: ${r.contention.reason}` : `${r.contention.source}`}`,
    '',
    ...r.recommendations.lines.map((l) => `• ${l}`),
  ];
  return lines.join('\n');
}

export async function runBenchCli(argv: string[], io: CliIo, logger: Logger): Promise<number> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        json: { type: 'string' },
        report: { type: 'string' },
        model: { type: 'string' },
        corpus: { type: 'string' },
        contexts: { type: 'string' },
        threads: { type: 'string' },
        cpu: { type: 'boolean' },
        llm: { type: 'string' },
        'llm-url': { type: 'string' },
        'llm-model': { type: 'string' },
        'llm-threads': { type: 'string' },
        contention: { type: 'string' },
        compare: { type: 'string', multiple: true },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    BENCH_USAGE,
    io,
  );
  if (!parsed) return 2;
  const v = parsed.values;
  if (v.help) {
    io.out(BENCH_USAGE);
    return 0;
  }
  const llmGiven = v.llm || v['llm-url'] || v['llm-model'] || process.env.LOUPE_CHAT_MODEL;
  const provider = v.llm as 'auto' | 'mlx' | 'llama' | 'openai' | undefined;
  if (provider && !['auto', 'mlx', 'llama', 'openai'].includes(provider)) {
    io.err('loupe bench: --llm must be auto, mlx, llama or openai');
    return 2;
  }
  const jsonToStdout = v.json === '-';
  let last = 0;
  const onProgress = (p: BenchProgress): void => {
    if (!io.isTTY) return;
    const now = Date.now();
    if (p.step !== 'done' && now - last < 100) return;
    last = now;
    process.stderr.write(`\r\x1b[K${progressBar(p)}`);
  };
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await runBench(
      {
        quick: !!v.quick,
        modelPath: v.model ? path.resolve(v.model) : undefined,
        corpusDir: v.corpus,
        jsonPath: v.json && !jsonToStdout ? path.resolve(v.json) : undefined,
        reportPath: v.report ? path.resolve(v.report) : undefined,
        contexts: posInt(v.contexts, '--contexts'),
        threadsPerContext: posInt(v.threads, '--threads'),
        gpu: v.cpu ? false : 'auto',
        answerModel: llmGiven
          ? {
              provider: provider ?? 'auto',
              url: v['llm-url'],
              model: v['llm-model'],
              threads: posInt(v['llm-threads'], '--llm-threads'),
              gpu: v.cpu ? false : 'auto',
            }
          : undefined,
        contentionFile: v.contention ? path.resolve(v.contention) : undefined,
        compareWith: v.compare?.map((f) => path.resolve(f)),
        signal: ac.signal,
        logger,
      },
      onProgress,
    );
    if (io.isTTY) process.stderr.write('\r\x1b[K');
    if (jsonToStdout) io.out(JSON.stringify(r.results));
    else io.out(benchSummary(r.results));
    if (r.jsonPath) io.err(`results: ${r.jsonPath}`);
    if (r.reportPath) io.err(`report:  ${r.reportPath}`);
    return 0;
  } catch (e) {
    if (io.isTTY) process.stderr.write('\r\x1b[K');
    if (ac.signal.aborted) {
      io.err('loupe bench: cancelled');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
