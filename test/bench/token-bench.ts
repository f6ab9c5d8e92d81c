/**
 * Token-efficiency benchmark (`npm run bench:tokens`): on bench:quality's questions (the same
 * corpora, questions and ground truth, test/bench/quality/), how many tokens an agent must read
 * to reach a given recall with Loupe's MCP `search` answers, against grep-then-read-the-file.
 *
 *   node out/test/bench/token-bench.js [--model <file.gguf>] [--only express,mux] [--out <file>]
 *
 * What is read, per question (a target counts as found as in bench:quality: a result overlapping
 * its line range; each target once):
 *   - loupe: the MCP `search` tool's text (src/cli/mcp.ts: agent-format.ts's fitHits + hitsText,
 *     the freshness line), results read in rank order. The curve grows the answer one result at a
 *     time up to MAX_RESULTS, with no token budget (snippets still cut at 80 lines, as always);
 *     `defaultCall` is one call as an agent makes it by default (k 8, max_tokens 2000).
 *   - grep+read: the question's words (≥ 3 letters, stop words out: bench:quality's keyword rule)
 *     → `rg -i -F --count-matches -e w1 -e w2 …` → files ranked by match count (ties by path);
 *     the agent reads that listing, then whole files in that order. A target is found when its
 *     file has been read. File text counted bare (no line-number gutter, which a Read tool adds).
 *   - grep lines: `rg -n` output only, lines ranked by distinct question words matched (ties in
 *     file order; bench:quality's keyword method), `path:line:text` per line; found when a line
 *     inside the target is read. No file is opened: the cheapest grep can be, but it rarely shows
 *     enough to act on, so it is a lower bound for grep, not what agents do.
 *
 * Tokens: the o200k_base BPE (gpt-tokenizer, the GPT-4o/GPT-5 tokenizer; Claude's is not
 * public, expect it within ~10-20% on code), and chars/4 (the estimate Loupe's max_tokens uses)
 * beside it. The ratio is taken on the mean recall curves: tokens grep needs to reach recall r
 * over tokens Loupe needs, for each r both reach.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { Engine } from '../../src/core/engine.js';
import { estimateTokens, fitHits, freshnessLine, hitsText } from '../../src/core/agent-format.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../src/adapters/llama-embedder.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import type { SearchResult } from '../../src/core/types.js';
import { CORPORA, cacheDir, listFiles, prepareCorpus, type CorpusSpec } from './quality/corpora.js';
import { keywordSearch, type Target } from './quality/methods.js';
import { CachedEmbedder } from './quality/vector-cache.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../..');
const QUERY_DIR = path.join(REPO, 'test/bench/quality/queries');

/** Results read on Loupe's curve (one MCP call with k = 20 and room for all of them). */
const MAX_RESULTS = 20;
/** grep lines read at most (an agent would stop long before). */
const MAX_GREP_LINES = 400;
/** The MCP tool's defaults (src/cli/mcp.ts). */
const MCP_DEFAULT_K = 8;
const MCP_DEFAULT_MAX_TOKENS = 2000;
/** bench:quality's stop words and word rule (methods.ts keywordSearch). */
const STOP = new Set(
  'a an and are as at be by can do does for from has have how i if in is it its of on or the their them this that to was we what when where which who why with without into its not no one only own so than then there these they too up use used uses using via while will would should could may might must each every any all other another our your you after before again also just'.split(
    ' ',
  ),
);
const BUDGETS = [
  100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000, 50_000, 75_000, 100_000, 200_000,
];
const LEVELS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

type Counter = 'o200k' | 'chars4';
const COUNT: Record<Counter, (t: string) => number> = { o200k: (t) => o200k(t), chars4: estimateTokens };

interface Query {
  id: string;
  q: string;
  targets: Target[];
}
/** One way of reading: after `tokens` (cumulative, per counter) the reader has found `found` targets. */
interface Step {
  tokens: Record<Counter, number>;
  found: number;
}
interface Trace {
  steps: Step[];
  targets: number;
}

const words = (q: string): string[] => [
  ...new Set(
    q
      .toLowerCase()
      .split(/[^a-z0-9_]+/)
      .filter((w) => w.length >= 3 && !STOP.has(w)),
  ),
];
const overlaps = (p: string, s: number, e: number, t: Target): boolean => p === t[0] && s <= t[2] && e >= t[1];
const counts = (text: string): Record<Counter, number> => ({ o200k: COUNT.o200k(text), chars4: COUNT.chars4(text) });

/** Loupe: the MCP answer grown one result at a time. */
function loupeTrace(results: SearchResult[], readLines: (p: string) => string[] | null, fresh: string, targets: Target[]): Trace {
  const { hits } = fitHits(results, readLines, Number.MAX_SAFE_INTEGER);
  const found = new Set<number>();
  const steps: Step[] = [];
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i];
    targets.forEach((t, j) => overlaps(h.path, h.startLine, h.endLine, t) && found.add(j));
    steps.push({ tokens: counts(`${hitsText(hits.slice(0, i + 1))}\n\n${fresh}`), found: found.size });
  }
  return { steps, targets: targets.length };
}

/** grep+read: rg's per-file counts, then whole files in that order. */
function grepReadTrace(
  root: string,
  q: string,
  files: Map<string, string>,
  targets: Target[],
): Trace & { listing: string; filesMatched: number } {
  const ws = words(q);
  const steps: Step[] = [];
  if (!ws.length) return { steps, targets: targets.length, listing: '', filesMatched: 0 };
  const rg = spawnSync('rg', ['-i', '-F', '--count-matches', '--no-messages', ...ws.flatMap((w) => ['-e', w]), '.'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (rg.error) throw new Error(`rg: ${rg.error.message} (install ripgrep)`);
  const ranked = rg.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const i = l.lastIndexOf(':');
      return { path: l.slice(0, i).replace(/^\.\//, ''), n: Number(l.slice(i + 1)) };
    })
    .filter((f) => files.has(f.path))
    .sort((a, b) => b.n - a.n || (a.path < b.path ? -1 : 1));
  const listing = ranked.map((f) => `${f.path}:${f.n}`).join('\n');
  let read = listing;
  const found = new Set<number>();
  steps.push({ tokens: counts(read), found: 0 });
  for (const f of ranked) {
    read += `\n\n${files.get(f.path)}`;
    targets.forEach((t, j) => t[0] === f.path && found.add(j));
    steps.push({ tokens: counts(read), found: found.size });
  }
  return { steps, targets: targets.length, listing, filesMatched: ranked.length };
}

/** grep lines: `path:line:text`, best lines first, no file opened. */
function grepLinesTrace(q: string, lines: Map<string, string[]>, targets: Target[]): Trace {
  const locs = keywordSearch(q, lines, MAX_GREP_LINES);
  const found = new Set<number>();
  const steps: Step[] = [];
  let read = '';
  for (const l of locs) {
    read += `${read ? '\n' : ''}${l.path}:${l.startLine}:${lines.get(l.path)![l.startLine - 1]}`;
    targets.forEach((t, j) => overlaps(l.path, l.startLine, l.endLine, t) && found.add(j));
    steps.push({ tokens: counts(read), found: found.size });
  }
  return { steps, targets: targets.length };
}

/** Recall after reading at most `budget` tokens (the last step within it). */
function recallAt(t: Trace, budget: number, c: Counter): number {
  let f = 0;
  for (const s of t.steps) {
    if (s.tokens[c] > budget) break;
    f = s.found;
  }
  return f / t.targets;
}

/** Mean recall over questions as a step function; the least budget at which it reaches `level` (null: never). */
function budgetFor(traces: Trace[], level: number, c: Counter): number | null {
  const cands = [...new Set(traces.flatMap((t) => t.steps.map((s) => s.tokens[c])))].sort((a, b) => a - b);
  for (const b of cands) if (traces.reduce((a, t) => a + recallAt(t, b, c), 0) / traces.length >= level - 1e-9) return b;
  return null;
}

const finalRecall = (traces: Trace[]): number => traces.reduce((a, t) => a + (t.steps.at(-1)?.found ?? 0) / t.targets, 0) / traces.length;
const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Tokens read until the first target was found (null: never). */
const toFirst = (t: Trace, c: Counter): number | null => t.steps.find((s) => s.found > 0)?.tokens[c] ?? null;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' } } });
  const modelPath = path.resolve(v.model ?? path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'));
  const only = v.only?.split(',');
  const t0 = performance.now();
  const loadBefore = os.loadavg();
  const llama = await LlamaEmbedder.load({ modelPath, gpu: false, contexts: 1, threadsPerContext: 1 });
  // The vector cache bench:quality keeps: its corpora are embedded once across runs.
  const embedder = new CachedEmbedder(llama, path.join(cacheDir(), 'vectors'));
  const chunker = new TreeSitterChunker();
  const methods = ['loupe', 'grep+read', 'grep lines'] as const;
  const traces: Record<(typeof methods)[number], Trace[]> = { loupe: [], 'grep+read': [], 'grep lines': [] };
  const perQuery: Record<string, unknown>[] = [];
  const defaultCalls: { tokens: Record<Counter, number>; recall: number }[] = [];
  const corpora: Record<string, unknown>[] = [];

  for (const spec of CORPORA as CorpusSpec[]) {
    if (only && !only.includes(spec.name)) continue;
    const { queries } = JSON.parse(readFileSync(path.join(QUERY_DIR, `${spec.name}.json`), 'utf8')) as { queries: Query[] };
    const root = prepareCorpus(spec);
    // A store of its own (bench:quality's may be in use by another run); vectors come from the cache.
    const storeDir = path.join(cacheDir(), 'stores', `tokens-${spec.name}-${spec.version}-${embedder.modelId.slice(0, 12)}`);
    const engine = await Engine.open({ root, storeDir, chunker, embedder, annFactory: new HnswFactory(), batchSize: 16 });
    await engine.index();
    const text = new Map<string, string>();
    const lines = new Map<string, string[]>();
    for (const rel of listFiles(root, { skipHidden: true })) {
      const t = readFileSync(path.join(root, rel), 'utf8');
      text.set(rel, t);
      lines.set(rel, t.split(/\r?\n/));
    }
    const readLines = (p: string): string[] | null => lines.get(p) ?? null;
    const status = engine.status();
    const fresh = freshnessLine(status, { fresh: true, scannedAgoMs: 0 });
    corpora.push({
      name: spec.name,
      language: spec.language,
      package: `${spec.pkg}@${spec.version}`,
      files: text.size,
      chunks: status.chunks,
      tokensAllFiles: counts([...text.values()].join('\n\n')),
      questions: queries.length,
    });
    process.stderr.write(`${spec.name}: ${queries.length} questions, ${status.chunks} chunks\n`);

    for (const q of queries) {
      const results = await engine.search(q.q, { k: MAX_RESULTS });
      const lt = loupeTrace(results, readLines, fresh, q.targets);
      const gt = grepReadTrace(root, q.q, text, q.targets);
      const gl = grepLinesTrace(q.q, lines, q.targets);
      traces.loupe.push(lt);
      traces['grep+read'].push(gt);
      traces['grep lines'].push(gl);
      // One call as an agent makes it by default: k 8, max_tokens 2000, the whole text read.
      const fit = fitHits(results.slice(0, MCP_DEFAULT_K), readLines, MCP_DEFAULT_MAX_TOKENS);
      const more = fit.dropped ? `\n(${fit.dropped} more result(s) left out to stay within max_tokens=${MCP_DEFAULT_MAX_TOKENS})` : '';
      const callText = `${hitsText(fit.hits)}${more}\n\n${fresh}`;
      const callFound = q.targets.filter((t) => fit.hits.some((h) => overlaps(h.path, h.startLine, h.endLine, t))).length;
      defaultCalls.push({ tokens: counts(callText), recall: callFound / q.targets.length });
      perQuery.push({
        corpus: spec.name,
        id: q.id,
        q: q.q,
        targets: q.targets.length,
        loupe: {
          tokensToFirst: toFirst(lt, 'o200k'),
          found: lt.steps.at(-1)?.found ?? 0,
          tokensAll: lt.steps.at(-1)?.tokens.o200k ?? 0,
          defaultCall: { tokens: counts(callText).o200k, found: callFound },
        },
        grepRead: {
          words: words(q.q),
          filesMatched: gt.filesMatched,
          tokensToFirst: toFirst(gt, 'o200k'),
          found: gt.steps.at(-1)?.found ?? 0,
          tokensAll: gt.steps.at(-1)?.tokens.o200k ?? 0,
        },
        grepLines: { tokensToFirst: toFirst(gl, 'o200k'), found: gl.steps.at(-1)?.found ?? 0 },
      });
    }
    await engine.close();
  }
  chunker.dispose();
  await llama.dispose();

  const n = traces.loupe.length;
  const summary = (c: Counter) => {
    const curve = BUDGETS.map((b) => ({
      tokens: b,
      ...Object.fromEntries(methods.map((m) => [m, r3(traces[m].reduce((a, t) => a + recallAt(t, b, c), 0) / n)])),
    }));
    const levels = LEVELS.map((level) => {
      const need = Object.fromEntries(methods.map((m) => [m, budgetFor(traces[m], level, c)])) as Record<
        (typeof methods)[number],
        number | null
      >;
      const ratio = need.loupe && need['grep+read'] ? Math.round((10 * need['grep+read']) / need.loupe) / 10 : null;
      return {
        recall: level,
        tokens: need,
        grepReadOverLoupe: ratio,
        fewerTokensPercent: ratio ? Math.round(1000 * (1 - 1 / ratio)) / 10 : null,
      };
    });
    // Per question, where both found a target: tokens to the first one, grep+read over Loupe.
    const paired = traces.loupe
      .map((t, i) => [toFirst(t, c), toFirst(traces['grep+read'][i], c)] as const)
      .filter(([a, b]) => a !== null && b !== null) as [number, number][];
    return {
      curve,
      levels,
      finalRecall: Object.fromEntries(methods.map((m) => [m, r3(finalRecall(traces[m]))])),
      tokensToFirstTarget: {
        medianLoupe: median(paired.map(([a]) => a)),
        medianGrepRead: median(paired.map(([, b]) => b)),
        medianRatioGrepReadOverLoupe: median(paired.map(([a, b]) => b / a)),
        questionsBothFound: paired.length,
      },
    };
  };
  const byCounter = { o200k: summary('o200k'), chars4: summary('chars4') };
  const dc = {
    k: MCP_DEFAULT_K,
    maxTokens: MCP_DEFAULT_MAX_TOKENS,
    meanTokens: {
      o200k: Math.round(defaultCalls.reduce((a, d) => a + d.tokens.o200k, 0) / n),
      chars4: Math.round(defaultCalls.reduce((a, d) => a + d.tokens.chars4, 0) / n),
    },
    meanRecall: r3(defaultCalls.reduce((a, d) => a + d.recall, 0) / n),
  };
  // grep+read at the recall of one default call.
  const atDefault = budgetFor(traces['grep+read'], dc.meanRecall, 'o200k');
  let git = '';
  try {
    git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    // not a checkout
  }
  const report = {
    benchmark: 'token efficiency (agent reading cost to reach recall)',
    date: new Date().toISOString(),
    commit: git,
    machine: { cpus: os.cpus().length, loadavgBefore: loadBefore.map((x) => Math.round(x * 100) / 100) },
    model: { file: path.relative(REPO, modelPath), name: embedder.modelName },
    rg: spawnSync('rg', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0],
    setup: {
      questions: n,
      relevance:
        "bench:quality's: a result overlapping a target's line range (same file); each target once. grep+read: the target's file read whole.",
      loupe: `MCP search text (fitHits + hitsText + freshness line), results read in rank order, up to ${MAX_RESULTS}; snippets cut at 80 lines`,
      grepRead:
        'question words (≥3 letters, no stop words) → rg -i -F --count-matches → files by match count → the listing, then whole files in order',
      grepLines: `rg -n style lines ranked by distinct words matched (bench:quality keyword), path:line:text, up to ${MAX_GREP_LINES} lines, no file opened`,
      tokenizers: { o200k: 'o200k_base BPE (gpt-tokenizer), headline', chars4: 'ceil(chars / 4), the estimate behind max_tokens' },
      ratio: 'on the mean recall curves: least tokens at which mean recall ≥ r, grep+read over Loupe',
    },
    corpora,
    defaultCall: {
      ...dc,
      grepReadTokensForSameRecall: atDefault,
      grepReadOverLoupe: atDefault ? Math.round((10 * atDefault) / dc.meanTokens.o200k) / 10 : null,
    },
    ...byCounter,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    perQuery,
  };
  const out = v.out ?? path.join(REPO, 'test/bench/results', `tokens-${new Date().toISOString().slice(0, 10)}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 1) + '\n');

  const s = byCounter.o200k;
  const lines = [
    `${n} questions over ${corpora.map((c) => c.name).join(', ')}; tokens: o200k_base`,
    '',
    '| tokens read | ' + methods.join(' | ') + ' |',
    '| --- | --- | --- | --- |',
    ...s.curve.map((p) => `| ${p.tokens} | ${methods.map((m) => (p as Record<string, number>)[m].toFixed(3)).join(' | ')} |`),
    '',
    '| recall | Loupe tokens | grep+read tokens | grep+read / Loupe | grep lines tokens |',
    '| --- | --- | --- | --- | --- |',
    ...s.levels.map(
      (l) =>
        `| ${l.recall} | ${l.tokens.loupe ?? 'never'} | ${l.tokens['grep+read'] ?? 'never'} | ${l.grepReadOverLoupe ?? '–'} | ${l.tokens['grep lines'] ?? 'never'} |`,
    ),
    '',
    `final recall: ${JSON.stringify(s.finalRecall)}`,
    `one default MCP call (k ${dc.k}, max_tokens ${dc.maxTokens}): ${dc.meanTokens.o200k} tokens, recall ${dc.meanRecall}; grep+read needs ${atDefault ?? 'never'} for that recall`,
    `tokens to the first target (${s.tokensToFirstTarget.questionsBothFound} questions both found): Loupe ${s.tokensToFirstTarget.medianLoupe}, grep+read ${s.tokensToFirstTarget.medianGrepRead}, median ratio ${s.tokensToFirstTarget.medianRatioGrepReadOverLoupe?.toFixed(1)}`,
    `${report.seconds} s; wrote ${path.relative(REPO, out)}`,
  ];
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
