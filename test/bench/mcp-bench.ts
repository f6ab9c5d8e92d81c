/**
 * `npm run bench:mcp`: Loupe for agents, end to end on real processes.
 * - MCP `search` round trip (the SDK's Client over stdio → `loupe mcp` → the shared engine; the
 *   check of the files on disk and the query embedding included), p50/p99 on a warm engine;
 * - one-shot `loupe search` through the running engine vs cold in process (LOUPE_NO_ENGINE=1);
 * - 8 concurrent MCP clients + a `loupe index --watch` run + files edited meanwhile: errors,
 *   engine processes, and whether every edit is findable at the end (no lost update).
 * Corpus: third-party sources from node_modules (test/bench/corpus.ts), BENCH_MB of them
 * (default 1). Model: the bundled default unless BENCH_MODEL is a model file. Writes
 * test/bench/results/mcp-<date>.json (BENCH_OUT to override).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineClient } from '../../src/adapters/engine-client.js';
import { summarize } from '../../src/core/bench/stats.js';
import { buildCorpus } from './corpus.js';
import { mcpClient, QUERIES, runCli } from './mcp-common.js';
import { REPO, tempDir } from '../support/helpers.js';

const BIN = path.join(REPO, 'bin/loupe.js');
const MB = Number(process.env.BENCH_MB ?? 1);
const MODEL = process.env.BENCH_MODEL;

type Result = { content: { text: string }[]; structuredContent?: { results?: { path: string }[] }; isError?: boolean };

function modelArgs(): string[] {
  return MODEL ? ['--model', MODEL] : [];
}

function enginePids(root: string): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return ps
    .split('\n')
    .filter((l) => l.includes('--shared') && l.includes(root))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

async function main(): Promise<void> {
  const t = tempDir('loupe-mcp-bench-');
  const root = path.join(t.dir, 'corpus');
  const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_RUN_DIR: path.join(t.dir, 'run'), LOUPE_BACKOFF: '0' };
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
    corpusMB: MB,
    model: MODEL ? path.basename(MODEL) : 'bundled default',
  };
  try {
    const corpus = buildCorpus(path.join(REPO, 'node_modules'), root, MB * 1024 * 1024);
    console.log(`corpus: ${corpus.files.length} files, ${(corpus.bytes / 1048576).toFixed(1)} MiB`);
    const idx = runCli(['index', root, ...modelArgs()], env);
    if (idx.code !== 0) throw new Error(`index failed: ${idx.err}`);
    console.log(idx.out.trim());
    const st = JSON.parse(runCli(['status', root, '--json'], env).out) as { files: number; chunks: number; model: { name: string } };
    out.index = { files: st.files, chunks: st.chunks, model: st.model.name, seconds: Number((idx.ms / 1000).toFixed(1)) };

    // Cold: a one-shot search that opens the index and loads the model in process.
    const cold = [0, 1, 2].map((i) => runCli(['search', root, QUERIES[i], '-k', '10', ...modelArgs()], { ...env, LOUPE_NO_ENGINE: '1' }));
    if (cold.some((r) => r.code !== 0)) throw new Error(`cold search failed: ${cold.map((r) => r.err).join(' ')}`);
    out.cliColdMs = summarize(cold.map((r) => r.ms));

    // Warm engine: one MCP client starts it; warm up, then time round trips.
    const agent = await mcpClient(root, env, 'bench-agent', modelArgs());
    for (let i = 0; i < 5; i++) await agent.callTool({ name: 'search', arguments: { query: QUERIES[i], k: 10 } });
    const rt: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (const q of QUERIES) {
        const t0 = performance.now();
        const r = (await agent.callTool({
          name: 'search',
          arguments: { query: `${q} ${round || ''}`.trim(), k: 10, max_tokens: 2000 },
        })) as Result;
        rt.push(performance.now() - t0);
        if (r.isError) throw new Error(`search error: ${r.content[0].text}`);
      }
    }
    out.mcpSearchMs = summarize(rt);
    console.log(`MCP search round trip: ${JSON.stringify(out.mcpSearchMs)}`);

    // Where a round trip goes: the engine's search alone, and its check of the files on disk alone.
    const direct = new EngineClient({
      shared: 'bench-direct',
      connectOnly: true,
      maxRestarts: 0,
      env: { LOUPE_RUN_DIR: env.LOUPE_RUN_DIR },
    });
    await direct.attach({ root });
    const engineOnly: number[] = [];
    const syncOnly: number[] = [];
    for (const q of QUERIES) {
      let t0 = performance.now();
      await direct.request('search', { query: `${q} again`, k: 10 });
      engineOnly.push(performance.now() - t0);
      t0 = performance.now();
      await direct.request('sync', { maxWaitMs: 5000 });
      syncOnly.push(performance.now() - t0);
    }
    await direct.close();
    out.engineSearchMs = summarize(engineOnly);
    out.engineSyncMs = summarize(syncOnly);
    console.log(`engine search alone ${JSON.stringify(out.engineSearchMs)}; file check alone ${JSON.stringify(out.engineSyncMs)}`);

    // One-shot CLI through the running engine, beside what starting Node and the CLI bundle costs.
    out.nodeStartMs = summarize(
      [0, 1, 2, 3, 4].map(() => {
        const t0 = performance.now();
        spawnSync(process.execPath, ['-e', '0']);
        return performance.now() - t0;
      }),
    );
    out.cliHelpMs = summarize([0, 1, 2, 3, 4].map(() => runCli(['--help'], env).ms));
    const viaEngine = QUERIES.slice(0, 8).map((q) => runCli(['search', root, q, '-k', '10'], env));
    if (viaEngine.some((r) => r.code !== 0)) throw new Error('search via engine failed');
    out.cliViaEngineMs = summarize(viaEngine.map((r) => r.ms));
    console.log(`one-shot CLI: via engine ${JSON.stringify(out.cliViaEngineMs)} vs cold ${JSON.stringify(out.cliColdMs)}`);

    // Contention: 8 MCP clients + `loupe index --watch` + edits on disk.
    const watch = spawn(process.execPath, [BIN, 'index', root, '--watch', ...modelArgs()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let watchErr = '';
    watch.stderr.on('data', (d) => (watchErr += d));
    for (let i = 0; i < 600 && !watchErr.includes('watching'); i++) await new Promise((r) => setTimeout(r, 100));
    const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => mcpClient(root, env, `bench-${i}`, modelArgs())));
    let errors = 0;
    const edits: string[] = [];
    const editing = (async () => {
      for (let i = 0; i < 10; i++) {
        const rel = `edits/feature${i}.ts`;
        mkdirSync(path.join(root, 'edits'), { recursive: true });
        writeFileSync(
          path.join(root, rel),
          `export function quasarWidget${i}Calibrate(x: number): number {\n  // calibrate quasar widget number ${i}\n  return x * ${i};\n}\n`,
        );
        edits.push(rel);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const lat: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let i = 0; i < 10; i++) {
          const s = performance.now();
          try {
            const r = (await c.callTool({ name: 'search', arguments: { query: QUERIES[(ci + i) % QUERIES.length], k: 10 } })) as Result;
            if (r.isError) errors++;
          } catch {
            errors++;
          }
          lat.push(performance.now() - s);
        }
      }),
    );
    await editing;
    const wallMs = performance.now() - t0;
    const pids = enginePids(root);
    // Every edit findable afterwards (the last sync covers them all).
    const found: boolean[] = [];
    for (let i = 0; i < edits.length; i++) {
      const r = (await clients[0].callTool({
        name: 'search',
        arguments: { query: `quasarWidget${i}Calibrate calibrate quasar widget number ${i}`, k: 3, mode: 'lexical' },
      })) as Result;
      found.push(!!r.structuredContent?.results?.some((h) => h.path === edits[i]));
    }
    out.concurrent = {
      clients: 8,
      watchRun: true,
      queries: lat.length,
      errors,
      wallMs: Math.round(wallMs),
      latencyMs: summarize(lat),
      engineProcesses: pids.length,
      editsFindable: `${found.filter(Boolean).length}/${edits.length}`,
    };
    console.log(`8 clients + --watch: ${JSON.stringify(out.concurrent)}`);
    watch.kill('SIGINT');
    await new Promise((r) => watch.once('exit', r));
    for (const c of [...clients, agent]) await c.close();
  } finally {
    // Stop the shared engine, then remove the corpus.
    const saved = process.env.LOUPE_RUN_DIR;
    process.env.LOUPE_RUN_DIR = env.LOUPE_RUN_DIR;
    const c = new EngineClient({ shared: 'bench', connectOnly: true, maxRestarts: 0 });
    await c
      .attach({ root })
      .then(() => c.request('shutdown', {}))
      .catch(() => undefined);
    if (saved === undefined) delete process.env.LOUPE_RUN_DIR;
    else process.env.LOUPE_RUN_DIR = saved;
    await new Promise((r) => setTimeout(r, 500));
    t.cleanup();
  }
  const file = process.env.BENCH_OUT ?? path.join(REPO, 'test/bench/results', `mcp-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`written ${file}`);
}

await main();
