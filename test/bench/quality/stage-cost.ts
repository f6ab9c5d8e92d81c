/**
 * The ranking stage's cost alone (src/core/ranking.ts), on synthetic candidate lists drawn from a
 * synthetic index of 100k chunks (20k files, camelCase and snake_case symbols, some tests and
 * docs): per query, the fused top 100 (50 + 50, as engine.rank fuses) are re-ranked. Prints p50
 * and p95 in ms. The stage never sees the index, only its candidates, so its cost does not grow
 * with the index; the draw from 100k chunks keeps its per-file and per-symbol caches honest.
 *
 *   node out/test/bench/quality/stage-cost.js [--queries 2000]
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { analyseQuery, DEFAULT_RANKING, rerank, type RankCandidate } from '../../../src/core/ranking.js';

const WORDS =
  'parse config load save read write open close buffer stream token lexer node tree graph path file folder index search rank score query cache entry key value map list set queue stack http request response header body route handler server client socket timer event emit listen watch retry error message format print log debug trace level option flag arg command'.split(
    ' ',
  );

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function main(): void {
  const { values: v } = parseArgs({ options: { queries: { type: 'string' } } });
  const nq = Number(v.queries ?? 2000);
  const r = rng(12);
  const pick = () => WORDS[Math.floor(r() * WORDS.length)];
  const cap = (w: string) => w[0].toUpperCase() + w.slice(1);
  const chunks: RankCandidate[] = [];
  for (let i = 0; i < 100_000; i++) {
    const file = i >> 2;
    const dir = `${pick()}/${pick()}`;
    const kind =
      file % 10 === 0 ? `test/${dir}/${pick()}_test.go` : file % 17 === 0 ? `docs/${pick()}.md` : `src/${dir}/${pick()}${file}.ts`;
    const symbol =
      i % 9 === 0 ? null : r() < 0.5 ? `${cap(pick())}${cap(pick())}.${pick()}${cap(pick())}` : `${pick()}_${pick()}_${i % 97}`;
    chunks.push({
      path: kind,
      chunk: { startLine: (i % 4) * 40 + 1, endLine: (i % 4) * 40 + 40, symbol, language: kind.endsWith('.md') ? 'text' : 'typescript' },
      score: 0,
    });
  }
  const times: number[] = [];
  // On a shared, loaded machine wall time mostly measures waiting for a core; CPU time does not.
  const cpu: number[] = [];
  for (let q = 0; q < nq; q++) {
    const query = Array.from({ length: 2 + Math.floor(r() * 8) }, pick).join(' ');
    const cands = Array.from({ length: 100 }, (_, j) => ({ ...chunks[Math.floor(r() * chunks.length)], score: 1 - j / 100 }));
    const t = performance.now();
    const c = process.cpuUsage();
    rerank(analyseQuery(query), cands, DEFAULT_RANKING);
    const dc = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpu.push((dc.user + dc.system) / 1000);
  }
  const at = (xs: number[], p: number) =>
    Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] * 1000) / 1000;
  console.log(
    JSON.stringify({
      candidates: 100,
      indexChunks: 100_000,
      queries: nq,
      wallP50Ms: at(times, 0.5),
      wallP95Ms: at(times, 0.95),
      cpuP50Ms: at(cpu, 0.5),
      cpuP95Ms: at(cpu, 0.95),
      loadavg: os.loadavg().map((x) => Math.round(x * 10) / 10),
    }),
  );
}

main();
