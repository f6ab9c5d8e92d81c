/**
 * Opens the answer model the configuration and the machine call for (see core/answer/select.ts):
 * an mlx_lm.server found running or started by Loupe, any OpenAI-compatible server by URL, or a
 * GGUF chat model in process.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mlxModelForMemory, selectAnswerModel, type Selection } from '../../core/answer/select.js';
import type {
  AnswerModelInfo,
  AnswerModelStatus,
  ChatMessage,
  ChatModelPort,
  GenerateOptions,
  GenerateResult,
} from '../../core/answer/types.js';
import type { AnswerModelParams } from '../../core/protocol.js';
import { LoupeError, silentLogger, type Logger } from '../../core/types.js';
import { ModelManager } from '../../core/models/manager.js';
import { LlamaChat } from './llama-chat.js';
import { findMlxPython, MLX_DEFAULT_URL, MlxServer } from './mlx-server.js';
import { normalizeBaseUrl, OpenAiChat, probeServer } from './openai-chat.js';

/** The protocol's answer-model settings (provider, url, model, python, context, threads, …) plus in-process options. */
export interface AnswerModelConfig extends AnswerModelParams {
  /** In-process parallel sequences (default 1). */
  sequences?: number;
  /** How long to wait for a started mlx_lm.server (default 10 min: the first start may download the model). */
  startTimeoutMs?: number;
  /** Extra environment for a started mlx_lm.server. */
  serverEnv?: NodeJS.ProcessEnv;
  /** Timeouts of the HTTP client. */
  headersTimeoutMs?: number;
  idleTimeoutMs?: number;
  logger?: Logger;
  /** Told about slow steps the user should know of (starting mlx_lm.server, which may download the model). */
  progress?: (message: string) => void;
}

/**
 * A GGUF chat model named by LOUPE_CHAT_MODEL, if the file exists; else the smallest answer model
 * installed with `loupe models install <id> --from <file>`.
 */
export function defaultChatModelPath(): string | null {
  const p = process.env.LOUPE_CHAT_MODEL;
  if (p) return existsSync(p) ? path.resolve(p) : null;
  try {
    return new ModelManager().installedChat()[0]?.path ?? null;
  } catch {
    return null;
  }
}

/** Context length from a local MLX model folder's config.json. */
function mlxContextSize(model: string): number | undefined {
  try {
    const cfg = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8')) as { max_position_embeddings?: number };
    return cfg.max_position_embeddings;
  } catch {
    return undefined;
  }
}

/**
 * mlx_lm.server behind the OpenAI-compatible client. A server Loupe started is stopped (by PID)
 * after `idleStopMs` unused and on dispose, and started again on the next request; a server that
 * was already running is never stopped.
 */
export class MlxChat implements ChatModelPort {
  readonly exactTokenCount = false;
  private chat: OpenAiChat | undefined;
  private idle: NodeJS.Timeout | undefined;
  private starting: Promise<MlxServer> | undefined;
  private active = 0;

  constructor(
    private server: MlxServer | undefined,
    private readonly start: (() => Promise<MlxServer>) | undefined,
    private readonly o: {
      model: string;
      contextSize: number;
      idleStopMs: number;
      extraBody?: Record<string, unknown>;
      headersTimeoutMs?: number;
      idleTimeoutMs?: number;
    },
  ) {}

  get info(): AnswerModelInfo {
    const s = this.server;
    const where = s
      ? `mlx_lm.server at ${s.url}${s.owned ? ` (started by Loupe, PID ${s.pid})` : ' (already running)'}`
      : 'mlx_lm.server (started on first question)';
    return { kind: 'mlx', name: this.o.model, where, contextSize: this.o.contextSize };
  }

  /** The server in use (for tests and diagnostics). */
  get currentServer(): MlxServer | undefined {
    return this.server;
  }

  countTokens(text: string): number {
    return Math.ceil(text.length / 3);
  }

  private clientFor(server: MlxServer): OpenAiChat {
    return new OpenAiChat({
      baseUrl: server.url,
      kind: 'mlx',
      contextSize: this.o.contextSize,
      where: this.info.where,
      extraBody: this.o.extraBody,
      headersTimeoutMs: this.o.headersTimeoutMs,
      idleTimeoutMs: this.o.idleTimeoutMs,
    });
  }

  private async ensure(): Promise<OpenAiChat> {
    // A found server is used as long as it answers (the client reports when it does not).
    if (this.server && (this.server.alive || !this.server.owned)) {
      this.chat ??= this.clientFor(this.server);
      return this.chat;
    }
    if (!this.start) throw new LoupeError('mlx_lm.server is not running.', 'server-not-running');
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    const server = await this.starting;
    if (this.server !== server) {
      this.server = server;
      this.chat = this.clientFor(server);
    }
    return this.chat!;
  }

  async generate(messages: ChatMessage[], opts: GenerateOptions): Promise<GenerateResult> {
    clearTimeout(this.idle);
    this.active++;
    try {
      return await (await this.ensure()).generate(messages, opts);
    } finally {
      this.active--;
      this.armIdle();
    }
  }

  private armIdle(): void {
    if (this.active || !this.o.idleStopMs || !this.server?.owned) return;
    this.idle = setTimeout(() => void this.server?.stop(), this.o.idleStopMs);
    this.idle.unref();
  }

  async dispose(): Promise<void> {
    clearTimeout(this.idle);
    await this.server?.stop();
  }
}

/** Probes what could be chosen (servers, Python with mlx-lm) and decides; opens nothing. */
export async function decideAnswerModel(cfg: AnswerModelConfig = {}): Promise<{ selection: Selection; python?: string }> {
  const provider = cfg.provider ?? 'auto';
  const url = cfg.url ? normalizeBaseUrl(cfg.url) : undefined;
  const isGguf = !!cfg.model && /\.gguf$/i.test(cfg.model);
  const needsServer = provider !== 'llama';
  const serverRunning =
    needsServer && (url || provider === 'mlx' || process.platform === 'darwin')
      ? (await probeServer(url ?? MLX_DEFAULT_URL)).running
      : false;
  const needsPython =
    (provider === 'mlx' || provider === 'auto') && !serverRunning && (process.platform === 'darwin' || cfg.allowMlxAnywhere);
  const py = needsPython ? (cfg.python ? await findMlxPython([cfg.python]) : await findMlxPython()) : null;
  const selection = selectAnswerModel(
    {
      preference: provider,
      platform: process.platform,
      arch: process.arch,
      serverRunning,
      url,
      mlxPython: !!py,
      allowMlxAnywhere: cfg.allowMlxAnywhere,
      ggufPath: isGguf ? path.resolve(cfg.model!) : defaultChatModelPath(),
    },
    MLX_DEFAULT_URL,
  );
  return { selection, python: py?.python };
}

/** Which model would answer, without loading or starting it (for a status bar tooltip). */
export async function describeAnswerModel(cfg: AnswerModelConfig = {}): Promise<AnswerModelStatus> {
  const { selection: s } = await decideAnswerModel(cfg);
  switch (s.kind) {
    case 'none':
      return {
        kind: cfg.provider && cfg.provider !== 'auto' ? cfg.provider : 'llama',
        name: 'none',
        where: 'not available',
        contextSize: 0,
        available: false,
        reason: s.reason,
      };
    case 'llama':
      return {
        kind: 'llama',
        name: path.basename(s.modelPath, '.gguf'),
        where: 'in process (node-llama-cpp)',
        contextSize: cfg.contextSize ?? 0,
        available: true,
        reason: s.reason,
      };
    case 'openai':
      return {
        kind: 'openai',
        name: cfg.model ?? 'server default model',
        where: `OpenAI-compatible server at ${s.url}`,
        contextSize: cfg.contextSize ?? 8192,
        available: true,
        reason: s.reason,
      };
    case 'mlx': {
      const model = cfg.model ?? mlxModelForMemory(os.totalmem());
      const where = s.start
        ? 'mlx_lm.server (Loupe starts it on 127.0.0.1 at the first question)'
        : `mlx_lm.server at ${s.url} (already running)`;
      return {
        kind: 'mlx',
        name: s.start ? model : (cfg.model ?? 'the model the server loaded'),
        where,
        contextSize: cfg.contextSize ?? mlxContextSize(model) ?? 8192,
        available: true,
        reason: s.reason,
      };
    }
  }
}

/** Decides and opens; `selection` says what was chosen and why. */
export async function openAnswerModel(cfg: AnswerModelConfig = {}): Promise<{ model: ChatModelPort; selection: Selection }> {
  const logger = cfg.logger ?? silentLogger;
  const { selection, python } = await decideAnswerModel(cfg);
  logger.info(`Answer model: ${selection.kind} (${selection.reason})`);
  switch (selection.kind) {
    case 'none':
      throw new LoupeError(selection.reason, selection.code);
    case 'llama':
      return {
        model: await LlamaChat.load({
          modelPath: selection.modelPath,
          gpu: cfg.gpu,
          threads: cfg.threads,
          contextSize: cfg.contextSize,
          sequences: cfg.sequences,
          logger,
        }),
        selection,
      };
    case 'openai':
      return {
        model: new OpenAiChat({
          baseUrl: selection.url,
          model: cfg.model,
          contextSize: cfg.contextSize,
          extraBody: cfg.extraBody,
          headersTimeoutMs: cfg.headersTimeoutMs,
          idleTimeoutMs: cfg.idleTimeoutMs,
        }),
        selection,
      };
    case 'mlx': {
      const model = cfg.model ?? mlxModelForMemory(os.totalmem());
      const contextSize = cfg.contextSize ?? mlxContextSize(model) ?? 8192;
      const common = {
        contextSize,
        idleStopMs: cfg.idleStopMs ?? 600_000,
        extraBody: cfg.extraBody,
        headersTimeoutMs: cfg.headersTimeoutMs,
        idleTimeoutMs: cfg.idleTimeoutMs,
      };
      if (!selection.start) {
        const found = await MlxServer.attach(selection.url);
        if (!found) throw new LoupeError(`mlx_lm.server at ${selection.url} stopped answering.`, 'server-not-running');
        // /v1/models lists mlx_lm.server's whole Hugging Face cache, not the loaded model: name only what we know.
        return { model: new MlxChat(found, undefined, { model: cfg.model ?? 'the model the server loaded', ...common }), selection };
      }
      const start = (): Promise<MlxServer> => {
        cfg.progress?.(`Starting mlx_lm.server with ${model} on 127.0.0.1 (the first start downloads the model, which can take minutes)…`);
        return MlxServer.start({ python: python!, model, startTimeoutMs: cfg.startTimeoutMs, env: cfg.serverEnv, logger });
      };
      const chat = new MlxChat(await start(), start, { model, ...common });
      return { model: chat, selection };
    }
  }
}
