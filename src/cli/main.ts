import { checkStoreDir, readManifest } from '../core/store.js';
import { DEFAULT_SEARCH_MODE, SEARCH_MODES, type SearchFilter, type SearchMode } from '../core/engine.js';
import { CONTENT_KINDS, type ContentKind } from '../core/ranking.js';
import { CODE_LANGUAGES } from '../core/languages.js';
import { LoupeError, type IndexProgress, type IndexSummary, type SearchResult } from '../core/types.js';
import { bundledRuntimeOf, closeEngine, openEngine, type EngineConfig } from '../adapters/open-engine.js';
import { resultLine } from './quick.js';
import { connectRunning, engineWentAway, LocalConn, openParamsOf, type EngineConn } from './engine-conn.js';
import { describeCompute } from '../adapters/compute/describe.js';
import {
  backendError,
  ENGINE_OPTIONS,
  engineSettings,
  exitCodeOf,
  hasIndex,
  parseCommandArgs,
  posInt,
  projectFolder,
  stderrLogger,
  usageError,
  type CliIo,
} from './common.js';
import { ModelManager } from '../core/models/manager.js';
import { describeModel, modelTier, QUALITY_MODEL_ID, tierAdvice } from '../core/models/tiers.js';
import { describeProgress, ProgressMeter, type ProgressEstimate } from '../core/progress-meter.js';
import { storeDirFor } from '../core/defaults.js';

const USAGE = `Usage:
  loupe index <dir> [--watch] [--rebuild] [--model <file.gguf>|<id>] [--dims <n>] [--store <dir>]
  loupe search <dir> "<query>" [-k 10] [--mode hybrid|dense|lexical] [--content code|tests|docs|examples|config|all]
               [--lang <language>] [--path <glob>] [--json] [--model <file.gguf>] [--store <dir>]
  loupe status <dir> [--json] [--store <dir>]
  loupe serve <dir> [--model <file|id>] [--store <dir>]   run the index's shared engine in the foreground
  loupe mcp [dir] [--model <file|id>] [--store <dir>]     MCP server on stdio for coding agents (docs/agents.md)
  loupe ask <dir> "<question>" [--json] [--llm auto|mlx|llama|openai] [--llm-url <url>] [--llm-model <m>]  (loupe ask --help)
  loupe bench [--quick] [--json <out.json>] [--report <report.html>] [--model <file.gguf>]  (loupe bench --help)
  loupe export <dir> --projector <outdir> [--store <dir>]
  loupe models list|install <id>|remove <id>|path <id>   recommended embedding models (loupe models --help)

Options:
  --model <file|id>     embedding model: GGUF (llama.cpp), .onnx with tokenizer.json beside it (ONNX
                        Runtime), or an installed model's id from \`loupe models list\`
                        (default: the bundled all-MiniLM-L6-v2)
  --backend <b>         runtime for the bundled model: auto (ONNX Runtime, unless the index was built by
                        llama.cpp), onnx, or llama (llama.cpp; GPUs)
  --dims <n>            cut vectors to a Matryoshka size the model was trained for (EmbeddingGemma:
                        512, 256, 128); a smaller index, a new index (needs --rebuild)
  --store <dir>         index folder (default: <dir>/.loupe)
  --rebuild             discard the index and build it again (needed after a model change)
  --watch               keep the index up to date as files change (Ctrl-C to stop)
  -k <n>                number of results (default 10)
  --mode <m>            search with vectors (dense), BM25 (lexical) or both fused (hybrid, default)
  --content <kinds>     search only these content kinds, comma-separated: code, tests, docs, examples,
                        config, or all (default: all; code ranks first for code questions)
  --lang <language>     search only chunks of these languages, comma-separated (typescript, python, go, …, text)
  --path <glob>         search only files matching a glob (\`src/**\`, \`*.go\`, a folder such as \`lib/http\`)
  --json                machine-readable output
  --max-file-size <kb>  skip files larger than this (default 1024)
  --exclude <glob>      extra gitignore-style exclude (repeatable)
  --cpu                 do not use a GPU
  --backoff             while indexing, back off when coding agents, local LLMs or other work load the machine
                        (default with --watch; a one-shot \`index\` runs at full speed unless given --backoff)
  --no-backoff          full speed even with --watch (LOUPE_BACKOFF=0 does the same)
  --pause-on-battery    while backing off, pause embedding on battery power instead of slowing it
  --pause-when-busy     while backing off, pause embedding under heavy load (≥ 85 %) instead of slowing it
  --verbose             log details to stderr (and whether a running engine answered)

search and status use the index's running engine when there is one (\`loupe serve\`, \`loupe mcp\`,
\`loupe index --watch\`, VS Code with storage in the folder): answers in milliseconds, no second copy
of the model; without one they open the index in process.`;

/** Every command `loupe` knows, for "unknown command" messages. */
export const COMMANDS = ['index', 'search', 'status', 'ask', 'serve', 'mcp', 'bench', 'export', 'models'] as const;

/** The top-level command always knows whether stderr is a terminal. */
interface Io extends CliIo {
  isTTY: boolean;
}

/** The progress line: by chunks, with throughput and the time left (src/core/progress-meter.ts). */
function progressLine(p: IndexProgress, e: ProgressEstimate): string {
  return p.phase === 'scan' ? 'scanning…' : `indexing ${describeProgress(e)} · ${p.filesDone}/${p.filesTotal} files read`;
}

function summaryLine(s: IndexSummary): string {
  return `${s.files} files indexed (${s.filesChanged} changed, ${s.filesDeleted} removed, ${s.filesSkipped} skipped) · ${s.chunks} chunks in changed files: ${s.embedded} embedded, ${s.cached} from cache · ${s.seconds.toFixed(2)} s`;
}

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: string[],
  io: Io = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n'), isTTY: !!process.stderr.isTTY },
): Promise<number> {
  // A first word that is no command is a typo or a folder given without one: say which commands exist.
  if (argv[0] && !argv[0].startsWith('-') && !(COMMANDS as readonly string[]).includes(argv[0])) {
    io.err(`loupe: unknown command '${argv[0]}'; the commands are ${COMMANDS.join(', ')} (loupe --help)`);
    return 2;
  }
  // `ask` has options of its own (answer model, server URL): it parses its arguments itself.
  // These commands' modules (the MCP SDK with zod and ajv is half the bundle) are evaluated only
  // when they run: every other command, a one-shot search above all, starts without them.
  if (argv[0] === 'ask') return (await import('./ask.js')).runAsk(argv.slice(1), io);
  if (argv[0] === 'models') return (await import('./models.js')).runModelsCli(argv.slice(1), io);
  if (argv[0] === 'mcp') return (await import('./mcp.js')).runMcp(argv.slice(1), io);
  // `bench` and `export` have options of their own too.
  if (argv[0] === 'bench' || argv[0] === 'export') {
    try {
      if (argv[0] === 'export') return await (await import('./export.js')).runExportCli(argv.slice(1), io);
      const verbose = argv.includes('--verbose') || argv.includes('-v');
      return await (await import('./bench.js')).runBenchCli(argv.slice(1), io, stderrLogger(verbose, io));
    } catch (e) {
      if (e instanceof LoupeError) {
        io.err(`loupe: ${e.message}`);
        return exitCodeOf(e);
      }
      throw e;
    }
  }
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: {
        ...ENGINE_OPTIONS,
        rebuild: { type: 'boolean' },
        watch: { type: 'boolean' },
        k: { type: 'string', short: 'k' },
        mode: { type: 'string' },
        content: { type: 'string' },
        lang: { type: 'string' },
        path: { type: 'string' },
        json: { type: 'boolean' },
        'max-file-size': { type: 'string' },
        exclude: { type: 'string', multiple: true },
        backoff: { type: 'boolean' },
        'no-backoff': { type: 'boolean' },
        'pause-on-battery': { type: 'boolean' },
        'pause-when-busy': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE,
    io,
    argv[0] && !argv[0].startsWith('-') ? `loupe ${argv[0]}` : 'loupe',
  );
  if (!parsed) return 2;
  const { values: v, positionals: pos } = parsed;
  const [cmd, dir, ...rest] = pos;
  if (v.help || !cmd) {
    io.out(USAGE);
    return cmd || v.help ? 0 : 2;
  }
  const badBackend = backendError(v, `loupe ${cmd}`);
  if (badBackend) {
    io.err(badBackend);
    return 2;
  }
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    io.err(`loupe: unknown command '${cmd}'; the commands are ${COMMANDS.join(', ')} (loupe --help)`);
    return 2;
  }
  if (!dir) {
    io.err(`loupe ${cmd}: missing <dir> (the project folder); \`loupe --help\` shows the usage`);
    return 2;
  }
  const logger = stderrLogger(!!v.verbose, io);
  let cfg: EngineConfig;
  try {
    const root = projectFolder(dir, `loupe ${cmd}`);
    cfg = {
      root,
      ...engineSettings(v),
      rebuild: v.rebuild,
      maxFileBytes: v['max-file-size'] ? posInt(v['max-file-size'], '--max-file-size')! * 1024 : undefined,
      excludes: v.exclude,
      // Contention-aware back-off while indexing (src/core/compute): on with --backoff, and by default
      // with --watch (the index kept up to date beside an agent); a one-shot index is awaited by its user.
      backoff:
        (cmd === 'index' || cmd === 'serve') &&
        (!!v.backoff || ((cmd === 'serve' || !!v.watch) && !v['no-backoff'])) &&
        process.env.LOUPE_BACKOFF !== '0',
      pauseOnBattery: v['pause-on-battery'],
      pauseWhenBusy: v['pause-when-busy'],
      // Test hook: an HNSW graph on a small index (the fault suite corrupts its file).
      annThreshold: process.env.LOUPE_ANN_THRESHOLD ? Number(process.env.LOUPE_ANN_THRESHOLD) : undefined,
      logger,
    };
    // Refused before anything is started or written (the shared engine's run folder included).
    if (cfg.storeDir) checkStoreDir(cfg.storeDir, cfg.root);
  } catch (e) {
    if (e instanceof LoupeError) {
      io.err(e.code === 'usage' ? e.message : `loupe: ${e.message}`);
      return e.code === 'bad-store' ? 2 : exitCodeOf(e);
    }
    throw e;
  }

  try {
    switch (cmd) {
      case 'index':
        return await runIndex(cfg, !!v.watch, io);
      case 'serve':
        return await runServe(cfg, io);
      case 'search': {
        const query = rest.join(' ').trim();
        if (!query) throw usageError('loupe search: missing "<query>"; `loupe --help` shows the usage');
        const k = posInt(v.k, '-k') ?? 10;
        const mode = (v.mode ?? DEFAULT_SEARCH_MODE) as SearchMode;
        if (!SEARCH_MODES.includes(mode)) {
          io.err(`loupe search: --mode must be one of ${SEARCH_MODES.join(', ')}`);
          return 2;
        }
        const filter: SearchFilter = {};
        if (v.content !== undefined) {
          const kinds = v.content
            .split(',')
            .map((x) => x.trim().toLowerCase())
            .filter(Boolean);
          const bad = kinds.find((x) => x !== 'all' && !CONTENT_KINDS.includes(x as ContentKind));
          if (!kinds.length || bad !== undefined) {
            io.err(
              `loupe search: --content must be all or a comma-separated list of ${CONTENT_KINDS.join(', ')}${bad ? ` (got "${bad}")` : ''}`,
            );
            return 2;
          }
          if (!kinds.includes('all')) filter.content = kinds as ContentKind[];
        }
        if (v.lang !== undefined) {
          const langs = v.lang
            .split(',')
            .map((x) => x.trim().toLowerCase())
            .filter(Boolean);
          const known = [...CODE_LANGUAGES, 'text'];
          const bad = langs.find((x) => !known.includes(x as (typeof known)[number]));
          if (!langs.length || bad !== undefined) {
            io.err(`loupe search: --lang must be one or more of ${known.join(', ')}${bad ? ` (got "${bad}")` : ''}`);
            return 2;
          }
          filter.language = langs;
        }
        if (v.path !== undefined) {
          if (!v.path.trim()) {
            io.err('loupe search: --path needs a glob, e.g. --path "src/**"');
            return 2;
          }
          filter.path = v.path;
        }
        return await runSearch(cfg, query, k, !!v.json, io, mode, filter);
      }
      case 'status':
        return await runStatus(cfg, !!v.json, io);
      default:
        throw usageError(`loupe: unknown command '${cmd}'; the commands are ${COMMANDS.join(', ')}`);
    }
  } catch (e) {
    if (e instanceof LoupeError) {
      io.err(e.code === 'usage' ? e.message : `loupe: ${e.message}`);
      return e.code === 'bad-store' ? 2 : exitCodeOf(e);
    }
    // Not a user mistake: one line, and the stack when asked for (--verbose).
    io.err(`loupe: ${(e as Error).message ?? e}${v.verbose ? `\n${(e as Error).stack}` : ' (--verbose shows the details)'}`);
    return 1;
  }
}

/**
 * The engine an indexing command works through: the index's running shared engine when there is
 * one (it is the one writer), else a host in this process that serves the socket meanwhile, so
 * `loupe search` and agents use this process's engine while it indexes and watches.
 */
async function indexingConn(cfg: EngineConfig, io: Io): Promise<EngineConn> {
  const params = openParamsOf(cfg);
  const running = await connectRunning(params, 'loupe index').catch(() => null);
  if (running) {
    cfg.logger?.info(`indexing ${running.where}`);
    return running;
  }
  const local = new LocalConn(true);
  local.onEvent((e) => {
    if (e.event === 'log') cfg.logger?.[e.level](e.message);
  });
  const notServing = await local.tryServe(params);
  if (notServing) {
    // Another `loupe index` (or serve) began serving this index between the check above and the
    // listen: index through it, rather than race it for the writer lock.
    const late = await connectRunning(params, 'loupe index').catch(() => null);
    if (late) {
      await local.close();
      cfg.logger?.info(`indexing ${late.where}`);
      return late;
    }
    (cfg.logger ?? stderrLogger(false, io)).warn(`not sharing this engine with other clients: ${notServing.message}`);
  }
  return local;
}

async function runIndex(cfg: EngineConfig, watch: boolean, io: Io): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const conn = await indexingConn(cfg, io);
    try {
      return await indexThrough(conn, cfg, watch, io);
    } catch (e) {
      // The shared engine this run asked went away: another `loupe index` that served it finished
      // its own job and exited, or the engine crashed. What it committed is kept; go on, through
      // the next running engine or in this process.
      if (conn instanceof LocalConn || !engineWentAway(e) || attempt >= 3) throw e;
      io.err(`[warn] the shared engine this run used for ${cfg.root} stopped; going on from what it committed.`);
    }
  }
}

async function indexThrough(conn: EngineConn, cfg: EngineConfig, watch: boolean, io: Io): Promise<number> {
  const ac = new AbortController();
  const jobId = `cli-index-${process.pid}`;
  const onSigint = (): void => {
    ac.abort();
    void conn.request('cancel', { jobId }).catch(() => undefined);
  };
  // `on`, not `once`: a signal-exit style handler of a dependency re-raises the signal when it finds itself alone.
  process.on('SIGINT', onSigint);
  // Say when the back-off policy slows or pauses indexing, and why (once per change).
  let lastReason = '';
  let last = 0;
  const meter = new ProgressMeter();
  const offEvents = conn.onEvent((e) => {
    if (e.event === 'state') {
      const s = e.state;
      const reason = s.kind === 'backingOff' || s.kind === 'paused' ? s.reason : '';
      if (reason && reason !== lastReason) io.err(`${io.isTTY ? '\r\x1b[K' : ''}[compute] ${reason}`);
      lastReason = reason;
    } else if (e.event === 'progress' && e.jobId === jobId && io.isTTY) {
      const estimate = meter.update(e.progress);
      const now = Date.now();
      if (e.progress.phase !== 'done' && now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[K${progressLine(e.progress, estimate)}`);
    } else if (e.event === 'indexed' && watch) {
      io.out(`${new Date().toLocaleTimeString()} ${summaryLine(e.summary)}`);
    }
  });
  try {
    const status = await conn.open(openParamsOf(cfg));
    // An engine in this process has logged its warnings already (its 'log' events); a running
    // shared engine logged them in its own process, so they are said here.
    if (!(conn instanceof LocalConn)) for (const w of status.warnings) io.err(`[warn] ${w}`);
    const summary = await conn.request('index', { jobId });
    if (io.isTTY) process.stderr.write('\r\x1b[K');
    for (const w of summary.warnings.slice(0, 20)) io.err(`[skip] ${w}`);
    if (summary.warnings.length > 20) io.err(`[skip] … and ${summary.warnings.length - 20} more`);
    io.out(summaryLine(summary));
    if (!watch) return 0;
    const w = await conn.request('watch', { on: true });
    io.err(`watching ${status.root} (${w.how}); Ctrl-C to stop`);
    // Watching through a shared engine (another `loupe index --watch`, `loupe serve`) lasts while it
    // does: when it goes away, runIndex goes on watching from this process.
    let offGone: (() => void) | undefined;
    await new Promise<void>((resolve, reject) => {
      ac.signal.addEventListener('abort', () => resolve(), { once: true });
      offGone = conn.onGone?.(() => reject(new LoupeError('the shared engine this run watched through stopped', 'engine-crashed')));
    }).finally(() => offGone?.());
    await conn.request('watch', { on: false }).catch(() => undefined);
    return 0;
  } catch (e) {
    if (ac.signal.aborted || (e as Error).name === 'AbortError') {
      if (io.isTTY) process.stderr.write('\r\x1b[K');
      io.err('loupe: indexing cancelled; committed batches are kept, run `loupe index` again to finish.');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    offEvents();
    await conn.close();
  }
}

/**
 * `loupe serve`: the index's shared engine in the foreground: opens the index, brings it up to
 * date, watches the folder and answers every client on the local socket until Ctrl-C.
 */
async function runServe(cfg: EngineConfig, io: Io): Promise<number> {
  const params = openParamsOf(cfg);
  const running = await connectRunning(params, 'loupe serve').catch(() => null);
  if (running) {
    io.err(`loupe serve: an engine already serves ${params.root} (PID ${running.pid}); search and loupe mcp use it.`);
    await running.close();
    return 1;
  }
  const local = new LocalConn(true);
  local.onEvent((e) => {
    if (e.event === 'log') cfg.logger?.[e.level](e.message);
    else if (e.event === 'indexed') io.out(`${new Date().toLocaleTimeString()} ${summaryLine(e.summary)}`);
    else if (e.event === 'state' && (e.state.kind === 'backingOff' || e.state.kind === 'paused')) io.err(`[compute] ${e.state.reason}`);
  });
  if (!(await local.serve(params, cfg.logger ?? stderrLogger(true, io)))) {
    await local.close();
    return 1;
  }
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const status = await local.open(params);
    io.err(`serving ${status.root} (index ${status.storeDir}, ${status.model.name}) on ${local.socket}; Ctrl-C to stop`);
    const summary = await local.request('index', { jobId: `serve-${process.pid}` });
    io.out(summaryLine(summary));
    const w = await local.request('watch', { on: true });
    io.err(`watching (${w.how})`);
    await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await local.close();
  }
}

async function runSearch(
  cfg: EngineConfig,
  query: string,
  k: number,
  json: boolean,
  io: Io,
  mode: SearchMode,
  filter: SearchFilter = {},
): Promise<number> {
  /** Nothing to search: says why; `--json` still prints an empty list, and exits 0. */
  const nothing = (why: string): number => {
    io.err(`loupe: ${why}`);
    if (json) io.out('[]');
    return json ? 0 : 1;
  };
  // Checked before the engine opens: opening creates the index folder, and a search creates nothing.
  if (!hasIndex(storeDirFor(cfg.root, cfg.storeDir)))
    return nothing(`${cfg.root} has no index yet; run \`loupe index ${cfg.root}\` first.`);
  const print = (results: SearchResult[]): number => {
    if (json) {
      io.out(JSON.stringify(results));
      return 0;
    }
    if (!results.length) io.out('no matches');
    for (const r of results) {
      io.out(resultLine(r));
    }
    return 0;
  };
  const noIndex = (root: string): number => nothing(`${root} has no index yet (or it is empty); run \`loupe index ${root}\` first.`);
  // A running engine answers in milliseconds: the model and the index are already loaded.
  const running =
    process.env.LOUPE_NO_ENGINE === '1'
      ? null
      : await connectRunning(openParamsOf(cfg), 'loupe search').catch((e) => {
          cfg.logger?.info(`no running engine used: ${(e as Error).message}`);
          return null;
        });
  if (running) {
    try {
      cfg.logger?.info(`searching ${running.where}`);
      // The engine's model decides; open only to check a model given on the command line.
      const info = running.client.engineInfo;
      const status = info?.root && !cfg.modelPath ? await running.request('status', {}) : await running.open(openParamsOf(cfg));
      if (!status.chunks) return noIndex(status.root);
      return print(await running.request('search', { query, k, mode, filter }));
    } catch (e) {
      // Connected just as the `loupe index` serving it finished: the index is on disk, read it here.
      if (!engineWentAway(e)) throw e;
      cfg.logger?.info(`the running engine went away (${(e as Error).message})`);
    } finally {
      await running.close();
    }
  }
  cfg.logger?.info('no engine running for this index: opening it in process');
  // A reader: no writer lock, so searches run beside `loupe index` and each other.
  const parts = await openEngine({ ...cfg, readOnly: true });
  try {
    const { engine } = parts;
    // The store's and BM25's warnings (a damaged file, a snapshot rebuilt) reach stderr through the
    // logger as they happen, once each.
    if (!engine.store.chunkCount) {
      if (!engine.store.report.warnings.length) return noIndex(engine.root);
      // Damaged files (the warnings above) left nothing searchable: the next index run repairs it.
      return nothing(
        `the index of ${engine.root} was damaged and holds nothing searchable now; run \`loupe index ${engine.root}\` to repair it.`,
      );
    }
    return print(await engine.search(query, { k, mode, filter }));
  } finally {
    await closeEngine(parts);
  }
}

async function runStatus(cfg: EngineConfig, json: boolean, io: Io): Promise<number> {
  const storeDir = storeDirFor(cfg.root, cfg.storeDir);
  const running = process.env.LOUPE_NO_ENGINE === '1' ? null : await connectRunning(openParamsOf(cfg), 'loupe status').catch(() => null);
  if (running) {
    try {
      cfg.logger?.info(`status ${running.where}`);
      if (running.client.engineInfo?.root) return await runningStatus(running, json, io);
    } finally {
      await running.close();
    }
  }
  const m = readManifest(storeDir);
  // Hardware and what back-off would do right now (one short contention sample).
  const compute = await describeCompute({ gpu: cfg.gpu });
  if (!m) {
    if (json) io.out(JSON.stringify({ root: cfg.root, storeDir, indexed: false, ...compute.json }));
    else io.out(`${cfg.root}: not indexed (no index in ${storeDir})\n${compute.lines.join('\n')}`);
    return 0;
  }
  // Status opens the store without the model, so it works even when the model is gone.
  const { Store } = await import('../core/store.js');
  const store = Store.open(
    storeDir,
    { modelId: m.modelId, modelName: m.modelName, dimensions: m.dimensions },
    { metadataOnly: true, readOnly: true },
  );
  try {
    const info = {
      root: cfg.root,
      storeDir,
      indexed: true,
      model: {
        name: m.modelName,
        id: m.modelId,
        dimensions: m.dimensions,
        tier: modelTier(m.modelName),
        runtime: bundledRuntimeOf(m.modelId),
      },
      files: store.files.size,
      chunks: store.chunkCount,
      cachedVectors: store.cachedVectors,
      diskBytes: store.diskBytes(),
      createdAt: m.createdAt,
      updatedAt: store.updatedAt,
      warnings: store.report.warnings,
    };
    if (json) {
      io.out(JSON.stringify({ ...info, ...compute.json }));
    } else {
      io.out(`${info.root}
  index:    ${info.storeDir} (${(info.diskBytes / 1048576).toFixed(1)} MiB)
  model:    ${describeModel(info.model.name)} (${info.model.dimensions} dims, ${info.model.runtime ? `${info.model.runtime}, ` : ''}id ${info.model.id.slice(0, 12)})
  holds:    ${info.files} files, ${info.chunks} chunks, ${info.cachedVectors} cached vectors
  updated:  ${info.updatedAt}`);
      for (const w of info.warnings) io.out(`  warning:  ${w}`);
      const advice = tierAdvice(
        info.model.name,
        compute.json.compute.unit,
        new ModelManager().installed().some((r) => r.id === QUALITY_MODEL_ID),
      );
      if (advice) io.out(`  advice:   ${advice}`);
      for (const l of compute.lines) io.out(l);
    }
    return 0;
  } finally {
    store.close();
  }
}

/** `loupe status` from the running engine: what it holds now, what it is doing, and who uses it. */
async function runningStatus(
  conn: EngineConn & { client: { engineInfo?: { clients: number; version: string } } },
  json: boolean,
  io: Io,
): Promise<number> {
  const st = await conn.request('status', {});
  const compute = await conn.request('compute', {}).catch(() => null);
  const engine = {
    pid: conn.pid,
    clients: Math.max(0, (conn.client.engineInfo?.clients ?? 1) - 1),
    version: conn.client.engineInfo?.version,
  };
  if (json) {
    io.out(
      JSON.stringify({
        root: st.root,
        storeDir: st.storeDir,
        indexed: st.chunks > 0,
        model: { ...st.model, tier: modelTier(st.model.name) },
        files: st.files,
        chunks: st.chunks,
        cachedVectors: st.cachedVectors,
        diskBytes: st.diskBytes,
        updatedAt: st.updatedAt,
        state: st.state,
        warnings: st.warnings,
        engine,
        compute,
      }),
    );
    return 0;
  }
  const state =
    st.state.kind === 'indexing'
      ? `indexing ${st.state.done}/${st.state.total} files`
      : st.state.kind === 'backingOff' || st.state.kind === 'paused'
        ? `${st.state.kind === 'paused' ? 'paused' : 'backing off'}: ${st.state.reason}`
        : st.state.kind === 'error'
          ? `error: ${st.state.message}`
          : st.state.kind;
  io.out(`${st.root}
  index:    ${st.storeDir} (${(st.diskBytes / 1048576).toFixed(1)} MiB)
  model:    ${describeModel(st.model.name)} (${st.model.dimensions} dims, on ${st.model.computeUnit})
  holds:    ${st.files} files, ${st.chunks} chunks, ${st.cachedVectors} cached vectors (${st.searchStructure})
  updated:  ${st.updatedAt}
  engine:   running, PID ${engine.pid}, ${engine.clients} other client(s), ${state}`);
  if (compute) io.out(`  compute:  ${compute.explanation}`);
  for (const w of st.warnings) io.out(`  warning:  ${w}`);
  return 0;
}
