/**
 * `loupe mcp [dir]`: a Model Context Protocol server on stdio for coding agents (Claude Code,
 * Codex CLI, Cursor, Gemini CLI, VS Code). It is a thin client of the index's shared engine
 * (started if none runs), so any number of agents, the editor and `loupe search` share one
 * engine, one model in memory and one writer. stdout carries the protocol; logs go to stderr.
 */
import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import * as z from 'zod';
import type { EngineStatus } from '../core/engine.js';
import type { OpenParams, SyncResult } from '../core/protocol.js';
import type { SearchFilter } from '../core/engine.js';
import { CONTENT_KINDS } from '../core/ranking.js';
import { LoupeError, type SearchResult } from '../core/types.js';
import { backendError, ENGINE_OPTIONS, engineSettings, parseCommandArgs, stderrLogger, type CliIo } from './common.js';
import { connectOrStart, type SharedConn } from './engine-conn.js';
import { fitHits, freshnessLine, hitsText } from '../core/agent-format.js';
import { loupeVersion } from '../engine-process/host.js';

const USAGE = `Usage: loupe mcp [dir] [--model <file|id>] [--store <dir>] [--backend auto|onnx|llama] [--cpu] [--verbose]

Runs a Model Context Protocol server on stdin/stdout for the index of <dir> (default: the current
folder). Tools: search, find_related, index_status (and ask when an answer model is configured:
--llm-model <file.gguf>, or LOUPE_CHAT_MODEL). See docs/agents.md for each agent's setup.`;

/** Longest a tool call waits for the index to catch up with the files on disk before answering. */
const SYNC_WAIT_MS = 2500;

const SEARCH_DESCRIPTION = `Semantic code search over this repository (Loupe's local index: tree-sitter chunks, embeddings + BM25, kept up to date with the files on disk).
Use it to find code by what it does when you do not know the exact name or file: "where is the retry backoff computed", "parse the config file", "validate user tokens". Returns the best matching functions/classes/sections: path, line range, symbol, language, score and the code itself, within max_tokens, usually enough to answer without opening whole files.
Prefer grep/ripgrep instead for an exact identifier, string literal or regex, or to list every occurrence of something.`;

const RELATED_DESCRIPTION = `Finds code similar to a given place in the repository (Loupe's embeddings): other implementations of the same idea, near-duplicates, callers' look-alikes, tests of similar code. Give a path relative to the repository root and a line inside the function or class of interest.`;

const STATUS_DESCRIPTION = `Reports Loupe's index for this repository: files and chunks covered, whether it is up to date or still indexing, the embedding model, and the compute state (full speed, or backing off because the machine is busy).`;

/** Runs the MCP server until stdin closes; returns the exit code. */
export async function runMcp(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: {
        ...ENGINE_OPTIONS,
        'llm-model': { type: 'string' },
        'llm-url': { type: 'string' },
        llm: { type: 'string' },
        'idle-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE,
    io,
  );
  if (!parsed) return 2;
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.err(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    io.err(`loupe mcp: one folder at most\n\n${USAGE}`);
    return 2;
  }
  const badBackend = backendError(v, 'loupe mcp');
  if (badBackend) {
    io.err(badBackend);
    return 2;
  }
  const logger = stderrLogger(!!v.verbose, io);
  let params: OpenParams;
  let idleMs: number | undefined;
  try {
    const root = realpathSync(path.resolve(positionals[0] ?? '.'));
    params = {
      root,
      ...engineSettings(v),
      // The index is kept up to date beside a working agent: back off when the machine is busy.
      backoff: process.env.LOUPE_BACKOFF !== '0',
    };
    idleMs = v['idle-ms'] !== undefined ? Number(v['idle-ms']) : undefined;
  } catch (e) {
    io.err(`loupe mcp: ${(e as Error).message}`);
    return 2;
  }
  const llm = {
    provider: (v.llm as 'auto' | 'mlx' | 'llama' | 'openai' | undefined) ?? undefined,
    model: v['llm-model'] ?? process.env.LOUPE_CHAT_MODEL,
    url: v['llm-url'],
  };
  const mcp = new LoupeMcp(params, logger, idleMs, llm);
  return mcp.run();
}

/** The MCP server and its connection to the shared engine. */
class LoupeMcp {
  private readonly server: McpServer;
  private conn: Promise<SharedConn> | undefined;
  private askRegistered = false;

  constructor(
    private readonly params: OpenParams,
    private readonly logger: ReturnType<typeof stderrLogger>,
    private readonly idleMs: number | undefined,
    private readonly llm: { provider?: 'auto' | 'mlx' | 'llama' | 'openai'; model?: string; url?: string },
  ) {
    const version = loupeVersion();
    this.server = new McpServer(
      { name: 'loupe', title: 'Loupe semantic code search', version },
      {
        capabilities: { tools: { listChanged: true } },
        instructions: `Loupe indexes ${params.root} for semantic code search. Use the search tool to find code by meaning; use grep for exact strings.`,
      },
    );
    this.registerTools();
  }

  /** The agent's name (from the MCP handshake), passed to the engine as a contention signal. */
  private get agent(): string {
    return `mcp:${this.server.server.getClientVersion()?.name ?? 'agent'}`;
  }

  /** Connects to (or starts) the shared engine and opens the index; one attempt shared by all calls, retried after a failure. */
  private engine(): Promise<SharedConn> {
    this.conn ??= (async () => {
      const c = await connectOrStart(this.params, 'loupe mcp', { idleMs: this.idleMs });
      const status = c.client.engineInfo?.root && !this.params.modelPath ? await c.request('status', {}) : await c.open(this.params);
      this.logger.info(`engine ${c.where}: ${status.files} files, ${status.chunks} chunks, model ${status.model.name}`);
      // The engine keeps the index up to date while this agent may ask.
      await c.request('watch', { on: true }).catch((e) => this.logger.warn(`watcher: ${(e as Error).message}`));
      void this.maybeRegisterAsk(c);
      return c;
    })();
    this.conn.catch(() => (this.conn = undefined));
    return this.conn;
  }

  private async maybeRegisterAsk(c: SharedConn): Promise<void> {
    if (this.askRegistered || !(this.llm.model || this.llm.url || this.llm.provider)) return;
    const info = await c.request('answerModel', { llm: this.llm }).catch(() => null);
    if (!info?.available) {
      this.logger.info(`ask not offered: ${info?.reason ?? 'no answer model'}`);
      return;
    }
    this.askRegistered = true;
    this.server.registerTool(
      'ask',
      {
        title: 'Ask about the codebase',
        description: `Answers a question about this repository with a local model (${info.name}), citing the code it read. Slower than search (it generates text); prefer search when you can read the code yourself.`,
        inputSchema: {
          question: z.string().min(1).describe('The question, in plain words.'),
          k: z.number().int().min(1).max(20).optional().describe('Passages to retrieve (default 6).'),
        },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async ({ question, k }, extra) => {
        const conn = await this.engine();
        const jobId = `mcp-ask-${process.pid}-${Date.now()}`;
        const onAbort = () => void conn.request('cancel', { jobId }).catch(() => undefined);
        extra.signal.addEventListener('abort', onAbort, { once: true });
        try {
          const r = await conn.request('ask', { jobId, question, k: k ?? 6, llm: this.llm });
          const sources = r.citations.filter((c) => r.cited.includes(c.n)).map((c) => `[${c.n}] ${c.path}:${c.startLine}-${c.endLine}`);
          return { content: [{ type: 'text', text: `${r.answer}\n\nSources:\n${sources.join('\n') || '(none cited)'}` }] };
        } finally {
          extra.signal.removeEventListener('abort', onAbort);
        }
      },
    );
  }

  /**
   * Brings the index up to date before answering (bounded wait): an agent that just edited a file
   * searches the new text. With the engine's live watcher this waits only for changes already
   * seen and not yet committed (nothing when none came); without one, the engine checks the
   * files on disk (a stat per file; concurrent calls share one check).
   */
  private sync(c: SharedConn): Promise<SyncResult> {
    return c.request('sync', { maxWaitMs: SYNC_WAIT_MS, agent: this.agent });
  }

  private readLines(rel: string): string[] | null {
    const abs = path.resolve(this.params.root, rel);
    if (abs !== this.params.root && !abs.startsWith(this.params.root + path.sep)) return null;
    try {
      return readFileSync(abs, 'utf8').split(/\r?\n/);
    } catch {
      return null;
    }
  }

  /** Results as tool content: text for the model, the same data structured. */
  private answer(
    results: SearchResult[],
    maxTokens: number,
    snippets: boolean,
    status: EngineStatus,
    sync: SyncResult | null,
    empty: string,
  ) {
    const fit = fitHits(results, (p) => this.readLines(p), maxTokens, snippets);
    const fresh = freshnessLine(status, sync);
    const more = fit.dropped ? `\n(${fit.dropped} more result(s) left out to stay within max_tokens=${maxTokens})` : '';
    const text = fit.hits.length ? `${hitsText(fit.hits)}${more}\n\n${fresh}` : `${empty}\n\n${fresh}`;
    return {
      content: [{ type: 'text' as const, text }],
      structuredContent: {
        results: fit.hits,
        tokens: fit.tokens,
        dropped: fit.dropped,
        index: { files: status.files, chunks: status.chunks, fresh: sync?.fresh ?? false, note: fresh },
      },
    };
  }

  private fail(e: unknown) {
    const msg =
      e instanceof LoupeError || (e as Error)?.name === 'AbortError' ? (e as Error).message : `Loupe failed: ${(e as Error)?.message ?? e}`;
    return { content: [{ type: 'text' as const, text: msg }], isError: true };
  }

  private registerTools(): void {
    const maxTokens = z
      .number()
      .int()
      .min(50)
      .max(50_000)
      .optional()
      .describe(
        'Token budget for the whole answer (≈ 4 characters per token; default 2000). Results beyond it are left out, long snippets cut.',
      );
    this.server.registerTool(
      'search',
      {
        title: 'Semantic code search',
        description: SEARCH_DESCRIPTION,
        inputSchema: {
          query: z.string().trim().min(1).max(2000).describe('What the code does, in plain words (identifiers help too).'),
          k: z.number().int().min(1).max(50).optional().describe('Most results to return (default 8).'),
          path: z
            .string()
            .min(1)
            .max(500)
            .regex(/^\s*[^!\s]/, 'Bad path filter: give a glob such as src/** or *.py (no negation)')
            .optional()
            .describe('Only files matching this glob, e.g. "src/**" or "*.py".'),
          language: z
            .union([z.string().min(1), z.array(z.string().min(1)).min(1).max(20)])
            .optional()
            .describe('Only these languages (e.g. "python" or ["typescript", "javascript"]).'),
          content: z
            .array(z.enum(CONTENT_KINDS))
            .min(1)
            .optional()
            .describe('Only these kinds of files: "code", "tests", "docs", "examples", "config" (default: all).'),
          mode: z
            .enum(['hybrid', 'dense', 'lexical'])
            .optional()
            .describe('hybrid (default): embeddings + BM25; dense: meaning only; lexical: BM25 words only.'),
          max_tokens: maxTokens,
          snippets: z.boolean().optional().describe('Include the code of each result (default true); false lists locations only.'),
        },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async (a) => {
        try {
          const c = await this.engine();
          const sync = await this.sync(c);
          const filter: SearchFilter = {
            path: a.path,
            language: typeof a.language === 'string' ? [a.language] : a.language,
            content: a.content,
          };
          const [results, status] = await Promise.all([
            c.request('search', { query: a.query, k: a.k ?? 8, mode: a.mode, filter, agent: this.agent }),
            c.request('status', {}),
          ]);
          return this.answer(results, a.max_tokens ?? 2000, a.snippets ?? true, status, sync, 'No matches.');
        } catch (e) {
          return this.fail(e);
        }
      },
    );
    this.server.registerTool(
      'find_related',
      {
        title: 'Find related code',
        description: RELATED_DESCRIPTION,
        inputSchema: {
          path: z.string().min(1).max(1000).describe('File path relative to the repository root, e.g. "src/auth/session.ts".'),
          line: z.number().int().min(1).optional().describe("A line inside the function or class (default: the file's first chunk)."),
          k: z.number().int().min(1).max(50).optional().describe('Most results (default 8).'),
          max_tokens: maxTokens,
        },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async (a) => {
        try {
          const c = await this.engine();
          const sync = await this.sync(c);
          const rel = path.isAbsolute(a.path) ? path.relative(this.params.root, a.path) : a.path;
          const [results, status] = await Promise.all([
            c.request('related', { path: rel, line: a.line, k: a.k ?? 8, agent: this.agent }),
            c.request('status', {}),
          ]);
          return this.answer(results, a.max_tokens ?? 2000, true, status, sync, 'Nothing similar found.');
        } catch (e) {
          return this.fail(e);
        }
      },
    );
    this.server.registerTool(
      'index_status',
      {
        title: 'Index status',
        description: STATUS_DESCRIPTION,
        inputSchema: {},
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async () => {
        try {
          const c = await this.engine();
          const sync = await this.sync(c);
          const [st, compute] = await Promise.all([c.request('status', {}), c.request('compute', {}).catch(() => null)]);
          const state =
            st.state.kind === 'indexing'
              ? `indexing (${st.state.done} of ${st.state.total} changed files)`
              : st.state.kind === 'backingOff' || st.state.kind === 'paused'
                ? `${st.state.kind === 'paused' ? 'paused' : 'indexing slowly'}: ${st.state.reason}`
                : st.state.kind === 'error'
                  ? `error: ${st.state.message}`
                  : st.state.kind;
          const info = {
            root: st.root,
            files: st.files,
            chunks: st.chunks,
            state,
            freshness: freshnessLine(st, sync),
            model: `${st.model.name} (${st.model.dimensions} dims, on ${st.model.computeUnit})`,
            compute: compute?.explanation ?? 'unknown',
            updatedAt: st.updatedAt,
            engine: c.where,
            warnings: st.warnings.slice(0, 5),
          };
          const text = Object.entries(info)
            .filter(([, v]) => !(Array.isArray(v) && !v.length))
            .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join('; ') : v}`)
            .join('\n');
          return { content: [{ type: 'text', text }], structuredContent: info };
        } catch (e) {
          return this.fail(e);
        }
      },
    );
  }

  async run(): Promise<number> {
    const transport = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => {
      transport.onclose = () => resolve();
      process.stdin.once('end', () => resolve());
      process.stdin.once('close', () => resolve());
    });
    await this.server.connect(transport);
    // Load the model and open the index while the agent starts up; errors surface on the first call.
    void this.engine().catch((e) => this.logger.warn(`engine: ${(e as Error).message}`));
    this.logger.info(`loupe mcp serving ${this.params.root}`);
    await closed;
    const c = await this.conn?.catch(() => undefined);
    await c?.close();
    await this.server.close().catch(() => undefined);
    return 0;
  }
}
