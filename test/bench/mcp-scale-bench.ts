/**
 * `npm run bench:mcp-scale`: MCP `search` latency on a large index, built cheaply.
 *
 * The corpus is bench:mcp's (third-party sources from node_modules, BENCH_MB, default 1) copied
 * COPIES times into c000/, c001/…, each copy of each file with one unique first line (a comment
 * naming the copy). The store caches vectors by chunk content, and a chunk's key has no path, so
 * only the chunks that line changes are embedded: the index holds BENCH_CHUNKS (default 100k)
 * chunks at the cost of embedding a few thousand, with the real default model. What differs from
 * a real 100k-chunk repository: most chunks have ~COPIES twins with the same vector (the HNSW
 * graph has as many points, with fewer distinct ones), and the files are fewer and larger than
 * a typical repository's at that size.
 *
 * Measured on a warm engine whose live watcher is running (`loupe mcp` turns it on; the timing
 * starts once it watches): the MCP round trip (SDK Client over stdio → `loupe mcp` → the shared
 * engine: the sync with the watcher, the query embedding, the search, the snippets), and apart
 * the engine's search (query embedding included) and its sync. Writes
 * test/bench/results/mcp-scale-<date>.json (BENCH_OUT to override).
 *
 * BENCH_DIR=<folder> builds the corpus and its index there and keeps them; a later run with the
 * same BENCH_DIR only measures (no build). With BENCH_LOUPE=<other checkout>/bin/loupe.js the
 * measured `loupe mcp` and engine are another build's (before/after on one index).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineClient } from '../../src/adapters/engine-client.js';
import { summarize } from '../../src/core/bench/stats.js';
import { buildCorpus } from './corpus.js';
import { mcpClient, QUERIES, runCli } from './mcp-common.js';
import { REPO, tempDir } from '../support/helpers.js';

const MB = Number(process.env.BENCH_MB ?? 1);
const TARGET = Number(process.env.BENCH_CHUNKS ?? 100_000);

function files(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, path.join(rel, e.name)) : [path.join(rel, e.name)],
  );
}

/** A first line that makes this copy of the file unique, as a comment where the language has one. */
function mark(rel: string, copy: number): string {
  const ext = path.extname(rel);
  if (ext === '.py') return `# copy ${copy} of ${rel}\n`;
  if (ext === '.md') return `Copy ${copy} of ${rel}.\n\n`;
  return `// copy ${copy} of ${rel}\n`;
}

async function main(): Promise<void> {
  const keep = process.env.BENCH_DIR ? path.resolve(process.env.BENCH_DIR) : null;
  const t = keep ? { dir: keep, cleanup: () => undefined } : tempDir('loupe-mcp-scale-');
  const reuse = !!keep && existsSync(path.join(keep, 'corpus'));
  const root = path.join(t.dir, 'corpus');
  const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_RUN_DIR: path.join(t.dir, 'run'), LOUPE_BACKOFF: '0' };
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgAtStart: os.loadavg() },
    corpusMB: MB,
    targetChunks: TARGET,
    model: 'bundled default',
    loupe: process.env.BENCH_LOUPE ?? 'this checkout',
  };
  const t0 = performance.now();
  try {
    if (reuse) {
      out.index = { reused: keep, ...JSON.parse(runCli(['status', root, '--json'], env).out) };
      console.log(`reusing the index in ${keep}`);
    } else {
      const base = path.join(t.dir, 'base');
      buildCorpus(path.join(REPO, 'node_modules'), base, MB * 1024 * 1024);
      const rels = files(base);
      const write = (copy: number): void => {
        for (const rel of rels) {
          const dest = path.join(root, `c${String(copy).padStart(3, '0')}`, rel);
          mkdirSync(path.dirname(dest), { recursive: true });
          writeFileSync(dest, mark(rel, copy) + readFileSync(path.join(base, rel), 'utf8'));
        }
      };
      write(0);
      const first = runCli(['index', root], env);
      if (first.code !== 0) throw new Error(`index failed: ${first.err}`);
      const one = (JSON.parse(runCli(['status', root, '--json'], env).out) as { chunks: number }).chunks;
      const copies = Math.max(1, Math.ceil(TARGET / one));
      console.log(`one copy: ${rels.length} files, ${one} chunks (${(first.ms / 1000).toFixed(0)} s); writing ${copies} copies`);
      for (let c = 1; c < copies; c++) write(c);
      const ti = performance.now();
      const idx = runCli(['index', root], env);
      if (idx.code !== 0) throw new Error(`index failed: ${idx.err}`);
      console.log(idx.out.trim());
      const st = JSON.parse(runCli(['status', root, '--json'], env).out) as {
        files: number;
        chunks: number;
        cachedVectors?: number;
        searchStructure?: string;
        model: { name: string };
        diskBytes?: number;
      };
      const mb = (rels.reduce((a, r) => a + statSync(path.join(base, r)).size, 0) * copies) / 1048576;
      out.index = {
        copies,
        files: st.files,
        chunks: st.chunks,
        distinctVectors: st.cachedVectors,
        searchStructure: st.searchStructure,
        model: st.model.name,
        corpusMB: Math.round(mb),
        diskMB: st.diskBytes ? Math.round(st.diskBytes / 1048576) : undefined,
        firstCopySeconds: Math.round(first.ms / 1000),
        restSeconds: Math.round((performance.now() - ti) / 1000),
      };
      console.log(`index: ${JSON.stringify(out.index)}`);
    }

    const agent = await mcpClient(root, env, 'bench-scale');
    for (let i = 0; i < 5; i++) await agent.callTool({ name: 'search', arguments: { query: QUERIES[i], k: 10 } });
    const direct = new EngineClient({
      shared: 'bench-direct',
      connectOnly: true,
      maxRestarts: 0,
      env: { LOUPE_RUN_DIR: env.LOUPE_RUN_DIR },
    });
    const saved = process.env.LOUPE_RUN_DIR;
    process.env.LOUPE_RUN_DIR = env.LOUPE_RUN_DIR;
    try {
      await direct.attach({ root });
      // Until the watcher's initial walk is done, a sync checks every file on disk instead.
      const tw = performance.now();
      let how = '';
      while (!/^(events|polling)/.test((how = (await direct.request('watch', { on: true })).how)) && performance.now() - tw < 120_000) {
        await new Promise((r) => setTimeout(r, 500));
      }
      out.watcher = { how, readyAfterWarmupMs: Math.round(performance.now() - tw) };
      console.log(`watcher: ${how}`);
      const rt: number[] = [];
      for (let round = 0; round < 4; round++) {
        for (const q of QUERIES) {
          const s = performance.now();
          const r = (await agent.callTool({
            name: 'search',
            arguments: { query: `${q} ${round || ''}`.trim(), k: 10, max_tokens: 2000 },
          })) as { isError?: boolean; content: { text: string }[] };
          rt.push(performance.now() - s);
          if (r.isError) throw new Error(`search error: ${r.content[0].text}`);
        }
      }
      out.mcpSearchMs = summarize(rt);
      console.log(`MCP search round trip: ${JSON.stringify(out.mcpSearchMs)}`);

      const engineOnly: number[] = [];
      const syncOnly: number[] = [];
      for (const q of QUERIES) {
        let s = performance.now();
        await direct.request('search', { query: `${q} again`, k: 10 });
        engineOnly.push(performance.now() - s);
        s = performance.now();
        await direct.request('sync', { maxWaitMs: 5000 });
        syncOnly.push(performance.now() - s);
      }
      out.engineSearchMs = summarize(engineOnly);
      out.engineSyncMs = summarize(syncOnly);
      console.log(`engine search alone ${JSON.stringify(out.engineSearchMs)}; sync alone ${JSON.stringify(out.engineSyncMs)}`);
      await direct.request('shutdown', {});
    } finally {
      await direct.close();
      if (saved === undefined) delete process.env.LOUPE_RUN_DIR;
      else process.env.LOUPE_RUN_DIR = saved;
    }
    await agent.close();
    out.loadavgAtEnd = os.loadavg();
    out.seconds = Math.round((performance.now() - t0) / 1000);
    const file = process.env.BENCH_OUT ?? path.join(REPO, 'test/bench/results', `mcp-scale-${new Date().toISOString().slice(0, 10)}.json`);
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${path.relative(REPO, file)}`);
  } finally {
    t.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
