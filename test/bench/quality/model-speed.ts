/**
 * Embedding cost of several GGUF models on the same texts, interleaved so that a busy shared
 * machine slows them alike: per model, load time, resident memory added by loading it (model +
 * contexts), and documents embedded per second (chunks/s, and tokens/s by the model's own
 * tokenizer, document prefix included). Texts: 40-line windows of the benchmark's corpora.
 *
 *   node out/test/bench/quality/model-speed.js --models a.gguf,b.gguf [--texts 32] [--rounds 2] [--out f.json]
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { LlamaEmbedder } from '../../../src/adapters/llama-embedder.js';
import { CORPORA, listFiles, prepareCorpus } from './corpora.js';

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      models: { type: 'string' },
      texts: { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      contexts: { type: 'string' },
      'max-tokens': { type: 'string' },
    },
  });
  const models = (v.models ?? '')
    .split(',')
    .filter(Boolean)
    .map((m) => path.resolve(m));
  const n = Number(v.texts ?? 32);
  const rounds = Number(v.rounds ?? 2);
  const contexts = Number(v.contexts ?? 2);
  const maxTokens = Number(v['max-tokens'] ?? 256);
  // The same texts for every model: 40-line windows taken round-robin over the corpora.
  const windows: string[][] = CORPORA.filter((c) => c.set !== 'train').map((spec) => {
    const root = prepareCorpus(spec);
    const out: string[] = [];
    for (const rel of listFiles(root, { skipHidden: true }).sort()) {
      const lines = readFileSync(path.join(root, rel), 'utf8').split('\n');
      for (let i = 0; i + 10 < lines.length; i += 40) out.push(`// ${rel}\n${lines.slice(i, i + 40).join('\n')}`);
    }
    return out;
  });
  const texts: string[] = [];
  for (let i = 0; texts.length < n; i++) for (const w of windows) if (texts.length < n && w[i]) texts.push(w[i]);

  const runs: Record<
    string,
    {
      loadMs: number[];
      rssMiB: number[];
      seconds: number[];
      tokens: number;
      truncatedTo: number;
      dims: number;
      bytes: number;
      name: string;
    }
  > = {};
  for (let r = 0; r < rounds; r++) {
    for (const m of models) {
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const e = await LlamaEmbedder.load({ modelPath: m, gpu: false, contexts, threadsPerContext: 1, profile: { maxTokens } });
      const loadMs = performance.now() - t0;
      const rss = (process.memoryUsage().rss - rss0) / 1048576;
      // Texts cut to the model's budget as the engine would (here: by characters, then the embedder trims tokens).
      const tokens = texts.reduce((a, t) => a + Math.min(e.countTokens(t), maxTokens), 0);
      await e.embedDocuments(texts.slice(0, 2)); // warm-up
      const t1 = performance.now();
      await e.embedDocuments(texts);
      const s = (performance.now() - t1) / 1000;
      const rec = (runs[m] ??= {
        loadMs: [],
        rssMiB: [],
        seconds: [],
        tokens,
        truncatedTo: maxTokens,
        dims: e.dimensions,
        bytes: statSync(m).size,
        name: e.modelName,
      });
      rec.loadMs.push(Math.round(loadMs));
      rec.rssMiB.push(Math.round(rss));
      rec.seconds.push(Math.round(s * 100) / 100);
      console.log(
        `round ${r + 1} ${e.modelName}: ${texts.length} texts, ${tokens} tokens in ${s.toFixed(1)} s = ${(tokens / s).toFixed(0)} tok/s, ${(texts.length / s).toFixed(2)} chunks/s; load ${loadMs.toFixed(0)} ms, +${rss.toFixed(0)} MiB RSS; load avg ${os.loadavg()[0].toFixed(1)}`,
      );
      await e.dispose();
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  const report = {
    benchmark: 'embedding cost per model (interleaved rounds; best round reported)',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    setup: { texts: texts.length, rounds, contexts, threadsPerContext: 1, maxTokens, gpu: false },
    models: Object.fromEntries(
      Object.entries(runs).map(([m, r]) => [
        r.name,
        {
          file: path.basename(m),
          bytes: r.bytes,
          dimensions: r.dims,
          tokens: r.tokens,
          seconds: r.seconds,
          loadMs: r.loadMs,
          rssMiB: r.rssMiB,
          tokensPerSecond: Math.round(r.tokens / best(r.seconds)),
          chunksPerSecond: Math.round((100 * texts.length) / best(r.seconds)) / 100,
        },
      ]),
    ),
  };
  if (v.out) writeFileSync(v.out, JSON.stringify(report, null, 1) + '\n');
  console.log(JSON.stringify(report.models, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
