/**
 * `loupe ask <dir> "<question>"`: retrieval-augmented answer from a local model, streamed to
 * stdout, with numbered citations mapped to files and lines.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { answerQuestion, type DoneEvent } from '../core/answer/answer.js';
import { formatCitation } from '../core/answer/citations.js';
import { engineRetriever, type SearchablePort } from '../core/answer/retrieve.js';
import { formatPassages, howToGetAnswers } from '../core/answer/no-model.js';
import { resolveChatModelArg } from '../core/models/manager.js';
import type { AnswerEvent, ChatModelPort } from '../core/answer/types.js';
import { LoupeError } from '../core/types.js';
import { closeEngine, openEngine } from '../adapters/open-engine.js';
import { openAnswerModel, type AnswerModelConfig } from '../adapters/llm/open-answer-model.js';
import { exitCodeOf, hasIndex, parseCommandArgs, posInt, projectFolder, stderrLogger, type CliIo } from './common.js';
import { connectRunning, type SharedConn } from './engine-conn.js';
import { storeDirFor } from '../core/defaults.js';

export const ASK_USAGE = `Usage:
  loupe ask <dir> "<question>" [--json] [-k 8] [--max-tokens 512]
            [--llm auto|mlx|llama|openai] [--llm-url <url>] [--llm-model <file.gguf|model id>]

Options:
  --llm <kind>          answer model: auto (default: MLX on Apple Silicon when available, else a GGUF
                        chat model in process, LOUPE_CHAT_MODEL), mlx, llama, or openai (any
                        OpenAI-compatible server: Ollama, LM Studio, llama-server, mlx_lm.server)
  --llm-url <url>       server URL (default for MLX: http://127.0.0.1:8080)
  --llm-model <m>       GGUF chat model file (llama), model id or MLX folder (mlx), or model name (openai)
  --threads <n>         in-process generation threads
  --context <n>         context window to budget for (tokens)
  --max-tokens <n>      longest answer in tokens (default 512)
  -k <n>                sources to retrieve (default 8)
  --json                print one JSON object (answer, citations, model) instead of streaming text
  --model <file>        GGUF embedding model of the index (default: the bundled model)
  --store <dir>         index folder (default: <dir>/.loupe)
  --cpu                 do not use a GPU
  --verbose             log details to stderr`;

/** `ask` streams tokens: it may be given a writer (default process.stdout). */
interface AskIo extends CliIo {
  /** Writes without a newline (streamed tokens); defaults to process.stdout. */
  write?: (s: string) => void;
}

/** Runs `loupe ask` with the arguments after `ask`; returns the exit code. */
export async function runAsk(argv: string[], io: AskIo): Promise<number> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        k: { type: 'string', short: 'k' },
        'max-tokens': { type: 'string' },
        llm: { type: 'string' },
        'llm-url': { type: 'string' },
        'llm-model': { type: 'string' },
        threads: { type: 'string' },
        context: { type: 'string' },
        model: { type: 'string' },
        store: { type: 'string' },
        cpu: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    ASK_USAGE,
    io,
    'loupe ask',
  );
  if (!parsed) return 2;
  const { values: v, positionals: pos } = parsed;
  if (v.help) {
    io.out(ASK_USAGE);
    return 0;
  }
  const [dir, ...rest] = pos;
  const question = rest.join(' ').trim();
  if (!dir || !question) {
    io.err(`loupe ask: ${dir ? 'missing "<question>"' : 'missing <dir> (the project folder)'}; \`loupe ask --help\` shows the usage`);
    return 2;
  }
  const provider = (v.llm ?? 'auto') as AnswerModelConfig['provider'];
  if (!['auto', 'mlx', 'llama', 'openai'].includes(provider!)) {
    io.err('loupe ask: --llm must be auto, mlx, llama or openai');
    return 2;
  }
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  const logger = stderrLogger(!!v.verbose, io);
  let k: number | undefined, maxTokens: number | undefined, threads: number | undefined, context: number | undefined;
  let root: string;
  let llmModel: string | undefined;
  try {
    root = projectFolder(dir, 'loupe ask');
    llmModel = v['llm-model'] ? resolveChatModelArg(v['llm-model']) : undefined;
    k = posInt(v.k, '-k');
    maxTokens = posInt(v['max-tokens'], '--max-tokens');
    threads = posInt(v.threads, '--threads');
    context = posInt(v.context, '--context');
  } catch (e) {
    io.err((e as Error).message.startsWith('loupe ask:') ? (e as Error).message : `loupe ask: ${(e as Error).message}`);
    return exitCodeOf(e);
  }
  // A named model file that is not there is the user's to fix: say which kind of model goes there.
  if (llmModel && /\.gguf$/i.test(llmModel) && !existsSync(llmModel)) {
    io.err(
      `loupe ask: answer model not found: ${llmModel} (--llm-model takes a chat/instruct GGUF such as Qwen2.5-Coder-1.5B-Instruct, or an installed id from \`loupe models list\`; not an embedding model)`,
    );
    return 1;
  }
  // Checked before the engine opens: opening creates the index folder, and asking creates nothing.
  const storeDir = storeDirFor(root, v.store);
  if (!hasIndex(storeDir)) {
    const msg = `${root} has no index yet; run \`loupe index ${root}\` first.`;
    if (v.json) io.out(JSON.stringify({ question, error: { message: msg, code: 'not-indexed' } }));
    io.err(`loupe: ${msg}`);
    return 1;
  }

  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  let parts: Awaited<ReturnType<typeof openEngine>> | undefined;
  let running: SharedConn | null = null;
  let model: ChatModelPort | undefined;
  try {
    const params = {
      root,
      storeDir: v.store ? storeDir : undefined,
      modelPath: v.model ? path.resolve(v.model) : undefined,
      gpu: v.cpu ? (false as const) : ('auto' as const),
    };
    // A running engine retrieves (the index and the embedding model are loaded there); else in process.
    running = process.env.LOUPE_NO_ENGINE === '1' ? null : await connectRunning(params, 'loupe ask').catch(() => null);
    let engine: SearchablePort;
    let chunks: number;
    if (running) {
      const conn = running;
      logger.info(`retrieving ${conn.where}`);
      const st = conn.client.engineInfo?.root && !params.modelPath ? await conn.request('status', {}) : await conn.open(params);
      engine = { root: st.root, search: (query, o) => conn.request('search', { query, k: o.k }) };
      chunks = st.chunks;
    } else {
      parts = await openEngine({ ...params, logger, readOnly: true });
      engine = parts.engine;
      chunks = parts.engine.store.chunkCount;
    }
    if (!chunks) {
      throw new LoupeError(`${engine.root} has no index yet (or it is empty); run \`loupe index ${engine.root}\` first.`, 'not-indexed');
    }
    try {
      ({ model } = await openAnswerModel({
        provider,
        url: v['llm-url'],
        model: llmModel,
        threads,
        contextSize: context,
        gpu: v.cpu ? false : 'auto',
        idleStopMs: 0,
        logger,
        progress: (m) => io.err(m),
      }));
    } catch (e) {
      // No answer model to be had: the passages are still worth showing, with how to get answers.
      if (!(e instanceof LoupeError) || (e.code !== 'model-missing' && e.code !== 'server-not-running')) throw e;
      const sources = await engineRetriever(engine)(question, k ?? 8, ac.signal);
      if (v.json) {
        io.out(JSON.stringify({ question, answer: null, noAnswerModel: e.message, passages: sources }));
        return 0;
      }
      io.out(`No answer model is available (${e.message.replace(/\.$/, '')}). The passages an answer would be built from:\n`);
      for (const l of formatPassages(sources)) io.out(l);
      for (const l of howToGetAnswers(dir, question)) io.out(l);
      return 0;
    }
    let streamed = false;
    const onEvent = (e: AnswerEvent): void => {
      if (v.json) return;
      if (e.kind === 'citations') {
        io.err(
          `answering with ${e.model.name} — ${e.model.where}; ${e.citations.length} source(s)${e.droppedSources ? `, ${e.droppedSources} left out for room` : ''}`,
        );
      } else if (e.kind === 'token') {
        streamed = true;
        write(e.text);
      }
    };
    const done: DoneEvent = await answerQuestion({
      question,
      retrieve: engineRetriever(engine),
      model,
      k,
      maxAnswerTokens: maxTokens,
      signal: ac.signal,
      onEvent,
    });
    if (v.json) {
      io.out(
        JSON.stringify({
          question,
          answer: done.answer,
          citations: done.citations,
          cited: done.cited,
          finishReason: done.finishReason,
          model: model.info,
          completionTokens: done.completionTokens,
          firstTokenMs: done.firstTokenMs,
          ms: Math.round(done.ms),
        }),
      );
      return 0;
    }
    if (streamed) write('\n');
    if (done.finishReason === 'length') io.err('(the answer reached --max-tokens and was cut)');
    if (done.citations.length) {
      io.out('\nSources:');
      for (const c of done.citations) io.out(`${done.cited.includes(c.n) ? '*' : ' '} ${formatCitation(c)}`);
    }
    return 0;
  } catch (e) {
    if (ac.signal.aborted || (e as Error).name === 'AbortError') {
      io.err('\nloupe: answer cancelled.');
      return 130;
    }
    const msg = e instanceof LoupeError ? e.message : ((e as Error).stack ?? String(e));
    if (v.json) io.out(JSON.stringify({ question, error: { message: msg, code: e instanceof LoupeError ? e.code : 'answer-failed' } }));
    io.err(`loupe: ${msg}`);
    return e instanceof LoupeError && e.code === 'bad-store' ? 2 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await model?.dispose().catch(() => undefined);
    if (parts) await closeEngine(parts);
    await running?.close();
  }
}
